"""Records and certificates for the ledger tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.ledger import CredentialEntry, Ledger

IMEI = "352656100000017"
OTHER_IMEI = "352656100367872"
CA_SHA = "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"
CERT_SHA = "F8B2FA72FF116733E1085032DF2A6ACCB1DA5D39DA6B1E36261371F6A4C190C7"
KEY_FP = "5ddf8b909fc83171fa52a05abc7d4759df4d822753cd28fb65c884f460041570"


def certificate(common_name: str) -> str:
    """A self-signed certificate PEM whose CN is ``common_name``."""
    return cert_pem(make_ca(generate_private_key(), common_name)).decode("ascii")


def entries(ca_sha: str = CA_SHA, cert: str | None = None) -> list[CredentialEntry]:
    """A CA certificate written with %XSUDO, and a client certificate (with ``cert``)."""
    return [
        CredentialEntry(16842753, 0, "ca-cert", "written", ca_sha, None, "xsudo"),
        CredentialEntry(16842753, 1, "client-cert", "written", CERT_SHA, None, "xsudo", cert),
    ]


def record(
    ledger: Ledger,
    at: datetime,
    *,
    imei: str = IMEI,
    station: str = "station-a",
    result: str = "ok",
    device_uuid: str | None = "uuid-1",
    plan_hash: str | None = "plan-1",
    credentials: list[CredentialEntry] | None = None,
) -> int:
    """Record a run of one minute that ended at ``at``."""
    return ledger.record_device(
        imei=imei,
        station=station,
        result=result,  # type: ignore[arg-type]
        started_at=at - timedelta(minutes=1),
        finished_at=at,
        credentials=entries() if credentials is None else credentials,
        device_uuid=device_uuid,
        model="nRF9151 LACA ADA",
        firmware="mfw_nrf91x1_2.0.2",
        plan_hash=plan_hash,
        key_fingerprint=KEY_FP,
        error=None if result == "ok" else "credential #2: refused",
    )
