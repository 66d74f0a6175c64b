"""A hash-chained, append-only audit log of signatures and device writes (JSON lines).

Each record is one JSON object on one line. ``prev`` is the ``hash`` of the record before it
(64 zeros for the first), and ``hash`` is the SHA-256 of the record's canonical JSON
(sorted keys, no whitespace) without the ``hash`` field. Editing a record breaks its hash;
deleting or reordering records breaks the ``prev`` link or the ``seq`` count. Truncating the
tail cannot be detected from the file alone: keep the head (:class:`AuditHead`, the last
record's ``seq`` and ``hash``) elsewhere, or sign it into a checkpoint
(:mod:`xsudo.audit.checkpoint`).

Contract:

* Records hold metadata only (fingerprints, SHAs, tags, results): :meth:`AuditLog.append`
  accepts scalar fields (str, int, bool; ``None`` is left out) and refuses anything that
  looks like key material, a reserved field name, or a record longer than :data:`MAX_LINE`.
* Records are parsed strictly (:func:`parse_record`): one flat JSON object of str/int/bool/null
  values per LF-terminated ASCII line, no duplicate keys, no NaN/Infinity, no fractions, no
  BOM, no CR, an int ``seq`` and 64 lower-hex ``hash`` and ``prev``. Anything else is
  tampering or damage, reported with a reason, never an exception from the JSON parser.
* :meth:`AuditLog.check_appendable` checks, writing nothing, that a record can be appended
  (directory and file writable, last record intact); :meth:`AuditLog.append` fails the same
  way (:class:`AuditLogError`, exit 2) before writing when it cannot. Call the check before
  touching a device, so no device write happens without a record.
* The file is created with mode 0600 (whatever the umask), its directory 0700. Appends are
  serialised between processes (``flock``), so they stay one chain.
* Group commit: appends to one log from many threads of a process are committed in
  batches. The first caller to find no batch being written becomes the writer: it takes
  every record waiting at that moment, opens the log, takes the ``flock``, chains the
  records one after the other onto the last record on disk, writes them, calls ``fsync``
  once and releases the lock; callers arriving meanwhile wait for the next batch, which the
  first of them writes (each waits on its own event: a finished batch wakes only its own
  callers and the next writer). Every caller
  returns its own record only after the ``fsync`` that covers it (durability is that of one
  append at a time). When the batch cannot be written or synced, the file is cut back to
  where it was and **every** caller of the batch gets :class:`AuditLogError` ("nothing was
  recorded"); if even the cut fails, the error says that the log may end with records that
  were not made durable (a cut-short last line makes the next append refuse the log as
  damaged). A record too long to log fails only its own caller.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import hashlib
import json
import os
import re
import socket
import stat
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

from xsudo.errors import BadInputError, Remedy

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"
CHECKPOINT_EVENT = "checkpoint"
MAX_LINE = 64 * 1024
"""The longest record line, in bytes, without its LF."""
MAX_DEPTH = 2
"""Bracket nesting a line may have before it is even parsed (a record itself is depth 1)."""
LOG_FILE_MODE = 0o600
LOG_DIR_MODE = 0o700
RESERVED_FIELDS = frozenset({"seq", "time", "operator", "event", "prev", "hash"})
Field = str | int | bool | None

_SECRET_MARKERS = ("PRIVATE KEY", "ENCRYPTED")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BOM = b"\xef\xbb\xbf"
_HEAD_TEXT = re.compile(r"([0-9]{1,18}):([0-9a-fA-F]{64})")


class AuditLogError(BadInputError):
    """The audit log cannot be read or appended to (damaged, unreadable, not writable).

    Exit 2. Raised before anything is written, so a command that calls
    :meth:`AuditLog.check_appendable` first has changed nothing.
    """


class RecordFormatError(AuditLogError):
    """One line of the log is not a record as xsudo writes them; ``message`` says why."""


@dataclass(frozen=True)
class AuditHead:
    """The last record of a log: its ``seq`` and ``hash``. Kept elsewhere, it shows later
    whether the log still holds that record (nothing was cut off or rewritten)."""

    seq: int
    hash: str

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> AuditHead:
        """The head a record stands for (a record :meth:`AuditLog.append` returned)."""
        return cls(int(record["seq"]), str(record["hash"]))

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """Read ``N:HASH`` (record number, colon, 64 hex digits); :class:`BadInputError`
        otherwise. The hash is kept in lower case."""
        match = _HEAD_TEXT.fullmatch(text.strip())
        if match is None or int(match.group(1)) < 1:
            raise BadInputError(
                f"{text[:80]!r} is not an audit head",
                "give N:HASH, the record number and its 64-hex-digit hash, as in the "
                "audit_head of a JSON result",
            )
        return cls(int(match.group(1)), match.group(2).lower())

    def to_json(self) -> dict[str, Any]:
        """``{"seq": N, "hash": "..."}``, the ``audit_head`` of ``--json`` results."""
        return {"seq": self.seq, "hash": self.hash}

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True)
class ChainReport:
    """Result of checking a log: ``ok``, how many intact records, and the first broken one.

    ``hashes`` holds the hash of every intact record in order (``hashes[0]`` is record 1),
    ``checkpoints`` the intact records whose event is ``checkpoint``.
    """

    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""
    last_hash: str = GENESIS
    hashes: tuple[str, ...] = field(default=(), repr=False, compare=False)
    checkpoints: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)

    @property
    def head(self) -> AuditHead | None:
        """The last intact record, ``None`` when there is none."""
        return AuditHead(self.count, self.last_hash) if self.count else None

    def hash_at(self, seq: int) -> str | None:
        """The hash of intact record ``seq``, ``None`` past the intact records."""
        return self.hashes[seq - 1] if 1 <= seq <= len(self.hashes) else None

    def anchor_problem(self, anchor: AuditHead, what: str = "the expected head") -> str:
        """Why the log does not hold record ``anchor`` with that hash, or ``""`` if it does.

        ``what`` names the anchor in the reason (``"the expected head"``).
        """
        found = self.hash_at(anchor.seq)
        if found == anchor.hash:
            return ""
        if found is not None:
            return (
                f"record {anchor.seq} has hash {found}, not the hash of {what} "
                f"({anchor.hash}): the log was rewritten or is another log"
            )
        if not self.ok and self.first_bad is not None and anchor.seq >= self.first_bad:
            return f"{what} (record {anchor.seq}) is past the broken record {self.first_bad}"
        return (
            f"the log ends at record {self.count}, before {what} (record {anchor.seq}): "
            "records were removed from its end"
        )

    def to_json(self) -> dict[str, Any]:
        head = self.head
        return {
            "ok": self.ok,
            "count": self.count,
            "first_bad_record": self.first_bad,
            "reason": self.reason,
            "last_hash": self.last_hash,
            "head": head.to_json() if head else None,
        }


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``record`` without its ``hash`` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def operator() -> str:
    """``user@host`` of whoever runs the process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def parse_record(line: bytes) -> dict[str, Any]:
    """Parse one line of the log (with its LF) strictly into a record.

    Raises :class:`RecordFormatError` whose ``message`` is the reason for a line that is too
    long, cut (no LF), has a BOM, a CR, non-ASCII bytes, nesting deeper than
    :data:`MAX_DEPTH`, invalid JSON, duplicate keys, NaN/Infinity, fractions, a value that
    is an object or array, or a ``seq``/``hash``/``prev`` of the wrong form. Never raises
    anything else, whatever the bytes.
    """
    body = _line_body(line)
    record = _load_object(body)
    _check_values(record)
    return record


