#!/usr/bin/env python3
"""Make the test-only keys and the whole-line vectors in this directory (keys/).

Run from anywhere: ``python keys/make_vectors.py``. Needs the ``openssl`` CLI and the
``cryptography`` package. Deliberately uses neither the xsudo package nor its helpers, so the
vectors are an independent check on xsudo's signer and verifier:

* missing keys are generated with ``openssl ecparam -name prime256v1 -genkey`` (existing key
  files are kept, so re-running reproduces the same vectors);
* ``rfc6979-p256.pem`` is the private key x published in RFC 6979 A.2.5
  (``rfc6979-p256.json``), checked against the published public key;
* ``test-ca.pem`` is a self-signed certificate made once with ``openssl req -x509``, used as
  the multi-line PEM content of a ``%CMNG`` write;
* each line is signed with deterministic ECDSA (RFC 6979, ``cryptography``), assembled by
  plain string formatting, and its signature verified with ``openssl dgst -sha256 -verify``
  over the exact body bytes before it is written to ``xsudo-lines.json``. For raw (r||s)
  vectors the DER handed to openssl is built by ``openssl asn1parse -genconf`` from r and s.

Every key here is test-only and public. Never use one on a real device.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

HERE = Path(__file__).resolve().parent
GENERATED_KEYS = ("test-key-1", "test-key-2")
RFC_KEY = "rfc6979-p256"
CA_FILE = "test-ca.pem"


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    """Run the openssl CLI; raise with its stderr on failure."""
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"openssl {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout


def ensure_generated_key(name: str) -> None:
    """``name.pem`` (SEC1, from openssl ecparam) and ``name.pub.pem``, made once."""
    private, public = HERE / f"{name}.pem", HERE / f"{name}.pub.pem"
    if not private.exists():
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(private))
    if not public.exists():
        openssl("ec", "-in", str(private), "-pubout", "-out", str(public))


def ensure_rfc6979_key() -> None:
    """The RFC 6979 A.2.5 key as PEM, checked against the published public key."""
    published = json.loads((HERE / "rfc6979-p256.json").read_text())
    x = int(published["private_key_x"], 16)
    key = ec.derive_private_key(x, ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    if (numbers.x, numbers.y) != (
        int(published["public_key_ux"], 16),
        int(published["public_key_uy"], 16),
    ):
        raise SystemExit("RFC 6979 x does not give the published Ux/Uy: check the transcription")
    private = HERE / f"{RFC_KEY}.pem"
    if not private.exists():
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    public = HERE / f"{RFC_KEY}.pub.pem"
    if not public.exists():
        openssl("ec", "-in", str(private), "-pubout", "-out", str(public))
    with tempfile.TemporaryDirectory() as tmp:
        for case in published["cases"]:
            der = der_from_openssl(int(case["r"], 16), int(case["s"], 16), Path(tmp))
            openssl_verify(case["message"].encode(), der, public, Path(tmp))


def ensure_ca() -> None:
    """A self-signed test-only CA certificate (multi-line PEM content), made once."""
    path = HERE / CA_FILE
    if not path.exists():
        openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(HERE / "test-key-2.pem"),
            "-sha256",
            "-days",
            "36500",
            "-subj",
            "/CN=xsudo test-only CA (never trust)",
            "-out",
            str(path),
        )


def load_private(name: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((HERE / f"{name}.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def der_from_openssl(r: int, s: int, tmp: Path) -> bytes:
    """DER ECDSA-Sig-Value for (r, s), encoded by openssl asn1parse -genconf."""
    conf = tmp / "sig.cnf"
    conf.write_text(f"asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x{r:X}\ns=INTEGER:0x{s:X}\n")
    out = tmp / "sig.der"
    openssl("asn1parse", "-genconf", str(conf), "-out", str(out), "-noout")
    return out.read_bytes()


def openssl_verify(message: bytes, der: bytes, public_pem: Path, tmp: Path) -> None:
    """openssl dgst -sha256 -verify over the exact message bytes, or stop."""
    (tmp / "msg.bin").write_bytes(message)
    (tmp / "sig.der").write_bytes(der)
    out = openssl(
        "dgst",
        "-sha256",
        "-verify",
        str(public_pem),
        "-signature",
        str(tmp / "sig.der"),
        str(tmp / "msg.bin"),
    )
    if b"Verified OK" not in out:
        raise SystemExit(f"openssl did not verify a vector: {out!r}")


def pem_content(crlf: bool) -> str:
    text = (HERE / CA_FILE).read_text().replace("\r\n", "\n")
    return text.replace("\n", "\r\n") if crlf else text


def case_specs() -> list[dict[str, Any]]:
    """(name, key, body, slot, encoding) of every vector."""
    tag = 16842753
    ca_lf = f'%CMNG=0,{tag},0,"{pem_content(False)}"'
    ca_crlf = f'%CMNG=0,{tag},0,"{pem_content(True)}"'
    doc = '%CMNG=0,1,0,"TEST ROOT CERTIFICATE"'
    return [
        {"name": "list", "key": "test-key-1", "body": "%CMNG=1", "slot": None, "encoding": "der"},
        {"name": "doc-example", "key": "test-key-1", "body": doc, "slot": None, "encoding": "der"},
        {
            "name": "doc-example-raw",
            "key": "test-key-1",
            "body": doc,
            "slot": None,
            "encoding": "raw",
        },
        {
            "name": "delete-slot-0",
            "key": "test-key-2",
            "body": f"%CMNG=3,{tag},0",
            "slot": 0,
            "encoding": "der",
        },
        {
            "name": "ca-pem-lf-slot-3",
            "key": "test-key-2",
            "body": ca_lf,
            "slot": 3,
            "encoding": "der",
        },
        {
            "name": "ca-pem-lf-slot-3-raw",
            "key": "test-key-2",
            "body": ca_lf,
            "slot": 3,
            "encoding": "raw",
        },
        {
            "name": "ca-pem-crlf",
            "key": "test-key-1",
            "body": ca_crlf,
            "slot": None,
            "encoding": "der",
        },
        {
            "name": "keygen-rfc6979-key-slot-9",
            "key": RFC_KEY,
            "body": f"%KEYGEN={tag},2,0",
            "slot": 9,
            "encoding": "der",
        },
        {
            "name": "rfc6979-key-psk",
            "key": RFC_KEY,
            "body": f'%CMNG=0,{tag},3,"0123456789ABCDEF0123456789ABCDEF"',
            "slot": None,
            "encoding": "raw",
        },
    ]


def make_case(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    body = spec["body"].encode("ascii")
    key = load_private(spec["key"])
    der = key.sign(body, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = utils.decode_dss_signature(der)
    if der_from_openssl(r, s, tmp) != der:
        raise SystemExit("openssl and cryptography disagree on the DER encoding")
    sig = der if spec["encoding"] == "der" else r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sig_b64 = base64.b64encode(sig).decode("ascii")
    slot = "" if spec["slot"] is None else f",{spec['slot']}"
    line = f'AT%XSUDO={len(body)},"{sig_b64}"{slot};{spec["body"]}'
    openssl_verify(body, der_from_openssl(r, s, tmp), HERE / f"{spec['key']}.pub.pem", tmp)
    return {
        "name": spec["name"],
        "key": spec["key"],
        "private_key_file": f"{spec['key']}.pem",
        "public_key_file": f"{spec['key']}.pub.pem",
        "body": spec["body"],
        "data_len": len(body),
        "slot": spec["slot"],
        "encoding": spec["encoding"],
        "sha256": hashlib.sha256(body).hexdigest(),
        "r": f"{r:064x}",
        "s": f"{s:064x}",
        "signature_b64": sig_b64,
        "line": line,
        "openssl_verified": True,
    }


def main() -> int:
    for name in GENERATED_KEYS:
        ensure_generated_key(name)
    ensure_rfc6979_key()
    ensure_ca()
    with tempfile.TemporaryDirectory() as tmp:
        cases = [make_case(spec, Path(tmp)) for spec in case_specs()]
    document = {
        "description": (
            "Whole AT%XSUDO lines signed with deterministic ECDSA P-256 (RFC 6979) by the "
            "test-only keys in this directory. data_len is the body length; the body is "
            "exactly the bytes after ';'. Every signature was verified with "
            "'openssl dgst -sha256 -verify' at generation time. Test-only keys: never use."
        ),
        "generated_by": "keys/make_vectors.py",
        "openssl_version": openssl("version").decode().strip(),
        "cryptography_version": cryptography.__version__,
        "cases": cases,
    }
    out = HERE / "xsudo-lines.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {len(cases)} vectors to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
