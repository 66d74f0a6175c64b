"""Lines signed by xsudo verify with the openssl CLI, the way Nordic's recipe checks them.

The signed bytes and the signature are taken out of the rendered line by plain byte
splitting; openssl hashes the bytes (dgst -sha256 -binary) and pkeyutl -verify checks the DER
signature. Raw signatures are re-encoded to DER by openssl asn1parse, not by xsudo.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.verify.support import (
    KEYS_DIR,
    LocalSigner,
    load_test_key,
    openssl_der,
    openssl_pkeyutl_verifies,
)
from xsudo.encoding import Encoding
from xsudo.signing import sign_command

PEM = (KEYS_DIR / "test-ca.pem").read_bytes()
PUBKEY_PEM = (KEYS_DIR / "test-key-2.pub.pem").read_bytes()
BODIES = {
    "list": b"%CMNG=1",
    "doc-example": b'%CMNG=0,1,0,"TEST ROOT CERTIFICATE"',
    "cmng-pem-lf": b'%CMNG=0,16842753,0,"' + PEM + b'"',
    "cmng-pem-crlf": b'%CMNG=0,16842753,0,"' + PEM.replace(b"\n", b"\r\n") + b'"',
    "xpmng": b'%XPMNG=0,"' + PUBKEY_PEM + b'"',
    "keygen": b"%KEYGEN=16842753,2,0",
}


@pytest.mark.parametrize("encoding", ["der", "raw"])
@pytest.mark.parametrize("name", list(BODIES))
def test_openssl_verifies_an_xsudo_line(name: str, encoding: Encoding, tmp_path: Path) -> None:
    body = BODIES[name]
    command = sign_command(
        body, LocalSigner(load_test_key("test-key-1")), encoding=encoding, slot=2
    )
    line = command.line.encode("ascii")
    head, sep, sent = line.partition(b";")
    assert sep and sent == body
    prefix = b"AT%XSUDO=" + str(len(body)).encode() + b',"'
    assert head.startswith(prefix) and head.endswith(b'",2')
    signature = base64.b64decode(head[len(prefix) : -3], validate=True)
    if encoding == "raw":
        assert len(signature) == 64
        signature = openssl_der(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"), tmp_path
        )
    pub = KEYS_DIR / "test-key-1.pub.pem"
    assert openssl_pkeyutl_verifies(sent, signature, pub, tmp_path)
    assert not openssl_pkeyutl_verifies(sent + b"\n", signature, pub, tmp_path)
    assert not openssl_pkeyutl_verifies(sent, signature, KEYS_DIR / "test-key-2.pub.pem", tmp_path)