_SAFE_OPEN = (
    getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as the log must not hang the open
    | getattr(os, "O_NOCTTY", 0)
)


def _open_regular(path: Path, flags: int) -> int:
    """``os.open`` that refuses anything but a regular file (FIFO, device, directory) with
    :class:`OSError`; the check is on the opened descriptor."""
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def open_private_append(path: Path) -> IO[bytes]:
    """Open ``path`` for reading and appending; create it with mode 0600 whatever the umask
    (and its directory with 0700). An existing file keeps its mode. Raises :class:`OSError`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=LOG_DIR_MODE)
    flags = os.O_RDWR | os.O_APPEND | _SAFE_OPEN
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, LOG_FILE_MODE)
    except FileExistsError:
        fd = _open_regular(path, flags)
    else:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, LOG_FILE_MODE)
        except OSError:
            os.close(fd)
            raise
    return os.fdopen(fd, "a+b")


@contextlib.contextmanager
def locked(handle: IO[bytes], *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on an open file across processes: ``flock`` on POSIX (shared for readers
    when ``shared``), a one-byte lock at offset 0 on Windows (always exclusive)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def read_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The lines of an open file, each with its LF; a line longer than :data:`MAX_LINE` is
    returned cut at ``MAX_LINE + 2`` bytes (so :func:`parse_record` reports it too long)."""
    while True:
        line = handle.readline(MAX_LINE + 2)
        if not line:
            return
        yield line


