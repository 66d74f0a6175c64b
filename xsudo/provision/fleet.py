"""Provision many modems in parallel from one manifest.

Phases (contract: every file for every device is loaded and validated before any device is
touched):

0. check that the audit log can take records; load every ``issue`` CA certificate and
   check it against its key in the key store;
1. one worker per port opens its port, reads the IMEI (read-only), then loads and
   validates every credential file for that device (``{imei}`` filled in);
2. all workers wait for each other: one bad file for any device stops the whole run before
   anything is written (the error of the first such device in port order is raised);
3. each worker writes its device's credentials in manifest order (an ``issue`` entry runs
   ``%KEYGEN`` and writes the CA-signed certificate) in one trip offline (CFUN read and set
   to 4 before the first change, restored after the last or at once after a failure:
   :meth:`CredentialWriter.batch`) and closes its port; a device stops at its first error,
   the others go on.

Nothing is serial per board: each worker is one thread for the whole run (all started before
any begins, one barrier between phases 1 and 3), the files of one device are validated while
other ports are still being opened, and ports are closed by their workers (``+CMEE``
restored) in parallel. Audit records from the workers are group-committed
(:mod:`xsudo.audit.log`), so 64 workers share fsyncs instead of queueing for one each.

With a ledger (:mod:`xsudo.ledger.recording`), phase 1 also reads each device's identity
(model, firmware, ``%DEVICEUUID``; all read-only), and phase 3 claims the IMEI before the
device's first command of the plan: a claim the ledger refuses (the IMEI is held at another
station, or comes with another device UUID) fails that device with nothing written, and
every device that was claimed is recorded, written or not, with the audit head stored after
its record. A device that the same manifest provisioned before comes out ``unchanged`` by the
writer's SHA comparison (nothing is written, CFUN is not touched).

Each device yields a :class:`DeviceReport` (the JSON-lines report's object).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xsudo.at.channel import ChannelOptions
from xsudo.at.modem import Modem
from xsudo.audit.log import AuditLog
from xsudo.errors import BadInputError, OperationFailed, XsudoError
from xsudo.provision.manifest import (
    Finish,
    Manifest,
    PreparedCredential,
    check_decrypt_tags,
    open_authorities,
    prepare_device,
)
from xsudo.provision.offline import CfunNotRestored
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter, CredResult

if TYPE_CHECKING:  # issuing, [finish] and signing load only when a manifest uses them
    from xsudo.ca import CertificateAuthority
    from xsudo.ledger.recording import DeviceRun, RunLedger
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
    ledger_record: int | None = None
    """The id of the device's ledger record (``None``: no ledger, or not recorded)."""
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
            "ledger_record": self.ledger_record,
        }


@dataclass(frozen=True)
class LedgerRun:
    """Where a fleet run records its devices: the open ``ledger``, this ``station``'s
    name, and the ``plan_hash`` of every record (the manifest's SHA-256)."""

    ledger: RunLedger
    station: str
    plan_hash: str | None


@dataclass
class _Device:
    port: str
    modem: Modem | None = None
    identified: bool = False
    """The port opened and the IMEI was read (``report.imei``; ``None`` on firmware without)."""
    plan: list[PreparedCredential] = field(default_factory=list)
    invalid: BadInputError | None = None
    """Why this device's files failed validation (stops the whole run)."""
    finish: Finish = field(default_factory=Finish)
    """The manifest's last steps, run once every credential succeeded."""
    device_uuid: str | None = None
    model: str | None = None
    firmware: str | None = None
    certificates: dict[int, str] = field(default_factory=dict)
    """The client certificate (PEM) each ``issue`` entry wrote, by its position in
    ``report.results``: the ledger keeps it for nRF Cloud onboarding exports."""
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
    ledger: LedgerRun | None = None,
) -> list[DeviceReport]:
    """Provision every port; see the module contract. Raises :class:`BadInputError` (after
    closing every port) when any file for any device fails validation.

    ``ledger``: record every device there (opened by the caller before any port: no write
    without a record).

    ``signer_for(name)`` opens a CA key from the key store; it is needed when the manifest
    has ``issue`` entries. ``channel`` holds the options every port is opened with (baud,
    timeout, flow, cmd_type, ...; see :meth:`xsudo.at.modem.Modem.open`).
    """
    twice = sorted({port for port in ports if ports.count(port) > 1})
    if twice:
        raise BadInputError(f"port {twice[0]} is given twice", "give each port once")
    check_decrypt_tags(manifest, settings.mode)  # the run's mode, not only the manifest's
    if audit is not None:
        audit.check_appendable()  # no write without a record: before any device is touched
    authorities: dict[int, CertificateAuthority] = {}
    if any(spec.issue is not None for spec in manifest.credentials):
        if signer_for is None:
            raise BadInputError("the manifest issues certificates, but no key store was given")
        authorities = open_authorities(manifest, signer_for)
    devices = [_Device(port, finish=manifest.finish) for port in ports]
    notify = progress or (lambda *_: None)
    options = channel or ChannelOptions()
    signing = settings.signer is not None
    with ExitStack() as stack:
        for device in devices:  # closes what a worker left open, once every worker has ended
            stack.callback(_close, device)
        _in_two_phases(
            devices,
            lambda d: _connect(d, options, manifest, signing, authorities, ledger is not None),
            lambda d: _provision(d, settings, audit, notify, ledger),
        )
    head = audit.head() if audit is not None else None
    for device in devices:
        device.report.audit_head = head.to_json() if head is not None else None
    return [d.report for d in devices]


