"""Apply a verified plan to one device: the pre-signed lines, and (when the plan has
entries signed at the station) ``%KEYGEN`` and certificates signed here.

:func:`apply_to_port`, for one port (run one per port, each on its own thread):

1. open the port and read the identity (read-only); a device without an IMEI fails when a
   ledger is kept (the ledger is keyed by IMEI);
2. read the plan's slot (``AT%XPMNG=2``): unless it holds the plan's line key (fingerprint
   compare) nothing is written; a hidden slot (514) cannot be confirmed and is refused;
3. claim the IMEI in the ledger. A claim held elsewhere, or another device UUID:
   ``duplicate`` (the ledger flags it), nothing written. The ledger's latest ``ok`` run of
   the IMEI by the same plan: when the device holds every entry's content the board is
   ``unchanged`` (no write, no new record); when it does not, the IMEI is on a second board
   (or the board was wiped): ``duplicate``, nothing written, unless ``replace``. A run by
   another plan or manifest needs ``replace``;
4. for each entry: content with the entry's SHA already stored: ``unchanged``; different
   content: refused unless the entry or ``replace`` allows it; else the modem goes offline
   (one trip for the board, previous CFUN restored: :class:`HeldOffline`), the line is sent
   exactly as signed, and ``AT%CMNG=1,<tag>,<type>`` must list the entry's SHA (a delete:
   nothing). An ``issue`` entry (signed at the station) runs exactly as ``xsudo provision``
   runs a manifest's ``issue``: :meth:`xsudo.provision.keygen.KeyGenerator.issue` in a
   :class:`~xsudo.provision.session.DeviceSession` with auth ``required``, the plan's slot
   and the station's line key (``signers``): ``%KEYGEN`` signed here, its CSR checked, the
   certificate issued by the entry's CA and written signed here, its SHA verified. A tag
   that already holds a client certificate is refused unless ``replace`` (or the entry)
   allows it;
5. record each change in the audit log, then the run in the ledger (releasing the claim)
   and the audit head. Every result says where its command was signed (``signed_at``:
   ``plan`` or ``station``).

No write without a record: once a command that changes the board may have been sent after
the claim, every end of the run records it. An end that is not a normal one (a
``KeyboardInterrupt``, ``cancel`` set, an unexpected error) records the run as ``failed``
with the results so far and the reason (``interrupted``); the entry in flight is read back
after a resync (:data:`SETTLE_TIMEOUT` seconds at most) and its result says ``read back:
landed``, ``not-landed`` or ``unknown``. A ``KeyboardInterrupt`` is then raised again; a
cancelled board returns its ``failed`` outcome. The claim is given back without a record
only when nothing was sent after it; when recording fails after a send it stays held (the
ledger shows the board as unresolved).

``cancel`` (optional; set from another thread): the board starts no further entry; the
entry in flight finishes, then the run is recorded as above.

``progress(number, total, step)`` (optional, display only) is called from the board's
thread: ``(0, total, "checking")`` once the port is open, ``(n, total, label)`` before the
n-th entry (1-based; the label is the credential type, ``client-cert (issue)`` for an issue)
and ``(total, total, "done")`` after the last. An exception it raises is ignored.

A board's failure never raises: it is the outcome (``failed`` or ``duplicate``) with a
one-line reason. Bad input raises before any I/O: an empty plan, or a plan with entries
signed at the station without ``signers`` that fit it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from xsudo.at.channel import ChannelOptions
from xsudo.at.modem import Modem, ModemIdentity
from xsudo.audit.log import AuditLog
from xsudo.command import parse_xsudo_line
from xsudo.content import cred_type_label
from xsudo.crypto import fingerprint, load_public_key
from xsudo.errors import BadInputError, CmeCode, ModemError, XsudoError
from xsudo.ledger.errors import LedgerConflict
from xsudo.ledger.recording import credential_entry, store_audit_head
from xsudo.plans.issue import CLIENT_KEY, StationSigners
from xsudo.plans.model import PlanEntry, PlanError, VerifiedPlan
from xsudo.provision.offline import HeldOffline
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession

if TYPE_CHECKING:
    from xsudo.ledger.records import Claim, Previous
    from xsudo.ledger.store import Ledger

Status = Literal["written", "unchanged", "failed", "duplicate"]

SETTLE_TIMEOUT = 5.0
"""Seconds the resync before the read-back of an interrupted entry may take."""

APPLY_WITH_REPLACE = "apply allowing replace"
"""The words of a refusal's remedy that a front end words as its own replace option."""

