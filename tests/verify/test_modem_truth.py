"""verify's verdict agrees with what the modem answers: the simulator, an independent
implementation (its own parser and Base64/ECDSA checks, tests/sim), gets the same lines.

* A right signature wrapped at 64 or 76 columns: the modem answers 520, so verify says
  invalid (``wrapped-base64``), with the one-line fix.
* A right signature over a certificate written with literal ``\\n``: the signature passes and
  the content check of nRF91x1 mfw >= 2.0.2 answers 527, so verify says valid (exit 0) and
  carries the 527 (``content_cme``, ``literal-newline-content``).

Lines are built by hand and signed with ``cryptography`` (tests/verify/support.py); the
wrapped signatures also come from Nordic's recipe made with the openssl CLI
(tests/vectors/openssl-recipe.json, ``sig_der_b64_as_printed_by_base64``).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.verify.support import (
    VECTORS_DIR,
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    public_pem,
    sign_raw_bytes,
)
from xsudo.crypto import load_public_key
from xsudo.diagnose import verify_line
from xsudo.sim import Modem, SimOptions

KEY = load_test_key("test-key-1")
PUB = KEY.public_key()
PEM = (VECTORS_DIR.parent.parent / "keys" / "test-ca.pem").read_bytes().replace(b"\r\n", b"\n")
ESCAPED = PEM.replace(b"\n", b"\\n")
RECIPE: list[dict[str, Any]] = json.loads((VECTORS_DIR / "openssl-recipe.json").read_text())[
    "cases"
]
OK = b"OK\r\n"


def modem(profile: str = "nrf91x1-2.0", pub_pem: bytes | None = None) -> Modem:
    """A simulated modem with numeric errors and ``pub_pem`` (test-key-1) in slot 0."""
    board = Modem(SimOptions(profile=profile))
    assert board.handle(b"AT+CMEE=1") == OK
    key = public_pem(KEY) if pub_pem is None else pub_pem
    assert board.handle(b'AT%XPMNG=0,"' + key + b'"') == OK
    return board


def wrap(b64: str, width: int) -> str:
    return "\n".join(textwrap.wrap(b64, width)) + "\n"


@pytest.mark.parametrize("width", [64, 76])
def test_wrapped_signature_is_invalid_and_the_modem_says_520(width: int) -> None:
    body = b'%CMNG=0,16842753,0,"' + PEM + b'"'
    r, s = sign_raw_bytes(KEY, body)
    line = line_for(len(body), wrap(der_b64(r, s), width), body)
    assert modem().handle(line) == b"+CME ERROR: 520\r\n"
    verdict = verify_line(line, PUB)
    assert (verdict.valid, verdict.exit_code, verdict.diagnosis) == (
        False,
        1,
        ("wrapped-base64",),
    )
    assert verdict.headline == "invalid: wrapped-base64"
    assert any("openssl base64 -A" in fix for fix in verdict.fixes)
    joined = line_for(len(body), der_b64(r, s), body)
    assert modem().handle(joined) == OK and verify_line(joined, PUB).valid


@pytest.mark.parametrize("case", [c for c in RECIPE if c["xsudo_line"]], ids=lambda c: c["name"])
def test_recipe_signature_as_base64_prints_it_is_invalid_like_the_modem_says(
    case: dict[str, Any],
) -> None:
    pub_pem = case["public_key_pem"].encode("ascii")
    sent = case["xsudo_line"].encode("ascii")
    wrapped = sent.replace(
        case["sig_der_b64"].encode(), case["sig_der_b64_as_printed_by_base64"].encode(), 1
    )
    assert wrapped != sent
    board = modem("nrf9160-1.3", pub_pem)
    assert board.handle(wrapped) == b"+CME ERROR: 520\r\n"
    verdict = verify_line(wrapped, load_public_key(pub_pem))
    assert not verdict.valid and verdict.diagnosis == ("wrapped-base64",)


@pytest.mark.parametrize("type_", [0, 1])
def test_certificate_with_literal_newlines_is_valid_but_gets_527(type_: int) -> None:
    body = b'%%CMNG=0,16842753,%d,"' % type_ + ESCAPED + b'"'
    line = mistaken_line(KEY, body, body)
    board = modem()
    assert board.handle(line) == b"+CME ERROR: 527\r\n"  # the signature passed (not 520)
    verdict = verify_line(line, PUB)
    assert verdict.valid and verdict.exit_code == 0
    assert verdict.content_cme == 527
    assert verdict.diagnosis == ("literal-newline-content",)
    assert verdict.headline == (
        "valid signature, content will get 527 on mfw >= 2.0.2 (warnings: literal-newline-content)"
    )
    assert verdict.to_json()["content_cme"] == 527
    assert "527" in verdict.message and verdict.fixes


def test_firmware_that_does_not_check_content_stores_it_and_verify_still_warns() -> None:
    body = b'%CMNG=0,16842753,0,"' + ESCAPED + b'"'
    line = mistaken_line(KEY, body, body)
    board = modem("nrf9160-1.3")
    assert board.handle(line) == OK
    assert verify_line(line, PUB).content_cme == 527  # what mfw >= 2.0.2 would answer


def test_same_certificate_with_real_line_breaks_has_no_warning() -> None:
    body = b'%CMNG=0,16842753,0,"' + PEM + b'"'
    line = mistaken_line(KEY, body, body)
    assert modem().handle(line) == OK
    verdict = verify_line(line, PUB)
    assert verdict.valid and verdict.diagnosis == () and verdict.content_cme is None
    assert verdict.headline == "valid"


def test_a_key_with_literal_newlines_is_stored_and_warned_about_without_527() -> None:
    key_pem = b"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIA\\n-----END EC PRIVATE KEY-----\\n"
    body = b'%CMNG=0,16842753,2,"' + key_pem + b'"'
    line = mistaken_line(KEY, body, body)
    assert modem().handle(line) == OK  # type 2 is not checked (the field report agrees)
    verdict = verify_line(line, PUB)
    assert verdict.valid and verdict.content_cme is None
    assert verdict.diagnosis == ("literal-newline-content",)
    assert verdict.headline == "valid (warnings: literal-newline-content)"


def test_literal_newlines_outside_a_cmng_write_are_not_a_content_warning() -> None:
    body = b'%XPMNG=0,"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"'
    verdict = verify_line(mistaken_line(KEY, body, body), PUB)
    assert verdict.valid and verdict.diagnosis == () and verdict.content_cme is None


def test_an_invalid_line_with_literal_newlines_keeps_its_520_diagnosis() -> None:
    body = b'%CMNG=0,16842753,0,"' + ESCAPED + b'"'
    line = mistaken_line(KEY, body, body.replace(b"\\n", b"\n"))
    assert modem().handle(line) == b"+CME ERROR: 520\r\n"
    verdict = verify_line(line, PUB)
    assert not verdict.valid and verdict.diagnosis == ("literal-backslash-n",)
    assert verdict.content_cme == 527  # the content fact stands, but 520 comes first