def _in_two_phases(
    devices: list[_Device],
    first: Callable[[_Device], None],
    second: Callable[[_Device], None],
) -> None:
    """Run ``first`` for every device, each on a thread of its own, then ``second`` once every
    device is through ``first`` and none is ``invalid`` (else raise the first device's
    ``invalid``, in port order, with ``second`` never run).

    Every thread is started before any begins (a start gate) and one barrier separates the
    phases: a device never waits for the main thread to hand it work while the other
    devices keep the interpreter busy (handing out 64 tasks one by one took a tenth of a
    second on two cores). An exception from a thread is raised here once all have ended.
    """
    if not devices:
        return
    gate = threading.Event()
    proceed = threading.Event()
    barrier = threading.Barrier(
        len(devices),
        action=lambda: proceed.set() if all(d.invalid is None for d in devices) else None,
    )
    errors: list[BaseException | None] = [None] * len(devices)

    def work(index: int, device: _Device) -> None:
        try:
            gate.wait()
            first(device)
            barrier.wait()
            if proceed.is_set():
                second(device)
        except threading.BrokenBarrierError:  # another thread failed before the barrier
            pass
        except BaseException as exc:  # re-raised by the main thread, like a pool's result
            errors[index] = exc
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(i, d), name=f"xsudo-fleet-{i}")
        for i, d in enumerate(devices)
    ]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    error = next((e for e in errors if e is not None), None)
    if error is not None:
        raise error
    invalid = next((d.invalid for d in devices if d.invalid is not None), None)
    if invalid is not None:
        raise invalid


def _connect(
    device: _Device,
    channel: ChannelOptions,
    manifest: Manifest,
    signing: bool,
    authorities: dict[int, CertificateAuthority],
    identify: bool = False,
) -> None:
    """Phase 1 for one device: open, identify (with ``identify``: also what the ledger
    records), then load and validate its files (a bad file is kept in ``device.invalid``, a
    device error in the report)."""
    try:
        device.modem = Modem.open(device.port, **channel)
        device.report.imei = device.modem.imei()  # the rest of the identity: if needed
        if identify:
            _identify(device, device.modem)
        device.identified = True
    except XsudoError as exc:
        device.report.fail(exc)
        return
    try:
        device.plan = prepare_device(
            manifest, device.report.imei, signing=signing, authorities=authorities
        )
    except BadInputError as exc:
        device.invalid = exc


def _identify(device: _Device, modem: Modem) -> None:
    """Read model, firmware and device UUID for the ledger (read-only). A value the modem
    does not give, or gives in a form that fails its check, is left ``None``: the record
    then lacks it, and the write is not stopped for it."""
    from xsudo.provision.attest import recorded_device_uuid

    with suppress(XsudoError):  # the IMEI is known already; the modem UUID is not recorded
        device.firmware, device.model = modem.firmware_and_model()
    device.device_uuid = recorded_device_uuid(modem)


def _close(device: _Device) -> None:
    """Close the device's port once (whoever comes first: its worker or the clean-up)."""
    modem, device.modem = device.modem, None
    if modem is not None:
        modem.close()


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
    from xsudo.provision.keygen import KeyGenerator

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
        "key_previous_sha": outcome.keygen.previous_sha,
        "key_auth": outcome.keygen.auth,
        "cose_signature": outcome.keygen.signature.status,
    }
    return outcome.written, {
        **outcome.written.to_json(),
        "issued": issued,
        "certificate_pem": outcome.cert_pem.decode("ascii"),
    }


def _provision(
    device: _Device,
    settings: AuthSettings,
    audit: AuditLog | None,
    notify: Progress,
    ledger: LedgerRun | None = None,
) -> None:
    """Phase 3 for one device: write its plan (recorded, with a ledger), then close its
    port."""
    try:
        if ledger is None or device.modem is None or not device.identified:
            _write_plan(device, settings, audit, notify)
        else:
            _write_recorded(device, settings, audit, notify, ledger)
    finally:
        _close(device)


