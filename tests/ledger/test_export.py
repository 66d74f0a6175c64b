"""Exports: csv rows per credential, jsonl per run, and nRF Cloud onboarding rows that are
byte for byte what ``--onboarding-csv`` (xsudo.provision.onboarding) writes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ledger.conftest import FakeClock
from tests.ledger.support import CERT_SHA, IMEI, OTHER_IMEI, certificate, entries, record
from xsudo.errors import BadInputError
from xsudo.ledger import CredentialEntry, Ledger
from xsudo.ledger.export import CSV_COLUMNS, render
from xsudo.provision.onboarding import OnboardingRow, append_rows


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger.open(str(tmp_path / "ledger.sqlite"), tmp_path, clock=clock) as opened:
        yield opened


def _text(ledger: Ledger, fmt: str, **options: str) -> str:
    return "".join(render(ledger.iter_records(), fmt, **options))


def test_csv_has_a_header_and_one_row_per_credential(ledger: Ledger, clock: FakeClock) -> None:
    first = record(ledger, clock.now)
    empty = record(ledger, clock.advance(hours=1), imei=OTHER_IMEI, credentials=[])
    rows = list(csv.DictReader(io.StringIO(_text(ledger, "csv"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["record_id"], r["position"], r["type"]) for r in rows] == [
        (str(first), "0", "ca-cert"),
        (str(first), "1", "client-cert"),
        (str(empty), "", ""),
    ]
    assert rows[1]["sha"] == CERT_SHA
    assert rows[1]["imei"] == IMEI
    assert rows[0]["finished_at"] == "2026-12-01T08:00:00.000+00:00"


def test_csv_defuses_spreadsheet_formulas_from_device_text(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.record_device(
        imei=IMEI,
        station="station-a",
        result="ok",
        started_at=clock.now,
        finished_at=clock.now,
        model='=HYPERLINK("http://x")',
        firmware="@SUM(1)",
    )
    row = next(csv.DictReader(io.StringIO(_text(ledger, "csv"))))
    assert row["model"] == '\'=HYPERLINK("http://x")'
    assert row["firmware"] == "'@SUM(1)"


def test_jsonl_is_one_run_per_line(ledger: Ledger, clock: FakeClock) -> None:
    ids = [record(ledger, clock.now), record(ledger, clock.advance(hours=1), result="failed")]
    lines = _text(ledger, "jsonl").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids
    first = json.loads(lines[0])
    assert first == next(iter(ledger.list())).to_json()
    assert first["credentials"][1]["certificate"] is False


def test_nrfcloud_rows_equal_the_onboarding_csv(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    pem_a, pem_b, pem_a2 = certificate(IMEI), certificate(OTHER_IMEI), certificate(IMEI)
    record(ledger, clock.now, credentials=entries(cert=pem_a))
    record(ledger, clock.advance(hours=1), imei=OTHER_IMEI, credentials=entries(cert=pem_b))
    # the same device again, newer: its row carries the newer certificate
    record(ledger, clock.advance(hours=1), credentials=entries(cert=pem_a2))
    # neither a failed run nor one without a certificate makes a row
    failed_pem = certificate("352656100999999")
    record(
        ledger,
        clock.advance(hours=1),
        imei="352656100999999",
        result="failed",
        credentials=entries(cert=failed_pem),
    )
    record(ledger, clock.advance(hours=1), imei="352656100888888", credentials=entries())

    reference = tmp_path / "onboarding.csv"
    append_rows(
        reference,
        [
            OnboardingRow(OTHER_IMEI, pem_b, "sub", "a|b", "APP"),
            OnboardingRow(IMEI, pem_a2, "sub", "a|b", "APP"),
        ],
    )
    exported = _text(ledger, "nrfcloud", subtype="sub", tags="a|b", fw_types="APP")
    assert exported.encode("utf-8") == reference.read_bytes()


def test_a_certificate_without_cn_makes_no_row(ledger: Ledger, clock: FakeClock) -> None:
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "no CN")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(clock.now)
        .not_valid_after(clock.now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    entry = CredentialEntry(16842753, 1, "client-cert", "written", CERT_SHA, certificate_pem=pem)
    record(ledger, clock.now, credentials=[entry])
    record(
        ledger,
        clock.advance(hours=1),
        imei=OTHER_IMEI,
        credentials=entries(cert=certificate(OTHER_IMEI)),
    )
    assert [row[0] for row in csv.reader(io.StringIO(_text(ledger, "nrfcloud")))] == [OTHER_IMEI]


def test_an_unknown_format_is_refused(ledger: Ledger) -> None:
    with pytest.raises(BadInputError):
        _text(ledger, "xml")
