"""Names that end up in a certificate are printable text: no control characters.

``xsudo ca create --cn`` and every name :mod:`xsudo.pki` puts into a certificate (a CA's
CN, a client certificate's CN, a subject taken from a device's CSR) refuse control and other
non-printable characters with one ``error:`` line, exit 2, before anything is created.
"""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from tests.support.cli import run_cli as run
from tests.support.signers import MemorySigner
from xsudo.ca import issue_from_csr, make_ca_with_signer, open_ca
from xsudo.crypto import PrivateKey, generate_private_key
from xsudo.errors import BadInputError
from xsudo.labpki import issue_client_cert, make_ca

BAD_NAMES = {
    "newline": "lab\nCN=root",
    "carriage-return": "lab\rCA",
    "nul": "lab\x00CA",
    "escape": "\x1b[31mlab",
    "tab": "lab\tCA",
    "del": "lab\x7f",
    "c1": "lab\x85CA",
    "rtl-override": "lab\u202eAC",
    "zero-width": "lab\u200bCA",
    "line-separator": "lab\u2028CA",
}


def KeySigner(key: PrivateKey) -> MemorySigner:
    return MemorySigner(key, "test-ca")


@pytest.mark.parametrize("cn", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_ca_create_refuses_a_control_character_in_cn(
    capsys: pytest.CaptureFixture[str], cn: str
) -> None:
    code, out, err = run(capsys, "ca", "create", "labca", "--cn", cn)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: --cn ") and err.count("\n") == 1, err
    assert "contains a control or non-printable character" in err
    assert "Traceback" not in err
    assert cn not in err  # shown escaped, never raw
    assert run(capsys, "key", "list", "--json")[1].strip() == "[]"  # no key was created


@pytest.mark.parametrize("cn", ["", "x" * 65], ids=["empty", "65-chars"])
def test_ca_create_refuses_an_empty_or_too_long_cn(
    capsys: pytest.CaptureFixture[str], cn: str
) -> None:
    code, out, err = run(capsys, "ca", "create", "labca", "--cn", cn)
    assert code == 2, (out, err)
    assert err.startswith("error: --cn must be 1-64 characters") and err.count("\n") == 1
    assert run(capsys, "key", "list", "--json")[1].strip() == "[]"


def test_ca_create_accepts_printable_unicode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ca", "create", "labca", "--cn", "Bäckerei Labor CA 1", "--json")
    assert code == 0, err
    assert json.loads(out)["subject"] == "CN=Bäckerei Labor CA 1"


@pytest.mark.parametrize("cn", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_pki_refuses_control_characters_in_every_name(cn: str) -> None:
    ca_key = generate_private_key()
    ca_cert = make_ca(ca_key, "good CA")
    with pytest.raises(BadInputError, match="non-printable character"):
        make_ca(ca_key, cn)
    with pytest.raises(BadInputError, match="non-printable character"):
        make_ca_with_signer(KeySigner(ca_key), cn)
    with pytest.raises(BadInputError, match="non-printable character"):
        issue_client_cert(ca_key, ca_cert, generate_private_key().public_key(), cn)


def csr_with(subject: x509.Name) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    return builder.sign(generate_private_key(), hashes.SHA256())


@pytest.mark.parametrize(
    "subject",
    [
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "35265610\n0367872")]),
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme\x1b]0;owned\x07"),
                x509.NameAttribute(NameOID.COMMON_NAME, "352656100367872"),
            ]
        ),
    ],
    ids=["cn", "organization"],
)
def test_a_csr_subject_from_the_device_is_checked_too(subject: x509.Name) -> None:
    ca_key = generate_private_key()
    authority = open_ca(make_ca_with_signer(KeySigner(ca_key), "lab CA"), KeySigner(ca_key))
    with pytest.raises(BadInputError, match="the certificate subject attribute") as caught:
        issue_from_csr(authority, csr_with(subject))
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    good = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "352656100367872")])
    assert issue_from_csr(authority, csr_with(good)).subject == good
