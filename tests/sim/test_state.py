"""The board's NVM survives restarts through its state file; volatile state does not."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from xsudo.sim import Board, SimOptions, StateFileError, load_nvm, save_nvm
from xsudo.sim.state import Nvm

from .conftest import amazon_root_ca, load_vectors

KEY_A = load_vectors("openssl-recipe.json")["cases"][0]["public_key_pem"].encode("ascii")
PEM_CRLF = amazon_root_ca()["content"].encode("ascii").replace(b"\n", b"\r\n")


def test_round_trip_keeps_credentials_keys_and_identity(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    first = Board(SimOptions(state=str(path)))
    modem = first.modem
    assert modem.handle(b'AT%CMNG=0,42,0,"' + PEM_CRLF + b'"') == b"OK\r\n"
    assert modem.handle(b'AT%XPMNG=0,"' + KEY_A + b'",2') == b"OK\r\n"
    assert modem.handle(b"AT%KEYGEN=7,2,0").startswith(b'%KEYGEN: "')
    modem.handle(b"AT+CMEE=1")
    modem.handle(b"AT+CFUN=1")
    listing = modem.handle(b"AT%CMNG=1")

    second = Board(SimOptions(state=str(path))).modem
    assert second.handle(b"AT%CMNG=1") == listing
    assert second.nvm.credentials[(42, 0)] == PEM_CRLF
    assert second.identity_public_pem() == modem.identity_public_pem()
    assert second.handle(b"AT%XPMNG=2,,2") == b'%XPMNG: "' + KEY_A + b'"\r\nOK\r\n'
    assert second.handle(b"AT+CMEE?") == b"+CMEE: 0\r\nOK\r\n"
    assert second.handle(b"AT+CFUN?") == b"+CFUN: 0\r\nOK\r\n"


def test_file_holds_exact_bytes_and_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    Board(SimOptions(state=str(path))).modem.handle(b'AT%CMNG=0,42,0,"' + PEM_CRLF + b'"')
    data = json.loads(path.read_text())
    assert data["format"] == "xsudo-sim-state/1"
    (entry,) = [c for c in data["credentials"] if c["tag"] == 42]
    assert base64.b64decode(entry["content_b64"]) == PEM_CRLF
    assert entry["sha256"] == hashlib.sha256(PEM_CRLF).hexdigest().upper()
    assert path.stat().st_mode & 0o077 == 0


def test_a_new_board_is_saved_at_once_so_its_identity_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    first = Board(SimOptions(state=str(path))).modem.identity_public_pem()
    assert path.exists()
    assert Board(SimOptions(state=str(path))).modem.identity_public_pem() == first


def test_atomic_write_leaves_the_old_file_when_replace_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nvm").mkdir()
    path = tmp_path / "nvm" / "board.json"
    nvm = Nvm.fresh()
    save_nvm(path, nvm)
    before = path.read_bytes()
    nvm.credentials[(1, 4)] = b"new"

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StateFileError):
        save_nvm(path, nvm)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["board.json"]


def test_atomic_write_leaves_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nvm").mkdir()
    path = tmp_path / "nvm" / "board.json"
    nvm = Nvm.fresh()
    save_nvm(path, nvm)
    before = path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StateFileError):
        save_nvm(path, nvm)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["board.json"]


def test_save_replaces_the_file_instead_of_rewriting_it(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    save_nvm(path, Nvm.fresh())
    inode = path.stat().st_ino
    save_nvm(path, Nvm.fresh())
    assert path.stat().st_ino != inode


@pytest.mark.parametrize(
    "text",
    ["not json", "{}", '{"format": "xsudo-sim-state/1"}', "[]"],
    ids=["not-json", "empty-object", "no-key", "array"],
)
def test_corrupt_state_file_is_bad_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "board.json"
    path.write_text(text)
    with pytest.raises(StateFileError) as info:
        load_nvm(path)
    assert info.value.exit_code == 2


def test_missing_state_file_is_none(tmp_path: Path) -> None:
    assert load_nvm(tmp_path / "absent.json") is None


def test_identity_key_out(tmp_path: Path) -> None:
    out = tmp_path / "identity.pem"
    board = Board(SimOptions(identity_key_out=str(out)))
    assert out.read_bytes() == board.modem.identity_public_pem()