class AuditLog:
    """The audit log at ``path``. Appends are serialised across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_home(cls, home: Path) -> AuditLog:
        return cls(home / AUDIT_FILE)

    def check_appendable(self) -> None:
        """Check, without writing a record, that :meth:`append` can add one: the directory
        can be created (0700), the file opened for appending (created 0600 if missing) and
        its last record parses strictly with its hash intact (a tail check, not a walk of
        the chain). Raises :class:`AuditLogError` (exit 2) naming the path and the fix."""
        with self._open_for_append() as handle, locked(handle, shared=True):
            _tail(handle, self.path)

    def head(self) -> AuditHead | None:
        """The last record's ``seq`` and ``hash``, ``None`` for a missing or empty log.

        Raises :class:`AuditLogError` when the last record is damaged or unreadable.
        """
        if not self.path.exists():
            return None
        with self._open_for_reading() as handle:
            return _tail(handle, self.path)

    def append(self, event: str, **fields: Field) -> dict[str, Any]:
        """Append one record for ``event`` with the given scalar ``fields``; return it.

        Raises :class:`AuditLogError` (nothing written) when the log cannot be appended to
        (see :meth:`check_appendable`), and :class:`ValueError`/:class:`TypeError` for fields
        that are never logged (key material, reserved names, non-scalar values).
        """
        _check_fields(fields)
        return _committer_for(self.path).append(self, _Pending(event, dict(fields)))

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in order, each parsed strictly (links and hashes are not checked:
        that is :meth:`verify`). Raises :class:`AuditLogError` at the first line that is not
        a record."""
        if not self.path.exists():
            return
        with self._open_for_reading() as handle:
            lines = list(read_lines(handle))
        for number, line in enumerate(lines, start=1):
            try:
                yield parse_record(line)
            except RecordFormatError as exc:
                _damaged(self.path, f"line {number}", exc.message)

    def verify(self) -> ChainReport:
        """Check every record's form, hash, ``prev`` link and ``seq``; report the first broken
        one. Never raises for damaged content (only :class:`AuditLogError` if unreadable)."""
        if not self.path.exists():
            return ChainReport(True, 0)
        with self._open_for_reading() as handle:
            return _walk(handle)

    def _commit(self, batch: list[_Pending]) -> None:
        """Write ``batch`` as one group commit (module contract); never raises for a
        failure of the log: each entry gets its record or its own error."""
        written: list[tuple[_Pending, dict[str, Any]]] = []
        try:
            with self._open_for_append() as handle, locked(handle):
                head = _tail(handle, self.path)
                who = operator()
                lines = []
                for pending in batch:
                    record = _new_record(pending.event, pending.fields, head, who)
                    try:
                        lines.append(_encode(record))
                    except ValueError as exc:  # this record only: the chain goes on without it
                        pending.error = exc
                        continue
                    written.append((pending, record))
                    head = AuditHead.of(record)
                if lines:
                    _write_lines(handle, b"".join(lines), self.path, len(lines))
        except AuditLogError as exc:
            for pending in batch:
                if pending.error is None:
                    pending.error = _copy_error(exc)
            return
        for pending, record in written:
            pending.record = record

    @contextlib.contextmanager
    def _open_for_append(self) -> Iterator[IO[bytes]]:
        try:
            handle = open_private_append(self.path)
        except OSError as exc:
            raise AuditLogError(
                f"cannot open the audit log {self.path} for appending: {_os_reason(exc)}",
                "fix the permissions of the file and its directory, or use another home "
                "(XSUDO_HOME)",
                remedy=Remedy("choose-home", {"path": str(self.path)}),
            ) from None
        with handle:
            yield handle

    @contextlib.contextmanager
    def _open_for_reading(self) -> Iterator[IO[bytes]]:
        try:
            handle = os.fdopen(_open_regular(self.path, os.O_RDONLY | _SAFE_OPEN), "rb")
        except OSError as exc:
            raise AuditLogError(
                f"cannot read the audit log {self.path}: {_os_reason(exc)}",
                "check the path and its permissions",
            ) from None
        with handle, locked(handle, shared=True):
            yield handle


