"""The nRF Cloud onboarding CSV: rows as nRF Cloud reads them, duplicates refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.errors import BadInputError
from xsudo.labpki import make_ca
from xsudo.provision.onboarding import OnboardingRow, append_rows, device_id_of


def test_rows_round_trip_through_the_csv_module_and_duplicates_are_refused(
    tmp_path: Path,
) -> None:
    cert = make_ca(generate_private_key(), "352656100000001")
    pem = cert_pem(cert).decode()
    path = tmp_path / "onboard.csv"
    assert append_rows(path, [OnboardingRow(device_id_of(cert), pem)]) == 1
    assert append_rows(path, [OnboardingRow("other", pem, "sub", "a|b", "APP")]) == 1
    rows = list(csv.reader(path.open(newline="")))
    assert rows == [
        ["352656100000001", "", "", "APP|MODEM", pem],
        ["other", "sub", "a|b", "APP", pem],
    ]
    before = path.read_bytes()
    with pytest.raises(BadInputError, match="already in"):
        append_rows(path, [OnboardingRow("new", pem), OnboardingRow("other", pem)])
    assert path.read_bytes() == before  # nothing written when one row is refused
