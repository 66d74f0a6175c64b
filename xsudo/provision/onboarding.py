"""The nRF Cloud bulk-onboarding CSV for devices whose certificates xsudo issued.

nRF Cloud onboards devices in bulk from a CSV file with one row per device and no header:
device ID, device subtype, tags (``|``-separated), firmware types for FOTA
(``|``-separated, e.g. ``APP|MODEM``), and the device certificate PEM (a quoted field
spanning lines). The device ID is the certificate subject's CN.

:func:`append_rows` adds rows to a file atomically and refuses a device ID that is already
in it (onboarding the same device twice is an error at nRF Cloud too).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from xsudo.atomic import write_atomic
from xsudo.errors import BadInputError, Remedy
from xsudo.fileio import ONBOARDING_CSV_LIMIT, read_optional_input, show_path

DEFAULT_FW_TYPES = "APP|MODEM"
FW_TYPES = ("APP", "MODEM", "BOOT", "SOFTDEVICE", "BOOTLOADER")


@dataclass(frozen=True)
class OnboardingRow:
    device_id: str
    certificate_pem: str
    subtype: str = ""
    tags: str = ""
    fw_types: str = DEFAULT_FW_TYPES

    def fields(self) -> list[str]:
        return [self.device_id, self.subtype, self.tags, self.fw_types, self.certificate_pem]


def device_id_of(cert: x509.Certificate) -> str:
    """The certificate subject's CN, which nRF Cloud uses as the device ID."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise BadInputError(
            "the certificate has no CN to use as the nRF Cloud device ID",
            "issue it with the CN taken from the device (cn_from 'imei' or 'uuid')",
            remedy=Remedy("set-cn-from"),
        )
    return str(names[0].value)


def check_fw_types(text: str) -> str:
    """Validate ``APP|MODEM``-style firmware types."""
    unknown = [item for item in text.split("|") if item not in FW_TYPES]
    if not text or unknown:
        raise BadInputError(
            f"unknown firmware type(s) {', '.join(unknown) or repr(text)}",
            f"use a |-separated list of {', '.join(FW_TYPES)}",
        )
    return text


def row_for(cert: x509.Certificate, pem: bytes, **fields: str) -> OnboardingRow:
    return OnboardingRow(device_id_of(cert), pem.decode("ascii"), **fields)


def existing_ids(path: Path) -> set[str]:
    """Device IDs already in ``path`` (an empty set when the file does not exist)."""
    try:
        return {row[0] for row in csv.reader(io.StringIO(_read_csv(path))) if row}
    except csv.Error as exc:
        raise BadInputError(
            f"the onboarding file {show_path(path)} is not a CSV file ({exc})",
            "give another file, or fix this one",
        ) from None


def _read_csv(path: Path) -> str:
    """The CSV's text ("" when it does not exist); it must be a regular UTF-8 file of at
    most :data:`~xsudo.fileio.ONBOARDING_CSV_LIMIT` bytes (:class:`BadInputError`)."""
    data = read_optional_input(path, "the onboarding file", limit=ONBOARDING_CSV_LIMIT)
    try:
        return "" if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(
            f"the onboarding file {show_path(path)} is not UTF-8 text",
            "give another file, or fix this one",
        ) from None


def append_rows(path: Path, rows: Iterable[OnboardingRow]) -> int:
    """Append ``rows`` to the CSV at ``path`` (created if missing); return how many.

    Refuses, before writing anything, a device ID that the file (or ``rows``) already has.
    """
    new = list(rows)
    seen = existing_ids(path)
    for row in new:
        if row.device_id in seen:
            raise BadInputError(
                f"device {row.device_id} is already in {path}",
                "remove its row first, or write to another file",
            )
        seen.add(row.device_id)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(row.fields() for row in new)
    _replace(path, _read_csv(path) + buffer.getvalue())
    return len(new)


def _replace(path: Path, text: str) -> None:
    """Replace the CSV with ``text`` atomically (mode 0600); an :class:`OSError` leaves the
    old file as it was."""
    write_atomic(path, text.encode("utf-8"), mode=0o600)
