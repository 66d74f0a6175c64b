"""Fixtures and helpers for the simulator tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xsudo.sim import Modem, SimOptions, forget_boards

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load_vectors(name: str) -> dict[str, Any]:
    """A JSON vector file from ``tests/vectors`` (see its README for how each was made)."""
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def amazon_root_ca() -> dict[str, Any]:
    """The hardware-observed case: Amazon Root CA 1 and the SHA a real modem listed."""
    case: dict[str, Any] = load_vectors("modem-observed.json")["cases"][0]
    return case


def make_modem(**options: Any) -> Modem:
    """A modem with the given options (names as in :class:`SimOptions`)."""
    return Modem(SimOptions(**options))


def run(modem: Modem, *commands: bytes) -> bytes:
    """Send each command; return the answer to the last one."""
    answer = b""
    for command in commands:
        answer = modem.handle(command)
    return answer


@pytest.fixture(autouse=True)
def _no_named_boards() -> Iterator[None]:
    forget_boards()
    yield
    forget_boards()
