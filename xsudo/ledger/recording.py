"""Recording device runs in the ledger, for the commands that provision.

``cred write|delete|keygen|issue``, ``provision`` and ``apply`` share these helpers, so
that every command keeps the same rule: **no write without a record**. The ledger is
opened (and migrated) and the device claimed before any protected command reaches the
modem; an unreachable ledger or a refused claim stops the run with nothing written.

* :func:`open_ledger` opens the ledger named by the caller, ``$XSUDO_LEDGER``, or the
  SQLite file in the xsudo home (nothing to set up).
* :func:`station_id` names this station in the ledger.
* :func:`device_record` claims a device, runs the caller's block, records the run and
  stores the audit head (:class:`DeviceRun` collects what the block did).
* :func:`open_for_run` is :func:`open_ledger` for one run in a short process (``cred
  write|delete|keygen|issue``): on a SQLite ledger at this version's schema it writes
  through ``sqlite3`` (:class:`SqliteRun`) and hands anything unusual to the full store.
* :func:`keygen_result` and :func:`issued_result` are the entries of a key generated on the
  device and of the certificate issued for it (actions :data:`KEYGEN`, :data:`ISSUED`).

SQLAlchemy and Alembic are imported only when the full store is opened, never with this
module.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from xsudo.errors import XsudoError
from xsudo.ledger.records import Claim, CredentialEntry, Result

if TYPE_CHECKING:
    from xsudo.audit.log import AuditLog
    from xsudo.ledger.store import Ledger
    from xsudo.signing import Signer

STATION_ENV = "XSUDO_STATION"
"""The environment variable naming this station; the host name when unset."""


def open_ledger(url: str | None, home: Path) -> Ledger:
    """Open the ledger at ``url`` (``None``: ``$XSUDO_LEDGER``, else ``home/ledger.sqlite``),
    migrated to this version's schema.

    Raises :class:`~xsudo.ledger.LedgerUrlError` (exit 2) for a URL that cannot be used,
    :class:`~xsudo.ledger.LedgerSchemaError` (exit 2) for a newer schema, and
    :class:`~xsudo.ledger.LedgerUnavailable` (exit 3) when the database cannot be reached.
    """
    from xsudo.ledger.store import Ledger

    return Ledger.open(url, home)


def station_id() -> str:
    """This station's name in the ledger: ``$XSUDO_STATION``, else the host name (at most
    128 characters, the column's size)."""
    name = (os.environ.get(STATION_ENV) or "").strip() or socket.gethostname() or "station"
    return name[:128]


# -- one device run ----------------------------------------------------------------------------

_ENTRY_FIELDS = ("tag", "type_id", "action")


def credential_entry(
    result: Mapping[str, Any], certificate_pem: str | None = None
) -> CredentialEntry | None:
    """The ledger entry for one credential result (a ``cred write --json`` object, or the
    same object in a ``provision`` report), with the client certificate written (public PEM,
    for nRF Cloud onboarding exports) when given; ``None`` for a result that is not a
    credential operation (a ``[checks]``/``[finish]`` step)."""
    from xsudo.content import cred_type_label

    if any(name not in result for name in _ENTRY_FIELDS):
        return None
    type_id = int(result["type_id"])
    return CredentialEntry(
        tag=int(result["tag"]),
        type_id=type_id,
        type=str(result.get("type") or cred_type_label(type_id))[:32],
        action=str(result["action"])[:16],
        sha=result.get("sha"),
        previous_sha=result.get("previous_sha"),
        auth=result.get("auth"),
        certificate_pem=certificate_pem,
    )


@dataclass
class DeviceRun:
    """What one device run did, collected for its ledger record (see :func:`device_record`).

    ``add`` each credential result as it comes; ``fail`` when the run failed without an
    exception (a refusal). After the ``with`` block: ``record_id`` is the record's id,
    ``head_problem`` says why the audit head could not be stored (``""`` when it was).
    """

    ledger: RunLedger
    claim: Claim
    started: datetime
    model: str | None = None
    firmware: str | None = None
    key_fingerprint: str | None = None
    entries: list[CredentialEntry] = field(default_factory=list)
    error: str | None = None
    record_id: int | None = None
    head_problem: str = ""

    def add(self, result: Mapping[str, Any], certificate_pem: str | None = None) -> None:
        """Add one credential result (``CredResult.to_json()``) to the record, with the
        client certificate it wrote (PEM), if the ledger should keep it."""
        entry = credential_entry(result, certificate_pem)
        if entry is not None:
            self.entries.append(entry)

    def fail(self, error: str) -> None:
        """Mark the run failed with ``error`` (one line); the first failure is kept."""
        if self.error is None:
            self.error = error.splitlines()[0][:500] if error else "failed"


