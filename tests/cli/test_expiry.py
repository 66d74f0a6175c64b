"""``xsudo cred expiry`` and ``Device.cert_expiry``: %CERTEXPIRY for every certificate on
the device, read from simulated boards on real ptys, and the strict reply parser."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from tests.support.boards import Result
from xsudo.at.parse import ResponseFormatError
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.provision.expiry import parse_certexpiry
from xsudo.sim import PtyServer

Run = Callable[..., Result]
Board = Callable[..., PtyServer]
UTC = datetime.UTC


def store(server: PtyServer, tag: int, type_: int, content: bytes) -> None:
    """Put ``content`` straight into the board's store (no validation on the way)."""
    server.board.modem.nvm.credentials[(tag, type_)] = content


def certificates(days_ca: int, days_client: int) -> tuple[x509.Certificate, x509.Certificate]:
    """A CA valid ``days_ca`` days and a client certificate it signed, valid ``days_client``
    days from five minutes ago, whose serial has its top bit set (the modem prints a
    leading ``00``)."""
    ca_key = generate_private_key()
    ca = make_ca(ca_key, "expiry CA", days=days_ca)
    start = datetime.datetime.now(UTC) - datetime.timedelta(minutes=5)
    client = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "352656100367872")]))
        .issuer_name(ca.subject)
        .public_key(generate_private_key().public_key())
        .serial_number(0xAEF87681FA968B61)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days_client))
        .sign(ca_key, hashes.SHA256())
    )
    return ca, client


