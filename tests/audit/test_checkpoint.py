"""Signed checkpoints and expected heads: a log cut back or rewritten under an anchor fails
``xsudo audit verify``; keys come from the key store (a file-store key here) or ``--trust``."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.audit.support import (
    KeySigner,
    LyingSigner,
    encode,
    fill,
    lines_of,
    rechain,
    rehashed,
)
from tests.support.cli import assert_one_line_error
from tests.support.cli import run_cli as run
from xsudo.audit.checkpoint import (
    CHECKPOINT_DOMAIN,
    Checkpoint,
    check_checkpoints,
    checkpoint_message,
    sidecar_path,
    sign_checkpoint,
    trusted_keys,
    verify_checkpoint,
    write_checkpoint,
)
from xsudo.audit.log import AuditHead, AuditLog
from xsudo.crypto import public_key_pem
from xsudo.errors import BadInputError, Remedy, SignatureInvalid

KEY = "auditor"
HASH = "0123456789abcdef" * 4


# -- the crypto, on its own ----------------------------------------------------------------


def test_the_signed_message_is_fixed_and_domain_separated() -> None:
    assert CHECKPOINT_DOMAIN == b"xsudo audit checkpoint v1\n"
    assert checkpoint_message(12, HASH) == b"xsudo audit checkpoint v1\n12:" + HASH.encode()
    for seq, digest in ((0, HASH), (True, HASH), (1, HASH.upper()), (1, HASH[:-1])):
        with pytest.raises(ValueError):
            checkpoint_message(seq, digest)


def test_a_checkpoint_verifies_with_its_key_only() -> None:
    signer = KeySigner("cp")
    checkpoint = sign_checkpoint(AuditHead(4, HASH), signer)
    assert checkpoint.key_name == "cp" and len(checkpoint.key_fingerprint) == 64
    assert verify_checkpoint(checkpoint, signer.public_key())
    assert not verify_checkpoint(checkpoint, KeySigner().public_key())
    moved = Checkpoint(AuditHead(5, HASH), "cp", checkpoint.key_fingerprint, checkpoint.signature)
    assert not verify_checkpoint(moved, signer.public_key())
    garbage = Checkpoint(AuditHead(4, HASH), "cp", checkpoint.key_fingerprint, "not base64!")
    assert not verify_checkpoint(garbage, signer.public_key())


def test_a_signer_that_lies_about_its_key_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        sign_checkpoint(AuditHead(1, HASH), LyingSigner())


def test_openssl_verifies_a_checkpoint_by_the_documented_recipe(tmp_path: Path) -> None:
    signer = KeySigner()
    checkpoint = sign_checkpoint(AuditHead(7, HASH), signer)
    (tmp_path / "pub.pem").write_text(public_key_pem(signer.public_key()))
    (tmp_path / "msg").write_bytes(f"xsudo audit checkpoint v1\n7:{HASH}".encode())
    (tmp_path / "sig.der").write_bytes(base64.b64decode(checkpoint.signature))
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "msg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


# -- the library: write and check ----------------------------------------------------------


def checkpointed(tmp_path: Path, signer: KeySigner) -> tuple[AuditLog, dict[str, Any]]:
    """A log of 3 records, a checkpoint (record 4, anchoring 3), then 2 more records."""
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 3)
    record = write_checkpoint(log, signer)
    fill(log, 2)
    return log, record


def check(log: AuditLog, signer: KeySigner) -> list[tuple[str, bool, str]]:
    report = log.verify()
    files = [sidecar_path(log.path)] if sidecar_path(log.path).exists() else []
    results = check_checkpoints(report, files, trusted_keys([signer.public_key()]))
    return [(r.source, r.ok, r.reason) for r in results]


def test_write_checkpoint_appends_to_the_log_and_the_sidecar(tmp_path: Path) -> None:
    signer = KeySigner("cp")
    log, record = checkpointed(tmp_path, signer)
    assert record["seq"] == 4 and record["event"] == "checkpoint"
    assert (record["anchor_seq"], record["anchor_hash"]) == (3, log.verify().hash_at(3))
    assert record["key_fingerprint"] == trusted_keys([signer.public_key()]).popitem()[0]
    assert lines_of(sidecar_path(log.path)) == [encode(record)]
    assert lines_of(log.path)[3] == encode(record)
    assert check(log, signer) == [("log record 4", True, "")]


def test_an_empty_log_has_nothing_to_anchor(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="nothing to anchor"):
        write_checkpoint(AuditLog(tmp_path / "audit.jsonl"), KeySigner())


def test_cutting_the_log_back_past_a_checkpoint_fails(tmp_path: Path) -> None:
    signer = KeySigner()
    log, _ = checkpointed(tmp_path, signer)
    lines = lines_of(log.path)
    log.path.write_bytes(b"".join(lines[:3]))  # the checkpoint and all after it removed
    assert log.verify().ok  # the chain alone cannot tell
    assert check(log, signer) == [
        (
            "audit.jsonl.checkpoints line 1",
            False,
            "the log ends at record 3, before the checkpoint record (record 4): "
            "records were removed from its end",
        )
    ]
    log.path.write_bytes(b"".join(lines[:2]))
    [(_, ok, reason)] = check(log, signer)
    assert not ok and "before the anchored record (record 3)" in reason


def test_a_forged_rechained_log_fails(tmp_path: Path) -> None:
    signer = KeySigner()
    log, _ = checkpointed(tmp_path, signer)
    records = [json.loads(line) for line in lines_of(log.path)]
    records[1]["result"] = "forged"  # under the anchor, every hash recomputed
    log.path.write_bytes(b"".join(rechain(records)))
    assert log.verify().ok
    results = check(log, signer)
    assert [ok for _, ok, _ in results] == [False, False]
    assert "record 3 has hash" in results[0][2]
    assert "the log was rewritten" in results[0][2]


def test_a_forged_tail_without_the_checkpoint_fails(tmp_path: Path) -> None:
    signer = KeySigner()
    log, _ = checkpointed(tmp_path, signer)
    records = [json.loads(line) for line in lines_of(log.path)]
    del records[3]  # the checkpoint record dropped, the records after it re-chained
    log.path.write_bytes(b"".join(rechain(records)))
    [(source, ok, reason)] = check(log, signer)
    assert (source, ok) == ("audit.jsonl.checkpoints line 1", False)
    assert "record 4 has hash" in reason


def test_a_checkpoint_by_an_untrusted_key_fails(tmp_path: Path) -> None:
    mallory = KeySigner("mallory")
    log, _ = checkpointed(tmp_path, mallory)
    [(_, ok, reason)] = check(log, KeySigner())
    assert not ok and "signed by key 'mallory'" in reason and "not trusted here" in reason
    [result] = check_checkpoints(log.verify(), [], trusted_keys([KeySigner().public_key()]))
    fingerprint = result.checkpoint.key_fingerprint if result.checkpoint else None
    assert result.remedy == Remedy("trust-key", {"fingerprint": fingerprint})
    assert "trusted public keys" in result.to_json()["reason"]


def test_an_edited_signature_fails(tmp_path: Path) -> None:
    signer = KeySigner()
    log, record = checkpointed(tmp_path, signer)
    other = sign_checkpoint(AuditHead(2, log.verify().hash_at(2) or ""), signer)
    forged = {**record, "signature": other.signature}
    sidecar_path(log.path).write_bytes(encode(forged) + encode(rehashed(forged)))
    results = check(log, signer)
    assert [ok for _, ok, _ in results] == [True, False, False]
    assert "does not match its hash" in results[1][2]
    assert "signature does not verify" in results[2][2]


def test_a_damaged_sidecar_line_fails(tmp_path: Path) -> None:
    signer = KeySigner()
    log, _ = checkpointed(tmp_path, signer)
    with open(sidecar_path(log.path), "ab") as handle:
        handle.write(b'{"event": "checkpoint", "seq": NaN}\n')
    assert check(log, signer)[1] == (
        "audit.jsonl.checkpoints line 2",
        False,
        "not a checkpoint record: NaN is not a JSON value",
    )


# -- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def home(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with a file-store key and 3 audit records."""
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "checkpoint pass phrase")
    from xsudo.cli import main

    with pytest.raises(SystemExit) as done:
        main(["key", "generate", KEY, "--store", "file"])
    assert done.value.code == 0
    fill(AuditLog.in_home(isolated_env), 3)
    return isolated_env