def _damaged(path: Path, where: str, reason: str) -> NoReturn:
    raise AuditLogError(
        f"the audit log {path} is damaged at {where}: {reason}; nothing can be recorded in it",
        f"check it (AuditLog.verify) to see where, then move it (and {path.name}.checkpoints"
        ", if present) aside so that a new log starts",
        remedy=Remedy("audit-verify", {"path": str(path)}),
    )


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _walk(handle: IO[bytes]) -> ChainReport:
    """Walk an open log record by record; stop at the first broken one."""
    hashes: list[str] = []
    checkpoints: list[dict[str, Any]] = []
    prev = GENESIS
    for number, line in enumerate(read_lines(handle), start=1):
        record, problem = _checked(line, number, prev)
        if record is None:
            return ChainReport(
                False, number - 1, number, problem, prev, (*hashes,), (*checkpoints,)
            )
        prev = record["hash"]
        hashes.append(prev)
        if record.get("event") == CHECKPOINT_EVENT:
            checkpoints.append(record)
    return ChainReport(True, len(hashes), None, "", prev, (*hashes,), (*checkpoints,))


def _checked(line: bytes, number: int, prev: str) -> tuple[dict[str, Any] | None, str]:
    """``(record, "")`` for an intact record ``number``, else ``(None, reason)``."""
    try:
        record = parse_record(line)
    except RecordFormatError as exc:
        return None, exc.message
    problem = _chain_problem(record, number, prev)
    return (None, problem) if problem else (record, "")


def _chain_problem(record: dict[str, Any], number: int, prev: str) -> str:
    """Why record ``number`` (already parsed strictly) breaks the chain, or ``""``."""
    if record["seq"] != number:
        return f"sequence number {record['seq']} where {number} was expected"
    if record["prev"] != prev:
        return "its 'prev' does not match the hash of the record before it"
    if record["hash"] != record_hash(record):
        return "its content does not match its hash (the record was edited)"
    return ""


def _last_line(handle: IO[bytes]) -> bytes | None:
    """The last line of an open file (with its LF if it has one), ``None`` when empty.

    A last line longer than :data:`MAX_LINE` comes back longer than ``MAX_LINE + 1`` bytes.
    """
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return None
    chunk = 4096
    while True:
        start = max(0, end - chunk)
        handle.seek(start)
        data = handle.read(end - start)
        cut = data.rfind(b"\n", 0, len(data) - 1)
        if cut >= 0:
            return data[cut + 1 :]
        if start == 0 or len(data) > MAX_LINE + 1:
            return data
        chunk *= 2


def _tail(handle: IO[bytes], path: Path) -> AuditHead | None:
    """The head of an open log, ``None`` when empty; :class:`AuditLogError` when its last
    record does not parse strictly or does not match its own hash."""
    try:
        line = _last_line(handle)
    except OSError as exc:
        raise AuditLogError(f"cannot read the audit log {path}: {_os_reason(exc)}") from None
    if line is None:
        return None
    try:
        record = parse_record(line)
    except RecordFormatError as exc:
        _damaged(path, "its last record", exc.message)
    if record["hash"] != record_hash(record):
        _damaged(path, "its last record", "it does not match its hash (it was edited)")
    return AuditHead.of(record)


