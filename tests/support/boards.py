"""Shared fixtures for end-to-end tests: simulated boards on real ptys, and the CLI in-process.

Each board is a :class:`xsudo.sim.PtyServer` in a thread; the CLI opens its pty path with
pyserial exactly as it would open /dev/ttyACM0. ``snapshot`` reads the board's NVM so a test
can assert that a failed command changed nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from xsudo.sim import PtyServer, SimOptions

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
PROFILES = ("nrf9160-1.3", "nrf91x1-2.0", "nrf9151-ntn", "locked")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def xsudo(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the CLI in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        code, out, err = run_cli(capsys, *args)
        assert "Traceback" not in err
        return Result(code, out, err)

    return run


class Boards:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.servers: list[PtyServer] = []

    def __call__(self, profile: str = "nrf91x1-2.0", **options: Any) -> PtyServer:
        state = self.tmp_path / f"board{len(self.servers)}.json"
        server = PtyServer(SimOptions(profile=profile, state=str(state), **options))
        server.start()
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture
def board() -> Iterator[Callable[..., PtyServer]]:
    """``board(profile, **options)`` starts a simulated board on a pty."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        boards = Boards(Path(tmp))
        try:
            yield boards
        finally:
            boards.close()


def snapshot(server: PtyServer) -> dict[tuple[int, int], bytes]:
    """The board's stored credentials (XPMNG keys included), by (tag, type)."""
    return dict(server.board.modem.nvm.credentials)


def cfun(server: PtyServer) -> int:
    return int(server.board.modem.volatile.cfun)


@pytest.fixture
def observed() -> dict[str, Any]:
    """The certificate and SHA a real nRF9160 listed (hardware truth)."""
    data = json.loads((VECTORS / "modem-observed.json").read_text())
    case: dict[str, Any] = data["cases"][0]
    return case
