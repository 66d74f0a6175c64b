"""The ledger store: :class:`Ledger`, one API over SQLite and PostgreSQL.

Contracts (docs/how-to/ledger.md states them for users):

* :meth:`Ledger.open` resolves the location (:func:`xsudo.ledger.url.resolve`), connects,
  and migrates the schema to this version's head in one transaction
  (:mod:`xsudo.ledger.migrate`). Opening twice, or from two stations at once, is safe.
* :meth:`Ledger.begin_device` claims an IMEI for one station. The claim is a row whose
  primary key is the IMEI, inserted in its own transaction: of two stations racing, the
  database lets exactly one insert it, and the other gets :class:`ImeiInProgress`. An IMEI
  that arrives with another device UUID than the one the ledger first saw gets
  :class:`IdentityMismatch`. Both refusals are written to the ``flags`` table first.
* :meth:`Ledger.record_device` writes one device run (its record, its credentials, the
  identity, the release of its claim) in one transaction and returns the record id.
* Every method either completes its transaction or raises; a database that cannot be
  reached raises :class:`LedgerUnavailable` (exit 3), never a driver exception. Messages
  show the URL masked (:func:`xsudo.ledger.url.mask_url`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from xsudo.errors import BadInputError
from xsudo.ledger import schema
from xsudo.ledger.errors import (
    AuditHeadConflict,
    IdentityMismatch,
    ImeiInProgress,
    LedgerConflict,
    LedgerUnavailable,
    LedgerUrlError,
    NotInLedger,
)
from xsudo.ledger.migrate import current_revision, upgrade
from xsudo.ledger.records import (
    AuditHeadEntry,
    Claim,
    CredentialEntry,
    DeviceHistory,
    DeviceRecord,
    Flag,
    FlagKind,
    Previous,
    Result,
    as_utc,
    check_imei,
    check_text,
    iso,
    record_row,
)
from xsudo.ledger.url import DEFAULT_FILE, LedgerTarget, resolve

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine, Row

DEFAULT_CLAIM_TTL = timedelta(minutes=30)
"""How long a claim holds an IMEI when its station never records nor releases the device
(a crashed station): after that, another :meth:`Ledger.begin_device` may take it over."""

SQLITE_BUSY_TIMEOUT = 30.0
"""Seconds a SQLite transaction waits for another writer before it gives up."""

POSTGRES_CONNECT_TIMEOUT = 10
"""Seconds a PostgreSQL connection attempt may take."""

Clock = Callable[[], datetime]
DeviceRecords = list[DeviceRecord]
AuditHeads = list[AuditHeadEntry]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """An open ledger. Use :meth:`open`; close it (or use ``with``) when done.

    One :class:`Ledger` may be shared by the threads of a process (each call takes its own
    connection from the pool and runs in its own transaction).
    """

    def __init__(self, engine: Engine, target: LedgerTarget, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self.target = target
        self._clock = clock

    def _now(self) -> datetime:
        """The clock's time in UTC (SQLite keeps times without their zone)."""
        return as_utc(self._clock())

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None, home: Path, *, clock: Clock | None = None) -> Ledger:
        """Open the ledger at ``url`` (``None``: ``$XSUDO_LEDGER``, else
        ``home/ledger.sqlite``, created with mode 0600), migrated to the newest schema.

        Raises :class:`LedgerUrlError` (a URL of the wrong kind, a missing driver or
        directory), :class:`LedgerSchemaError` (a schema newer than this version) or
        :class:`LedgerUnavailable` (the database cannot be reached). ``clock`` gives the
        current time (UTC; tests pass their own).
        """
        target = resolve(url, home)
        if target.path is not None:
            _prepare_sqlite_file(target.path, default=target.path == home / DEFAULT_FILE)
        engine = _create_engine(target)
        ledger = cls(engine, target, clock or _utcnow)
        try:
            with ledger._errors():
                upgrade(engine, target.display)
        except BaseException:
            engine.dispose()
            raise
        return ledger

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.target.backend

    @property
    def display(self) -> str:
        """Where the ledger is, with any password masked (safe to print)."""
        return self.target.display

    def schema_revision(self) -> str | None:
        """The schema revision of the database (the newest this version knows, once open)."""
        with self._errors(), self._engine.connect() as connection:
            return current_revision(connection)

    # -- claims --------------------------------------------------------------------------

    def begin_device(
        self,
        imei: str,
        device_uuid: str | None,
        station: str,
        plan_hash: str | None,
        *,
        claim_ttl: timedelta = DEFAULT_CLAIM_TTL,
    ) -> Claim:
        """Claim ``imei`` for ``station`` before provisioning it; return the claim.

        Raises :class:`IdentityMismatch` when the ledger knows the IMEI with another device
        UUID (a duplicate or cloned identity), and :class:`ImeiInProgress` when a claim on
        it, younger than ``claim_ttl``, is held (by any station: the same device cannot be
        on two ports either). Either way the event is written to the ``flags`` table
        first, and nothing is claimed. An older claim is taken over. The first device UUID
        seen with an IMEI becomes its identity.
        """
        imei = check_imei(imei)
        check_text("station", station, required=True)
        check_text("device_uuid", device_uuid)
        check_text("plan_hash", plan_hash)
        now = self._now()
        claim = Claim(imei, station, secrets.token_hex(16), now, device_uuid, plan_hash)
        with self._errors():
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        delete(schema.claims).where(
                            schema.claims.c.imei == imei,
                            schema.claims.c.claimed_at < now - claim_ttl,
                        )
                    )
                    known = _identity(connection, imei)
                    if known is None or device_uuid is None or known[0] == device_uuid:
                        connection.execute(insert(schema.claims).values(_claim_row(claim)))
                        if known is None and device_uuid is not None:
                            _ensure_identity(connection, imei, device_uuid, station, now)
                        return claim
            except IntegrityError:
                pass
            raise self._refusal(claim)

    def release(self, claim: Claim) -> bool:
        """Give ``claim`` back without a record (the run was abandoned before it touched
        the device). Returns whether the claim was still held."""
        with self._errors(), self._engine.begin() as connection:
            return _drop_claim(connection, claim)

    def release_imei(self, imei: str, station: str) -> Claim | None:
        """Drop the claim held on ``imei``, whoever holds it: for a run that stopped without
        its record (a station killed, a power cut), whose claim would otherwise refuse the
        device until it times out. The release is flagged (kind ``released-claim``, by
        ``station``, naming the claim's station and time), so the device's history says who
        gave it back. Returns the claim dropped, or ``None`` when none was held."""
        imei = check_imei(imei)
        check_text("station", station, required=True)
        claims = schema.claims
        with self._errors(), self._engine.begin() as connection:
            row = connection.execute(select(claims).where(claims.c.imei == imei)).first()
            if row is None:
                return None
            held = _claim(row)
            if not _drop_claim(connection, held):
                return None  # given back or taken over meanwhile
            released = Claim(imei, station, held.token, self._now(), held.device_uuid)
            _add_flag(
                connection,
                released,
                "released-claim",
                f"released the claim of station {held.station} since {iso(held.claimed_at)}",
            )
        return held

    def _refusal(self, claim: Claim) -> LedgerConflict:
        """Flag why ``claim`` could not be taken, and return the error to raise."""
        with self._engine.begin() as connection:
            known = _identity(connection, claim.imei)
            holder = connection.execute(
                select(schema.claims).where(schema.claims.c.imei == claim.imei)
            ).first()
            uuid = claim.device_uuid
            if known is not None and uuid is not None and known[0] != uuid:
                other, where = known[0], f"first seen at station {known[1]}"
            elif holder is not None and uuid and holder.device_uuid and holder.device_uuid != uuid:
                other, where = holder.device_uuid, f"held by station {holder.station}"
            else:
                other = None
            if other is not None:
                detail = f"the ledger knows device UUID {other} ({where}), this one is {uuid}"
                flag = _add_flag(connection, claim, "cloned-identity", detail)
                return IdentityMismatch(
                    f"IMEI {claim.imei} comes with device UUID {uuid}, but the ledger knows it "
                    f"with {other} ({where}): a duplicate or cloned identity",
                    "set the device aside and check its identity before provisioning it",
                    imei=claim.imei,
                    station=known[1] if known is not None else None,
                    flag_id=flag,
                )
            if holder is None:
                detail, since = "another station held it a moment ago", ""
            else:
                detail = f"held by station {holder.station} since {iso(holder.claimed_at)}"
                since = f" since {iso(holder.claimed_at)}"
            flag = _add_flag(connection, claim, "concurrent-claim", detail)
            station = None if holder is None else str(holder.station)
            return ImeiInProgress(
                f"IMEI {claim.imei} is being provisioned at station {station or 'another'}{since}",
                "finish or abandon that run first (a claim left by a stopped station expires "
                f"after {int(DEFAULT_CLAIM_TTL.total_seconds() // 60)} minutes)",
                imei=claim.imei,
                station=station,
                flag_id=flag,
            )

    # -- records -------------------------------------------------------------------------

    def record_device(
        self,
        *,
        imei: str,
        station: str,
        result: Result,
        started_at: datetime,
        finished_at: datetime,
        credentials: Iterable[CredentialEntry] = (),
        device_uuid: str | None = None,
        model: str | None = None,
        firmware: str | None = None,
        plan_hash: str | None = None,
        key_fingerprint: str | None = None,
        error: str | None = None,
        claim: Claim | None = None,
    ) -> int:
        """Record one device run and return its record id.

        One transaction: the record, its credentials in order, the device's identity (the
        first UUID seen; another UUID is recorded all the same and flagged
        ``cloned-identity``) and the release of ``claim``. ``result`` is ``"ok"`` (every
        credential written or unchanged) or ``"failed"`` (``error`` says why). Times must
        be timezone-aware. ``device_uuid`` and ``plan_hash`` default to the claim's. Raises
        :class:`BadInputError` for a field that does not fit.
        """
        if claim is not None:
            if claim.imei != imei:
                raise BadInputError(
                    f"the claim given is for IMEI {claim.imei}, not {imei}",
                    "give the claim begin_device returned for this device",
                )
            device_uuid = device_uuid if device_uuid is not None else claim.device_uuid
            plan_hash = plan_hash if plan_hash is not None else claim.plan_hash
        row = record_row(
            imei=imei,
            station=station,
            result=result,
            started_at=started_at,
            finished_at=finished_at,
            device_uuid=device_uuid,
            model=model,
            firmware=firmware,
            plan_hash=plan_hash,
            key_fingerprint=key_fingerprint,
            error=error,
        )
        entries = [entry.checked() for entry in credentials]
        with self._errors(), self._engine.begin() as connection:
            inserted = connection.execute(insert(schema.device_records).values(row))
            record_id = _new_id(inserted)
            if entries:
                connection.execute(
                    insert(schema.credential_entries),
                    [_entry_row(record_id, position, e) for position, e in enumerate(entries)],
                )
            if device_uuid is not None:
                known = _ensure_identity(connection, imei, device_uuid, station, self._now())
                if known != device_uuid:
                    detail = f"recorded with device UUID {device_uuid}; the ledger knows {known}"
                    mark = Claim(imei, station, "", self._now(), device_uuid, plan_hash)
                    _add_flag(connection, mark, "cloned-identity", detail)
            if claim is not None:
                _drop_claim(connection, claim)
            return record_id

    def previous_for(self, imei: str) -> Previous | None:
        """What the latest completed (``ok``) run recorded for ``imei``: its plan hash and
        the SHA at each tag/type, or ``None`` when no run of it completed."""
        imei = check_imei(imei)
        records = schema.device_records
        query = (
            select(records)
            .where(records.c.imei == imei, records.c.result == "ok")
            .order_by(records.c.finished_at.desc(), records.c.id.desc())
            .limit(1)
        )
        with self._errors(), self._engine.begin() as connection:
            row = connection.execute(query).first()
            if row is None:
                return None
            entries = _entries(connection, [row.id]).get(row.id, ())
        shas = {(entry.tag, entry.type_id): entry.sha for entry in entries}
        return Previous(
            row.id, row.station, as_utc(row.finished_at), row.plan_hash, row.device_uuid, shas
        )

    def list(
        self,
        *,
        since: datetime | None = None,
        station: str | None = None,
        imei: str | None = None,
    ) -> DeviceRecords:
        """The records finished at or after ``since`` (all when ``None``), at ``station``
        (any when ``None``), of ``imei`` (any when ``None``), oldest first."""
        return list(self.iter_records(since=since, station=station, imei=imei))

    def iter_records(
        self,
        *,
        since: datetime | None = None,
        station: str | None = None,
        imei: str | None = None,
        batch: int = 500,
    ) -> Iterator[DeviceRecord]:
        """As :meth:`list`, read ``batch`` records at a time (for exports of any size)."""
        records = schema.device_records
        query = select(records).order_by(records.c.finished_at, records.c.id)
        if since is not None:
            query = query.where(records.c.finished_at >= as_utc(since))
        if station is not None:
            query = query.where(records.c.station == station)
        if imei is not None:
            query = query.where(records.c.imei == check_imei(imei))
        last: tuple[datetime, int] | None = None
        while True:
            page = query.limit(batch)
            if last is not None:
                page = page.where(
                    (records.c.finished_at > last[0])
                    | ((records.c.finished_at == last[0]) & (records.c.id > last[1]))
                )
            with self._errors(), self._engine.begin() as connection:
                rows = connection.execute(page).all()
                entries = _entries(connection, [row.id for row in rows])
            yield from (_record(row, entries.get(row.id, ())) for row in rows)
            if len(rows) < batch:
                return
            last = (rows[-1].finished_at, rows[-1].id)

    def show(self, imei: str) -> DeviceHistory:
        """Everything the ledger knows of ``imei``; :class:`NotInLedger` when nothing."""
        imei = check_imei(imei)
        records = schema.device_records
        with self._errors(), self._engine.begin() as connection:
            rows = connection.execute(
                select(records)
                .where(records.c.imei == imei)
                .order_by(records.c.finished_at.desc(), records.c.id.desc())
            ).all()
            entries = _entries(connection, [row.id for row in rows])
            flag_rows = connection.execute(
                select(schema.flags)
                .where(schema.flags.c.imei == imei)
                .order_by(schema.flags.c.id.desc())
            ).all()
            known = _identity(connection, imei)
            held = connection.execute(
                select(schema.claims).where(schema.claims.c.imei == imei)
            ).first()
        if not rows and not flag_rows and known is None and held is None:
            raise NotInLedger(
                f"the ledger at {self.display} has no record of IMEI {imei}",
                "check the IMEI, or the ledger (a station may write to another one)",
            )
        return DeviceHistory(
            imei,
            tuple(_record(row, entries.get(row.id, ())) for row in rows),
            tuple(_flag(row) for row in flag_rows),
            None if known is None else known[0],
            None if held is None else _claim(held),
        )

    # -- audit heads ---------------------------------------------------------------------

    def store_audit_head(self, station: str, seq: int, hash: str) -> None:
        """Keep ``station``'s audit log head (record ``seq`` has ``hash``) in the ledger.

        Storing the same head again does nothing. Another hash for a (station, seq) the
        ledger already holds raises :class:`AuditHeadConflict`: that station's log was
        rewritten, or two stations share a name.
        """
        check_text("station", station, required=True)
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**63:
            raise BadInputError(f"audit head seq {seq!r} is not a record number", "give N >= 1")
        if len(hash) != 64 or any(c not in "0123456789abcdef" for c in hash):
            raise BadInputError(
                f"audit head hash {hash[:70]!r} is not 64 lower-case hex digits",
                "give the hash as the audit log prints it",
            )
        heads = schema.audit_heads
        row = {"station": station, "seq": seq, "hash": hash, "stored_at": self._now()}
        with self._errors():
            try:
                with self._engine.begin() as connection:
                    if _stored_hash(connection, station, seq) is None:
                        connection.execute(insert(heads).values(row))
                        return
            except IntegrityError:
                pass
            with self._engine.begin() as connection:
                stored = _stored_hash(connection, station, seq)
        if stored != hash:
            raise AuditHeadConflict(
                f"station {station} stored hash {stored} for audit record {seq} before, now {hash}",
                "check that station's audit log (verify it against the stored head); "
                "every station needs a name of its own",
            )

    def audit_heads(self) -> AuditHeads:
        """The newest head each station stored, by station name."""
        heads = schema.audit_heads
        newest = (
            select(heads.c.station, func.max(heads.c.seq).label("seq"))
            .group_by(heads.c.station)
            .subquery()
        )
        query = (
            select(heads)
            .join(newest, (heads.c.station == newest.c.station) & (heads.c.seq == newest.c.seq))
            .order_by(heads.c.station)
        )
        with self._errors(), self._engine.begin() as connection:
            rows = connection.execute(query).all()
        return [AuditHeadEntry(r.station, r.seq, r.hash, as_utc(r.stored_at)) for r in rows]

    # -- errors --------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn a driver's failure to connect or to answer into :class:`LedgerUnavailable`
        (or :class:`LedgerUrlError` for a SQLite file that cannot be opened)."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            if not (exc.connection_invalidated or _is_operational(exc)):
                raise
            raise _unavailable(self.target, exc) from None


