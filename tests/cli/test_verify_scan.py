"""``xsudo verify --scan``: one result per AT%XSUDO line of a capture, text and JSON lines,
exit codes 0 (all valid), 1 (any invalid), 2 (no line, unusable input), escaped output.

Captures are built from lines signed with ``cryptography`` directly (tests/verify/support.py)
and from Nordic's recipe vectors made with the openssl CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.verify.support import (
    KEYS_DIR,
    REPO,
    VECTORS_DIR,
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    sign_raw_bytes,
)
from xsudo.cli import main

KEY = load_test_key("test-key-1")
PUB_FILE = str(KEYS_DIR / "test-key-1.pub.pem")
SHORT = b"%CMNG=3,16842753,0"
PEM_BODY = (
    b'%CMNG=0,16842753,0,"-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"'
)
ESCAPED_BODY = PEM_BODY.replace(b"\n", b"\\n")
R, S = sign_raw_bytes(KEY, SHORT)
WRAPPED = line_for(len(SHORT), der_b64(R, S)[:76] + "\n" + der_b64(R, S)[76:], SHORT)
MIXED = (
    b"uart:~$ "
    + mistaken_line(KEY, SHORT, SHORT)
    + b"\r\nOK\r\n"  # 1
    + mistaken_line(KEY, PEM_BODY, PEM_BODY)
    + b"\r\nOK\r\n"  # 3-7
    + mistaken_line(KEY, SHORT, SHORT + b"\n")
    + b"\r\n+CME ERROR: 520\r\n"  # 9
    + WRAPPED
    + b"\r\n"  # 11-12
    + mistaken_line(KEY, ESCAPED_BODY, ESCAPED_BODY)
    + b"\r\n"  # 13
)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def capture_file(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "capture.log"
    path.write_bytes(data)
    return str(path)


def scan(path: str, *extra: str) -> list[str]:
    return ["verify", "--public-key", PUB_FILE, "--scan", path, *extra]


def test_text_output_one_compact_line_per_line_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(scan(capture_file(tmp_path, MIXED)), capsys)
    assert code == 1
    assert out.splitlines() == [
        "line 1: valid",
        "line 3: valid",
        "line 9: invalid: trailing-lf-signed",
        "line 11: invalid: wrapped-base64",
        "line 13: valid signature, content will get 527 on mfw >= 2.0.2 "
        "(warnings: literal-newline-content)",
    ]
    assert "5 AT%XSUDO lines: 3 valid, 2 invalid" in err
    assert "fix: " in err and "openssl base64 -A" in err and "printf '%s'" in err
    assert "Traceback" not in err


def test_json_lines_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(scan(capture_file(tmp_path, MIXED), "--json"), capsys)
    assert code == 1 and err == ""
    objects: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert [o["line_number"] for o in objects] == [1, 3, 9, 11, 13]
    assert [o["valid"] for o in objects] == [True, True, False, False, True]
    assert [o["diagnosis"] for o in objects] == [
        [],
        [],
        ["trailing-lf-signed"],
        ["wrapped-base64"],
        ["literal-newline-content"],
    ]
    assert [o["content_cme"] for o in objects] == [None, None, None, None, 527]
    assert objects[1]["data_len"] == len(PEM_BODY)
    assert objects[1]["sha256"] == hashlib.sha256(PEM_BODY).hexdigest()
    assert objects[4]["sha256"] == hashlib.sha256(ESCAPED_BODY).hexdigest()
    for obj in objects:
        assert {"line_number", "valid", "diagnosis", "data_len", "sha256", "content_cme"} <= set(
            obj
        )
        assert "matched_variant" not in obj  # no content is repeated from a capture


def test_all_valid_exits_0_even_with_a_content_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = mistaken_line(KEY, SHORT, SHORT) + b"\n" + mistaken_line(KEY, ESCAPED_BODY, ESCAPED_BODY)
    code, out, _ = run(scan(capture_file(tmp_path, data)), capsys)
    assert code == 0
    assert out.splitlines()[1].startswith("line 2: valid signature, content will get 527")


def test_recipe_vectors_scan_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = json.loads((VECTORS_DIR / "openssl-recipe.json").read_text())["cases"]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        if case["xsudo_line"]:
            by_key.setdefault(case["public_key_pem"], []).append(case)
    pub_pem, group = max(by_key.items(), key=lambda item: len(item[1]))
    pub = tmp_path / "pub.pem"
    pub.write_text(pub_pem)
    data = b"".join(b"> " + c["xsudo_line"].encode() + b"\r\nOK\r\n" for c in group)
    argv = ["verify", "--public-key", str(pub), "--scan", capture_file(tmp_path, data), "--json"]
    code, out, _ = run(argv, capsys)
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(objects) == len(group) > 1
    assert [o["sha256"] for o in objects] == [c["sha256_signed_hex"] for c in group]


def test_no_line_found_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(scan(capture_file(tmp_path, b"AT%CMNG=1\r\nOK\r\n")), capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: no AT%XSUDO line found") and err.count("\n") == 1


def test_malformed_line_in_a_capture_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = mistaken_line(KEY, SHORT, SHORT) + b'\nAT%XSUDO=7,"QUJD";%CMNG=1\n'
    code, out, err = run(scan(capture_file(tmp_path, data)), capsys)
    assert code == 1
    assert out.splitlines() == ["line 1: valid", "line 2: invalid: malformed-signature"]
    assert "line 2: the signature cannot be decoded" in err


@pytest.mark.parametrize(
    "extra",
    [["--file", PUB_FILE], ['AT%XSUDO=1,"x";y']],
    ids=["with-file", "with-line"],
)
def test_scan_with_a_line_too_is_a_usage_error(
    extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(scan(capture_file(tmp_path, MIXED), *extra), capsys)
    assert code == 2 and out == "" and err.startswith("error: --scan")


@pytest.mark.parametrize("target", ["missing", "directory"])
def test_unusable_capture_is_exit_2(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "nope.log") if target == "missing" else str(tmp_path)
    code, out, err = run(scan(path), capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


def test_device_text_is_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b'AT%XSUDO=\x1b[31m7,"QUJD";%CMNG=1\r\nAT%XSUDO=7,"\x1b]0;pwn\x07";%CMNG=1\n'
    code, out, err = run(scan(capture_file(tmp_path, data)), capsys)
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b" in err
    code, out, _ = run(scan(capture_file(tmp_path, data), "--json"), capsys)
    assert "\x1b" not in out and "\x07" not in out


def test_capture_from_stdin_in_a_real_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "xsudo", "verify", "--public-key", PUB_FILE, "--scan", "-"],
        input=MIXED,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout.count(b"\n") == 5 and done.stdout.startswith(b"line 1: valid\n")
    assert b"Traceback" not in done.stderr
