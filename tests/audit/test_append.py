"""No write without a record: a log that cannot take a record says so before anything is
done (one line, exit 2, with the fix); the head; mode 0600; one chain across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.support import fill, lines_of
from tests.support.cli import assert_one_line_error
from tests.support.cli import run_cli as run
from xsudo.audit.log import AuditHead, AuditLog, AuditLogError
from xsudo.cli.hints import cli_text
from xsudo.errors import BadInputError


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def cut(path: Path, count: int) -> None:
    """``head -c -COUNT`` in place."""
    data = path.read_bytes()
    path.write_bytes(data[:-count])


def test_a_damaged_tail_is_a_one_line_error_before_anything_is_written(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 3)
    cut(log.path, 40)
    before = log.path.read_bytes()
    for attempt in (log.check_appendable, lambda: log.append("write", result="written")):
        with pytest.raises(AuditLogError) as raised:
            attempt()
        error = raised.value
        assert isinstance(error, BadInputError) and error.exit_code == 2
        text = str(error)
        assert "\n" not in text
        assert str(log.path) in text
        assert "xsudo audit verify" in cli_text(error) and "aside" in text
        assert "cut short" in text
    with pytest.raises(AuditLogError):
        log.head()
    assert log.path.read_bytes() == before


def test_an_edited_last_record_blocks_appending(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 2)
    lines = lines_of(log.path)
    log.path.write_bytes(lines[0] + lines[1].replace(b'"signed"', b'"forged"'))
    with pytest.raises(AuditLogError, match="does not match its hash"):
        log.check_appendable()


def test_signing_with_a_damaged_log_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "pass phrase")
    assert run(capsys, "key", "generate", "k", "--store", "file")[0] == 0
    assert run(capsys, "sign", "--key", "k", "%CMNG=1")[0] == 0
    assert run(capsys, "sign", "--key", "k", "%CMNG=1")[0] == 0
    log = isolated_env / "audit.jsonl"
    cut(log, 40)
    code, out, err = run(capsys, "sign", "--key", "k", "%CMNG=1")
    assert_one_line_error(code, out, err, "xsudo audit verify")
    code, out, err = run(capsys, "audit", "show")
    assert_one_line_error(code, out, err, "cut short")


def test_check_appendable_writes_no_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "new" / "audit.jsonl")
    log.check_appendable()
    assert log.path.read_bytes() == b""
    assert log.head() is None
    fill(log, 2)
    before = log.path.read_bytes()
    log.check_appendable()
    assert log.path.read_bytes() == before


def test_a_log_that_cannot_be_opened_is_an_audit_log_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("x")
    log = AuditLog(tmp_path / "not-a-dir" / "audit.jsonl")
    for attempt in (log.check_appendable, lambda: log.append("sign", result="signed")):
        with pytest.raises(AuditLogError, match="cannot open the audit log") as raised:
            attempt()
        assert raised.value.exit_code == 2


def test_the_head_is_the_last_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.head() is None
    fill(log, 2)
    record = log.append("write", tag=5, result="written")
    head = AuditHead.of(record)
    assert head == log.head() == AuditHead(3, record["hash"])
    assert head.to_json() == {"seq": 3, "hash": record["hash"]}
    assert str(head) == f"3:{record['hash']}"
    assert log.verify().head == head
    assert log.verify().to_json()["head"] == head.to_json()


@pytest.mark.parametrize(
    "text", ["", "3", "0:" + "a" * 64, "3:" + "a" * 63, "3:" + "g" * 64, "-1:" + "a" * 64, "x:y"]
)
def test_a_malformed_head_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError, match="N:HASH"):
        AuditHead.parse(text)


def test_a_head_parses_in_any_case() -> None:
    assert AuditHead.parse(" 12:" + "AB" * 32) == AuditHead(12, "ab" * 32)


def test_the_log_is_created_0600_whatever_the_umask(tmp_path: Path, umask_zero: None) -> None:
    log = AuditLog(tmp_path / "new-home" / "audit.jsonl")
    log.append("sign", result="signed")
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    other = AuditLog(tmp_path / "other.jsonl")
    other.check_appendable()
    assert stat.S_IMODE(other.path.stat().st_mode) == 0o600


def _append_many(path: str, start: multiprocessing.synchronize.Barrier, count: int) -> None:
    os.umask(0)
    log = AuditLog(Path(path))
    start.wait()
    for index in range(count):
        log.append("write", tag=os.getpid(), data_len=index, result="written")


def test_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    path = tmp_path / "fresh" / "audit.jsonl"
    workers, each = 6, 25
    start = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_append_many, args=(str(path), start, each)) for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    report = AuditLog(path).verify()
    assert report.ok, report.reason
    assert report.count == workers * each
    records = [json.loads(line) for line in lines_of(path)]
    assert [r["seq"] for r in records] == list(range(1, workers * each + 1))
    per_process = [sorted(r["data_len"] for r in records if r["tag"] == p.pid) for p in procs]
    assert per_process == [list(range(each))] * workers
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
