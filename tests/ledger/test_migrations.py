"""Migrations: an empty database is brought to head on open, opening again changes nothing,
the migrated schema is the one ``xsudo/ledger/schema.py`` declares, and it is the same on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.ledger.conftest import need_postgres
from xsudo.ledger import Ledger, LedgerSchemaError
from xsudo.ledger.migrate import head_revision
from xsudo.ledger.url import resolve


def _engine(url: str) -> Any:
    return create_engine(resolve(url, Path("/nonexistent")).url)


def describe(url: str) -> dict[str, Any]:
    """The schema as the database reports it, in words both backends share: per table the
    columns (name, generic type, length, nullable), primary key, unique constraints,
    indexes and foreign keys, each with its name."""
    engine = _engine(url)
    try:
        found = inspect(engine)
        tables: dict[str, Any] = {}
        for name in sorted(found.get_table_names()):
            columns = [
                (
                    c["name"],
                    type(c["type"].as_generic()).__name__,
                    getattr(c["type"], "length", None),
                    c["nullable"],
                )
                for c in found.get_columns(name)
            ]
            pk = found.get_pk_constraint(name)
            tables[name] = {
                "columns": columns,
                "primary_key": (pk.get("name"), tuple(pk["constrained_columns"])),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in found.get_unique_constraints(name)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in found.get_indexes(name)
                    if not i.get("duplicates_constraint")  # PostgreSQL: a UNIQUE's own index
                ),
                "foreign_keys": sorted(
                    (
                        f["name"],
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                        (f.get("options") or {}).get("ondelete"),
                    )
                    for f in found.get_foreign_keys(name)
                ),
            }
        return tables
    finally:
        engine.dispose()


def differences_from_the_code(url: str) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match schema.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from xsudo.ledger.schema import metadata

    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))
    finally:
        engine.dispose()


EXPECTED_TABLES = {
    "alembic_version",
    "audit_heads",
    "claims",
    "credential_entries",
    "device_records",
    "flags",
    "identities",
}


def test_open_migrates_an_empty_database_and_reopening_changes_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    assert describe(ledger_url) == {}
    with Ledger.open(ledger_url, tmp_path) as ledger:
        assert ledger.schema_revision() == head_revision()
    first = describe(ledger_url)
    assert set(first) == EXPECTED_TABLES
    with Ledger.open(ledger_url, tmp_path) as ledger:
        assert ledger.schema_revision() == head_revision()
    assert describe(ledger_url) == first
    assert differences_from_the_code(ledger_url) == []


def test_the_schema_is_the_same_on_both_backends(tmp_path: Path, postgres_url: str) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    for url in (sqlite_url, postgres_url):
        Ledger.open(url, tmp_path).close()
    on_sqlite, on_postgres = describe(sqlite_url), describe(postgres_url)
    assert set(on_sqlite) == EXPECTED_TABLES
    assert on_sqlite == on_postgres


def test_a_schema_from_a_newer_xsudo_is_refused(ledger_url: str, tmp_path: Path) -> None:
    Ledger.open(ledger_url, tmp_path).close()
    engine = _engine(ledger_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()
    with pytest.raises(LedgerSchemaError) as raised:
        Ledger.open(ledger_url, tmp_path)
    assert raised.value.exit_code == 2
    assert "f00dfeed" in str(raised.value)


def test_stations_opening_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    _open_together(url, tmp_path)


def test_stations_opening_a_new_postgres_database_together_all_succeed(
    postgres_url: str, tmp_path: Path
) -> None:
    need_postgres()
    _open_together(postgres_url, tmp_path)


def _open_together(url: str, home: Path, count: int = 6) -> None:
    barrier = threading.Barrier(count)
    revisions: list[str | None] = []
    errors: list[BaseException] = []

    def station() -> None:
        try:
            barrier.wait(timeout=30)
            with Ledger.open(url, home) as ledger:
                revisions.append(ledger.schema_revision())
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=station) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert revisions == [head_revision()] * count