def _write_recorded(
    device: _Device,
    settings: AuthSettings,
    audit: AuditLog | None,
    notify: Progress,
    ledger: LedgerRun,
) -> None:
    """:func:`_write_plan` inside the ledger's claim and record (module contract). A claim
    refused, or a ledger that fails, is this device's failure; nothing is written without
    the claim."""
    from xsudo.ledger.recording import device_record, key_fingerprint_of

    report, total = device.report, len(device.plan)
    if report.imei is None:
        report.fail(
            OperationFailed(
                "the modem reports no IMEI (AT+CGSN), so the ledger cannot record it; "
                "nothing was written",
                "provision modems with production firmware (test firmware has no IMEI)",
            )
        )
        notify(device.port, 0, total, "failed: no IMEI")
        return
    try:
        with device_record(
            ledger.ledger,
            ledger.station,
            imei=report.imei,
            device_uuid=device.device_uuid,
            plan_hash=ledger.plan_hash,
            model=device.model,
            firmware=device.firmware,
            audit=audit,
        ) as run:
            _write_plan(device, settings, audit, notify)
            for position, result in enumerate(report.results):
                _add_to_run(run, result, device.certificates.get(position))
            if not report.ok:
                run.fail(report.error or "failed")
            run.key_fingerprint = key_fingerprint_of(settings.signer, run.entries)
    except XsudoError as exc:  # refused claim (nothing written) or a ledger failure
        written = bool(report.results)
        report.ok = False
        report.fail(exc, "ledger" if written else "")
        notify(device.port, len(report.results), total, "failed: ledger")
        return
    report.ledger_record = run.record_id


def _add_to_run(run: DeviceRun, result: dict[str, Any], certificate_pem: str | None) -> None:
    """One report result as ledger entries: an ``issue`` entry is two, the key generated on
    the device (action ``keygen``) and the certificate written for it (``issued``), as
    ``cred issue`` records them; anything else is one."""
    from xsudo.ledger.recording import issued_result, keygen_result

    issued = result.get("issued")
    if not isinstance(issued, dict):
        run.add(result, certificate_pem)
        return
    key = keygen_result(
        result["tag"], issued.get("key_sha"), issued.get("key_previous_sha"), issued.get("key_auth")
    )
    run.add(key, None)
    run.add(issued_result(result), certificate_pem)


def _write_plan(
    device: _Device, settings: AuthSettings, audit: AuditLog | None, notify: Progress
) -> None:
    plan = device.plan
    if device.modem is None or not device.identified:  # the port or its IMEI read failed
        notify(device.port, 0, len(plan), f"failed: {device.report.error}")
        return
    session = DeviceSession(device.modem, settings, audit, known_imei=device.report.imei)
    writer = CredentialWriter(session)
    try:
        with writer.batch():  # one trip offline for all of the device's changes
            _write_items(device, session, writer, notify)
    except CfunNotRestored as exc:  # the restore after the last change failed
        device.report.ok = False
        device.report.fail(exc)
        return
    if device.report.ok and not device.finish.empty:
        _finish(device, session, notify)


def _finish(device: _Device, session: DeviceSession, notify: Progress) -> None:
    """The manifest's ``[checks]`` and ``[finish]``, only on a device whose every
    credential succeeded (:func:`xsudo.provision.postchecks.finish_device`)."""
    from xsudo.provision.postchecks import finish_device

    total = len(device.plan)
    notify(device.port, total, total, "finishing")
    try:
        device.report.results.extend(finish_device(session, device.finish))
    except XsudoError as exc:
        if exc.outcome is not None:
            device.report.results.append(exc.outcome)
        device.report.ok = False
        device.report.fail(exc, "finish")
        notify(device.port, total, total, "failed")
        return
    notify(device.port, total, total, "done")


def _preload(writer: CredentialWriter, plan: list[PreparedCredential]) -> None:
    """One ``AT%CMNG=1,<tag>`` for each tag with several file entries, instead of one read
    per entry before its write (:meth:`CredentialWriter.preload`); not for a tag whose key
    is generated on the device."""
    issued = {p.spec.tag for p in plan if p.item is None}
    by_tag: dict[int, list[int]] = {}
    for prepared in plan:
        if prepared.item is not None and prepared.spec.tag not in issued:
            by_tag.setdefault(prepared.spec.tag, []).append(int(prepared.item.cred_type))
    for tag, cred_types in by_tag.items():
        if len(cred_types) > 1:  # for one entry its own read is as short
            writer.preload(tag, cred_types)


def _write_items(
    device: _Device, session: DeviceSession, writer: CredentialWriter, notify: Progress
) -> None:
    plan = device.plan
    try:
        _preload(writer, plan)
    except XsudoError as exc:
        device.report.fail(exc, "listing the credentials")
        notify(device.port, 0, len(plan), "failed")
        return
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
        pem = record.pop("certificate_pem", None)
        if pem is not None:
            device.certificates[len(device.report.results)] = pem
        device.report.results.append(record)
        if not result.ok:
            device.report.fail(result.refusal(), f"credential #{prepared.spec.index}")
            notify(device.port, done + 1, len(plan), "refused")
            return
    device.report.ok = True
    notify(device.port, len(plan), len(plan), "done")
