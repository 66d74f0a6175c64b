"""The board's NVM survives restarts through its state file; volatile state does not."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

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


# -- hostile state files: one StateFileError line naming the file, wherever it is loaded --


def _state_with(**changes: Any) -> bytes:
    data = Nvm.fresh(seed_reserved=False).to_json()
    data["credentials"] = [{"tag": 42, "type": 0, "content_b64": "QQ=="}]
    for name, value in changes.items():
        data["credentials"][0][name] = value
    return json.dumps(data).encode()


HOSTILE = {
    "huge-number": b'{"format": ' + b"9" * 5000 + b"}",
    "huge-negative": b'{"credentials": [{"tag": -' + b"1" * 5000 + b"}]}",
    "deep-array": b"[" * 100_000,
    "deep-object": b'{"a":' * 50_000,
    "not-utf8": b'{"format": "xsudo-sim-state/1\xff\xfe"}',
    "latin1": '{"format": "é"}'.encode("latin-1"),
    "tag-true": _state_with(tag=True),
    "tag-float-inf": _state_with(tag=1e400),
    "tag-string": _state_with(tag="42"),
    "tag-negative": _state_with(tag=-1),
    "content-not-string": _state_with(content_b64=5),
    "credentials-object": b'{"format": "xsudo-sim-state/1", "identity_key": "", "credentials": {}}',
    "scalar": b"42",
}


@pytest.fixture(params=sorted(HOSTILE))
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "board.json"
    path.write_bytes(HOSTILE[request.param])
    return path


def assert_one_line(error: BaseException, path: Path) -> None:
    assert isinstance(error, StateFileError), repr(error)
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    assert error.exit_code == 2


def test_hostile_state_file_is_one_line_naming_it(hostile: Path) -> None:
    with pytest.raises(StateFileError) as info:
        load_nvm(hostile)
    assert_one_line(info.value, hostile)
    assert "is not a simulator state file" in str(info.value)


def test_hostile_state_file_through_sim_url_is_not_a_port_error(hostile: Path) -> None:
    import serial

    from xsudo.at.transport import open_port
    from xsudo.sim import register_url_handler

    register_url_handler()
    with pytest.raises(StateFileError) as info:
        serial.serial_for_url(f"sim://?state={hostile}")
    assert_one_line(info.value, hostile)
    with pytest.raises(StateFileError) as info:
        open_port(f"sim://?state={hostile}")
    assert_one_line(info.value, hostile)


@pytest.mark.timeout(30)
def test_hostile_state_file_through_the_sim_command(
    hostile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xsudo.cli import main

    with pytest.raises(SystemExit) as info:
        main(["sim", "--pty", "--state", str(hostile)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert str(hostile) in err and "Traceback" not in err


@pytest.mark.timeout(30)
@pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")
def test_special_or_oversized_state_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    for path, why in ((fifo, "is a FIFO"), (Path("/dev/zero"), "is a character device")):
        with pytest.raises(StateFileError, match=why) as info:
            load_nvm(path)
        assert_one_line(info.value, path)
    with pytest.raises(StateFileError, match="is larger than 16777216 bytes") as info:
        load_nvm(big)
    assert_one_line(info.value, big)


def test_a_good_state_file_still_loads_after_the_bounds(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    path.write_bytes(_state_with())
    nvm = load_nvm(path)
    assert nvm is not None and nvm.credentials == {(42, 0): b"A"}
