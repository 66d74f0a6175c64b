"""Line length: the whole AT%CMNG write (and its XSUDO wrapper) within 4095 bytes."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.content.support import CERT_PEM, make_cert, p256_key
from xsudo.command import MAX_LINE_BYTES, build_xsudo_line
from xsudo.content import (
    MAX_DER_SIGNATURE_B64,
    XSUDO_MAX_OVERHEAD,
    ContentTooLargeError,
    CredType,
    check_fits,
    cmng_write_body,
    preflight,
    xsudo_overhead,
)
from xsudo.encoding import b64encode
from xsudo.errors import CommandTextError


def test_limit_is_4095() -> None:
    assert MAX_LINE_BYTES == 4095


def test_overhead_constants_counted_by_hand() -> None:
    # 'AT%XSUDO=' 9 + '4095' 4 + ',"' 2 + 96 Base64 chars (72-byte DER) + '"' 1 + ',9' 2
    # + ';' 1 = 115 bytes replace the 2-byte 'AT' of the plain line.
    assert MAX_DER_SIGNATURE_B64 == 96
    assert XSUDO_MAX_OVERHEAD == 113
    assert xsudo_overhead(999, slot=None) == 9 + 3 + 2 + 96 + 1 + 1 - 2
    assert xsudo_overhead(999, slot=0, signature_b64_len=88) == 9 + 3 + 2 + 88 + 1 + 2 + 1 - 2


def test_signature_size_constants_match_encoded_signatures() -> None:
    from xsudo.content import MAX_DER_SIGNATURE_BYTES, RAW_SIGNATURE_B64
    from xsudo.crypto import P256_ORDER
    from xsudo.encoding import encode_der

    longest = encode_der(P256_ORDER - 1, P256_ORDER - 1)
    assert len(longest) == MAX_DER_SIGNATURE_BYTES
    assert len(b64encode(longest)) == MAX_DER_SIGNATURE_B64
    assert len(b64encode(bytes(64))) == RAW_SIGNATURE_B64


def test_overhead_matches_a_real_signed_line() -> None:
    key = p256_key()
    body = cmng_write_body(CERT_PEM, 16842753, CredType.CA_CERT)
    signature = key.sign(body, ec.ECDSA(hashes.SHA256()))
    line = build_xsudo_line(body, b64encode(signature), 3).render()
    actual = len(line) - len(b"AT" + body)
    assert actual == xsudo_overhead(len(body), slot=3, signature_b64_len=len(b64encode(signature)))
    assert actual <= xsudo_overhead(len(body), slot=3)


def test_body_is_what_is_sent() -> None:
    body = cmng_write_body(b"abcd", 7, CredType.PSK)
    assert body == b'%CMNG=0,7,3,"abcd"'
    assert cmng_write_body(b"k", 7, CredType.CLIENT_KEY, "pw") == b'%CMNG=0,7,2,"k","pw"'


def test_exact_boundary_with_psk_id() -> None:
    # 'AT%CMNG=0,0,4,"' is 15 bytes; the closing quote is 1: 15 + 4079 + 1 = 4095.
    assert check_fits(b"x" * 4079, 0, CredType.PSK_ID) == 4095
    with pytest.raises(ContentTooLargeError) as caught:
        check_fits(b"x" * 4080, 0, CredType.PSK_ID)
    assert caught.value.line_bytes == 4096
    assert caught.value.limit == 4095
    assert caught.value.code == "too-large"
    assert caught.value.exit_code == 2


def test_fits_plain_but_not_wrapped() -> None:
    content = b"x" * (4079 - 50)
    assert check_fits(content, 0, CredType.PSK_ID) == 4045
    with pytest.raises(ContentTooLargeError) as caught:
        check_fits(content, 0, CredType.PSK_ID, extra_overhead=XSUDO_MAX_OVERHEAD)
    message = str(caught.value)
    assert "4158 bytes with the 113-byte XSUDO wrapper" in message
    assert "4095" in message


def test_chain_over_the_limit_is_refused_with_advice() -> None:
    chain = CERT_PEM * 4  # 4752 bytes of content
    with pytest.raises(ContentTooLargeError) as caught:
        preflight(chain, CredType.CA_CERT, 42)
    message = str(caught.value)
    assert f"content is {len(chain)} bytes" in message
    assert "at most 4095" in message
    assert "4-certificate chain" in message
    assert "several sec_tags" in message


def _padded_cert(length: int) -> bytes:
    """An EC certificate whose PEM is at least ``length`` bytes (SAN entries as padding)."""
    key = p256_key()
    names: list[x509.GeneralName] = []
    while True:
        pem = make_cert(key, extensions=[x509.SubjectAlternativeName(names)] if names else [])
        if len(pem) >= length:
            return pem
        names.append(x509.DNSName(f"host{len(names):04d}.example.com"))


def test_chain_that_fits_plain_but_not_with_xsudo() -> None:
    # 'AT%CMNG=0,42,0,"' is 16 bytes, then content and '"': plain fits up to 4078 bytes of
    # content, XSUDO-wrapped (113 more) up to 3965.
    chain = CERT_PEM * 2 + _padded_cert(4000 - 2 * len(CERT_PEM))
    assert 3965 < len(chain) <= 4078
    assert preflight(chain, CredType.CA_CERT, 42).line_bytes == 16 + len(chain) + 1
    with pytest.raises(ContentTooLargeError) as caught:
        preflight(chain, CredType.CA_CERT, 42, extra_overhead=XSUDO_MAX_OVERHEAD)
    assert caught.value.line_bytes == 16 + len(chain) + 1 + 113
    assert "3-certificate chain" in str(caught.value)


def test_quote_in_content_refused_by_the_command_layer_too() -> None:
    with pytest.raises(CommandTextError):
        cmng_write_body(b'ab"cd', 1, CredType.PSK_ID)
