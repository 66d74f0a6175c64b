"""Bring a ledger database to the newest schema, with Alembic, every time it is opened.

Users need no ``alembic.ini`` and run no migration command: :func:`upgrade` points Alembic
at the migrations shipped in this package and runs them on the caller's connection, in one
transaction. Two stations opening a new database at once do not both create the tables: on
PostgreSQL the transaction first takes an advisory lock (:data:`MIGRATION_LOCK`), on SQLite
the ledger's transactions begin ``IMMEDIATE`` (one writer at a time), and whoever comes
second finds the schema at head and does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xsudo.ledger.errors import LedgerSchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

SCRIPT_LOCATION = "xsudo.ledger:migrations"
"""Where the migrations are: the ``migrations`` directory of this package."""

MIGRATION_LOCK = 0x7873_7564_6F6C_6467  # "xsudoldg"
"""The PostgreSQL advisory lock key held while migrating (a 64-bit integer)."""

HEAD_REVISION = "0001"
"""The newest revision in ``migrations/versions`` (a test checks it against Alembic's
head). A database already there is opened without importing Alembic (about a tenth of a
second, on every ``cred write``); this module imports neither Alembic nor SQLAlchemy
before a function needs them, so :mod:`xsudo.ledger.recording` can read this constant."""


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    """The newest schema revision this version of xsudo knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The schema revision of the database on ``connection`` (``None``: an empty one)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def stored_revision(connection: Connection) -> str | None:
    """The revision in the database's ``alembic_version`` table, read with plain SQL
    (``None``: no table, or no row); :func:`current_revision` is Alembic's reading."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def upgrade(engine: Engine, display: str) -> None:
    """Migrate the database of ``engine`` to :func:`head_revision` (nothing to do when it
    is there already). Raises :class:`LedgerSchemaError` when the database holds a revision
    this version does not know (a newer xsudo migrated it); ``display`` is the masked URL
    for that message."""
    with engine.connect() as probe:
        if stored_revision(probe) == HEAD_REVISION:
            return
        found = current_revision(probe)
    if found == head_revision():
        return
    from alembic import command
    from alembic.util.exc import CommandError
    from sqlalchemy import text

    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise LedgerSchemaError(
                f"the ledger at {display} has schema revision {found!r}, which this version "
                f"of xsudo does not know ({str(exc).splitlines()[0][:80]})",
                "upgrade xsudo to the version the other stations run",
            ) from None
