"""``sim://`` URLs: parsing, and the process-wide table of named boards.

``sim://?profile=locked&state=/tmp/board.json`` opens a fresh board each time (its NVM
comes from the state file, if any: like power-cycling a board between opens).
``sim://NAME?...`` names a board that stays "powered" for the life of the process: every
open of ``sim://NAME`` reaches the same modem, so CFUN and CMEE survive a close/reopen as
they do on a real board whose port is merely closed. Reopening a name with different
options is an error.

Query values are percent-decoded and a ``+`` stays a ``+`` (``urc=after:1:+CEREG: 5``).
"""

from __future__ import annotations

import threading
import urllib.parse

from xsudo.sim.board import Board
from xsudo.sim.options import SimOptionError, SimOptions

_boards: dict[str, Board] = {}
_lock = threading.Lock()


def parse_sim_url(url: str) -> tuple[str, SimOptions]:
    """Split ``sim://[NAME][?query]`` into the board name ("" for none) and its options."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "sim":
        raise SimOptionError(f"{url!r} is not a sim:// URL", "use sim://[NAME][?option=value&...]")
    mapping: dict[str, list[str]] = {}
    for item in parts.query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        mapping.setdefault(urllib.parse.unquote(name), []).append(urllib.parse.unquote(value))
    name = urllib.parse.unquote(parts.netloc + parts.path.rstrip("/"))
    return name, SimOptions.from_mapping(mapping)


def board_for(name: str, options: SimOptions) -> Board:
    """The named board (created on first use), or a fresh board when ``name`` is empty."""
    if not name:
        return Board(options)
    with _lock:
        board = _boards.get(name)
        if board is None:
            board = _boards[name] = Board(options)
        elif board.options != options:
            raise SimOptionError(
                f"simulated board {name!r} is already open with other options",
                "use the same options, another name, or xsudo.sim.forget_boards()",
            )
        return board


def get_board(name: str) -> Board | None:
    """The named board, if it exists."""
    with _lock:
        return _boards.get(name)


def forget_boards() -> None:
    """Power off every named board (tests call this between cases)."""
    with _lock:
        _boards.clear()
