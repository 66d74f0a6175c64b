"""Ledger tests run on both backends: SQLite (always) and PostgreSQL.

PostgreSQL comes from ``XSUDO_TEST_POSTGRES_URL`` (a role that may create databases; .ci/run
starts a throwaway cluster and sets it). Each test gets a database of its own, dropped
afterwards. Without the variable the PostgreSQL cases skip, unless
``XSUDO_TEST_REQUIRE_POSTGRES=1`` (as in CI), where they fail: a CI run must not pass by
skipping them.

Both variables are read when this module is imported: the suite's autouse fixture removes
every ``XSUDO_*`` variable from the environment of each test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("XSUDO_TEST_POSTGRES_URL") or None
REQUIRE_POSTGRES = os.environ.get("XSUDO_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")


def need_postgres() -> str:
    """The server URL, or skip (fail when PostgreSQL is required)."""
    if POSTGRES_URL is None:
        if REQUIRE_POSTGRES:
            pytest.fail("XSUDO_TEST_REQUIRE_POSTGRES=1 but XSUDO_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL (set XSUDO_TEST_POSTGRES_URL)")
    return POSTGRES_URL


def _admin(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    params = {k: v for k, v in parsed.query.items() if isinstance(v, str)}
    return psycopg.connect(
        dbname=parsed.database,
        user=parsed.username,
        password=parsed.password,
        host=params.get("host", parsed.host),
        port=parsed.port,
        autocommit=True,
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    from sqlalchemy.engine import make_url

    base = need_postgres()
    name = f"xsudo_t_{secrets.token_hex(6)}"
    with _admin(base) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty ledger database, on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


class FakeClock:
    """A clock tests move by hand (UTC)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
