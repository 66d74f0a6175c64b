"""Lines made with Nordic's documented OpenSSL recipe (openssl-recipe.json), through verify_line.

The vectors were made with the openssl CLI (pkeyutl -sign, coreutils base64) by someone else;
see README.md. Cases whose file had a trailing newline have no ``xsudo_line``: the line a
user would send is built here, and the diagnosis must name the newline.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.verify.support import LocalSigner
from xsudo.crypto import load_private_key, load_public_key, sign_digest_deterministic
from xsudo.diagnose import verify_line
from xsudo.encoding import encode_der
from xsudo.errors import CommandTextError
from xsudo.signing import sign_command

HERE = Path(__file__).resolve().parent
CASES: list[dict[str, Any]] = json.loads((HERE / "openssl-recipe.json").read_text())["cases"]
GOOD = [pytest.param(c, id=c["name"]) for c in CASES if c["xsudo_line"] is not None]
TRAILING = [pytest.param(c, id=c["name"]) for c in CASES if c["xsudo_line"] is None]
ALL = [pytest.param(c, id=c["name"]) for c in CASES]
TRAILING_CODE = {"0a": "trailing-lf-signed", "0d0a": "trailing-crlf-signed"}


def sent_line(case: dict[str, Any], signature: str) -> bytes:
    """The line the user sends: intended command, its length, the given signature text."""
    line = f'AT%XSUDO={case["intended_len"]},"{signature}";{case["command_intended"]}'
    return line.encode("ascii")


def test_the_file_has_both_kinds_of_case() -> None:
    assert len(GOOD) == 16 and len(TRAILING) == 4
    trailing = {c["trailing_bytes_hex"] for c in CASES if c["xsudo_line"] is None}
    assert trailing == {"0a", "0d0a"}


@pytest.mark.parametrize("case", GOOD)
def test_recipe_line_verifies(case: dict[str, Any]) -> None:
    verdict = verify_line(
        case["xsudo_line"].encode("ascii"), load_public_key(case["public_key_pem"].encode())
    )
    assert verdict.valid and verdict.exit_code == 0
    assert verdict.diagnosis == ()
    assert verdict.encoding == "der"
    assert verdict.sha256 == case["sha256_intended_hex"]
    assert verdict.data_len == verdict.body_len == case["intended_len"]
    assert verdict.matched_variant == base64.b64decode(case["signed_bytes_b64"])


@pytest.mark.parametrize("case", GOOD)
def test_recipe_line_with_terminator_and_without_at_verifies(case: dict[str, Any]) -> None:
    line = case["xsudo_line"].encode("ascii")
    public_key = load_public_key(case["public_key_pem"].encode())
    assert verify_line(line + b"\r\n", public_key).diagnosis == ()
    assert verify_line(line[2:] + b"\n", public_key).valid


@pytest.mark.parametrize("case", TRAILING)
def test_trailing_newline_in_the_signed_file_is_diagnosed(case: dict[str, Any]) -> None:
    verdict = verify_line(
        sent_line(case, case["sig_der_b64"]), load_public_key(case["public_key_pem"].encode())
    )
    assert not verdict.valid and verdict.exit_code == 1
    assert verdict.diagnosis == (TRAILING_CODE[case["trailing_bytes_hex"]],)
    assert verdict.matched_variant == base64.b64decode(case["signed_bytes_b64"])
    assert verdict.sha256 == case["sha256_intended_hex"]


@pytest.mark.parametrize("case", TRAILING)
def test_trailing_newline_counted_in_data_len_is_diagnosed_too(case: dict[str, Any]) -> None:
    """``wc -c`` on the echo'd file gives signed_len: data_len then exceeds the command."""
    line = (
        f'AT%XSUDO={case["signed_len"]},"{case["sig_der_b64"]}";{case["command_intended"]}'
    ).encode("ascii")
    verdict = verify_line(line, load_public_key(case["public_key_pem"].encode()))
    assert not verdict.valid
    assert set(verdict.diagnosis) == {
        TRAILING_CODE[case["trailing_bytes_hex"]],
        "data-len-mismatch",
    }
    extra = case["signed_len"] - case["intended_len"]
    assert f"({extra} too many)" in " ".join(verdict.fixes)


@pytest.mark.parametrize("case", ALL)
def test_signature_as_printed_by_base64_is_invalid_as_wrapped(case: dict[str, Any]) -> None:
    printed = case["sig_der_b64_as_printed_by_base64"]
    assert printed.count("\n") == 2
    verdict = verify_line(
        sent_line(case, printed), load_public_key(case["public_key_pem"].encode())
    )
    assert "wrapped-base64" in verdict.diagnosis
    assert not verdict.valid and verdict.exit_code == 1  # the modem answers 520 (tests/sim)
    if case["xsudo_line"] is not None:
        assert verdict.diagnosis == ("wrapped-base64",)
    else:
        assert TRAILING_CODE[case["trailing_bytes_hex"]] in verdict.diagnosis


@pytest.mark.parametrize("case", ALL)
def test_raw_signature_is_accepted_with_a_warning(case: dict[str, Any]) -> None:
    verdict = verify_line(
        sent_line(case, case["sig_raw_rs_b64"]), load_public_key(case["public_key_pem"].encode())
    )
    assert verdict.encoding == "raw"
    assert "raw-signature" in verdict.diagnosis
    assert verdict.valid is (case["xsudo_line"] is not None)


@pytest.mark.parametrize("case", ALL)
def test_rfc6979_signature_is_reproduced(case: dict[str, Any]) -> None:
    signed = base64.b64decode(case["signed_bytes_b64"])
    key = load_private_key(case["private_key_pem"].encode())
    expected = case["rfc6979_sig_der_hex"]
    try:
        command = sign_command(signed, LocalSigner(key))
    except CommandTextError:
        # a body ending in a newline cannot be sent, so sign_command refuses it: check the
        # deterministic signer underneath instead
        assert case["file_has_trailing_newline"]
        r, s = sign_digest_deterministic(key, hashlib.sha256(signed).digest())
        assert encode_der(r, s).hex() == expected
        return
    assert command.signature_der.hex() == expected
    assert command.signature_raw.hex() == case["rfc6979_sig_raw_rs_hex"]
    assert command.body == signed
