"""Property tests: normalisation is idempotent, keeps the Base64 payload, and nothing but
BadInputError ever escapes the content layer, whatever bytes come in."""

from __future__ import annotations

import contextlib
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.content.support import CERT_PEM, OBSERVED_SHA
from xsudo.content import (
    ContentError,
    CredType,
    check_fits,
    convention_shas,
    expected_sha,
    normalise,
    preflight,
    redacted,
    validate,
)
from xsudo.errors import BadInputError

WRITABLE = st.sampled_from([t for t in CredType if t.writable])

# Bytes biased towards what breaks PEM handling: armour, escapes, line ends, BOM, quotes.
FRAGMENTS = st.sampled_from(
    [
        b"-----BEGIN CERTIFICATE-----",
        b"-----END CERTIFICATE-----",
        b"-----BEGIN PRIVATE KEY-----",
        b"-----END PRIVATE KEY-----",
        b"-----",
        b"\\n",
        b"\\r\\n",
        b"\\",
        b"n",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"\t",
        b"\xef\xbb\xbf",
        b'"',
        "\u201c".encode(),
        b"MIIB",
        b"AAAA",
        b"==",
        b"Proc-Type: 4,ENCRYPTED",
        b"\x00",
        b"\x0b",
    ]
)
MESSY = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(FRAGMENTS, st.binary(max_size=8)), max_size=40).map(b"".join),
)

LINE_BREAKS = st.sampled_from([b"\n", b"\r\n", b"\r", b"\\n", b"\\r\\n", b" ", b"  ", b"\n\n"])


@st.composite
def damaged_certificates(draw: st.DrawFn) -> bytes:
    """The observed certificate with its line breaks replaced, padded, BOM-prefixed."""
    lines = CERT_PEM.rstrip(b"\n").split(b"\n")
    out = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + draw(st.sampled_from([b"", b" ", b"\n"]))
    for line in lines[:-1]:
        out += line + draw(LINE_BREAKS)
    out += lines[-1] + draw(st.sampled_from([b"", b"\n", b"\r\n", b"\n\n\n", b"  ", b"\\n"]))
    return out


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(MESSY, WRITABLE)
def test_normalise_is_idempotent(raw: bytes, cred_type: CredType) -> None:
    once = normalise(raw, cred_type).content
    twice = normalise(once, cred_type)
    assert twice.content == once
    assert twice.repairs == ()


@FAST
@given(damaged_certificates())
def test_damaged_certificate_normalises_to_the_observed_bytes(raw: bytes) -> None:
    result = normalise(raw, CredType.CA_CERT)
    assert expected_sha(result.content) == OBSERVED_SHA
    assert (result.repairs == ()) == (raw == CERT_PEM)


@FAST
@given(MESSY, WRITABLE)
def test_payload_characters_never_change(raw: bytes, cred_type: CredType) -> None:
    """Normalisation only moves whitespace and line breaks: the other bytes stay in order."""
    result = normalise(raw, cred_type).content
    squeeze = re.compile(rb"[\s]|\\r\\n|\\n|\xef\xbb\xbf")
    assert squeeze.sub(b"", result) == squeeze.sub(b"", raw.replace(b"\\r\\n", b"\\n"))


@FAST
@given(MESSY, WRITABLE, st.integers(min_value=0, max_value=2**32))
def test_only_bad_input_errors_escape(raw: bytes, cred_type: CredType, tag: int) -> None:
    with contextlib.suppress(BadInputError):
        validate(raw, cred_type)
    with contextlib.suppress(BadInputError):
        check_fits(raw, 1, cred_type)
    with contextlib.suppress(BadInputError):
        preflight(raw, cred_type, tag)
    assert len(convention_shas(raw, cred_type)) == 5
    assert isinstance(redacted(raw, cred_type), str)


@FAST
@given(
    st.text(alphabet="0123456789abcdef", min_size=8, max_size=64),
    st.integers(0, 63),
    st.sampled_from(list('g xZ-"\u201c\x01')),
)
def test_psk_never_in_an_error(psk: str, where: int, bad: str) -> None:
    cut = 1 + where % (len(psk) - 1)  # inside: surrounding whitespace is legitimately trimmed
    damaged = psk[:cut] + bad + psk[cut:]
    try:
        preflight(damaged.encode(), CredType.PSK, 1)
    except ContentError as error:
        message = str(error)
        assert psk not in message
        assert damaged not in message
        assert psk[:8] not in message
    else:
        raise AssertionError("damaged PSK was accepted")
