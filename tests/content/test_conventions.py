"""Other writers' conventions, checked against the SHAs in docs/design/modem.md (M4) (computed there
independently of this code) and against the observed device SHA."""

from __future__ import annotations

import hashlib

import pytest

from tests.content.support import CERT_PEM, OBSERVED_SHA
from xsudo.content import (
    CONVENTIONS,
    ContentError,
    CredType,
    convention_contents,
    convention_shas,
    expected_sha,
    match_convention,
)

# (prefix, suffix) from the spec's table in section 1.4.
SPEC_TABLE = {
    "canonical": ("2C43952E", "54F05BD1"),
    "stripped": ("AD6FB002", "3FB9EA74"),
    "crlf": ("56AE01E6", "21681897"),
    "crlf-stripped": ("A86D8BF8", "463A25CF"),
}


def test_expected_sha_is_upper_hex_sha256() -> None:
    assert expected_sha(b"abc") == hashlib.sha256(b"abc").hexdigest().upper()
    assert expected_sha(CERT_PEM) == OBSERVED_SHA


@pytest.mark.parametrize("convention", sorted(SPEC_TABLE))
def test_convention_shas_match_spec_table(convention: str) -> None:
    prefix, suffix = SPEC_TABLE[convention]
    sha = convention_shas(CERT_PEM, CredType.CA_CERT)[convention]
    assert sha.startswith(prefix)
    assert sha.endswith(suffix)
    assert len(sha) == 64


def test_conventions_are_computed_from_the_canonical_form() -> None:
    messy = b"\xef\xbb\xbf" + CERT_PEM.replace(b"\n", b"\r\n")
    shas = convention_shas(messy, CredType.CA_CERT)
    clean = convention_shas(CERT_PEM, CredType.CA_CERT)
    for name in ("canonical", "stripped", "crlf", "crlf-stripped"):
        assert shas[name] == clean[name]
    assert shas["as-is"] == hashlib.sha256(messy).hexdigest().upper()
    assert tuple(shas) == CONVENTIONS


def test_convention_contents_shapes() -> None:
    contents = convention_contents(CERT_PEM, CredType.CA_CERT)
    assert contents["stripped"] == CERT_PEM[:-1]
    assert contents["crlf"].endswith(b"-----END CERTIFICATE-----\r\n")
    assert b"\n" not in contents["crlf"].replace(b"\r\n", b"")
    assert contents["crlf-stripped"].endswith(b"-----END CERTIFICATE-----")


@pytest.mark.parametrize(
    ("convention", "sha"),
    [
        ("canonical", OBSERVED_SHA),
        ("canonical", OBSERVED_SHA.lower()),
        ("stripped", hashlib.sha256(CERT_PEM.rstrip(b"\n")).hexdigest()),
        ("crlf", hashlib.sha256(CERT_PEM.replace(b"\n", b"\r\n")).hexdigest().upper()),
        (
            "crlf-stripped",
            hashlib.sha256(CERT_PEM.rstrip(b"\n").replace(b"\n", b"\r\n")).hexdigest(),
        ),
    ],
)
def test_match_convention(convention: str, sha: str) -> None:
    raw = CERT_PEM.rstrip(b"\n")  # as a user's file might be; all conventions still found
    assert match_convention(raw, CredType.CA_CERT, sha) == convention


def test_match_as_is_for_a_file_written_verbatim() -> None:
    raw = b"  " + CERT_PEM.replace(b"\n", b"\\n")
    sha = hashlib.sha256(raw).hexdigest()
    assert match_convention(raw, CredType.CA_CERT, sha) == "as-is"


def test_match_convention_none_for_other_content() -> None:
    assert match_convention(CERT_PEM, CredType.CA_CERT, "00" * 32) is None


def test_match_convention_refuses_a_non_sha() -> None:
    with pytest.raises(ContentError) as caught:
        match_convention(CERT_PEM, CredType.CA_CERT, "2C43")
    assert caught.value.code == "bad-sha"


def test_psk_conventions() -> None:
    raw = b"0a1b2c3d\n"
    shas = convention_shas(raw, CredType.PSK)
    assert shas["canonical"] == hashlib.sha256(b"0a1b2c3d").hexdigest().upper()
    assert shas["as-is"] == hashlib.sha256(raw).hexdigest().upper()
    assert match_convention(raw, CredType.PSK, shas["canonical"]) == "canonical"