def cli_checkpoint(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run(capsys, "audit", "checkpoint", "--key", KEY, "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_checkpoint_with_a_file_store_key(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    made = cli_checkpoint(capsys)
    record = made["checkpoint"]
    assert made["audit_head"] == {"seq": 4, "hash": record["hash"]}
    assert (record["anchor_seq"], record["key_name"]) == (3, KEY)
    sidecar = home / "audit.jsonl.checkpoints"
    assert made["sidecar"] == str(sidecar)
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    assert lines_of(sidecar) == [encode(record)]
    der = base64.b64decode(record["signature"], validate=True)
    assert der[0] == 0x30
    code, out, err = run(capsys, "audit", "verify")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("checkpoint (log record 4): ok, anchors record 3")
    code, out, _ = run(capsys, "audit", "verify", "--json")
    result = json.loads(out)
    assert (code, result["ok"], result["chain_ok"]) == (0, True, True)
    assert result["head"] == made["audit_head"]
    assert result["checkpoints"][0]["ok"] and result["checkpoints"][0]["key_name"] == KEY
    code, out, err = run(capsys, "audit", "checkpoint", "--key", KEY)
    assert code == 0 and out.startswith("checkpoint: record 5 anchors record 4")
    assert "off this machine" in err


def test_cli_truncation_past_a_checkpoint_fails(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli_checkpoint(capsys)
    fill(AuditLog.in_home(home), 2)
    log = home / "audit.jsonl"
    copy = tmp_path / "kept-elsewhere.checkpoints"
    copy.write_bytes((home / "audit.jsonl.checkpoints").read_bytes())
    log.write_bytes(b"".join(lines_of(log)[:3]))
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert "FAILED: the log ends at record 3, before the checkpoint record (record 4)" in out
    (home / "audit.jsonl.checkpoints").unlink()
    assert run(capsys, "audit", "verify")[0] == 0  # log and sidecar cut: nothing left to tell
    code, out, _ = run(capsys, "audit", "verify", "--checkpoints", str(copy), "--json")
    result = json.loads(out)
    assert (code, result["ok"], result["chain_ok"]) == (1, False, True)
    assert result["checkpoints"][0]["source"] == "kept-elsewhere.checkpoints line 1"


def test_cli_forged_rechained_log_fails(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_checkpoint(capsys)
    log = home / "audit.jsonl"
    records = [json.loads(line) for line in lines_of(log)]
    records[0]["result"] = "forged"
    log.write_bytes(b"".join(rechain(records)))
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert out.startswith("ok: 4 records, chain intact")
    assert "checkpoint (log record 4): FAILED: record 3 has hash" in out


def test_cli_trust_comes_from_the_key_store_or_trust_files(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli_checkpoint(capsys)
    code, pem, _ = run(capsys, "key", "export", KEY)
    assert code == 0
    (tmp_path / "auditor.pub.pem").write_text(pem)
    elsewhere = tmp_path / "auditor-home"
    log = str(home / "audit.jsonl")
    code, out, _ = run(capsys, "--home", str(elsewhere), "audit", "verify", log)
    assert code == 1 and "which is not trusted here" in out
    assert "give its public key with --trust PUB.pem" in out  # the remedy, in CLI words
    trust = str(tmp_path / "auditor.pub.pem")
    code, out, _ = run(capsys, "--home", str(elsewhere), "audit", "verify", log, "--trust", trust)
    assert code == 0 and "checkpoint (log record 4): ok" in out


def test_checkpoint_refuses_a_damaged_log_before_opening_the_key(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = home / "audit.jsonl"
    log.write_bytes(log.read_bytes()[:-40])
    monkeypatch.delenv("XSUDO_KEY_PASSPHRASE")  # a passphrase would be needed to go on
    code, out, err = run(capsys, "audit", "checkpoint", "--key", KEY)
    assert_one_line_error(code, out, err, "xsudo audit verify")
    assert not (home / "audit.jsonl.checkpoints").exists()


def test_expect_head(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = AuditLog.in_home(home).head()
    assert head is not None
    code, out, _ = run(capsys, "audit", "verify", "--expect-head", str(head))
    assert code == 0 and "expected head 3: found, same hash" in out
    fill(AuditLog.in_home(home), 1)
    assert run(capsys, "audit", "verify", "--expect-head", str(head))[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--expect-head", f"5:{head.hash}")
    assert code == 1
    assert "FAILED: the log ends at record 4, before the expected head (record 5)" in out
    code, out, _ = run(capsys, "audit", "verify", "--expect-head", f"3:{HASH}", "--json")
    result = json.loads(out)
    assert (code, result["ok"], result["chain_ok"]) == (1, False, True)
    assert result["expected_head"]["seq"] == 3 and not result["expected_head"]["ok"]
    assert "record 3 has hash" in result["expected_head"]["reason"]
    for bad in ("3", f"3:{HASH[:-2]}", f"x:{HASH}", f"0:{HASH}"):
        code, out, err = run(capsys, "audit", "verify", "--expect-head", bad)
        assert_one_line_error(code, out, err, "N:HASH")


def test_expect_head_past_a_broken_record(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = AuditLog.in_home(home).head()
    log = home / "audit.jsonl"
    lines = lines_of(log)
    log.write_bytes(lines[0] + b"garbage\n" + lines[2])
    code, out, _ = run(capsys, "audit", "verify", "--expect-head", str(head))
    assert code == 1
    assert out.splitlines() == [
        "broken at record 2: not valid JSON (Expecting value: line 1 column 1 (char 0)) "
        "(1 records before it are intact)",
        "expected head 3: FAILED: the expected head (record 3) is past the broken record 2",
    ]


def test_the_sidecar_line_is_the_log_record(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = cli_checkpoint(capsys)["checkpoint"]
    assert hashlib.sha256(encode(record)).digest()  # a plain JSON line
    assert lines_of(home / "audit.jsonl")[-1] == lines_of(home / "audit.jsonl.checkpoints")[0]
