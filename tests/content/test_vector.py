"""Hardware truth: every damaged form of the observed certificate normalises to the bytes a
real modem hashed to the observed SHA (modem-observed.json), checked also with sha256sum."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.content.support import CERT_PEM, OBSERVED_SHA
from xsudo.content import CredType, Repair, expected_sha, normalise, preflight, validate

VARIANTS: dict[str, tuple[bytes, set[Repair] | None]] = {
    "canonical": (CERT_PEM, set()),
    "literal-backslash-n": (CERT_PEM.replace(b"\n", b"\\n"), {Repair.LITERAL_NEWLINES}),
    "literal-backslash-r-n": (CERT_PEM.replace(b"\n", b"\\r\\n"), {Repair.LITERAL_NEWLINES}),
    "crlf": (CERT_PEM.replace(b"\n", b"\r\n"), {Repair.LINE_ENDINGS}),
    "cr-only": (CERT_PEM.replace(b"\n", b"\r"), {Repair.LINE_ENDINGS}),
    "no-trailing-newline": (CERT_PEM.rstrip(b"\n"), {Repair.TRAILING_NEWLINE}),
    "several-trailing-newlines": (CERT_PEM + b"\n\n\n", {Repair.TRAILING_NEWLINE}),
    "bom": (b"\xef\xbb\xbf" + CERT_PEM, {Repair.BOM}),
    "surrounding-spaces": (b"  \t " + CERT_PEM.rstrip(b"\n") + b"  ", None),
    "joined-by-spaces": (CERT_PEM.rstrip(b"\n").replace(b"\n", b" "), None),
    "joined-no-separator": (CERT_PEM.rstrip(b"\n").replace(b"\n", b""), None),
    "joined-by-spaces-crlf-bom": (
        b"\xef\xbb\xbf" + CERT_PEM.replace(b"\n", b" ") + b"\r\n",
        None,
    ),
    "indented": (b"".join(b"    " + line + b"\n" for line in CERT_PEM.splitlines()), None),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_normalises_to_observed_sha(name: str) -> None:
    raw, repairs = VARIANTS[name]
    result = normalise(raw, CredType.CA_CERT)
    assert expected_sha(result.content) == OBSERVED_SHA
    assert result.content == CERT_PEM
    if repairs is not None:
        assert set(result.repairs) == repairs
    else:
        assert result.repairs, "a repaired variant must report its repairs"


def test_joined_by_spaces_is_reported_as_rewrapped() -> None:
    raw = CERT_PEM.rstrip(b"\n").replace(b"\n", b" ")
    assert Repair.REWRAPPED in normalise(raw, CredType.CA_CERT).repairs


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_sha256sum_of_normalised_file_is_observed_sha(name: str, tmp_path: Path) -> None:
    path = tmp_path / "cert.pem"
    path.write_bytes(normalise(VARIANTS[name][0], CredType.CA_CERT).content)
    output = subprocess.run(
        ["sha256sum", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert output.split()[0].upper() == OBSERVED_SHA


def test_observed_certificate_validates_and_preflights() -> None:
    assert validate(CERT_PEM, CredType.CA_CERT) == ()
    result = preflight(CERT_PEM.replace(b"\n", b"\\n"), CredType.CA_CERT, 16842753)
    assert result.sha == OBSERVED_SHA
    assert result.content == CERT_PEM
    assert result.repairs == (Repair.LITERAL_NEWLINES,)
    # 'AT%CMNG=0,16842753,0,"' is 22 bytes, then the content and the closing quote.
    assert result.line_bytes == 22 + len(CERT_PEM) + 1


def test_every_repair_has_a_message() -> None:
    for repair in Repair:
        assert repair.message and "\n" not in repair.message