def test_every_certificate_is_reported_with_serial_dates_and_days_left(
    xsudo: Run, board: Board
) -> None:
    server = board("nrf91x1-2.0")
    ca, client = certificates(3650, 20)
    store(server, 7, 0, cert_pem(ca))
    store(server, 7, 1, cert_pem(client))
    store(server, 7, 2, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    result = xsudo("cred", "expiry", "--port", server.path, "--json")
    assert result.code == 0, result.err
    report = result.json()
    rows = {(c["tag"], c["type_id"]): c for c in report["certificates"]}
    assert set(rows) == {(7, 0), (7, 1)}  # the key is not a certificate
    assert rows[(7, 1)]["serial"] == "00AEF87681FA968B61"
    assert rows[(7, 0)]["serial"].lstrip("0") == f"{ca.serial_number:X}"
    not_after = client.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[(7, 1)]["not_after"] == not_after
    assert rows[(7, 1)]["days_left"] == 19  # whole days, rounded down
    assert rows[(7, 0)]["days_left"] in (3648, 3649)
    assert report["ok"] is True and report["within_days"] is None

    text = xsudo("cred", "expiry", "--port", server.path)
    assert text.code == 0
    assert "00AEF87681FA968B61" in text.out and not_after in text.out


def test_within_fails_only_when_a_certificate_expires_sooner(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0")
    ca, client = certificates(3650, 20)
    store(server, 7, 0, cert_pem(ca))
    store(server, 8, 1, cert_pem(client))
    fine = xsudo("cred", "expiry", "--port", server.path, "--within", "10")
    assert fine.code == 0, fine.err
    assert "none expires within 10 days" in fine.err
    soon = xsudo("cred", "expiry", "--port", server.path, "--within", "30", "--json")
    assert soon.code == 1
    statuses = {c["tag"]: c["status"] for c in soon.json()["certificates"]}
    assert statuses == {7: "valid", 8: "expiring"}
    assert soon.json()["ok"] is False
    only_ca = xsudo("cred", "expiry", "--port", server.path, "--within", "30", "--tag", "7")
    assert only_ca.code == 0


def test_an_expired_certificate_fails_any_within(xsudo: Run, board: Board) -> None:
    server = board("nrf9160-1.3")
    ca_key = generate_private_key()
    then = datetime.datetime(2017, 8, 23, 8, 47, 37, tzinfo=UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(make_ca(ca_key, "old").subject)
        .issuer_name(make_ca(ca_key, "old").subject)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(then)
        .not_valid_after(then + datetime.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    store(server, 3, 0, cert_pem(old))
    result = xsudo("cred", "expiry", "--port", server.path, "--within", "0", "--json")
    assert result.code == 1
    [cert] = result.json()["certificates"]
    assert cert["status"] == "expired" and cert["days_left"] < 0
    assert cert["not_before"] == "2017-08-23T08:47:37Z"


def test_unreadable_and_unqueryable_entries_are_reported_and_the_rest_still_read(
    xsudo: Run, board: Board
) -> None:
    server = board("nrf9160-1.3")  # stores anything: the modem cannot parse the first one
    ca, _ = certificates(3650, 20)
    store(server, 5, 0, b"HONKHONK")
    store(server, 6, 0, cert_pem(ca))
    store(server, 0, 0, cert_pem(ca))  # %CERTEXPIRY takes sec_tags from 1
    result = xsudo("cred", "expiry", "--port", server.path, "--json")
    assert result.code == 0  # without --within nothing is judged
    rows = {c["tag"]: c for c in result.json()["certificates"]}
    assert rows[5]["status"] == "unreadable" and "527" in rows[5]["error"]
    assert rows[6]["status"] == "valid"
    assert rows[0]["status"] == "skipped"
    judged = xsudo("cred", "expiry", "--port", server.path, "--within", "1")
    assert judged.code == 1  # what cannot be read cannot pass
    assert "unreadable" in judged.out


def test_firmware_without_certexpiry_gets_a_clear_message(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0", certexpiry=False)
    ca, _ = certificates(3650, 20)
    store(server, 7, 0, cert_pem(ca))
    result = xsudo("cred", "expiry", "--port", server.path)
    assert result.code == 1
    assert result.out == ""
    assert "has no %CERTEXPIRY" in result.err and result.err.count("\n") == 1


def test_no_certificates_is_not_an_error(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0")
    result = xsudo("cred", "expiry", "--port", server.path, "--within", "30")
    assert result.code == 0
    assert "no certificates stored" in result.err


def test_the_library_counts_days_from_the_given_time(board: Board, tmp_path: Path) -> None:
    import xsudo

    server = board("nrf91x1-2.0")
    _, client = certificates(3650, 20)
    store(server, 9, 1, cert_pem(client))
    later = client.not_valid_after_utc - datetime.timedelta(days=2, hours=1)
    with xsudo.connect(server.path, home=tmp_path / "home", audit=False) as dev:
        report = dev.cert_expiry(now=later)
    [cert] = report.certificates
    assert cert.days_left == 2 and cert.serial == "00AEF87681FA968B61"
    assert [c.tag for c in report.expiring(3)] == [9] and not report.expiring(2)


@pytest.mark.parametrize(
    "line",
    [
        b"%CERTEXPIRY: 00AEF87681FA968B61,20170823084737Z,20180823084737Z",
        b"%CERTEXPIRY:00aef87681fa968b61,20170823084737Z,20180823084737Z",
        b"%CERTEXPIRY: " + b"7" * 42 + b",20170823084737Z,20170823084737Z",
    ],
)
def test_documented_replies_parse(line: bytes) -> None:
    serial, before, after = parse_certexpiry(line)
    assert serial == serial.upper() and len(serial) <= 42
    assert before.tzinfo is not None and before <= after


@pytest.mark.parametrize(
    "line",
    [
        b"%CERTEXPIRY: " + b"7" * 43 + b",20170823084737Z,20180823084737Z",  # serial too long
        b"%CERTEXPIRY: ,20170823084737Z,20180823084737Z",  # no serial
        b"%CERTEXPIRY: 0G,20170823084737Z,20180823084737Z",  # not hex
        b"%CERTEXPIRY: 01,20171323084737Z,20180823084737Z",  # month 13
        b"%CERTEXPIRY: 01,20170230084737Z,20180823084737Z",  # 30 February
        b"%CERTEXPIRY: 01,20170823084737,20180823084737Z",  # no Z
        b"%CERTEXPIRY: 01,2017082308473Z,20180823084737Z",  # 13 digits
        b"%CERTEXPIRY: 01,20180823084737Z,20170823084737Z",  # ends before it starts
        b"%CERTEXPIRY: 01,20170823084737Z,20180823084737Z,junk",
        b"%CERTEXPIRY: 01,20170823084737Z,20180823084737Z\x1b[2J",
        b"%CERTEXPIRY: 01,\xd9\xa120170823084737Z,20180823084737Z",
    ],
)
def test_hostile_replies_are_refused(line: bytes) -> None:
    with pytest.raises(ResponseFormatError):
        parse_certexpiry(line)
