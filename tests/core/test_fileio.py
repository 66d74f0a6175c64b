"""The capped reader every input file goes through (:mod:`xsudo.fileio`)."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest

from xsudo.errors import BadInputError, InsecureStoreError
from xsudo.fileio import (
    CREDENTIAL_FILE_LIMIT,
    KEY_FILE_LIMIT,
    LINE_FILE_LIMIT,
    MANIFEST_LIMIT,
    SECRET_FILE_LIMIT,
    InputFileMissing,
    read_input,
    read_optional_input,
    read_stream,
    show_path,
)

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(os.name != "posix", reason="FIFOs, sockets and modes are POSIX"),
]


def test_caps_are_what_the_inputs_need() -> None:
    assert SECRET_FILE_LIMIT == 4 * 1024
    assert KEY_FILE_LIMIT <= CREDENTIAL_FILE_LIMIT <= 512 * 1024
    assert MANIFEST_LIMIT == 1024 * 1024
    assert LINE_FILE_LIMIT == 16 * 1024 * 1024


def test_reads_exact_bytes_up_to_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\x00\r\nabc")
    assert read_input(path, "the file", limit=6) == b"\x00\r\nabc"
    path.write_bytes(b"")
    assert read_input(path, "the file", limit=0) == b""


def test_one_byte_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(BadInputError) as caught:
        read_input(path, "the file", limit=10)
    assert str(caught.value) == (
        f"the file {path} is larger than 10 bytes; check that this is the right file"
    )
    assert caught.value.exit_code == 2


def test_a_file_whose_size_lies_is_still_capped(tmp_path: Path) -> None:
    """/proc files report size 0 and can be long; the read itself stops at limit + 1."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc")
    assert status.stat().st_size == 0
    with pytest.raises(BadInputError, match="is larger than 16 bytes"):
        read_input(status, "the file", limit=16)


def special(tmp_path: Path, name: str) -> Path:
    if name == "fifo":
        os.mkfifo(tmp_path / "fifo")
        return tmp_path / "fifo"
    return tmp_path if name == "directory" else Path(f"/dev/{name}")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("zero", "a character device"),
        ("null", "a character device"),
        ("fifo", "a FIFO (named pipe)"),
        ("directory", "a directory"),
    ],
)
def test_special_files_are_refused_without_reading(tmp_path: Path, name: str, kind: str) -> None:
    path = special(tmp_path, name)
    with pytest.raises(BadInputError) as caught:
        read_input(path, "the credential file", limit=CREDENTIAL_FILE_LIMIT)
    assert str(caught.value) == (
        f"the credential file {path} is {kind}, not a regular file; give the path of a "
        "regular file (devices, FIFOs and directories are refused)"
    )


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(BadInputError, match="is a socket, not a regular file"):
            read_input(path, "the file", limit=10)
    finally:
        server.close()


def test_a_symlink_to_a_fifo_is_refused_and_to_a_file_followed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to-fifo").symlink_to(tmp_path / "fifo")
    with pytest.raises(BadInputError, match="is a FIFO"):
        read_input(tmp_path / "to-fifo", "the file", limit=10)
    (tmp_path / "real").write_bytes(b"ok")
    (tmp_path / "to-real").symlink_to(tmp_path / "real")
    assert read_input(tmp_path / "to-real", "the file", limit=10) == b"ok"


def test_missing_file_and_optional_read(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputFileMissing) as caught:
        read_input(missing, "the manifest", limit=10, hint="check the path")
    assert str(caught.value) == (
        f"cannot read the manifest {missing}: No such file or directory; check the path"
    )
    assert isinstance(caught.value, BadInputError)
    assert read_optional_input(missing, "the file", limit=10) is None
    with pytest.raises(BadInputError, match="is a character device"):
        read_optional_input("/dev/zero", "the file", limit=10)


def test_unreadable_and_nul_paths_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="the path contains a NUL byte"):
        read_input("a\0b", "the file", limit=10)
    weird = tmp_path / "line\nbreak"
    with pytest.raises(InputFileMissing) as caught:
        read_input(weird, "the file", limit=10)
    assert "\n" not in str(caught.value)
    assert show_path(weird) == repr(str(weird))


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_private_file_with_owner_only_mode_is_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pin"
    path.write_bytes(b"1234\n")
    path.chmod(mode)
    assert read_input(path, "the PIN file", limit=SECRET_FILE_LIMIT, private=True) == b"1234\n"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640, 0o660, 0o606, 0o610, 0o601])
def test_private_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pin"
    path.write_bytes(b"1234\n")
    path.chmod(mode)
    with pytest.raises(InsecureStoreError) as caught:
        read_input(path, "the PIN file", limit=SECRET_FILE_LIMIT, private=True)
    assert str(caught.value) == (
        f"the PIN file {path} is accessible by group or others (mode 0{mode:o}); "
        f"restrict it with: chmod 600 {path}"
    )
    assert "1234" not in str(caught.value)
    assert read_input(path, "a public file", limit=10) == b"1234\n"  # only private=True checks


def test_read_stream_caps_stdin() -> None:
    assert read_stream(io.BytesIO(b"abc"), "the line on stdin", limit=3) == b"abc"
    with pytest.raises(BadInputError, match="the line on stdin is larger than 2 bytes"):
        read_stream(io.BytesIO(b"abc"), "the line on stdin", limit=2)
