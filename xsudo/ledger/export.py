"""The ledger's records as text: ``csv`` (one row per credential), ``jsonl`` (one device
record per line) and ``nrfcloud`` (nRF Cloud's bulk-onboarding CSV).

``nrfcloud`` writes the rows :mod:`xsudo.provision.onboarding` appends for
``--onboarding-csv``, byte for byte: no header; device ID (the certificate subject's CN),
subtype, tags, firmware types, and the certificate PEM as a quoted field spanning lines.
One row per device ID, from the newest ``ok`` record that holds a certificate (a client
certificate the caller recorded with its PEM); records without one are left out.

In ``csv``, a text cell that a spreadsheet would run as a formula (it starts with ``=``,
``+``, ``-``, ``@``, tab or CR) gets a leading ``'``: model and firmware strings come from
the device, which is untrusted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Literal

from xsudo.errors import BadInputError
from xsudo.ledger.records import CredentialEntry, DeviceRecord, iso

Format = Literal["csv", "jsonl", "nrfcloud"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "nrfcloud")

CSV_COLUMNS = (
    "record_id",
    "imei",
    "device_uuid",
    "model",
    "firmware",
    "station",
    "plan_hash",
    "key_fingerprint",
    "result",
    "error",
    "started_at",
    "finished_at",
    "position",
    "tag",
    "type",
    "type_id",
    "sha",
    "previous_sha",
    "auth",
    "action",
)
"""The header of the ``csv`` format. A record without credentials is one row with the
credential columns empty."""

DEFAULT_FW_TYPES = "APP|MODEM"
"""The firmware types of an ``nrfcloud`` row when none are given (as ``--onboarding-csv``)."""

CLIENT_CERT_TYPE = 1
"""The %CMNG type of a client certificate: what nRF Cloud onboards."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(
    records: Iterable[DeviceRecord],
    fmt: str,
    *,
    subtype: str = "",
    tags: str = "",
    fw_types: str = DEFAULT_FW_TYPES,
) -> Iterator[str]:
    """The text of ``records`` in format ``fmt``, in pieces to write one after another.
    ``subtype``, ``tags`` and ``fw_types`` fill the ``nrfcloud`` rows."""
    if fmt == "csv":
        return _csv(records)
    if fmt == "jsonl":
        return (json.dumps(record.to_json(), sort_keys=True) + "\n" for record in records)
    if fmt == "nrfcloud":
        return _nrfcloud(records, subtype, tags, fw_types)
    raise BadInputError(f"unknown export format {fmt!r}", f"use one of {', '.join(FORMATS)}")


def _line(fields: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv(records: Iterable[DeviceRecord]) -> Iterator[str]:
    yield _line(CSV_COLUMNS)
    for record in records:
        device = (
            record.id,
            record.imei,
            record.device_uuid,
            record.model,
            record.firmware,
            record.station,
            record.plan_hash,
            record.key_fingerprint,
            record.result,
            record.error,
            iso(record.started_at),
            iso(record.finished_at),
        )
        entries: list[tuple[int, CredentialEntry] | None] = list(enumerate(record.credentials))
        for item in entries or [None]:
            credential: tuple[object, ...] = ("",) * 8
            if item is not None:
                position, e = item
                credential = (position, e.tag, e.type, e.type_id, e.sha, e.previous_sha, e.auth)
                credential += (e.action,)
            yield _line(_safe(value) for value in (*device, *credential))


def device_id_of_pem(pem: str) -> str | None:
    """The subject CN of the certificate in ``pem`` (nRF Cloud's device ID), or ``None``
    when it has none or does not parse."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _nrfcloud(
    records: Iterable[DeviceRecord], subtype: str, tags: str, fw_types: str
) -> Iterator[str]:
    newest: dict[str, str] = {}
    for record in records:  # oldest first: a later record replaces an earlier row
        if record.result != "ok":
            continue
        for entry in record.credentials:
            if entry.type_id != CLIENT_CERT_TYPE or entry.certificate_pem is None:
                continue
            device_id = device_id_of_pem(entry.certificate_pem)
            if device_id is not None:
                newest.pop(device_id, None)
                newest[device_id] = entry.certificate_pem
    for device_id, pem in newest.items():
        yield _line([device_id, subtype, tags, fw_types, pem])
