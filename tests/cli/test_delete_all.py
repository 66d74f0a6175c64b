"""``xsudo cred delete --all`` end to end on pty boards: what it deletes, what it never
touches (the modem's reserved entries, %XPMNG public keys), confirmation, and failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ports.terminal import run_on_terminal
from tests.support.boards import Result, snapshot
from xsudo.sim import Board, PtyServer, SimOptions

Run = Callable[..., Result]
Boards = Callable[..., PtyServer]

RESERVED = {(4294967292, 11), (4294967293, 10), (4294967294, 6)}
SEEDED = {(7, 0), (7, 4), (12, 3), (12, 4), (20, 5)}


def seed(server: PtyServer) -> None:
    """User credentials on tags 7, 12 and 20 (a type-5 key outside the XPMNG slots), put
    straight into the board's storage (the locked profile refuses plain writes)."""
    server.board.modem.nvm.credentials.update(
        {
            (7, 0): b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
            (7, 4): b"device-7",
            (12, 3): b"00112233",
            (12, 4): b"device-12",
            (20, 5): b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        }
    )


def upload_key(xsudo: Run, server: PtyServer) -> None:
    assert xsudo("key", "generate", "alpha").code == 0
    assert xsudo("device", "upload-key", "--port", server.path, "--key", "alpha").code == 0


@pytest.mark.parametrize("cmd_type", ["at", "shell"])
def test_everything_but_reserved_and_xpmng_keys_is_deleted(
    xsudo: Run, board: Boards, cmd_type: str
) -> None:
    server = board("nrf9160-1.3", cmd_type=cmd_type)
    seed(server)
    upload_key(xsudo, server)
    assert set(snapshot(server)) == RESERVED | SEEDED | {(0, 5)}

    result = xsudo("cred", "delete", "--all", "--yes", "--port", server.path, "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert sorted((d["tag"], d["type_id"]) for d in summary["deleted"]) == sorted(SEEDED)
    assert all(d["action"] == "deleted" for d in summary["deleted"])
    assert {(k["tag"], k["type_id"]) for k in summary["kept"]} == RESERVED | {(0, 5)}
    assert summary["failed"] == []
    assert set(snapshot(server)) == RESERVED | {(0, 5)}
    assert "deleted 5, kept 4, failed 0" in result.err

    # The XPMNG key goes only when asked for by name.
    named = xsudo(
        "cred", "delete", "--port", server.path, "--tag", "0", "--type", "public-key", "--yes"
    )
    assert named.code == 0, named.err
    assert set(snapshot(server)) == RESERVED


def test_tag_filter_and_nothing_to_do(xsudo: Run, board: Boards) -> None:
    server = board()
    seed(server)
    result = xsudo("cred", "delete", "--all", "--tag", "12", "--yes", "--port", server.path)
    assert result.code == 0, result.err
    assert "deleted: tag 12 psk via plain" in result.out
    assert set(snapshot(server)) == RESERVED | (SEEDED - {(12, 3), (12, 4)})
    again = xsudo("cred", "delete", "--all", "--tag", "12", "--yes", "--port", server.path)
    assert again.code == 0 and "deleted 0, kept 0, failed 0 under tag 12" in again.err


def test_usage_errors_touch_nothing(xsudo: Run, board: Boards) -> None:
    server = board()
    seed(server)
    before = snapshot(server)
    unconfirmed = xsudo("cred", "delete", "--all", "--port", server.path)
    assert unconfirmed.code == 2 and "--yes" in unconfirmed.err
    with_type = xsudo("cred", "delete", "--all", "--type", "psk", "--yes", "--port", server.path)
    assert with_type.code == 2 and "takes no --type" in with_type.err
    neither = xsudo("cred", "delete", "--yes", "--port", server.path)
    assert neither.code == 2 and "--tag and --type" in neither.err
    assert snapshot(server) == before


def test_locked_board_needs_the_key_for_every_delete(xsudo: Run, board: Boards) -> None:
    server = board("locked")
    seed(server)
    refused = xsudo("cred", "delete", "--all", "--yes", "--port", server.path, "--json")
    assert refused.code == 1
    summary = refused.json()
    assert summary["deleted"] == []
    assert len(summary["failed"]) == len(SEEDED)
    assert all("514" in f["error"] for f in summary["failed"])
    assert set(snapshot(server)) == RESERVED | SEEDED

    upload_key(xsudo, server)
    signed = xsudo(
        "cred", "delete", "--all", "--yes", "--port", server.path, "--key", "alpha", "--json"
    )
    assert signed.code == 0, signed.err
    assert {d["auth"] for d in signed.json()["deleted"]} == {"xsudo"}
    assert set(snapshot(server)) == RESERVED | {(0, 5)}


class RefusingBoard(Board):
    """A board whose modem refuses to delete one entry (as firmware may for protected ones)."""

    def command(self, command: bytes) -> bytes:
        if command.strip() == b"AT%CMNG=3,12,3":
            self.modem.handle(b"AT")  # counted like any command
            return b"+CME ERROR: 514\r\n"
        return super().command(command)


def test_partial_failure_is_reported_with_exit_1(xsudo: Run, tmp_path: Path) -> None:
    options = SimOptions(profile="nrf91x1-2.0", state=str(tmp_path / "board.json"))
    with PtyServer(board=RefusingBoard(options)) as server:
        seed(server)
        result = xsudo("cred", "delete", "--all", "--yes", "--port", server.path)
        assert result.code == 1
        assert "failed: tag 12 psk:" in result.out and "514" in result.out
        assert "deleted 4, kept 3, failed 1" in result.err
        assert set(snapshot(server)) == RESERVED | {(12, 3)}


@pytest.mark.parametrize(("answer", "code"), [(b"n\n", 1), (b"y\n", 0)])
def test_confirmation_on_a_terminal(board: Boards, answer: bytes, code: int) -> None:
    server = board()
    seed(server)
    args = ["cred", "delete", "--all", "--port", server.path]
    status, seen = run_on_terminal(args, b"[y/N]", answer)
    assert status == code, seen
    assert b"delete 5 credentials (7/ca-cert, 7/psk-id, 12/psk, 12/psk-id, 20/" in seen
    remaining = set(snapshot(server))
    assert remaining == (RESERVED | SEEDED if code else RESERVED)
