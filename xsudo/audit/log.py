"""A hash-chained, append-only audit log of signatures and device writes (JSON lines).

Each record is one JSON object on one line. ``prev`` is the ``hash`` of the record before it
(64 zeros for the first), and ``hash`` is the SHA-256 of the record's canonical JSON
(sorted keys, no whitespace) without the ``hash`` field. Editing a record breaks its hash;
deleting or reordering records breaks the ``prev`` link or the ``seq`` count. Truncating the
tail cannot be detected from the file alone: keep the last ``hash`` elsewhere (a report, a
ticket) when that matters.

Records hold metadata only (fingerprints, SHAs, tags, results): :meth:`AuditLog.append`
accepts scalar fields and refuses anything that looks like key material.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
AUDIT_FILE = "audit.jsonl"
Field = str | int | bool | None

_lock = threading.Lock()
_SECRET_MARKERS = ("PRIVATE KEY", "ENCRYPTED")


def record_hash(record: dict[str, Any]) -> str:
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


@dataclass(frozen=True)
class ChainReport:
    """Result of checking a log: ``ok``, how many records, and the first broken one."""

    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""
    last_hash: str = GENESIS

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "first_bad_record": self.first_bad,
            "reason": self.reason,
            "last_hash": self.last_hash,
        }


class AuditLog:
    """The audit log at ``path``. Appends are serialised across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_home(cls, home: Path) -> AuditLog:
        return cls(home / AUDIT_FILE)

    def append(self, event: str, **fields: Field) -> dict[str, Any]:
        """Append one record for ``event`` with the given scalar ``fields``; return it."""
        _refuse_secrets(fields)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _lock, open(self.path, "a+b") as handle, _exclusive(handle):
            seq, prev = _tail(handle)
            record: dict[str, Any] = {
                "seq": seq + 1,
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "operator": operator(),
                "event": event,
                **{k: v for k, v in fields.items() if v is not None},
                "prev": prev,
            }
            record["hash"] = record_hash(record)
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(record, sort_keys=True).encode("ascii") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in order (raises ValueError on a line that is not a JSON object)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    yield _parse_record(raw)

    def verify(self) -> ChainReport:
        """Check every record's hash, ``prev`` link and ``seq``; report the first broken one."""
        prev, count = GENESIS, 0
        if not self.path.exists():
            return ChainReport(True, 0)
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                problem = _check_line(raw, number, prev)
                if problem:
                    return ChainReport(False, count, number, problem, prev)
                prev = json.loads(raw)["hash"]
                count += 1
        return ChainReport(True, count, None, "", prev)


@contextlib.contextmanager
def _exclusive(handle: Any) -> Iterator[None]:
    """Hold an exclusive lock on the open log across processes (flock on POSIX, a
    one-byte lock at offset 0 on Windows)."""
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

    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _parse_record(raw: bytes) -> dict[str, Any]:
    record = json.loads(raw)
    if not isinstance(record, dict):
        raise ValueError("audit record is not a JSON object")
    return record


def _check_line(raw: bytes, number: int, prev: str) -> str:
    """Why line ``number`` breaks the chain, or an empty string."""
    try:
        record = _parse_record(raw)
    except ValueError:
        return "not a JSON object"
    if record.get("seq") != number:
        return f"sequence number {record.get('seq')} where {number} was expected"
    if record.get("prev") != prev:
        return "its 'prev' does not match the hash of the record before it"
    if record.get("hash") != record_hash(record):
        return "its content does not match its hash (the record was edited)"
    return ""


def _tail(handle: Any) -> tuple[int, str]:
    """``(seq, hash)`` of the last record in an open log, ``(0, GENESIS)`` when empty."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return 0, GENESIS
    chunk = 4096
    while True:
        start = max(0, end - chunk)
        handle.seek(start)
        data = handle.read(end - start)
        lines = [line for line in data.split(b"\n") if line.strip()]
        if lines and (start == 0 or len(lines) > 1):
            last = _parse_record(lines[-1])
            return int(last["seq"]), str(last["hash"])
        if start == 0:
            return 0, GENESIS
        chunk *= 2


def _refuse_secrets(fields: dict[str, Field]) -> None:
    for name, value in fields.items():
        if isinstance(value, str) and any(marker in value for marker in _SECRET_MARKERS):
            raise ValueError(f"audit field {name!r} looks like key material; it is never logged")
