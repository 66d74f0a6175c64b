"""``xsudo device production-done`` and ``Device.production_done``: AT%XPRODDONE is
irreversible, so nothing is sent without a confirmation that names the device, and every
attempt is in the audit log."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.boards import Result
from xsudo.provision.production import ConfirmationMismatch
from xsudo.sim import PtyServer

Run = Callable[..., Result]
Board = Callable[..., PtyServer]
IMEI = "352656100367872"


def done(server: PtyServer) -> bool:
    return bool(server.board.modem.nvm.production_done)


def audit(home: Path) -> list[dict[str, Any]]:
    path = home / "audit.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


@pytest.fixture
def home() -> Path:
    return Path(os.environ["XSUDO_HOME"])


def test_without_a_terminal_it_refuses_unless_yes(xsudo: Run, board: Board, home: Path) -> None:
    server = board("nrf91x1-2.0")
    refused = xsudo("device", "production-done", "--port", server.path)
    assert refused.code == 2 and "--yes" in refused.err
    assert not done(server)
    assert [r for r in audit(home) if r["event"] == "production-done"] == []
    result = xsudo("device", "production-done", "--port", server.path, "--yes", "--json")
    assert result.code == 0, result.err
    assert result.json()["imei"] == IMEI and result.json()["production_done"] is True
    assert done(server)
    [record] = [r for r in audit(home) if r["event"] == "production-done"]
    assert record["device_imei"] == IMEI and record["result"] == "done"
    assert result.json()["audit_head"]["seq"] == record["seq"]


@pytest.mark.parametrize(("typed", "expected"), [("352656100367870", False), (IMEI, True)])
def test_on_a_terminal_the_imei_must_be_typed(
    xsudo: Run,
    board: Board,
    monkeypatch: pytest.MonkeyPatch,
    typed: str,
    expected: bool,
) -> None:
    server = board("nrf91x1-2.0")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("click.prompt", lambda *args, **kwargs: typed)
    result = xsudo("device", "production-done", "--port", server.path)
    assert done(server) is expected
    assert result.code == (0 if expected else 1)
    assert "cannot be undone" in result.err


def test_firmware_without_xproddone_is_a_clear_error(xsudo: Run, board: Board, home: Path) -> None:
    server = board("nrf9160-1.3")
    result = xsudo("device", "production-done", "--port", server.path, "--yes")
    assert result.code == 1
    assert "has no %XPRODDONE" in result.err and result.err.count("\n") == 1
    [record] = [r for r in audit(home) if r["event"] == "production-done"]
    assert record["result"] == "refused"


def test_the_library_needs_the_devices_own_imei(board: Board, tmp_path: Path) -> None:
    import xsudo

    server = board("nrf91x1-2.0")
    with xsudo.connect(server.path, home=tmp_path / "home") as dev:
        with pytest.raises(ConfirmationMismatch) as caught:
            dev.production_done(confirm="yes")
        assert caught.value.exit_code == 2
        assert not done(server)
        result = dev.production_done(confirm=IMEI)
    assert done(server) and result.imei == IMEI
    assert result.audit_head is not None
