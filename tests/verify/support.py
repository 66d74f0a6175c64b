"""Helpers for the verify and vector tests: a local signer, the test keys, the openssl CLI.

Lines that carry a deliberate mistake are built here by plain string formatting and signed
with ``cryptography`` directly, never with the xsudo code under test.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.support.signers import MemorySigner
from xsudo.crypto import PrivateKey

REPO = Path(__file__).resolve().parents[2]
KEYS_DIR = REPO / "keys"
VECTORS_DIR = REPO / "tests" / "vectors"


LocalSigner = MemorySigner
"""The shared in-memory signer (tests/support/signers.py), under this module's old name."""


def load_test_key(name: str) -> PrivateKey:
    """A private key from keys/ (test-only)."""
    key = serialization.load_pem_private_key((KEYS_DIR / f"{name}.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sign_raw_bytes(key: PrivateKey, signed: bytes) -> tuple[int, int]:
    """(r, s) over ``signed`` with cryptography (deterministic), not through xsudo."""
    der = key.sign(signed, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = utils.decode_dss_signature(der)
    return r, s


def der_b64(r: int, s: int) -> str:
    return base64.b64encode(utils.encode_dss_signature(r, s)).decode("ascii")


def raw_b64(r: int, s: int) -> str:
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode("ascii")


def line_for(data_len: int, sig_b64: str, body: bytes, slot: int | None = None) -> bytes:
    """An AT%XSUDO line built by hand: ``AT%XSUDO=<data_len>,"<sig>"[,<slot>];<body>``."""
    slot_text = "" if slot is None else f",{slot}"
    return f'AT%XSUDO={data_len},"{sig_b64}"{slot_text};'.encode("ascii") + body


def mistaken_line(
    key: PrivateKey, sent: bytes, signed: bytes, data_len: int | None = None
) -> bytes:
    """A DER line that sends ``sent`` (with data_len = its length) but signs ``signed``."""
    r, s = sign_raw_bytes(key, signed)
    return line_for(len(sent) if data_len is None else data_len, der_b64(r, s), sent)


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def require_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl CLI is not installed")
    return path


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([require_openssl(), *args], capture_output=True, check=False)


def openssl_der(r: int, s: int, tmp: Path) -> bytes:
    """DER ECDSA-Sig-Value for (r, s), encoded by ``openssl asn1parse -genconf``."""
    conf = tmp / "sig.cnf"
    conf.write_text(f"asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x{r:X}\ns=INTEGER:0x{s:X}\n")
    out = tmp / "asn1.der"
    done = openssl("asn1parse", "-genconf", str(conf), "-out", str(out), "-noout")
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def openssl_verifies_message(message: bytes, der: bytes, pub_pem: Path, tmp: Path) -> bool:
    """``openssl dgst -sha256 -verify`` over the exact message bytes."""
    (tmp / "msg.bin").write_bytes(message)
    (tmp / "sig.der").write_bytes(der)
    done = openssl(
        "dgst",
        "-sha256",
        "-verify",
        str(pub_pem),
        "-signature",
        str(tmp / "sig.der"),
        str(tmp / "msg.bin"),
    )
    return done.returncode == 0 and b"Verified OK" in done.stdout


def openssl_pkeyutl_verifies(message: bytes, der: bytes, pub_pem: Path, tmp: Path) -> bool:
    """The recipe's way round: digest with ``openssl dgst -binary``, ``pkeyutl -verify``."""
    (tmp / "cmd.bin").write_bytes(message)
    digest = openssl("dgst", "-sha256", "-binary", str(tmp / "cmd.bin"))
    assert digest.returncode == 0 and len(digest.stdout) == 32, digest.stderr
    (tmp / "digest.bin").write_bytes(digest.stdout)
    (tmp / "sig.der").write_bytes(der)
    done = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pub_pem),
        "-in",
        str(tmp / "digest.bin"),
        "-sigfile",
        str(tmp / "sig.der"),
    )
    return done.returncode == 0 and b"Signature Verified Successfully" in done.stdout
