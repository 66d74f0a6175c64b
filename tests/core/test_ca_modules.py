"""``xsudo.ca`` (production: the CA key stays in a key store) and ``xsudo.labpki`` (labs,
demos and tests: keys in memory) are separate, and the production side makes no keys.

Certificates signed through a :class:`~xsudo.signing.Signer` carry a TBSCertificate that
``xsudo.ca`` encodes itself; it must be byte for byte what cryptography's
``CertificateBuilder`` encodes for the same fields.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import inspect
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import xsudo.ca
from tests.tokens import forge
from tests.verify.support import REPO, LocalSigner
from xsudo.ca import (
    CA_KEY_USAGE,
    Extensions,
    issue_from_csr,
    make_ca_with_signer,
    open_ca,
    sign_certificate,
)
from xsudo.crypto import PublicKey

UTC = dt.UTC
CA_KEY = forge.new_key()
SIGNER = LocalSigner(CA_KEY, "ca")
DEVICE_KEY = forge.new_key()
ISSUER = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lab CA")])
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bjørnøya Fleet"),
        x509.NameAttribute(NameOID.COMMON_NAME, "352656100000001"),
    ]
)
CLIENT_EXTENSIONS: Extensions = [
    (x509.BasicConstraints(ca=False, path_length=None), True),
    (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    (x509.SubjectKeyIdentifier.from_public_key(DEVICE_KEY.public_key()), False),
    (x509.AuthorityKeyIdentifier.from_issuer_public_key(CA_KEY.public_key()), False),
]
CA_EXTENSIONS: Extensions = [
    (x509.BasicConstraints(ca=True, path_length=0), True),
    (CA_KEY_USAGE, True),
]


def builder_tbs(
    subject: x509.Name,
    key: PublicKey,
    start: dt.datetime,
    end: dt.datetime,
    extensions: Extensions,
    serial: int,
) -> bytes:
    """The TBSCertificate cryptography encodes (signed with a throwaway key, discarded)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ISSUER)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()
    ).tbs_certificate_bytes


CASES = {
    "client": (SUBJECT, CLIENT_EXTENSIONS, dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), 365),
    "ca": (ISSUER, CA_EXTENSIONS, dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), 3650),
    "no-extensions": (SUBJECT, [], dt.datetime(2030, 6, 1, tzinfo=UTC), 1),
    "past-2049": (SUBJECT, CLIENT_EXTENSIONS, dt.datetime(2049, 12, 31, 23, 0, 0, tzinfo=UTC), 2),
    "far-future": (ISSUER, CA_EXTENSIONS, dt.datetime(2100, 1, 1, tzinfo=UTC), 40000),
}


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF00, (1 << 159) - 1])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_tbs_is_what_cryptography_encodes(
    case: tuple[x509.Name, Extensions, dt.datetime, int], serial: int
) -> None:
    subject, extensions, start, days = case
    end = start + dt.timedelta(days=days)
    key = DEVICE_KEY.public_key()
    cert = sign_certificate(
        SIGNER,
        issuer=ISSUER,
        subject=subject,
        public_key=key,
        not_before=start,
        not_after=end,
        extensions=extensions,
        serial=serial,
    )
    assert cert.tbs_certificate_bytes == builder_tbs(subject, key, start, end, extensions, serial)
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    cert.verify_directly_issued_by(
        x509.CertificateBuilder()
        .subject_name(ISSUER)
        .issuer_name(ISSUER)
        .public_key(CA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(CA_KEY, hashes.SHA256())
    )


@pytest.mark.parametrize("serial", [0, -1, 1 << 159])
def test_a_serial_that_does_not_fit_is_refused(serial: int) -> None:
    now = dt.datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="serial"):
        sign_certificate(
            SIGNER,
            issuer=ISSUER,
            subject=ISSUER,
            public_key=CA_KEY.public_key(),
            not_before=now,
            not_after=now,
            extensions=[],
            serial=serial,
        )


def test_the_production_ca_makes_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a private key was generated")

    monkeypatch.setattr(ec, "generate_private_key", refuse)
    monkeypatch.setattr("xsudo.crypto.generate_private_key", refuse)
    ca_cert = make_ca_with_signer(SIGNER, "Lab CA", days=30)
    csr = x509.load_der_x509_csr(forge.csr_der(DEVICE_KEY, cn="352656100000001"))
    cert = issue_from_csr(open_ca(ca_cert, SIGNER), csr)
    cert.verify_directly_issued_by(ca_cert)


def test_the_production_ca_module_names_no_private_key_operation() -> None:
    tree = ast.parse(inspect.getsource(xsudo.ca))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    forbidden = {
        "generate_private_key",
        "derive_private_key",
        "load_pem_private_key",
        "load_der_private_key",
        "private_bytes",
        "PrivateKey",
        "EllipticCurvePrivateKey",
        "labpki",
    }
    assert names & forbidden == set()


def test_production_code_does_not_load_the_lab_helpers() -> None:
    code = (
        "import sys, xsudo.ca, xsudo.provision.keygen, xsudo.provision.manifest, "
        "xsudo.provision.fleet; print('xsudo.labpki' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_the_old_module_is_gone() -> None:
    assert importlib.util.find_spec("xsudo.pki") is None


def test_each_module_says_what_it_is_for() -> None:
    import xsudo.labpki

    assert "cred issue" in (xsudo.ca.__doc__ or "")
    assert "never for production keys" in " ".join((xsudo.labpki.__doc__ or "").split()).lower()