UPLOAD_PLAN_KEY = "upload the plan's public key to the slot"
"""The words of a slot refusal's remedy that a front end words with its upload command."""

INTERRUPTED = "interrupted"
"""The reason recorded for a run that did not end normally (module contract)."""
Progress = Callable[[int, int, str], None]
"""``progress(number, total, step)``: how far a board is (module contract)."""

_DONE_ACTIONS = frozenset({"written", "unchanged", "replaced", "deleted", "absent"})


class _Cancelled(Exception):
    """``cancel`` was set: the board starts no further entry."""


class _BoardStop(Exception):
    """This board stops here with ``status`` and a one-line ``reason``."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status: Status = status
        self.reason = reason


@dataclass
class BoardOutcome:
    """One board's result (the ``apply --json`` line)."""

    port: str
    imei: str | None
    status: Status
    error: str | None
    results: list[dict[str, Any]]
    started: datetime
    ended: datetime
    plan_hash: str = ""
    record_id: int | None = None
    audit_head: dict[str, Any] | None = field(default=None)
    total: int = 0
    """How many entries the plan holds."""
    cause: XsudoError | None = field(default=None, repr=False)
    """The error behind ``error`` when one library error is (not in the JSON): a front end
    may word its remedy in its own terms (:meth:`error_text`)."""
    error_prefix: str = ""
    """What ``error`` says before the ``cause``'s text."""

    def error_text(self, words: Callable[[XsudoError], str] = str) -> str | None:
        """``error``, with the ``cause`` (when there is one) worded by ``words``."""
        if self.cause is None:
            return self.error
        return _line_text(self.error_prefix + words(self.cause))

    @property
    def ok(self) -> bool:
        return self.status in ("written", "unchanged")

    @property
    def done(self) -> int:
        """How many of the plan's entries the board holds as the plan says after this run
        (written, replaced, deleted, found unchanged or absent)."""
        return sum(1 for result in self.results if result.get("action") in _DONE_ACTIONS)

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "imei": self.imei,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
            "results": self.results,
            "plan_hash": self.plan_hash,
            "ledger_record": self.record_id,
            "audit_head": self.audit_head,
            "progress": {"done": self.done, "total": self.total},
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
        }


@dataclass
class _Board:
    """Everything one run of :func:`apply_to_port` knows about its board."""

    plan: VerifiedPlan
    modem: Modem
    outcome: BoardOutcome
    identity: ModemIdentity | None = None
    claim: Claim | None = None
    signers: StationSigners | None = None
    progress: Progress | None = None
    session: DeviceSession | None = None
    """The session that signs at the station (made at the first ``issue`` entry)."""
    cancel: threading.Event | None = None
    sent: bool = False
    """A command that changes the board may have been sent after the claim."""
    in_flight: PlanEntry | None = None
    """The entry being applied (``None`` between entries)."""
    certificates: dict[int, str] = field(default_factory=dict)
    """The client certificate (PEM) an ``issue`` wrote, by its position in the results."""

    def notify(self, number: int, step: str) -> None:
        """Report progress; the display's failure is not the board's."""
        if self.progress is not None:
            with contextlib.suppress(Exception):
                self.progress(number, len(self.plan.entries), step)


