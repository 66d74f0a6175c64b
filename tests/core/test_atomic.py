"""xsudo.atomic.write_atomic: exact modes, replace semantics, nothing left behind, fsyncs."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xsudo import atomic
from xsudo.atomic import TempFileError, write_atomic

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and directory fsync")


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    original = os.umask(0o022)
    os.umask(original)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(original)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """An empty directory of its own (``tmp_path`` also holds the isolated xsudo home)."""
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@posix_only
@pytest.mark.parametrize("mask", [0, 0o022, 0o077, 0o777])
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_mode_is_exact_whatever_the_umask(
    work: Path, umask: Callable[[int], None], mask: int, mode: int
) -> None:
    umask(mask)
    path = work / "file"
    write_atomic(path, b"data", mode=mode)
    assert mode_of(path) == mode
    assert path.read_bytes() == b"data"


@posix_only
def test_default_mode_is_private_and_replacing_resets_a_looser_mode(
    work: Path, umask: Callable[[int], None]
) -> None:
    umask(0)
    path = work / "file"
    path.write_bytes(b"old")
    path.chmod(0o666)
    write_atomic(path, b"new")
    assert mode_of(path) == 0o600
    assert path.read_bytes() == b"new"


def test_replace_puts_a_new_file_in_place(work: Path) -> None:
    path = work / "file"
    path.write_bytes(b"old content")
    link = work / "hard-link"
    os.link(path, link)
    with path.open("rb") as reader:
        write_atomic(path, b"new")
        assert reader.read() == b"old content"  # an open reader keeps the old file
    assert path.read_bytes() == b"new"
    assert link.read_bytes() == b"old content"  # the old inode was not rewritten
    assert not os.path.samefile(path, link)
    assert listing(work) == ["file", "hard-link"]


def test_binary_data_is_written_exactly(work: Path) -> None:
    data = bytes(range(256)) * 300 + b"\r\n\n\r"
    write_atomic(work / "blob", data)
    assert (work / "blob").read_bytes() == data


def test_short_writes_are_continued(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:3]))

    monkeypatch.setattr(os, "write", short_write)
    write_atomic(work / "file", b"0123456789abcdef")
    monkeypatch.undo()
    assert (work / "file").read_bytes() == b"0123456789abcdef"


def test_a_path_without_a_directory_is_written_in_the_current_one(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work)
    write_atomic("state.json", b"{}")
    assert (work / "state.json").read_bytes() == b"{}"
    assert listing(work) == ["state.json"]


def test_no_replace_refuses_an_existing_file_or_symlink(work: Path) -> None:
    path = work / "file"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_atomic(path, b"new", replace=False)
    assert path.read_bytes() == b"precious"
    dangling = work / "dangling"
    dangling.symlink_to(work / "nowhere")
    with pytest.raises(FileExistsError):
        write_atomic(dangling, b"new", replace=False)
    assert not (work / "nowhere").exists()
    assert listing(work) == ["dangling", "file"]
    write_atomic(work / "fresh", b"new", replace=False)
    assert (work / "fresh").read_bytes() == b"new"


@pytest.mark.parametrize("failing", ["write", "fsync", "replace", "fchmod", "close"])
def test_a_failure_leaves_the_old_file_and_no_temp_file(
    work: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    if not hasattr(os, failing):
        pytest.skip(f"os.{failing} does not exist here")
    path = work / "file"
    path.write_bytes(b"old")
    real = getattr(os, failing)

    def fail(*args: object) -> None:
        if failing == "close":
            real(*args)  # really close it, then report a failure
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert listing(work) == ["file"]


def test_an_interrupted_write_leaves_no_temp_file(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(work / "file", b"new")
    monkeypatch.undo()
    assert listing(work) == []


def test_a_missing_directory_is_a_temp_file_error(work: Path) -> None:
    with pytest.raises(TempFileError) as caught:
        write_atomic(work / "missing" / "file", b"data")
    assert caught.value.errno == errno.ENOENT
    assert caught.value.strerror
    assert isinstance(caught.value, OSError)
    assert listing(work) == []


@posix_only
def test_file_then_directory_are_fsynced_around_the_rename(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(work / "file", b"data")
    assert events == ["fsync file", "replace", "fsync dir"]
    events.clear()
    write_atomic(work / "scratch", b"data", durable=False)
    assert events == ["replace"]


@posix_only
def test_a_directory_fsync_failure_is_not_an_error_after_the_rename(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_atomic(work / "file", b"data")
    assert (work / "file").read_bytes() == b"data"
    assert atomic.fsync_directory(work) is False
    monkeypatch.undo()
    assert atomic.fsync_directory(work) is True
    assert atomic.fsync_directory(work / "missing") is False


def test_without_fchmod_the_file_is_still_private(
    work: Path, monkeypatch: pytest.MonkeyPatch, umask: Callable[[int], None]
) -> None:
    """As on Windows before Python 3.13: mkstemp's own 0600 is what the file gets."""
    umask(0)
    monkeypatch.delattr(os, "fchmod", raising=False)
    write_atomic(work / "file", b"data")
    assert (work / "file").read_bytes() == b"data"
    if os.name == "posix":
        assert mode_of(work / "file") == 0o600