@contextmanager
def device_record(
    ledger: RunLedger,
    station: str,
    *,
    imei: str,
    device_uuid: str | None = None,
    plan_hash: str | None = None,
    key_fingerprint: str | None = None,
    model: str | None = None,
    firmware: str | None = None,
    audit: AuditLog | None = None,
) -> Iterator[DeviceRun]:
    """Claim ``imei`` for ``station``, run the block, then record the run and store the
    audit log's head.

    The claim is taken before the block runs: :class:`~xsudo.ledger.LedgerConflict` (exit
    1; the IMEI is held elsewhere, or comes with another device UUID) and
    :class:`~xsudo.ledger.LedgerUnavailable` (exit 3) are raised with nothing run, so the
    caller writes nothing. The record is written whatever the block does: ``ok`` when it
    ends without an exception and without :meth:`DeviceRun.fail`, else ``failed`` with the
    error. An exception from the block is re-raised after the record; if the record itself
    fails then, the block's exception wins (the ledger's error is added to its note).
    """
    claim = ledger.begin_device(imei, device_uuid, station, plan_hash)
    run = DeviceRun(ledger, claim, _now(), model, firmware, key_fingerprint)
    try:
        yield run
    except BaseException as exc:
        run.fail(_one_line(exc))
        try:
            _finish(run, audit)
        except XsudoError as ledger_error:
            if isinstance(exc, XsudoError):
                exc.amend(f"the ledger did not record this run: {ledger_error}")
        raise
    _finish(run, audit)


def _finish(run: DeviceRun, audit: AuditLog | None) -> None:
    """Record ``run`` (releasing its claim), then store the audit head."""
    claim = run.claim
    run.record_id = run.ledger.record_device(
        imei=claim.imei,
        station=claim.station,
        result="ok" if run.error is None else "failed",
        started_at=run.started,
        finished_at=max(_now(), run.started),
        credentials=run.entries,
        model=run.model,
        firmware=run.firmware,
        key_fingerprint=run.key_fingerprint,
        error=run.error,
        claim=claim,
    )
    run.head_problem = store_audit_head(run.ledger, claim.station, audit)


def store_audit_head(ledger: RunLedger, station: str, audit: AuditLog | None) -> str:
    """Store the audit log's head (its last record) as ``station``'s in the ledger; return
    ``""``, or why it could not be stored: the ledger holds another hash for that record
    (the log was rewritten, or another station uses this name), the log's last record
    cannot be read, or the ledger stopped answering. The device's record is written by
    then, so this is for a warning, not an error. Nothing to store without a log or a
    record."""
    try:
        head = audit.head() if audit is not None else None
        if head is not None:
            ledger.store_audit_head(station, head.seq, head.hash)
    except XsudoError as exc:
        return str(exc)
    return ""


CLIENT_KEY_TYPE = 2
"""The ``%CMNG`` type of a client private key (what ``%KEYGEN`` makes)."""


KEYGEN = "keygen"
"""The action of a client key generated on the device (``%KEYGEN``): xsudo sent the command,
not the key; the entry's ``sha`` is what the modem lists for the new key."""

ISSUED = "issued"
"""The action of a client certificate issued by a CA for a key generated on the device and
written back (``cred issue``); ``previous_sha`` says whether it replaced one."""


def keygen_result(
    tag: int, sha: str | None, previous_sha: str | None, auth: str | None
) -> dict[str, Any]:
    """The :meth:`DeviceRun.add` mapping of a client key generated in ``tag`` (type 2):
    action :data:`KEYGEN`, the SHA the modem lists for it, the key it replaced, if any."""
    return {
        "tag": tag,
        "type_id": CLIENT_KEY_TYPE,
        "sha": sha,
        "previous_sha": previous_sha,
        "auth": auth,
        "action": KEYGEN,
    }


def issued_result(written: Mapping[str, Any]) -> dict[str, Any]:
    """The :meth:`DeviceRun.add` mapping of an issued certificate from its write's result
    (``CredResult.to_json()``): action :data:`ISSUED` when the write landed (``written`` or
    ``replaced``), else the write's own action."""
    landed = written.get("action") in ("written", "replaced")
    return {**written, "action": ISSUED} if landed else dict(written)


def key_fingerprint_of(signer: Signer | None, entries: Sequence[CredentialEntry]) -> str | None:
    """The signing key's fingerprint when any entry was sent with ``%XSUDO``, else ``None``."""
    if signer is None or not any(entry.auth == "xsudo" for entry in entries):
        return None
    from xsudo.crypto import fingerprint

    return fingerprint(signer.public_key())


