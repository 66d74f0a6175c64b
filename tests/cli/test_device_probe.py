"""``xsudo device probe`` over a real pty: the profile it writes, what it sends, the scratch
tag it refuses, and the simulator built from its file answering the same probe the same
way."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.boards import PROFILES, Result, snapshot
from tests.support.cli import assert_one_line_error
from xsudo.sim import PtyServer, SimOptions

Run = Callable[..., Result]
Board = Callable[..., PtyServer]
SCRATCH = "4242"
WRITES = (b"AT%CMNG=0", b"AT%CMNG=3", b"AT%KEYGEN", b"AT%XPMNG=0", b"AT%XSUDO")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "probed.json"


@pytest.fixture
def file_board() -> Iterator[Callable[[Path], PtyServer]]:
    """``file_board(profile_file)`` starts a board built from a profile file on a pty."""
    servers: list[PtyServer] = []
    with tempfile.TemporaryDirectory() as tmp:

        def start(path: Path) -> PtyServer:
            state = Path(tmp) / f"file-board{len(servers)}.json"
            server = PtyServer(SimOptions(profile_file=str(path), state=str(state)))
            server.start()
            servers.append(server)
            return server

        try:
            yield start
        finally:
            for server in servers:
                server.close()


def commands_seen(server: PtyServer) -> list[bytes]:
    return [record.command for record in server.board.journal]


@pytest.mark.parametrize("profile", PROFILES)
def test_read_only_probe_writes_a_loadable_profile_and_sends_no_write(
    xsudo: Run, board: Board, out: Path, profile: str
) -> None:
    server = board(profile)
    before = snapshot(server)
    result = xsudo("device", "probe", "--port", server.path, "--out", str(out))
    assert result.code == 0, result.err
    assert "xproddone:" in result.out and str(out.name) in result.err
    loaded = SimOptions(profile_file=str(out))
    assert loaded.effective_mfw == server.board.options.effective_mfw
    sent = commands_seen(server)
    assert not [c for c in sent if c.upper().startswith(WRITES)], sent
    assert b"AT%XPRODDONE=?" in sent and b"AT%XPRODDONE" not in sent
    assert snapshot(server) == before
    assert server.board.modem.nvm.production_done is False


@pytest.mark.parametrize("profile", PROFILES)
def test_the_simulator_from_the_probed_file_answers_the_probe_the_same(
    xsudo: Run, board: Board, file_board: Callable[[Path], PtyServer], tmp_path: Path, profile: str
) -> None:
    first_out, second_out = tmp_path / "first.json", tmp_path / "second.json"
    first = xsudo(
        "device", "probe", "--port", board(profile).path, "--scratch-tag", SCRATCH,
        "--out", str(first_out), "--json",
    )  # fmt: skip
    assert first.code == 0, first.err
    second = xsudo(
        "device", "probe", "--port", file_board(first_out).path, "--scratch-tag", SCRATCH,
        "--out", str(second_out), "--json",
    )  # fmt: skip
    assert second.code == 0, second.err
    assert json.loads(second_out.read_text()) == json.loads(first_out.read_text())
    assert second.json() == first.json()


def test_signed_probes_with_an_uploaded_key(xsudo: Run, board: Board, out: Path) -> None:
    server = board("nrf9151-2.0", xpmng_exists_code=519)
    assert xsudo("key", "generate", "factory").code == 0
    upload = xsudo("device", "upload-key", "--key", "factory", "--slot", "2", "--port", server.path)
    assert upload.code == 0, upload.err
    before = snapshot(server)
    result = xsudo(
        "device", "probe", "--port", server.path, "--key", "factory", "--slot", "2",
        "--scratch-tag", SCRATCH, "--out", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["signed"] is True
    traits = json.loads(out.read_text())["traits"]
    assert traits["xpmng_exists_code"] == 519
    assert traits["accept_raw_signatures"] is False
    assert traits["validate_content"] is True
    assert snapshot(server) == before  # the scratch tag is empty again, the slot unchanged
    assert not any(tag == int(SCRATCH) for tag, _ in snapshot(server))


@pytest.mark.parametrize("held_type", [0, 4])
def test_a_scratch_tag_that_holds_anything_is_refused(
    xsudo: Run, board: Board, out: Path, held_type: int
) -> None:
    server = board("nrf91x1-2.0")
    server.board.modem.nvm.credentials[(int(SCRATCH), held_type)] = b"keep me"
    before = snapshot(server)
    result = xsudo(
        "device", "probe", "--port", server.path, "--scratch-tag", SCRATCH, "--out", str(out)
    )
    assert_one_line_error(result.code, result.out, result.err, f"scratch tag {SCRATCH} holds")
    assert snapshot(server) == before
    assert not out.exists()
    assert not [c for c in commands_seen(server) if c.upper().startswith(WRITES)]


def test_a_reserved_scratch_tag_is_bad_usage(xsudo: Run, board: Board, out: Path) -> None:
    server = board()
    result = xsudo(
        "device", "probe", "--port", server.path, "--scratch-tag", "2147483648", "--out", str(out)
    )
    assert result.code == 2 and "--scratch-tag" in result.err
    assert commands_seen(server) == []


def test_out_is_required(xsudo: Run, board: Board) -> None:
    result = xsudo("device", "probe", "--port", board().path)
    assert result.code == 2 and "--out" in result.err
