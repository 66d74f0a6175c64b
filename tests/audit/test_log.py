"""The hash-chained audit log: appends chain, and any edit or deletion is found."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from xsudo.audit.log import GENESIS, AuditLog


def fill(log: AuditLog, count: int) -> None:
    for index in range(count):
        log.append("sign", key_fingerprint="ab" * 32, data_len=index + 1, result="ok")


def test_records_chain_by_hash(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 3)
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == before["hash"]
    for record in records:
        # Recompute the hash independently of the module: canonical JSON without "hash".
        body = {k: v for k, v in record.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert record["hash"] == hashlib.sha256(canonical).hexdigest()
        assert "@" in record["operator"]
    report = log.verify()
    assert report.ok and report.count == 3 and report.last_hash == records[-1]["hash"]


@pytest.mark.parametrize(
    ("mutate", "first_bad"),
    [
        (lambda lines: lines[:1] + lines[2:], 2),  # a record deleted
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], 2),  # reordered
        (lambda lines: [lines[0], lines[1].replace(b'"ok"', b'"failed"'), *lines[2:]], 2),
        (lambda lines: [lines[0], b"not json", *lines[2:]], 2),
        (lambda lines: lines[1:], 1),  # head deleted
    ],
)
def test_tampering_is_reported_at_the_first_broken_record(
    tmp_path: Path, mutate: object, first_bad: int
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    fill(log, 4)
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(mutate(lines)) + b"\n")  # type: ignore[operator]
    report = log.verify()
    assert not report.ok
    assert report.first_bad == first_bad


def test_appends_from_threads_and_processes_keep_one_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.append("write", tag=i, result="ok"), range(40)))
    code = (
        "import sys; from pathlib import Path; from xsudo.audit.log import AuditLog;"
        "log = AuditLog(Path(sys.argv[1]));"
        "[log.append('write', tag=i, result='ok') for i in range(20)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(log.path)]) for _ in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    report = log.verify()
    assert report.ok, report.reason
    assert report.count == 100


def test_key_material_is_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="never logged"):
        log.append("sign", note="-----BEGIN PRIVATE KEY-----\nMIG...")
    assert not log.path.exists()