def apply_to_port(
    plan: VerifiedPlan,
    port: str,
    *,
    ledger: Ledger | None,
    audit: AuditLog | None,
    station: str,
    replace: bool = False,
    channel: ChannelOptions | None = None,
    signers: StationSigners | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> BoardOutcome:
    """Apply ``plan`` to the device on ``port`` (module contract); never raises for a
    board's failure (a ``KeyboardInterrupt`` is raised again once the run is recorded).
    ``signers`` sign the entries signed at the station (required when the plan has any:
    :func:`xsudo.plans.issue.open_station_signers`); ``cancel`` stops the board before its
    next entry."""
    if not plan.entries:
        raise PlanError("the plan holds no entries")
    if plan.station_signed:
        if signers is None:
            raise PlanError(
                "the plan has entries signed at the station, and no station key was given",
                "give the station the plan's line key and the CA keys its entries name",
            )
        signers.check(plan)
    started = datetime.now(UTC)
    outcome = BoardOutcome(port, None, "failed", None, [], started, started, plan.plan_hash)
    outcome.total = len(plan.entries)
    try:
        modem = Modem.open(port, **(channel or {}))
    except XsudoError as exc:
        outcome.cause, outcome.error_prefix = exc, f"cannot open {port}: "
        return _ended(outcome, "failed", f"cannot open {port}: {_line(exc)}")
    board = _Board(plan, modem, outcome, signers=signers, progress=progress, cancel=cancel)
    board.notify(0, "checking")
    try:
        status = _run(board, ledger, audit, station, replace)
        _ended(outcome, status, None)
    except _BoardStop as stop:
        _ended(outcome, stop.status, stop.reason)
    except _Cancelled:
        _ended(outcome, "failed", INTERRUPTED)
    except XsudoError as exc:
        outcome.cause = exc
        _ended(outcome, "failed", _line(exc))
    except BaseException:
        _ended(outcome, "failed", INTERRUPTED)
        raise
    finally:
        if board.claim is not None and ledger is not None and not board.sent:
            with contextlib.suppress(XsudoError):  # nothing sent since the claim: give it back
                ledger.release(board.claim)
        modem.close()
    if audit is not None:
        with contextlib.suppress(XsudoError):
            head = audit.head()
            outcome.audit_head = head.to_json() if head is not None else None
    return outcome


def _ended(outcome: BoardOutcome, status: Status, error: str | None) -> BoardOutcome:
    outcome.status, outcome.error, outcome.ended = status, error, datetime.now(UTC)
    return outcome


def _line(exc: BaseException) -> str:
    return _line_text(str(exc).strip() or type(exc).__name__)


def _line_text(text: str) -> str:
    return " ".join(text.split())


def _run(
    board: _Board, ledger: Ledger | None, audit: AuditLog | None, station: str, replace: bool
) -> Status:
    modem, plan = board.modem, board.plan
    board.identity = modem.identity()
    board.outcome.imei = board.identity.imei
    if ledger is not None and board.identity.imei is None:
        raise _BoardStop("failed", "the device reports no IMEI; the ledger cannot record it")
    _check_slot(modem, plan)
    stored = {(e.tag, e.type): _listed_sha(modem, e.tag, e.type) for e in plan.entries}
    for entry in plan.station_signed:  # %KEYGEN makes the client key of the tag
        stored[(entry.tag, CLIENT_KEY)] = _listed_sha(modem, entry.tag, CLIENT_KEY)
    if ledger is not None:
        assert board.identity.imei is not None
        if _claim(board, ledger, station, stored, replace):
            return "unchanged"
    try:
        changed = _write_entries(board, stored, audit, replace)
    except BaseException as exc:
        if ledger is not None:
            _record_unfinished(board, ledger, audit, station, exc)
        raise
    status: Status = "written" if changed else "unchanged"
    failed = next((r for r in board.outcome.results if r["action"] == "failed"), None)
    if ledger is not None:
        _record(board, ledger, audit, station, failed)
    if failed is not None:
        raise _BoardStop("failed", str(failed["message"]))
    return status


def _check_slot(modem: Modem, plan: VerifiedPlan) -> None:
    """Refuse unless the plan's slot holds the plan's line key."""
    where = f"slot {plan.slot}"
    try:
        pem = modem.xpmng_read(plan.slot)
    except ModemError as exc:
        if exc.kind == "CME" and exc.code == CmeCode.NO_ACCESS:
            raise _BoardStop(
                "failed",
                f"{where} cannot be read (+CME ERROR: 514, hidden): xsudo cannot confirm it "
                "holds the plan's key; nothing written",
            ) from None
        raise _BoardStop(
            "failed", f"{where} cannot be read ({_line(exc)}); nothing written"
        ) from None
    if pem is None:
        raise _BoardStop(
            "failed",
            f"{where} holds no public key; nothing written; {UPLOAD_PLAN_KEY} "
            f"({plan.key_fingerprint[:16]}...)",
        )
    try:
        held = fingerprint(load_public_key(pem))
    except BadInputError:
        held = "an unreadable key"
    if held != plan.key_fingerprint:
        raise _BoardStop(
            "failed",
            f"{where} holds key {held[:16]}..., the plan was signed with "
            f"{plan.key_fingerprint[:16]}...; nothing written; {UPLOAD_PLAN_KEY}, or use a "
            "plan signed with the slot's key",
        )


def _stored_sha(modem: Modem, entry: PlanEntry) -> str | None:
    """The SHA (lower-case) the modem lists at the entry's tag/type, or ``None``."""
    return _listed_sha(modem, entry.tag, entry.type)


def _listed_sha(modem: Modem, tag: int, cred_type: int) -> str | None:
    """The SHA (lower-case) the modem lists at ``tag``/``cred_type``, ``"listed"`` when it
    lists the entry without one, or ``None``."""
    found = [e for e in modem.cmng_list(tag, cred_type) if e.type == cred_type]
    if not found:
        return None
    return (found[0].sha or "").lower() or "listed"


def _holds_plan(
    plan: VerifiedPlan, stored: dict[tuple[int, int], str | None], previous: Previous
) -> bool:
    """Does the device hold what the plan leaves (every write's SHA, no deleted entry, and
    for an ``issue`` the certificate the ledger recorded for it, with a client key)?"""
    return all(_holds(entry, stored, previous) for entry in plan.entries)


def _holds(entry: PlanEntry, stored: dict[tuple[int, int], str | None], previous: Previous) -> bool:
    held = stored[(entry.tag, entry.type)]
    if entry.action == "write":
        return held == entry.sha256
    if entry.action == "delete":
        return held is None
    recorded = previous.sha_for(entry.tag, entry.type)
    return (
        held is not None
        and recorded is not None
        and held == recorded.lower()
        and stored.get((entry.tag, CLIENT_KEY)) is not None
    )


def _claim(
    board: _Board,
    ledger: Ledger,
    station: str,
    stored: dict[tuple[int, int], str | None],
    replace: bool,
) -> bool:
    """Claim the IMEI (see the module contract); True when the board is ``unchanged`` by
    the ledger's record (the claim is then given back)."""
    plan, imei = board.plan, board.outcome.imei
    assert imei is not None
    try:
        board.claim = ledger.begin_device(imei, None, station, plan.plan_hash)
    except LedgerConflict as exc:
        raise _BoardStop("duplicate", f"{_line(exc)}; nothing written") from None
    previous = ledger.previous_for(imei)
    if previous is None or replace:
        return False
    where = f"station {previous.station} at {previous.finished_at.isoformat()}"
    if previous.plan_hash == plan.plan_hash:
        if _holds_plan(plan, stored, previous):
            board.outcome.results = [
                _result(e, "unchanged", stored, None, sha=stored[(e.tag, e.type)] or "")
                for e in plan.entries
            ]
            return True
        raise _BoardStop(
            "duplicate",
            f"the ledger records IMEI {imei} as provisioned with this plan ({where}), but "
            "this device does not hold its content: a second device with the same IMEI, or "
            "a wiped one; nothing written (apply allowing replace to provision it again)",
        )
    raise _BoardStop(
        "failed",
        f"the ledger records IMEI {imei} as provisioned with another plan or manifest "
        f"({previous.plan_hash or 'none'}, {where}); nothing written (apply allowing replace to "
        "apply this plan over it)",
    )


def _result(
    entry: PlanEntry,
    action: str,
    stored: dict[tuple[int, int], str | None],
    message: str | None,
    sha: str | None = None,
) -> dict[str, Any]:
    """One entry's result, with the keys of a ``cred write --json`` object."""
    previous = stored.get((entry.tag, entry.type))
    after = sha if sha is not None else (entry.sha256 if action != "failed" else previous)
    sent = action in ("written", "replaced", "deleted")
    return {
        "tag": entry.tag,
        "type": cred_type_label(entry.type),
        "type_id": entry.type,
        "sha": after.upper() if after else None,
        "previous_sha": previous.upper() if previous else None,
        "action": action,
        "auth": "xsudo" if sent else None,
        "auth_reason": _AUTH_REASON[entry.signed_at] if sent else None,
        "signed_at": entry.signed_at,
        "message": message or "",
    }


_AUTH_REASON = {"plan": "pre-signed plan", "station": "signed at the station"}


def _write_entries(
    board: _Board,
    stored: dict[tuple[int, int], str | None],
    audit: AuditLog | None,
    replace: bool,
) -> bool:
    """Write (delete) each entry that needs it, in one trip offline; True when anything
    changed. A failure is the last result (``failed``) and stops the board."""
    modem, results = board.modem, board.outcome.results
    held = HeldOffline(modem)
    changed = False
    try:
        for number, entry in enumerate(board.plan.entries, start=1):
            if board.cancel is not None and board.cancel.is_set():
                raise _Cancelled()
            board.notify(number, _step(entry))
            board.in_flight = entry
            if entry.issue is not None:
                result = _issue_entry(board, held, entry, stored, audit, replace)
            else:
                result = _one_entry(board, held, entry, stored, replace)
            board.in_flight = None
            results.append(result)
            _audit(board, audit, entry, result)
            if result["action"] == "failed":
                break
            changed = changed or result["action"] in ("written", "replaced", "deleted")
    except BaseException as exc:
        _settle_in_flight(board, stored, audit, exc)
        raise
    finally:
        if not held.restore() and results:  # the board may be left offline: a failure
            results[-1] = {**results[-1], "action": "failed", "message": held.not_restored_note()}
    if not any(r["action"] == "failed" for r in results):
        board.notify(len(board.plan.entries), "done")
    return changed


def _step(entry: PlanEntry) -> str:
    """The progress label of ``entry``: its credential type (and ``(issue)``)."""
    label = cred_type_label(entry.type)
    return f"{label} (issue)" if entry.issue is not None else label


def _one_entry(
    board: _Board,
    held: HeldOffline,
    entry: PlanEntry,
    stored: dict[tuple[int, int], str | None],
    replace: bool,
) -> dict[str, Any]:
    previous = stored[(entry.tag, entry.type)]
    if entry.action == "write" and previous == entry.sha256:
        return _result(entry, "unchanged", stored, "identical content is already stored")
    if entry.action == "delete" and previous is None:
        return _result(entry, "absent", stored, "nothing stored; nothing deleted", sha="")
    if entry.action == "write" and previous is not None and not (replace or entry.replace):
        return _result(
            entry,
            "failed",
            stored,
            f"tag {entry.tag} type {cred_type_label(entry.type)} already holds different "
            f"content (SHA {previous.upper()}); nothing written (the plan's entry does not "
            "allow replace; apply allowing replace to overwrite it)",
        )
    try:
        board.sent = True
        with held:
            board.modem.send_line(entry.line.encode("ascii"))
        listed = _stored_sha(board.modem, entry)
    except XsudoError as exc:
        return _settle(board, entry, stored, exc)
    if entry.action == "delete":
        if listed is not None:
            return _result(entry, "failed", stored, "after the delete the modem still lists it")
        return _result(entry, "deleted", stored, None, sha="")
    if listed != entry.sha256:
        return _result(
            entry,
            "failed",
            stored,
            f"after the write the modem lists SHA {(listed or 'none').upper()}, the plan's "
            f"content hashes to {(entry.sha256 or '').upper()}",
            sha=listed or "",
        )
    return _result(entry, "replaced" if previous else "written", stored, None)


def _issue_entry(
    board: _Board,
    held: HeldOffline,
    entry: PlanEntry,
    stored: dict[tuple[int, int], str | None],
    audit: AuditLog | None,
    replace: bool,
) -> dict[str, Any]:
    """An entry signed at the station: ``%KEYGEN``, the certificate issued from its CSR and
    written, exactly as ``xsudo provision`` runs a manifest's ``issue`` (module contract)."""
    issue, signers = entry.issue, board.signers
    assert issue is not None and signers is not None  # apply_to_port checked
    previous = stored[(entry.tag, entry.type)]
    allowed = replace or entry.replace
    if previous is not None and not allowed:
        return _result(
            entry,
            "failed",
            stored,
            f"tag {entry.tag} already holds a client certificate (SHA {previous.upper()}); "
            "nothing generated or written (the plan's entry does not allow replace; "
            f"{APPLY_WITH_REPLACE} to issue a new key and certificate)",
        )
    from xsudo.provision.keygen import KeyGenerator  # loads only for such an entry

    session = _session(board, signers, audit)
    board.sent = True
    try:
        session.ensure_plan()  # auth required: the slot must hold the station's line key
        with held:
            outcome = KeyGenerator(session).issue(
                entry.tag,
                signers.authority(issue),
                days=issue.days,
                cn_from=issue.cn_from,
                attributes=issue.attributes,
                replace=allowed,
            )
    except XsudoError as exc:
        return _result(entry, "failed", stored, _line(exc))
    written = outcome.written
    action = written.action if written.action in ("written", "replaced") else "written"
    result = _result(entry, action, stored, None, sha=(written.sha or "").lower())
    certificate = outcome.to_json()["certificate"]
    result["issued"] = {
        **certificate,
        "public_key_fingerprint": outcome.keygen.reply.fingerprint,
        "key_sha": outcome.keygen.key_sha,
        "cose_signature": outcome.keygen.signature.status,
    }
    board.certificates[len(board.outcome.results)] = outcome.cert_pem.decode("ascii")
    return result


def _session(board: _Board, signers: StationSigners, audit: AuditLog | None) -> DeviceSession:
    """The board's session that signs at the station: auth ``required``, the plan's slot,
    the station's line key (one per board, made when first needed)."""
    if board.session is None:
        settings = AuthSettings("required", signers.line, board.plan.slot)
        board.session = DeviceSession(board.modem, settings, audit, identity=board.identity)
    return board.session


def _settle(
    board: _Board, entry: PlanEntry, stored: dict[tuple[int, int], str | None], exc: XsudoError
) -> dict[str, Any]:
    """After ``exc`` (the line may have reached the modem): read back once; a change that
    landed after a link fault is a success, anything else a failure that says what the
    read-back found."""
    try:
        listed = _stored_sha(board.modem, entry)
    except XsudoError:
        return _result(entry, "failed", stored, f"{_line(exc)}; read back: unknown")
    landed = listed == entry.sha256 if entry.action == "write" else listed is None
    if landed and not isinstance(exc, ModemError):
        action = "deleted" if entry.action == "delete" else "written"
        return _result(entry, action, stored, f"link fault ({_line(exc)}); read back", sha=listed)
    verdict = "landed" if landed else "not-landed"
    return _result(entry, "failed", stored, f"{_line(exc)}; read back: {verdict}")


def _settle_in_flight(
    board: _Board,
    stored: dict[tuple[int, int], str | None],
    audit: AuditLog | None,
    exc: BaseException,
) -> None:
    """The run ends inside an entry (``exc``): the entry's result says what a read-back
    after a resync finds (landed, not-landed or unknown), and the audit log records it."""
    entry, board.in_flight = board.in_flight, None
    if entry is None or not board.sent:
        return
    verdict, listed = "unknown", None
    try:
        board.modem.channel.resync(timeout=SETTLE_TIMEOUT)
        listed = _stored_sha(board.modem, entry)
    except Exception:  # the link does not answer now: unknown
        pass
    else:
        verdict = "landed" if _landed(entry, listed, stored) else "not-landed"
    message = f"{_reason(exc)}; read back: {verdict}"
    board.outcome.results.append(_result(entry, "failed", stored, message, sha=listed or ""))
    with contextlib.suppress(Exception):
        _audit(board, audit, entry, board.outcome.results[-1])


def _landed(
    entry: PlanEntry, listed: str | None, stored: dict[tuple[int, int], str | None]
) -> bool:
    """Does the modem list what ``entry`` leaves (an ``issue``: anything new at the tag)?"""
    if entry.action == "write":
        return listed == entry.sha256
    if entry.action == "delete":
        return listed is None
    return listed is not None and listed != stored.get((entry.tag, entry.type))


def _reason(exc: BaseException) -> str:
    """Why a run ended inside its writes: ``interrupted``, or an unexpected error's text."""
    if isinstance(exc, (_Cancelled, KeyboardInterrupt)) or not isinstance(exc, Exception):
        return INTERRUPTED
    return _line(exc)


def _record_unfinished(
    board: _Board, ledger: Ledger, audit: AuditLog | None, station: str, exc: BaseException
) -> None:
    """A run that ended inside the writes: when anything may have been sent, record it as
    ``failed`` with the results so far (module contract); when recording fails the claim
    stays held."""
    if not board.sent or board.claim is None:
        return
    reason = _reason(exc)
    last = next((r for r in board.outcome.results if r["action"] == "failed"), None)
    message = str(last["message"]) if last is not None else ""
    error = message if message.startswith(reason) else f"{reason}: {message}".rstrip(": ")
    with contextlib.suppress(Exception):
        _record(board, ledger, audit, station, {"message": error})


def _audit(board: _Board, audit: AuditLog | None, entry: PlanEntry, result: dict[str, Any]) -> None:
    """One audit record per entry (what ``cred write`` records, plus the plan's hash and
    where the command was signed)."""
    if audit is None:
        return
    if entry.issue is not None:
        _audit_issue(board, audit, entry, result)
        return
    sent = result["auth"] == "xsudo" or result["action"] == "failed"
    body = parse_xsudo_line(entry.line.encode("ascii")).body if sent else None
    audit.append(
        entry.action,
        **_audit_fields(board, entry, result, "plan"),
        key_fingerprint=board.plan.key_fingerprint if sent else None,
        data_len=len(body) if body is not None else None,
        signed_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
    )


def _audit_fields(
    board: _Board, entry: PlanEntry, result: dict[str, Any], signed_at: str
) -> dict[str, Any]:
    """The fields every audit record of a plan entry carries (where it was signed too)."""
    action = result["action"]
    return {
        "device_imei": board.outcome.imei,
        "tag": entry.tag,
        "type": entry.type,
        "sha": result["sha"],
        "previous_sha": result["previous_sha"],
        "auth": result["auth"],
        "auth_reason": _AUTH_REASON[signed_at],
        "plan_hash": board.plan.plan_hash,
        "signed_at": signed_at,
        "result": action if action != "failed" else f"failed: {result['message']}",
    }


def _audit_issue(board: _Board, audit: AuditLog, entry: PlanEntry, result: dict[str, Any]) -> None:
    """The plan's record of an entry signed at the station (the session and the key
    generator have recorded each signature, the key generation and the write)."""
    assert entry.issue is not None and board.signers is not None
    audit.append(
        "plan-issue",
        **_audit_fields(board, entry, result, "station"),
        key_fingerprint=board.plan.key_fingerprint,
        key_name=board.signers.line.name,
        ca_key_name=entry.issue.ca_key,
        ca_sha256=entry.issue.ca_sha256,
    )


LEDGER_STATION_AUTH = "xsudo-station"
"""The ledger's ``auth`` of a change signed at the station (``%XSUDO`` too, but not a line
of the plan); a pre-signed line's is ``xsudo``."""


def _ledger_view(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` as the ledger records it: a change signed at the station says so in its
    ``auth`` (the ledger has no other field for it)."""
    if result.get("signed_at") == "station" and result.get("auth") == "xsudo":
        return {**result, "auth": LEDGER_STATION_AUTH}
    return result


def _record(
    board: _Board,
    ledger: Ledger,
    audit: AuditLog | None,
    station: str,
    failed: dict[str, Any] | None,
) -> None:
    """Record the run in the ledger (releasing the claim), then the audit head."""
    claim, identity = board.claim, board.identity
    assert claim is not None and identity is not None and board.outcome.imei is not None
    results = board.outcome.results
    entries = [
        entry
        for entry in (
            credential_entry(_ledger_view(result), board.certificates.get(position))
            for position, result in enumerate(results)
        )
        if entry is not None
    ]
    board.outcome.record_id = ledger.record_device(
        imei=board.outcome.imei,
        station=station,
        result="failed" if failed is not None else "ok",
        started_at=board.outcome.started,
        finished_at=datetime.now(UTC),
        credentials=entries,
        model=identity.model,
        firmware=identity.mfw,
        plan_hash=board.plan.plan_hash,
        key_fingerprint=board.plan.key_fingerprint,
        error=cast(str, failed["message"])[:500] if failed is not None else None,
        claim=claim,
    )
    board.claim = None
    store_audit_head(ledger, station, audit)