def _new_record(
    event: str, fields: dict[str, Field], head: AuditHead | None, who: str
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": head.seq + 1 if head else 1,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "operator": who,
        "event": event,
        **{k: v for k, v in fields.items() if v is not None},
        "prev": head.hash if head else GENESIS,
    }
    record["hash"] = record_hash(record)
    return record


def _encode(record: dict[str, Any]) -> bytes:
    line = json.dumps(record, sort_keys=True, ensure_ascii=True).encode("ascii")
    if len(line) > MAX_LINE:
        raise ValueError(f"audit record of {len(line)} bytes is longer than {MAX_LINE}")
    return line + b"\n"


def _write_lines(handle: IO[bytes], data: bytes, path: Path, count: int = 1) -> None:
    """Append ``data`` (``count`` whole records) and make it durable with one ``fsync``; on
    failure cut the file back to where it was (and fsync the cut) and raise
    :class:`AuditLogError` saying whether that worked."""
    end = handle.seek(0, os.SEEK_END)
    try:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as exc:
        reason = _os_reason(exc)
        try:
            handle.truncate(end)
            os.fsync(handle.fileno())
        except (OSError, ValueError) as cut:
            what = "record" if count == 1 else f"{count} records written together"
            raise AuditLogError(
                f"cannot write to the audit log {path}: {reason}; the {what} could not be "
                f"made durable, and cutting them off again failed too ({_os_error(cut)}): "
                "the log may end with records whose operations were reported as failed, or "
                "with a cut-short line that stops further appends",
                "check the log (AuditLog.verify) once the disk is fixed: records after the "
                "last one an operation reported as recorded were never confirmed",
                remedy=Remedy("audit-verify", {"path": str(path)}),
            ) from None
        raise AuditLogError(
            f"cannot write to the audit log {path}: {reason}; nothing was recorded",
            "free some space or fix the permissions, then retry",
        ) from None


def _os_error(exc: BaseException) -> str:
    return _os_reason(exc) if isinstance(exc, OSError) else type(exc).__name__


def _copy_error(exc: AuditLogError) -> AuditLogError:
    """The same error as a new object, for one caller of a batch (an exception object is
    raised in one thread only)."""
    copy = type(exc)(exc.message, exc.base_hint, remedy=exc.remedy)
    copy.notes = list(exc.notes)
    return copy


# -- group commit ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Pending:
    """One caller's record waiting for a batch: its input, then its record or error.

    ``wake`` is set once, when the entry is ``done`` or when its caller is handed the
    ``lead`` (it writes the next batch); the lock of the :class:`_Committer` guards the rest.
    """

    event: str
    fields: dict[str, Field]
    record: dict[str, Any] | None = None
    error: Exception | None = None
    done: bool = False
    lead: bool = False
    wake: threading.Event = field(default_factory=threading.Event, repr=False)

    def outcome(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert self.record is not None
        return self.record


class _Committer:
    """The group commit of one log file in this process (module contract).

    One caller at a time leads: it writes every entry waiting at that moment (its own
    among them) as one batch, then hands the lead to the first entry that arrived
    meanwhile. A caller that is not leading sleeps on its own event, so finishing a batch
    wakes the callers of that batch and the next leader, not every waiting thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._writing = False

    def append(self, log: AuditLog, pending: _Pending) -> dict[str, Any]:
        with self._lock:
            self._waiting.append(pending)
            if not self._writing:
                self._writing = pending.lead = True
        if not pending.lead:
            try:
                pending.wake.wait()
            except BaseException:  # interrupted while waiting: never strand the lead
                self._abandon(pending)
                raise
        if not pending.done:  # handed the lead: this caller writes the next batch
            self._write_batch(log)
        return pending.outcome()

    def _write_batch(self, log: AuditLog) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            log._commit(batch)
        finally:
            with self._lock:
                for entry in batch:
                    if entry.record is None and entry.error is None:  # interrupted
                        entry.error = AuditLogError(
                            f"appending to the audit log {log.path} was interrupted; the "
                            "record may or may not be in the log",
                            "check the log (AuditLog.verify)",
                        )
                    entry.done = True
                self._hand_on()
            for entry in batch:
                entry.wake.set()

    def _hand_on(self) -> None:
        """Give the lead to the first waiting entry, or end the writing (lock held)."""
        if self._waiting:
            following = self._waiting[0]
            following.lead = True
            following.wake.set()
        else:
            self._writing = False

    def _abandon(self, pending: _Pending) -> None:
        """A waiting caller gives up: its entry is dropped unless a batch took it already,
        and a lead handed to it passes on."""
        with self._lock:
            if pending in self._waiting:
                self._waiting.remove(pending)
            if pending.lead and not pending.done:
                self._hand_on()


_committers: dict[str, _Committer] = {}
_committers_lock = threading.Lock()


def _committer_for(path: Path) -> _Committer:
    """The one committer of this process for the file at ``path`` (however it is spelled)."""
    key = os.path.realpath(path)
    with _committers_lock:
        committer = _committers.get(key)
        if committer is None:
            committer = _committers[key] = _Committer()
        return committer


def _forget_committers() -> None:
    """In a forked child: the parent's batches and their locks are not ours."""
    global _committers_lock
    _committers.clear()
    _committers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_committers)