# -- helpers (module level: small and testable) -----------------------------------------------


def _prepare_sqlite_file(path: Path, *, default: bool) -> None:
    """Create the SQLite file with mode 0600 if missing (its directory too, mode 0700, when
    it is the default file in the home); a missing directory given by the user is an
    error."""
    if default:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not path.parent.is_dir():
        raise LedgerUrlError(
            f"the ledger's directory {path.parent} does not exist",
            "create it, or give another path",
        )
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise LedgerUrlError(
            f"cannot create the ledger file {path} ({exc.strerror})",
            "check the directory's permissions, or give another path",
        ) from None


def _create_engine(target: LedgerTarget) -> Engine:
    from sqlalchemy import create_engine, event

    if target.backend == "sqlite":
        engine = create_engine(target.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The ledger starts its own transactions (below), so the driver must not.
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # One writer at a time, decided when the transaction starts: a read followed by
            # a write can then never fail with "database is locked" half-way.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(
            target.url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT, "application_name": "xsudo"},
        )
    except ImportError:
        raise LedgerUrlError(
            f"the ledger at {target.display} is PostgreSQL, and its driver (psycopg 3) is "
            "not installed",
            "install it: pip install 'xsudo[postgres]'",
        ) from None


def _is_operational(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _unavailable(target: LedgerTarget, exc: DBAPIError) -> LedgerUrlError | LedgerUnavailable:
    reason = target.redact(str(exc.orig).strip().splitlines()[0] if str(exc.orig) else "")[:200]
    if target.backend == "sqlite":
        if "unable to open" in reason:
            return LedgerUrlError(
                f"cannot open the ledger file {target.display} ({reason})",
                "check the path and its permissions, or give another one",
            )
        return LedgerUnavailable(
            f"the ledger file {target.display} did not answer ({reason})",
            "another program may hold it locked; retry, or close that program",
        )
    return LedgerUnavailable(
        f"cannot reach the ledger at {target.display} ({reason})",
        "check that the server runs and that host, port, database, user and password are "
        "right, then retry",
    )


def _claim_row(claim: Claim) -> dict[str, Any]:
    return {
        "imei": claim.imei,
        "station": claim.station,
        "token": claim.token,
        "device_uuid": claim.device_uuid,
        "plan_hash": claim.plan_hash,
        "claimed_at": claim.claimed_at,
    }


def _claim(row: Row[Any]) -> Claim:
    return Claim(
        row.imei, row.station, row.token, as_utc(row.claimed_at), row.device_uuid, row.plan_hash
    )


def _drop_claim(connection: Connection, claim: Claim) -> bool:
    claims = schema.claims
    done = connection.execute(
        delete(claims).where(claims.c.imei == claim.imei, claims.c.token == claim.token)
    )
    return bool(done.rowcount)


def _identity(connection: Connection, imei: str) -> tuple[str, str] | None:
    """The device UUID and station the IMEI was first seen with, if any."""
    ids = schema.identities
    row = connection.execute(
        select(ids.c.device_uuid, ids.c.station).where(ids.c.imei == imei)
    ).first()
    return None if row is None else (row.device_uuid, row.station)


def _ensure_identity(
    connection: Connection, imei: str, device_uuid: str, station: str, now: datetime
) -> str:
    """Make ``device_uuid`` the IMEI's identity unless it has one; return the identity."""
    known = _identity(connection, imei)
    if known is not None:
        return known[0]
    try:
        with connection.begin_nested():
            connection.execute(
                insert(schema.identities).values(
                    imei=imei, device_uuid=device_uuid, station=station, first_seen=now
                )
            )
    except IntegrityError:
        known = _identity(connection, imei)
        return device_uuid if known is None else known[0]
    return device_uuid


def _new_id(inserted: CursorResult[Any]) -> int:
    """The primary key the INSERT just made."""
    key = inserted.inserted_primary_key
    assert key is not None
    return int(key[0])


def _add_flag(connection: Connection, claim: Claim, kind: FlagKind, detail: str) -> int:
    inserted = connection.execute(
        insert(schema.flags).values(
            imei=claim.imei,
            kind=kind,
            station=claim.station,
            device_uuid=claim.device_uuid,
            detail=detail,
            at=claim.claimed_at,
        )
    )
    return _new_id(inserted)


def _flag(row: Row[Any]) -> Flag:
    return Flag(
        row.id, row.imei, row.kind, row.station, row.device_uuid, row.detail, as_utc(row.at)
    )


def _stored_hash(connection: Connection, station: str, seq: int) -> str | None:
    heads = schema.audit_heads
    found = connection.execute(
        select(heads.c.hash).where(heads.c.station == station, heads.c.seq == seq)
    ).scalar()
    return None if found is None else str(found)


def _entry_row(record_id: int, position: int, entry: CredentialEntry) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "position": position,
        "tag": entry.tag,
        "type_id": entry.type_id,
        "type": entry.type,
        "sha": entry.sha,
        "previous_sha": entry.previous_sha,
        "auth": entry.auth,
        "action": entry.action,
        "certificate_pem": entry.certificate_pem,
    }


