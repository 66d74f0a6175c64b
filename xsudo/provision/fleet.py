"""Provision many modems in parallel from one manifest.

Phases (contract: every file for every device is loaded and validated before any device is
touched):

0. check that the audit log can take records; load every ``issue`` CA certificate and
   check it against its key in the key store;
1. open every port in parallel and read its identity (read-only);
2. load and validate every credential file for every device (``{imei}`` filled in);
   one bad file stops the whole run before anything is written;
3. one worker per port writes its credentials in manifest order (an ``issue`` entry runs
   ``%KEYGEN`` and writes the CA-signed certificate); a device stops at its first error,
   the others go on.

Each device yields a :class:`DeviceReport` (the JSON-lines report's object).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from xsudo.at.channel import ChannelOptions
from xsudo.at.modem import Modem, ModemIdentity
from xsudo.audit.log import AuditLog
from xsudo.ca import CertificateAuthority
from xsudo.errors import BadInputError, XsudoError
from xsudo.provision.keygen import KeyGenerator
from xsudo.provision.manifest import (
    Manifest,
    PreparedCredential,
    open_authorities,
    prepare_device,
)
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter, CredResult
from xsudo.signing import Signer

Progress = Callable[[str, int, int, str], None]
"""``progress(port, done, total, status)`` - called from worker threads."""


@dataclass
class DeviceReport:
    """One device's outcome: ``ok`` only when every credential was written or unchanged."""

    port: str
    imei: str | None = None
    ok: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    audit_head: dict[str, Any] | None = None
    failure: XsudoError | None = field(default=None, repr=False, compare=False)
    """The error behind ``error`` (its message, hint and remedy), not in the JSON."""
    failure_where: str = field(default="", compare=False)
    """What ``failure`` happened to (``"credential #2"``), the prefix of ``error``."""

    def fail(self, exc: XsudoError, where: str = "") -> None:
        """Record ``exc`` as this device's failure; ``where`` names what failed."""
        self.failure, self.failure_where = exc, where
        self.error = f"{where}: {exc}" if where else str(exc)

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "imei": self.imei,
            "ok": self.ok,
            "results": self.results,
            "error": self.error,
            "audit_head": self.audit_head,
        }


@dataclass
class _Device:
    port: str
    modem: Modem | None = None
    identity: ModemIdentity | None = None
    report: DeviceReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = DeviceReport(self.port)


def run_fleet(
    manifest: Manifest,
    ports: list[str],
    settings: AuthSettings,
    audit: AuditLog | None,
    *,
    channel: ChannelOptions | None = None,
    progress: Progress | None = None,
    signer_for: Callable[[str], Signer] | None = None,
) -> list[DeviceReport]:
    """Provision every port; see the module contract. Raises :class:`BadInputError` (after
    closing every port) when any file for any device fails validation.

    ``signer_for(name)`` opens a CA key from the key store; it is needed when the manifest
    has ``issue`` entries. ``channel`` holds the options every port is opened with (baud,
    timeout, flow, cmd_type, ...; see :meth:`xsudo.at.modem.Modem.open`).
    """
    twice = sorted({port for port in ports if ports.count(port) > 1})
    if twice:
        raise BadInputError(f"port {twice[0]} is given twice", "give each port once")
    if audit is not None:
        audit.check_appendable()  # no write without a record: before any device is touched
    authorities: dict[int, CertificateAuthority] = {}
    if any(spec.issue is not None for spec in manifest.credentials):
        if signer_for is None:
            raise BadInputError("the manifest issues certificates, but no key store was given")
        authorities = open_authorities(manifest, signer_for)
    devices = [_Device(port) for port in ports]
    notify = progress or (lambda *_: None)
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        list(pool.map(lambda d: _connect(d, channel or ChannelOptions()), devices))
        for device in devices:
            if device.modem is not None:
                stack.callback(device.modem.close)
        plans = _prepare_all(
            manifest, devices, signing=settings.signer is not None, authorities=authorities
        )
        list(
            pool.map(
                lambda d: _provision(d, plans.get(d.port, []), settings, audit, notify), devices
            )
        )
    head = audit.head() if audit is not None else None
    for device in devices:
        device.report.audit_head = head.to_json() if head is not None else None
    return [d.report for d in devices]


def _connect(device: _Device, channel: ChannelOptions) -> None:
    try:
        device.modem = Modem.open(device.port, **channel)
        device.identity = device.modem.identity()
        device.report.imei = device.identity.imei
    except XsudoError as exc:
        device.report.fail(exc)


def _prepare_all(
    manifest: Manifest,
    devices: list[_Device],
    *,
    signing: bool,
    authorities: dict[int, CertificateAuthority],
) -> dict[str, list[PreparedCredential]]:
    plans = {}
    for device in devices:
        if device.identity is not None:
            plans[device.port] = prepare_device(
                manifest, device.identity.imei, signing=signing, authorities=authorities
            )
    return plans


def _label(prepared: PreparedCredential) -> str:
    spec = prepared.spec
    return f"tag {spec.tag} {spec.cred_type.label}" + (" (issue)" if spec.issue else "")


def _apply(
    session: DeviceSession, writer: CredentialWriter, prepared: PreparedCredential
) -> tuple[CredResult, dict[str, Any]]:
    """Write one prepared credential, or generate the key and issue its certificate."""
    spec = prepared.spec
    if prepared.item is not None:
        result = writer.write(prepared.item, replace=spec.replace)
        return result, result.to_json()
    assert spec.issue is not None and prepared.authority is not None
    outcome = KeyGenerator(session).issue(
        spec.tag,
        prepared.authority,
        days=spec.issue.days,
        cn_from=spec.issue.cn_from,
        attributes=spec.issue.attributes,
        replace=spec.replace,
    )
    cert = outcome.to_json()["certificate"]
    issued = {
        **cert,
        "public_key_fingerprint": outcome.keygen.reply.fingerprint,
        "key_sha": outcome.keygen.key_sha,
        "cose_signature": outcome.keygen.signature.status,
    }
    return outcome.written, {**outcome.written.to_json(), "issued": issued}


def _provision(
    device: _Device,
    plan: list[PreparedCredential],
    settings: AuthSettings,
    audit: AuditLog | None,
    notify: Progress,
) -> None:
    if device.modem is None or device.identity is None:  # the port or its identity failed
        notify(device.port, 0, len(plan), f"failed: {device.report.error}")
        return
    session = DeviceSession(device.modem, settings, audit, device.identity)
    writer = CredentialWriter(session)
    for done, prepared in enumerate(plan):
        notify(device.port, done, len(plan), _label(prepared))
        try:
            result, record = _apply(session, writer, prepared)
        except XsudoError as exc:
            if exc.outcome is not None:
                device.report.results.append(exc.outcome)
            device.report.fail(exc, f"credential #{prepared.spec.index}")
            notify(device.port, done, len(plan), "failed")
            return
        device.report.results.append(record)
        if not result.ok:
            device.report.fail(result.refusal(), f"credential #{prepared.spec.index}")
            notify(device.port, done + 1, len(plan), "refused")
            return
    device.report.ok = True
    notify(device.port, len(plan), len(plan), "done")
