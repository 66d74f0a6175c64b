"""Interop: Nordic's nrfcredstore 2.1.0 CLI drives the simulator over a real pty.

Only nrfcredstore's USB port lookup is bypassed (see ``nrfcredstore_shim.py``); its own
code opens the pty with pyserial and speaks AT. The SHA it lists must be SHA-256 of the
bytes it actually sent, which nrfcredstore derives from the file with ``rstrip()``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xsudo.sim import Board, PtyServer, SimOptions

from .conftest import amazon_root_ca

pytest.importorskip("nrfcredstore")

SHIM = Path(__file__).with_name("nrfcredstore_shim.py")
REPO = Path(__file__).resolve().parents[2]
PEM_TEXT = amazon_root_ca()["content"]


class RecordingBoard(Board):
    """The real board, keeping a copy of every command it received."""

    def __init__(self, options: SimOptions) -> None:
        super().__init__(options)
        self.received: list[bytes] = []

    def command(self, command: bytes) -> bytes:
        self.received.append(command)
        return super().command(command)


@pytest.fixture
def board() -> Iterator[tuple[RecordingBoard, str]]:
    recording = RecordingBoard(SimOptions())
    with PtyServer(board=recording) as server:
        yield recording, server.path


def nrfcredstore(path: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SHIM), path, "--timeout", "5", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def listed(stdout: str) -> dict[tuple[int, str], str]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        tag, type_name, sha = line.split()
        rows[(int(tag), type_name)] = sha
    return rows


def test_write_list_delete_with_nrfcredstore(
    board: tuple[RecordingBoard, str], tmp_path: Path
) -> None:
    recording, path = board
    pem_file = tmp_path / "AmazonRootCA1.pem"
    pem_file.write_text(PEM_TEXT)

    nrfcredstore(path, "write", "42", "ROOT_CA_CERT", str(pem_file))
    (sent,) = [c for c in recording.received if c.lstrip().startswith(b"AT%CMNG=0,42,0,")]
    content = sent[sent.index(b'"') + 1 : sent.rindex(b'"')]
    assert content == PEM_TEXT.rstrip().encode("ascii")
    assert recording.modem.nvm.credentials[(42, 0)] == content
    assert b"AT+CFUN=4" in [c.strip() for c in recording.received]

    rows = listed(nrfcredstore(path, "list"))
    expected_sha = hashlib.sha256(content).hexdigest().upper()
    assert rows[(42, "ROOT_CA_CERT")] == expected_sha
    assert expected_sha.startswith("AD6FB002") and expected_sha.endswith("3FB9EA74")
    assert expected_sha != amazon_root_ca()["sha256_upper_hex"]
    assert (4294967294, "DEV_ID_PUB_KEY") in rows

    nrfcredstore(path, "delete", "42", "ROOT_CA_CERT")
    # nrfcredstore 2.1.0's CredStore.delete() returns None, so it never prints its
    # "deleted" message; the exit status (it raises on failure) and the board tell.
    assert b"AT%CMNG=3,42,0" in [c.strip() for c in recording.received]
    assert (42, 0) not in recording.modem.nvm.credentials
    assert (42, "ROOT_CA_CERT") not in listed(nrfcredstore(path, "list"))


def test_imei_with_nrfcredstore(board: tuple[RecordingBoard, str]) -> None:
    _, path = board
    assert "IMEI: 352656100367872" in nrfcredstore(path, "imei")
