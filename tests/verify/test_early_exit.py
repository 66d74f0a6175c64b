"""verify_line stops once the line verifies as sent; an invalid line is still diagnosed fully.

The number of ECDSA verifications is counted twice: by the verdict (``verifications``) and
independently, by wrapping the two verification functions the diagnose code calls.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import xsudo.diagnose.line as line_module
from tests.verify.support import (
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    raw_b64,
    sign_raw_bytes,
)
from xsudo.diagnose import verify_line
from xsudo.diagnose.variants import candidate_variants

KEY = load_test_key("test-key-1")
PUB = KEY.public_key()
PEM_BODY = (
    b'%CMNG=0,16842753,0,"-----BEGIN CERTIFICATE-----\nMIIB\r\nAAAA\n-----END CERTIFICATE-----\n"'
)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every ECDSA verification the diagnose code makes, by function name."""
    made: list[str] = []
    for name in ("verify_digest", "verify_message"):
        real = getattr(line_module, name)

        def counted(*args: object, _real: object = real, _name: str = name) -> bool:
            made.append(_name)
            return _real(*args)  # type: ignore[operator,no-any-return]

        monkeypatch.setattr(line_module, name, counted)
    yield made


@pytest.mark.parametrize("body", [b"%CMNG=1", PEM_BODY], ids=["short", "pem"])
def test_a_valid_line_costs_one_verification(body: bytes, calls: list[str]) -> None:
    verdict = verify_line(mistaken_line(KEY, body, body), PUB)
    assert verdict.valid and verdict.diagnosis == ()
    assert calls == ["verify_digest"]
    assert verdict.verifications == 1


def test_a_raw_signature_tries_the_der_reading_first(calls: list[str]) -> None:
    r, s = sign_raw_bytes(KEY, PEM_BODY)
    verdict = verify_line(line_for(len(PEM_BODY), raw_b64(r, s), PEM_BODY), PUB)
    assert verdict.valid and verdict.encoding == "raw"
    # A 64-byte signature reads as DER only by accident; either way no variant is tried.
    assert set(calls) == {"verify_digest"} and len(calls) == verdict.verifications <= 2


def test_valid_with_a_short_data_len_still_stops_early(calls: list[str]) -> None:
    sent = b"%CMNG=1;+CFUN=1"
    verdict = verify_line(mistaken_line(KEY, sent, b"%CMNG=1", data_len=7), PUB)
    assert verdict.valid and verdict.diagnosis == ("data-len-mismatch",)
    assert calls == ["verify_digest"]


def test_wrapped_but_right_signature_stops_early_and_is_invalid(calls: list[str]) -> None:
    r, s = sign_raw_bytes(KEY, PEM_BODY)
    b64 = der_b64(r, s)
    verdict = verify_line(line_for(len(PEM_BODY), b64[:64] + "\n" + b64[64:], PEM_BODY), PUB)
    assert not verdict.valid and verdict.diagnosis == ("wrapped-base64",)
    assert len(calls) == verdict.verifications == 1


def test_an_invalid_line_tries_every_variant(calls: list[str]) -> None:
    verdict = verify_line(mistaken_line(KEY, PEM_BODY, PEM_BODY + b"\n"), PUB)
    assert verdict.diagnosis == ("trailing-lf-signed",)
    expected = len(list(candidate_variants(PEM_BODY, len(PEM_BODY))))
    assert expected > 10
    assert len(calls) == verdict.verifications == expected  # as sent once, then the rest


def test_wrong_key_tries_every_variant(calls: list[str]) -> None:
    other = load_test_key("test-key-2")
    verdict = verify_line(mistaken_line(other, PEM_BODY, PEM_BODY), PUB)
    assert verdict.diagnosis == ("wrong-key",)
    assert len(calls) == len(list(candidate_variants(PEM_BODY, len(PEM_BODY))))