def _check_fields(fields: dict[str, Field]) -> None:
    for name, value in fields.items():
        if name in RESERVED_FIELDS:
            raise ValueError(f"audit field {name!r} is set by the log itself")
        if value is not None and not isinstance(value, str | int):
            raise TypeError(f"audit field {name!r} must be str, int, bool or None")
        if isinstance(value, str) and any(marker in value for marker in _SECRET_MARKERS):
            raise ValueError(f"audit field {name!r} looks like key material; it is never logged")


# -- strict parsing -------------------------------------------------------------------------


def _bad(reason: str) -> NoReturn:
    raise RecordFormatError(reason)


def _line_body(line: bytes) -> bytes:
    """The line without its LF, once its bytes are those of an xsudo record."""
    if len(line) > MAX_LINE + 1:
        _bad(f"the line is longer than {MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        _bad("the line is cut short (no newline at its end)")
    body = line[:-1]
    if body.startswith(_BOM):
        _bad("the line starts with a UTF-8 byte order mark")
    if b"\r" in body:
        _bad("a carriage return (CRLF line end)" if body.endswith(b"\r") else "a carriage return")
    if not body.isascii():
        _bad(_non_ascii_reason(body))
    if not body.strip():
        _bad("an empty line")
    depth = _nesting_depth(body)
    if depth > MAX_DEPTH:
        _bad(f"objects or arrays nested {depth} deep")
    return body


def _non_ascii_reason(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not UTF-8"
    return "non-ASCII characters (xsudo writes ASCII only)"


def _nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped (no recursion)."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b'""', body):
        if byte in b"{[":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"}]":
            depth -= 1
    return deepest


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            body.decode("ascii"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_no_float,
        )
    except ValueError as exc:
        _bad(f"not valid JSON ({str(exc)[:120]})")
    if not isinstance(value, dict):
        _bad("not a JSON object")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            _bad(f"the key {key[:40]!r} appears twice")
        record[key] = value
    return record


def _no_constant(name: str) -> NoReturn:
    _bad(f"{name} is not a JSON value")


def _no_float(text: str) -> NoReturn:
    _bad(f"a fractional number ({text[:40]}); records hold integers only")


def _check_values(record: dict[str, Any]) -> None:
    for name, value in record.items():
        if isinstance(value, dict | list):
            kind = "object" if isinstance(value, dict) else "array"
            _bad(f"field {name[:40]!r} holds a nested {kind}")
    seq = record.get("seq")
    if type(seq) is not int:
        _bad("'seq' is missing or not an integer")
    for name in ("hash", "prev"):
        value = record.get(name)
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            _bad(f"{name!r} is missing or not 64 lower-case hex digits")
