"""Certificates signed through a Signer (the CA key never handed over), checked by OpenSSL."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.tokens import forge
from xsudo.ca import cert_pem, issue_from_csr, make_ca_with_signer, open_ca
from xsudo.errors import BadInputError, SignatureInvalid
from xsudo.labpki import make_ca


class OpensslSigner:
    """A Signer whose key is only reachable through ``openssl pkeyutl`` (an external
    command, as an HSM wrapper would be)."""

    def __init__(self, key_file: Path, public: ec.EllipticCurvePublicKey) -> None:
        self.key_file = key_file
        self._public = public

    @property
    def name(self) -> str:
        return "openssl-ca"

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        done = subprocess.run(
            ["openssl", "pkeyutl", "-sign", "-inkey", str(self.key_file)],
            input=digest,
            capture_output=True,
            check=True,
        )
        return utils.decode_dss_signature(done.stdout)


class BrokenSigner(OpensslSigner):
    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        r, s = super().sign_digest(digest)
        return r, s ^ 1


def openssl_signer(tmp_path: Path, cls: type[OpensslSigner] = OpensslSigner) -> OpensslSigner:
    key = forge.new_key()
    path = tmp_path / "ca-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cls(path, key.public_key())


def openssl_verify(ca: Path, cert: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", *extra, "-CAfile", str(ca), str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_ca_and_client_certificate_signed_by_an_external_command(tmp_path: Path) -> None:
    signer = openssl_signer(tmp_path)
    ca_cert = make_ca_with_signer(signer, "lab CA", days=30)
    (tmp_path / "ca.pem").write_bytes(cert_pem(ca_cert))
    assert openssl_verify(tmp_path / "ca.pem", tmp_path / "ca.pem").returncode == 0
    authority = open_ca(ca_cert, signer)
    device_key = forge.new_key()
    csr = x509.load_der_x509_csr(forge.csr_der(device_key, cn="352656100000001"))
    cert = issue_from_csr(authority, csr, days=400)
    (tmp_path / "client.pem").write_bytes(cert_pem(cert))
    result = openssl_verify(tmp_path / "ca.pem", tmp_path / "client.pem", "-purpose", "sslclient")
    assert result.returncode == 0, result.stderr
    assert cert.subject.rfc4514_string() == "CN=352656100000001"
    assert cert.public_key() == device_key.public_key()
    assert cert.not_valid_after_utc <= ca_cert.not_valid_after_utc  # capped at the CA's
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage


def test_a_signer_that_returns_a_bad_signature_never_produces_a_certificate(
    tmp_path: Path,
) -> None:
    signer = openssl_signer(tmp_path, BrokenSigner)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        make_ca_with_signer(signer, "lab CA")


def test_open_ca_checks_the_pair_and_the_certificate(tmp_path: Path) -> None:
    signer = openssl_signer(tmp_path)
    (tmp_path / "other").mkdir()
    other = openssl_signer(tmp_path / "other")
    ca_cert = make_ca_with_signer(signer, "lab CA", days=30)
    with pytest.raises(BadInputError, match="is not the public key of"):
        open_ca(ca_cert, other)
    leaf = issue_from_csr(
        open_ca(ca_cert, signer), x509.load_der_x509_csr(forge.csr_der(forge.new_key()))
    )
    with pytest.raises(BadInputError):
        open_ca(leaf, signer)  # not the signer's key, and not a CA
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    with pytest.raises(BadInputError, match="not valid now"):
        open_ca(ca_cert, signer, now=later)


def test_a_certificate_without_ca_basic_constraints_is_refused(tmp_path: Path) -> None:
    key = forge.new_key()
    not_ca = (
        x509.CertificateBuilder()
        .subject_name(make_ca(key, "x").subject)
        .issuer_name(make_ca(key, "x").subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "k.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(BadInputError, match="not a CA"):
        open_ca(not_ca, OpensslSigner(path, key.public_key()))