def manifest_hash(data: bytes) -> str:
    """The ``plan_hash`` a ``provision`` run records: SHA-256 (lower-case hex) of the
    manifest's bytes."""
    return hashlib.sha256(data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- the quick path for one run on the SQLite file -----------------------------------------------


class RunLedger(Protocol):
    """What :func:`device_record` needs of a ledger: :class:`~xsudo.ledger.Ledger` has it,
    and so has the quick SQLite path :func:`open_for_run` returns."""

    def begin_device(
        self, imei: str, device_uuid: str | None, station: str, plan_hash: str | None
    ) -> Claim: ...

    def record_device(
        self,
        *,
        imei: str,
        station: str,
        result: Result,
        started_at: datetime,
        finished_at: datetime,
        credentials: Iterable[CredentialEntry] = (),
        model: str | None = None,
        firmware: str | None = None,
        key_fingerprint: str | None = None,
        error: str | None = None,
        claim: Claim | None = None,
    ) -> int: ...

    def store_audit_head(self, station: str, seq: int, hash: str) -> None: ...

    def close(self) -> None: ...


def open_for_run(url: str | None, home: Path) -> RunLedger:
    """A ledger for one command's device run (``cred write``): as :func:`open_ledger`, but a
    SQLite ledger already at this version's schema is written through Python's own
    ``sqlite3`` (:class:`SqliteRun`), without importing SQLAlchemy (about 0.2 s of every
    process). Anything else, and anything unusual on the way (a refused claim, an identity
    that differs, a head stored with another hash), goes through the full store, so
    messages, flags and errors are the store's own."""
    from xsudo.ledger.url import resolve

    target = resolve(url, home)
    if target.path is not None and target.path.is_file():
        quick = SqliteRun.open(url, home, target.path)
        if quick is not None:
            return quick
    return open_ledger(url, home)


CLAIM_TTL = timedelta(minutes=30)
"""The store's default claim time-out (:data:`xsudo.ledger.store.DEFAULT_CLAIM_TTL`; a test
keeps them equal)."""

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How the store's SQLite ledger keeps times (SQLAlchemy's format for DATETIME, in UTC)."""


def _sqlite_time(moment: datetime) -> str:
    from xsudo.ledger.records import as_utc

    return as_utc(moment).strftime(_SQLITE_TIME)


class SqliteRun:
    """The three writes of one device run on a SQLite ledger at :data:`HEAD_REVISION`, with
    ``sqlite3``: the same rows, in the same transactions (``BEGIN IMMEDIATE``), as
    :class:`~xsudo.ledger.Ledger` writes them (a test compares them). Refusals and conflicts
    are handed to the full store (:meth:`full`), which writes the flags and raises.

    Thread-safe: a fleet's workers share one run; its one connection runs one transaction
    at a time (a lock), as SQLite's own write lock would make them anyway."""

    def __init__(self, connection: Any, url: str | None, home: Path) -> None:
        self._db = connection
        self._url, self._home = url, home
        self._full: Ledger | None = None
        self._lock = threading.RLock()

    @classmethod
    def open(cls, url: str | None, home: Path, path: Path) -> SqliteRun | None:
        """The quick path on ``path``, or ``None`` when its schema is not this version's
        (the full store then migrates it) or it cannot be read (the full store says why)."""
        import sqlite3

        from xsudo.ledger.migrate import HEAD_REVISION

        try:
            db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return None
        try:
            db.execute("PRAGMA foreign_keys=ON")
            found = db.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.Error:
            found = []
        if found != [(HEAD_REVISION,)]:
            db.close()
            return None
        return cls(db, url, home)

    def full(self) -> Ledger:
        """The full store on the same ledger (opened on first use)."""
        with self._lock:
            if self._full is None:
                self._full = open_ledger(self._url, self._home)
            return self._full

    def close(self) -> None:
        self._db.close()
        if self._full is not None:
            self._full.close()

    def __enter__(self) -> SqliteRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One ``BEGIN IMMEDIATE`` transaction, committed when the block ends, rolled back
        when it raises; a file locked beyond the time-out (or that stops answering) is
        :class:`~xsudo.ledger.LedgerUnavailable` (exit 3), as in the full store."""
        import sqlite3

        from xsudo.ledger.errors import LedgerUnavailable

        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise LedgerUnavailable(
                    f"the ledger file did not answer ({str(exc).splitlines()[0][:200]})",
                    "another program may hold it locked; retry, or close that program",
                ) from None

    def begin_device(
        self, imei: str, device_uuid: str | None, station: str, plan_hash: str | None
    ) -> Claim:
        """As :meth:`Ledger.begin_device` (the default claim time-out); a claim that is
        not free at once is asked of the full store, which flags and raises."""
        import secrets
        import sqlite3

        from xsudo.ledger.records import check_imei, check_text

        check_imei(imei)
        check_text("station", station, required=True)
        check_text("device_uuid", device_uuid)
        check_text("plan_hash", plan_hash)
        claim = Claim(imei, station, secrets.token_hex(16), _now(), device_uuid, plan_hash)
        at = _sqlite_time(claim.claimed_at)
        try:
            with self._transaction() as db:
                stale = _sqlite_time(claim.claimed_at - CLAIM_TTL)
                db.execute("DELETE FROM claims WHERE imei = ? AND claimed_at < ?", (imei, stale))
                known = db.execute(
                    "SELECT device_uuid FROM identities WHERE imei = ?", (imei,)
                ).fetchone()
                if known is not None and device_uuid is not None and known[0] != device_uuid:
                    raise _Unusual
                db.execute(
                    "INSERT INTO claims (imei, station, token, device_uuid, plan_hash, "
                    "claimed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (imei, station, claim.token, device_uuid, plan_hash, at),
                )
                if known is None and device_uuid is not None:
                    db.execute(
                        "INSERT INTO identities (imei, device_uuid, station, first_seen) "
                        "VALUES (?, ?, ?, ?)",
                        (imei, device_uuid, station, at),
                    )
        except (_Unusual, sqlite3.IntegrityError):
            return self.full().begin_device(imei, device_uuid, station, plan_hash)
        return claim

    def record_device(self, **fields: Any) -> int:
        """As :meth:`Ledger.record_device` with a claim (the only way the commands call
        it); an identity that differs is recorded and flagged by the full store."""
        claim: Claim | None = fields.get("claim")
        if claim is None or claim.imei != fields.get("imei") or fields.get("device_uuid"):
            return self.full().record_device(**fields)
        entries = [entry.checked() for entry in fields.get("credentials", ())]
        from xsudo.ledger.records import record_row

        row = record_row(
            imei=fields["imei"],
            station=fields["station"],
            result=fields["result"],
            started_at=fields["started_at"],
            finished_at=fields["finished_at"],
            device_uuid=claim.device_uuid,
            model=fields.get("model"),
            firmware=fields.get("firmware"),
            plan_hash=fields.get("plan_hash") or claim.plan_hash,
            key_fingerprint=fields.get("key_fingerprint"),
            error=fields.get("error"),
        )
        for name in ("started_at", "finished_at"):
            row[name] = _sqlite_time(row[name])
        try:
            with self._transaction() as db:
                known = (
                    claim.device_uuid
                    and db.execute(
                        "SELECT device_uuid FROM identities WHERE imei = ?", (claim.imei,)
                    ).fetchone()
                )
                if known and known[0] != claim.device_uuid:
                    raise _Unusual
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                record_id = int(
                    db.execute(
                        f"INSERT INTO device_records ({columns}) VALUES ({marks})",
                        tuple(row.values()),
                    ).lastrowid
                )
                db.executemany(
                    "INSERT INTO credential_entries (record_id, position, tag, type_id, type, "
                    "sha, previous_sha, auth, action, certificate_pem) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (record_id, position, e.tag, e.type_id, e.type, e.sha, e.previous_sha,
                         e.auth, e.action, e.certificate_pem)
                        for position, e in enumerate(entries)
                    ],
                )  # fmt: skip
                if claim.device_uuid and not known:
                    db.execute(
                        "INSERT INTO identities (imei, device_uuid, station, first_seen) "
                        "VALUES (?, ?, ?, ?)",
                        (claim.imei, claim.device_uuid, claim.station, _sqlite_time(_now())),
                    )
                db.execute(
                    "DELETE FROM claims WHERE imei = ? AND token = ?", (claim.imei, claim.token)
                )
        except _Unusual:
            return self.full().record_device(**fields)
        return record_id

    def store_audit_head(self, station: str, seq: int, hash: str) -> None:
        """As :meth:`Ledger.store_audit_head`; another hash already stored for the record
        goes to the full store, which raises :class:`~xsudo.ledger.AuditHeadConflict`."""
        import sqlite3

        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**63:
            self.full().store_audit_head(station, seq, hash)  # raises the store's error
            return
        if len(hash) != 64 or any(c not in "0123456789abcdef" for c in hash):
            self.full().store_audit_head(station, seq, hash)
            return
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO audit_heads (station, seq, hash, stored_at) VALUES (?, ?, ?, ?)",
                    (station, seq, hash, _sqlite_time(_now())),
                )
        except sqlite3.IntegrityError:
            # Boards of one fleet share the station's log, so several report the same head:
            # the same hash stored again is done; another one is the store's conflict.
            if self._stored_head(station, seq) != hash:
                self.full().store_audit_head(station, seq, hash)

    def _stored_head(self, station: str, seq: int) -> str | None:
        with self._lock:
            rows = self._db.execute(
                "SELECT hash FROM audit_heads WHERE station = ? AND seq = ?", (station, seq)
            ).fetchall()
        return rows[0][0] if rows else None


class _Unusual(Exception):
    """Inside a quick transaction: roll back and let the full store do it."""
