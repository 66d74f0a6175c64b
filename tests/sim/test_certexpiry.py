"""Rule S36: ``%CERTEXPIRY`` against certificates made here (cryptography and openssl).

The expected answers are written from the certificates' own fields (or from what openssl
prints about them), never from the simulator's parser.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xsudo.sim import Modem, SimOptions

from .conftest import amazon_root_ca

OK = b"OK\r\n"
ERROR = b"ERROR\r\n"
CMEE1 = b"AT+CMEE=1"
UTC = datetime.UTC
KEY = ec.generate_private_key(ec.SECP256R1())
AMAZON = amazon_root_ca()["content"].encode("ascii")
DOC_EXAMPLE = b"%CERTEXPIRY: 00AEF87681FA968B61,20170823084737Z,20180823084737Z"
"""The documented example (nRF9160 and nRF91x1 AT references, %CERTEXPIRY set command)."""


def certificate(
    serial: int,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    name: str = "xsudo test",
) -> bytes:
    """A self-signed P-256 certificate as PEM (LF line ends, one trailing LF)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


DOC_CERT = certificate(
    0xAEF87681FA968B61,
    datetime.datetime(2017, 8, 23, 8, 47, 37, tzinfo=UTC),
    datetime.datetime(2018, 8, 23, 8, 47, 37, tzinfo=UTC),
)
SHORT_SERIAL = certificate(
    0x1234,
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
)
LATE = certificate(
    0x7F,
    datetime.datetime(2050, 6, 1, 0, 0, 0, tzinfo=UTC),
    datetime.datetime(2051, 6, 1, 0, 0, 0, tzinfo=UTC),
)


def modem_with(*entries: tuple[int, int, bytes], **options: Any) -> Modem:
    """A modem holding ``entries`` (put straight into NVM, as a real board might hold them
    after any write path), with numeric errors on."""
    modem = Modem(SimOptions(**options))
    for tag, type_, content in entries:
        modem.nvm.credentials[(tag, type_)] = content
    assert modem.handle(CMEE1) == OK
    return modem


def expiry(modem: Modem, tag: int, type_: int) -> bytes:
    return modem.handle(b"AT%%CERTEXPIRY=%d,%d" % (tag, type_))


def test_the_documented_example_comes_back_exactly() -> None:
    modem = modem_with((1, 0, DOC_CERT))
    assert expiry(modem, 1, 0) == DOC_EXAMPLE + b"\r\n" + OK


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0", "nrf9151-2.0", "nrf9151-ntn"])
def test_written_with_cmng_then_read_on_every_shipping_profile(profile: str) -> None:
    modem = Modem(SimOptions(profile=profile))
    assert modem.handle(b'AT%CMNG=0,42,1,"' + SHORT_SERIAL + b'"') == OK
    assert expiry(modem, 42, 1) == b"%CERTEXPIRY: 1234,20240102030405Z,20491231235959Z\r\nOK\r\n"


def test_a_real_root_ca() -> None:
    modem = modem_with((16842753, 0, AMAZON))
    assert expiry(modem, 16842753, 0) == (
        b"%CERTEXPIRY: 066C9FCF99BF8C0A39E2F0788A43E696365BCA,20150526000000Z,20380117000000Z\r\n"
        + OK
    )


def test_crlf_line_ends_parse_too() -> None:
    modem = modem_with((5, 0, DOC_CERT.replace(b"\n", b"\r\n")))
    assert expiry(modem, 5, 0) == DOC_EXAMPLE + b"\r\n" + OK


def test_a_chain_reports_its_first_certificate() -> None:
    modem = modem_with((7, 0, LATE + DOC_CERT), (8, 0, DOC_CERT + LATE))
    assert expiry(modem, 7, 0) == b"%CERTEXPIRY: 7F,20500601000000Z,20510601000000Z\r\n" + OK
    assert expiry(modem, 8, 0) == DOC_EXAMPLE + b"\r\n" + OK


def test_text_before_the_first_block_is_ignored() -> None:
    modem = modem_with((9, 0, b"Amazon Root CA 1\n" + DOC_CERT))
    assert expiry(modem, 9, 0) == DOC_EXAMPLE + b"\r\n" + OK


def test_type_10_is_a_valid_type() -> None:
    # The host cannot write type 10 (S12a); a board that holds one in a host tag answers.
    modem = modem_with((3, 10, DOC_CERT))
    assert expiry(modem, 3, 10) == DOC_EXAMPLE + b"\r\n" + OK
    assert expiry(modem, 4, 10) == b"+CME ERROR: 513\r\n"