def _entries(
    connection: Connection, record_ids: Sequence[int]
) -> dict[int, tuple[CredentialEntry, ...]]:
    """The credential entries of each record, in order."""
    found: dict[int, list[CredentialEntry]] = {}
    table = schema.credential_entries
    for start in range(0, len(record_ids), 500):
        chunk = list(record_ids[start : start + 500])
        rows = connection.execute(
            select(table)
            .where(table.c.record_id.in_(chunk))
            .order_by(table.c.record_id, table.c.position)
        ).all()
        for r in rows:
            found.setdefault(r.record_id, []).append(
                CredentialEntry(
                    r.tag, r.type_id, r.type, r.action, r.sha, r.previous_sha, r.auth,
                    r.certificate_pem,
                )
            )  # fmt: skip
    return {record_id: tuple(entries) for record_id, entries in found.items()}


def _record(row: Row[Any], entries: tuple[CredentialEntry, ...]) -> DeviceRecord:
    return DeviceRecord(
        id=row.id,
        imei=row.imei,
        station=row.station,
        result=row.result,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        device_uuid=row.device_uuid,
        model=row.model,
        firmware=row.firmware,
        plan_hash=row.plan_hash,
        key_fingerprint=row.key_fingerprint,
        error=row.error,
        credentials=entries,
    )
