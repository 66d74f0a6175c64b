"""``xsudo verify`` through the real entry point: output streams, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verify.support import (
    KEYS_DIR,
    REPO,
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    raw_b64,
    sign_raw_bytes,
)
from xsudo.cli import main

KEY = load_test_key("test-key-1")
PUB_FILE = str(KEYS_DIR / "test-key-1.pub.pem")
BODY = b'%CMNG=0,1,0,"TEST ROOT CERTIFICATE"'
GOOD = mistaken_line(KEY, BODY, BODY)
ECHOED = mistaken_line(KEY, BODY, BODY + b"\n")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def assert_one_line_error(code: int, out: str, err: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_valid_line_on_argv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["verify", "--public-key", PUB_FILE, GOOD.decode()], capsys)
    assert (code, out, err) == (0, "valid\n", "")


def test_private_key_file_is_taken_for_its_public_half(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["verify", "--public-key", str(KEYS_DIR / "test-key-1.pem"), GOOD.decode()]
    assert run(argv, capsys)[0] == 0


def test_raw_signature_warns_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    r, s = sign_raw_bytes(KEY, BODY)
    line = line_for(len(BODY), raw_b64(r, s), BODY).decode()
    code, out, err = run(["verify", "--public-key", PUB_FILE, line], capsys)
    assert code == 0
    assert out == "valid (warnings: raw-signature)\n"
    assert err.startswith("warning: ") and "DER" in err


def test_argv_line_with_real_newline_in_the_signature_is_wrapped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r, s = sign_raw_bytes(KEY, BODY)
    b64 = der_b64(r, s)
    line = line_for(len(BODY), b64[:76] + "\n" + b64[76:] + "\n", BODY).decode()
    code, out, err = run(["verify", "--public-key", PUB_FILE, line], capsys)
    assert (code, out) == (1, "invalid: wrapped-base64\n")
    assert "fix: " in err and "openssl base64 -A" in err


def test_echo_mistake_from_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line_file = tmp_path / "line.txt"
    line_file.write_bytes(ECHOED + b"\r\n")
    code, out, err = run(["verify", "--public-key", PUB_FILE, "--file", str(line_file)], capsys)
    assert code == 1
    assert out == "invalid: trailing-lf-signed\n"
    assert "trailing LF" in err and "printf '%s'" in err and "fix: " in err


def test_json_for_an_invalid_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["verify", "--public-key", PUB_FILE, "--json", ECHOED.decode()], capsys)
    assert code == 1 and err == ""
    obj = json.loads(out)
    assert obj["valid"] is False
    assert obj["diagnosis"] == ["trailing-lf-signed"]
    assert obj["matched_variant"] == BODY.decode() + "\n"
    assert (obj["data_len"], obj["body_len"], obj["encoding"]) == (35, 35, "der")


def test_json_for_a_malformed_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["verify", "--public-key", PUB_FILE, "--json", "garbage"], capsys)
    assert code == 2 and err == ""
    obj = json.loads(out)
    assert obj["valid"] is False and obj["diagnosis"] == ["malformed-line"]


@pytest.mark.parametrize(
    "line",
    ["garbage", 'AT%XSUDO=35,"not base64!";%CMNG=1', 'AT%XSUDO=35,"QUJD";%CMNG=1'],
    ids=["garbage", "invalid-base64", "not-a-signature"],
)
def test_unparsable_line_is_one_line_error(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(*run(["verify", "--public-key", PUB_FILE, line], capsys))


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "LINE"],
        ["verify", "--key", "a", "--public-key", PUB_FILE, "LINE"],
        ["verify", "--public-key", PUB_FILE],
        ["verify", "--public-key", PUB_FILE, "--file", PUB_FILE, "LINE"],
        ["verify", "--public-key", "/nonexistent/pub.pem", "LINE"],
        ["verify", "--public-key", str(KEYS_DIR), "LINE"],
        ["verify", "--public-key", str(KEYS_DIR / "xsudo-lines.json"), "LINE"],
        ["verify", "--public-key", PUB_FILE, "--file", "/nonexistent/line.txt"],
    ],
    ids=[
        "no-key",
        "two-keys",
        "no-line",
        "two-lines",
        "missing-key-file",
        "key-is-dir",
        "not-a-key",
        "missing-line-file",
    ],
)
def test_bad_invocation_is_one_line_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(*run(argv, capsys))


def _xsudo(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "xsudo", *args],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_line_from_stdin_in_a_real_process() -> None:
    done = _xsudo("verify", "--public-key", PUB_FILE, "--file", "-", stdin=ECHOED + b"\n")
    assert done.returncode == 1
    assert done.stdout == b"invalid: trailing-lf-signed\n"


def test_bad_input_in_a_real_process_has_no_traceback() -> None:
    for args in (
        ("verify", "--public-key", "/nonexistent.pem", "x"),
        ("verify", "--public-key", PUB_FILE, 'AT%XSUDO=1,"%%%";x'),
    ):
        done = _xsudo(*args)
        assert done.returncode == 2
        assert b"Traceback" not in done.stderr
        assert done.stderr.startswith(b"error: ") and done.stderr.count(b"\n") == 1


def test_key_from_the_key_store(capsys: pytest.CaptureFixture[str]) -> None:
    keys = pytest.importorskip("xsudo.keys")
    home = Path(os.environ["XSUDO_HOME"])
    keys.KeyStore(home).import_key(
        "factory", (KEYS_DIR / "test-key-1.pem").read_bytes(), store="keyring"
    )
    assert run(["verify", "--key", "factory", GOOD.decode()], capsys)[:2] == (0, "valid\n")
    code, out, _ = run(["verify", "--key", "factory", ECHOED.decode()], capsys)
    assert (code, out) == (1, "invalid: trailing-lf-signed\n")
    assert_one_line_error(*run(["verify", "--key", "nobody", GOOD.decode()], capsys))


def test_content_warning_keeps_exit_0_and_says_527(capsys: pytest.CaptureFixture[str]) -> None:
    body = b'%CMNG=0,16842753,1,"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"'
    line = mistaken_line(KEY, body, body).decode()
    code, out, err = run(["verify", "--public-key", PUB_FILE, line], capsys)
    assert code == 0
    assert out == (
        "valid signature, content will get 527 on mfw >= 2.0.2 "
        "(warnings: literal-newline-content)\n"
    )
    assert err.startswith("warning: ") and "+CME ERROR: 527" in err
    code, out, _ = run(["verify", "--public-key", PUB_FILE, "--json", line], capsys)
    obj = json.loads(out)
    assert code == 0 and obj["valid"] is True and obj["content_cme"] == 527
    assert obj["diagnosis"] == ["literal-newline-content"]