@pytest.mark.parametrize(
    "content",
    [
        DOC_CERT.replace(b"\n", b"\\n"),
        DOC_CERT.replace(b"\n", b"\r"),
        b"HONKHONK",
        b"-----BEGIN CERTIFICATE-----\nSGVsbG8=\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n",
        DOC_CERT.split(b"-----END")[0],
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ],
    ids=[
        "literal-backslash-n",
        "cr-only",
        "honkhonk",
        "base64-not-x509",
        "bad-base64",
        "no-end",
        "public-key-pem",
    ],
)
def test_stored_content_that_is_no_certificate_is_527(content: bytes) -> None:
    modem = modem_with((11, 0, content))
    assert expiry(modem, 11, 0) == b"+CME ERROR: 527\r\n"


def test_literal_backslash_n_stored_on_a_profile_that_does_not_check() -> None:
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    literal = DOC_CERT.replace(b"\n", b"\\n")
    assert modem.handle(CMEE1) == OK
    assert modem.handle(b'AT%CMNG=0,12,0,"' + literal + b'"') == OK
    assert expiry(modem, 12, 0) == b"+CME ERROR: 527\r\n"


def test_a_missing_entry_is_513() -> None:
    modem = modem_with((13, 0, DOC_CERT))
    assert expiry(modem, 13, 1) == b"+CME ERROR: 513\r\n"
    assert expiry(modem, 14, 0) == b"+CME ERROR: 513\r\n"


@pytest.mark.parametrize(
    "command",
    [
        b"AT%CERTEXPIRY=13,2",  # a key: not a type %CERTEXPIRY takes
        b"AT%CERTEXPIRY=13,3",
        b"AT%CERTEXPIRY=13,11",
        b"AT%CERTEXPIRY=0,0",  # sec_tag starts at 1
        b"AT%CERTEXPIRY=2147483648,0",  # a TLS decrypt tag: outside the documented range
        b"AT%CERTEXPIRY=4294967293,10",  # the seeded Nordic identity root CA's tag
        b"AT%CERTEXPIRY=13",
        b"AT%CERTEXPIRY=13,0,0",
        b"AT%CERTEXPIRY=",
        b'AT%CERTEXPIRY="13",0',
        b"AT%CERTEXPIRY=x,0",
        b"AT%CERTEXPIRY=13,-1",
    ],
)
def test_bad_parameters_are_50(command: bytes) -> None:
    modem = modem_with((13, 0, DOC_CERT), (13, 2, b"key"))
    assert modem.handle(command) == b"+CME ERROR: 50\r\n"


def test_bad_parameters_follow_plain_param_errors() -> None:
    modem = modem_with(plain_param_errors=True)
    assert modem.handle(b"AT%CERTEXPIRY=0,0") == ERROR


@pytest.mark.parametrize("command", [b"AT%CERTEXPIRY", b"AT%CERTEXPIRY?", b"AT%CERTEXPIRY=?"])
def test_other_forms_are_error(command: bytes) -> None:
    assert modem_with((13, 0, DOC_CERT)).handle(command) == ERROR


def test_a_firmware_without_it_answers_error() -> None:
    modem = modem_with((13, 0, DOC_CERT), certexpiry=False)
    assert expiry(modem, 13, 0) == ERROR


def test_it_works_while_online_and_inside_xsudo_restrictions() -> None:
    modem = modem_with((13, 0, DOC_CERT), profile="locked")
    assert modem.handle(b"AT+CFUN=1") == OK
    assert expiry(modem, 13, 0) == DOC_EXAMPLE + b"\r\n" + OK


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_certificate_made_by_openssl(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30"
    files = ["-keyout", str(key), "-out", str(cert)]
    subject = ["-subj", "/CN=xsudo openssl test", "-set_serial", "0x8000000000000001"]
    subprocess.run(
        ["openssl", *request.split(), *files, *subject],
        check=True,
        capture_output=True,
    )
    shown = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-serial", "-startdate", "-enddate"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    facts = dict(line.split("=", 1) for line in shown.splitlines())
    start = datetime.datetime.strptime(facts["notBefore"], "%b %d %H:%M:%S %Y GMT")
    end = datetime.datetime.strptime(facts["notAfter"], "%b %d %H:%M:%S %Y GMT")
    assert int(facts["serial"], 16) == 0x8000000000000001
    modem = modem_with((21, 1, cert.read_bytes()))
    expected = b"%%CERTEXPIRY: 008000000000000001,%s,%s\r\nOK\r\n" % (
        start.strftime("%Y%m%d%H%M%SZ").encode(),
        end.strftime("%Y%m%d%H%M%SZ").encode(),
    )
    assert expiry(modem, 21, 1) == expected
