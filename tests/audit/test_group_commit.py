"""Group commit of audit appends (module contract of :mod:`xsudo.audit.log`).

Threads of one process share one write and one fsync per batch. The order of events is
observed by instrumenting ``os.fsync`` (never by timing): a gate holds the first batch inside
its fsync while the other callers queue, so the next batch is known to hold all of them.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.audit.support import fill, lines_of
from xsudo.audit import log as audit_log
from xsudo.audit.log import MAX_LINE, AuditLog, AuditLogError

DEADLINE = 30.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Return once ``condition()`` holds; fail the test after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.001)


class FsyncProbe:
    """``os.fsync`` instrumented for the log at ``path``.

    Every fsync of the log adds ``("fsync", lines)`` to :attr:`events` once the real fsync
    has returned (``lines``: the records the file held, so the ones that fsync covered).
    The first one waits at a gate until :meth:`release`; :attr:`fail_next` makes the next
    fsync of the log raise that error instead.
    """

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.events: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.gate = threading.Event()
        self.fail_next: OSError | None = None
        self.calls = 0
        self._real = os.fsync
        self._inode = path.stat().st_ino
        monkeypatch.setattr(os, "fsync", self._fsync)

    def _fsync(self, fd: int) -> None:
        if os.fstat(fd).st_ino != self._inode:
            self._real(fd)
            return
        with self.lock:
            self.calls += 1
            first = self.calls == 1
            failure, self.fail_next = self.fail_next, None
        if first:
            self.held.set()
            assert self.gate.wait(DEADLINE)
        if failure is not None:
            raise failure
        lines = len(lines_of(self.path))
        self._real(fd)
        self.note("fsync", lines)

    def note(self, kind: str, value: int) -> None:
        with self.lock:
            self.events.append((kind, value))

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    """A log that already holds two records."""
    made = AuditLog(tmp_path / "audit.jsonl")
    fill(made, 2)
    return made


def queued(log: AuditLog) -> int:
    """How many callers wait for the next batch of ``log``."""
    return len(audit_log._committer_for(log.path)._waiting)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def append_noting(log: AuditLog, probe: FsyncProbe, **fields: Any) -> dict[str, Any]:
    record = log.append("write", **fields)
    probe.note("return", record["seq"])
    return record


def hold_first_batch(
    log: AuditLog,
    probe: FsyncProbe,
    pool: ThreadPoolExecutor,
    others: list[dict[str, Any]],
) -> tuple[Future[dict[str, Any]], list[Future[dict[str, Any]]]]:
    """Start one append and hold its batch in fsync; queue ``others`` behind it."""
    first = pool.submit(append_noting, log, probe, tag=0, result="written")
    assert probe.held.wait(DEADLINE)
    rest = [pool.submit(append_noting, log, probe, **fields) for fields in others]
    wait_for(lambda: queued(log) == len(others), f"{len(others)} callers are queued")
    return first, rest


def test_a_caller_returns_only_after_the_fsync_covering_its_record(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    probe = FsyncProbe(log.path, monkeypatch)
    others = [{"tag": n, "result": "written"} for n in range(1, 11)]
    first, rest = hold_first_batch(log, probe, pool, others)
    assert len(lines_of(log.path)) == 3  # the first record is written ...
    assert not first.done() and probe.events == []  # ... but nobody returned before its fsync
    probe.release()
    records = [first.result(DEADLINE)] + [f.result(DEADLINE) for f in rest]

    assert probe.calls == 2  # one fsync for the held record, one for the ten queued behind it
    fsyncs = [(i, lines) for i, (kind, lines) in enumerate(probe.events) if kind == "fsync"]
    assert [lines for _, lines in fsyncs] == [3, 13]
    for index, (kind, seq) in enumerate(probe.events):
        if kind == "return":
            assert any(at < index and lines >= seq for at, lines in fsyncs), probe.events
    assert sorted(r["seq"] for r in records) == list(range(3, 14))
    on_disk = {r["seq"]: r for r in map(json.loads, lines_of(log.path))}
    assert all(on_disk[r["seq"]] == r for r in records)  # each caller got its own record
    report = log.verify()
    assert report.ok and report.count == 13


def test_many_threads_appending_at_once_make_one_valid_chain(log: AuditLog) -> None:
    threads, each = 16, 25
    start = threading.Barrier(threads)

    def worker(index: int) -> list[int]:
        start.wait()
        return [log.append("write", tag=index, data_len=n, result="ok")["seq"] for n in range(each)]

    with ThreadPoolExecutor(max_workers=threads) as executor:
        seqs = list(executor.map(worker, range(threads)))
    report = log.verify()
    assert report.ok, report.reason
    assert report.count == 2 + threads * each
    assert sorted(s for mine in seqs for s in mine) == list(range(3, 3 + threads * each))
    records = [json.loads(line) for line in lines_of(log.path)][2:]
    for index, mine in enumerate(seqs):
        assert mine == sorted(mine)  # each thread's appends are in its own order
        assert [records[s - 3]["data_len"] for s in mine] == list(range(each))
        assert {records[s - 3]["tag"] for s in mine} == {index}


@pytest.mark.parametrize("where", ["fsync", "write"])
def test_a_failed_batch_fails_every_caller_and_leaves_the_file_as_before(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor, where: str
) -> None:
    probe = FsyncProbe(log.path, monkeypatch)
    others = [{"tag": n, "result": "written"} for n in range(1, 9)]
    first, rest = hold_first_batch(log, probe, pool, others)
    before = log.path.read_bytes()  # the first record is written, the others are queued
    assert len(before.splitlines()) == 3
    no_space = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "fsync":
        probe.fail_next = no_space
    else:
        monkeypatch.setattr(audit_log, "open_private_append", _half_writes(no_space))
    probe.release()
    assert first.result(DEADLINE)["seq"] == 3
    for future in rest:
        with pytest.raises(AuditLogError) as raised:
            future.result(DEADLINE)
        assert "nothing was recorded" in raised.value.message
        assert "No space left on device" in raised.value.message
    assert log.path.read_bytes() == before
    monkeypatch.undo()
    assert log.append("write", result="written")["seq"] == 4  # the log goes on
    report = log.verify()
    assert report.ok and report.count == 4


def _half_writes(error: OSError) -> Callable[[Path], Any]:
    """``open_private_append`` whose handle writes half of what it is given, then fails."""
    real = audit_log.open_private_append

    class HalfWriting:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def write(self, data: bytes) -> int:
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            raise error

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

        def __enter__(self) -> HalfWriting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

    return lambda path: HalfWriting(real(path))


def test_a_batch_whose_cut_fails_says_the_log_may_hold_unconfirmed_records(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    probe = FsyncProbe(log.path, monkeypatch)
    others = [{"tag": n, "result": "written"} for n in range(1, 4)]
    first, rest = hold_first_batch(log, probe, pool, others)
    real = audit_log.open_private_append

    class NoCut:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def truncate(self, size: int) -> int:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

        def __enter__(self) -> NoCut:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

    monkeypatch.setattr(audit_log, "open_private_append", lambda path: NoCut(real(path)))
    probe.fail_next = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    probe.release()
    first.result(DEADLINE)
    for future in rest:
        with pytest.raises(AuditLogError) as raised:
            future.result(DEADLINE)
        text = raised.value.message
        assert "3 records written together" in text and "cutting them off again failed" in text
        assert "\n" not in str(raised.value)


def test_a_too_long_record_fails_only_its_own_caller(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    probe = FsyncProbe(log.path, monkeypatch)
    others: list[dict[str, Any]] = [{"tag": n, "result": "written"} for n in range(1, 6)]
    others[2] = {"tag": 3, "note": "x" * (MAX_LINE + 1)}
    first, rest = hold_first_batch(log, probe, pool, others)
    probe.release()
    first.result(DEADLINE)
    with pytest.raises(ValueError, match="longer than"):
        rest[2].result(DEADLINE)
    kept = [f.result(DEADLINE) for i, f in enumerate(rest) if i != 2]
    assert sorted(r["seq"] for r in kept) == [4, 5, 6, 7]  # the chain goes on without it
    assert probe.calls == 2  # and it was still one batch
    report = log.verify()
    assert report.ok and report.count == 7
    assert all(len(line) <= MAX_LINE + 1 for line in lines_of(log.path))


def _threads_appending(path: str, start: Any, threads: int, each: int) -> None:
    log = AuditLog(Path(path))
    start.wait()

    def worker(index: int) -> None:
        for n in range(each):
            log.append("write", tag=os.getpid(), key_slot=index, data_len=n, result="ok")

    with ThreadPoolExecutor(max_workers=threads) as executor:
        list(executor.map(worker, range(threads)))


def test_processes_each_with_many_threads_keep_one_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    path = tmp_path / "audit.jsonl"
    processes, threads, each = 4, 6, 10
    start = ctx.Barrier(processes)
    procs = [
        ctx.Process(target=_threads_appending, args=(str(path), start, threads, each))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    report = AuditLog(path).verify()
    assert report.ok, report.reason
    assert report.count == processes * threads * each
    records = [json.loads(line) for line in lines_of(path)]
    for proc in procs:
        mine = [r for r in records if r["tag"] == proc.pid]
        for slot in range(threads):
            assert [r["data_len"] for r in mine if r["key_slot"] == slot] == list(range(each))


class _InterruptedAfterWaking(threading.Event):
    """An event whose waiter is interrupted (Ctrl-C) just as it is woken."""

    def wait(self, timeout: float | None = None) -> bool:
        super().wait(timeout)
        raise KeyboardInterrupt


def test_a_waiter_interrupted_as_it_is_handed_the_lead_passes_it_on(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    probe = FsyncProbe(log.path, monkeypatch)
    first = pool.submit(append_noting, log, probe, tag=0, result="written")
    assert probe.held.wait(DEADLINE)
    committer = audit_log._committer_for(log.path)
    doomed = audit_log._Pending("write", {"tag": 99}, wake=_InterruptedAfterWaking())
    interrupted = pool.submit(committer.append, log, doomed)  # first in the queue: next lead
    wait_for(lambda: queued(log) == 1, "the interrupted caller is queued")
    rest = [pool.submit(append_noting, log, probe, tag=n, result="written") for n in (1, 2, 3)]
    wait_for(lambda: queued(log) == 4, "all callers are queued")
    probe.release()
    first.result(DEADLINE)
    with pytest.raises(KeyboardInterrupt):
        interrupted.result(DEADLINE)
    assert sorted(f.result(DEADLINE)["seq"] for f in rest) == [4, 5, 6]  # nobody is stranded
    assert 99 not in [json.loads(line).get("tag") for line in lines_of(log.path)]
    report = log.verify()
    assert report.ok and report.count == 6
