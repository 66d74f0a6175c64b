"""The ledger's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The migrations in ``xsudo/ledger/migrations/versions`` create exactly these tables
(``tests/ledger/test_migrations.py`` compares them on both backends); a change here needs
a new migration. Constraint names follow :data:`NAMING`, so they are the same everywhere.

* ``device_records``: one row per device run (identity, station, plan hash, signing key,
  result, times).
* ``credential_entries``: the credentials of a run, in order (``position``).
* ``claims``: at most one row per IMEI (its primary key) while a station provisions it;
  two stations racing for one IMEI cannot both insert it.
* ``identities``: the device UUID first seen with each IMEI.
* ``flags``: refused or suspicious events (concurrent claims, cloned identities).
* ``audit_heads``: the audit log heads each station stored, one row per (station, seq).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

TIME = DateTime(timezone=True)

device_records = Table(
    "device_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("imei", String(15), nullable=False),
    Column("device_uuid", String(64), nullable=True),
    Column("model", String(128), nullable=True),
    Column("firmware", String(128), nullable=True),
    Column("station", String(128), nullable=False),
    Column("plan_hash", String(128), nullable=True),
    Column("key_fingerprint", String(64), nullable=True),
    Column("result", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", TIME, nullable=False),
    Column("finished_at", TIME, nullable=False),
    Index(None, "imei", "finished_at"),
    Index(None, "finished_at"),
    Index(None, "station", "finished_at"),
)

credential_entries = Table(
    "credential_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "record_id",
        Integer,
        ForeignKey("device_records.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("tag", BigInteger, nullable=False),
    Column("type_id", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("sha", String(64), nullable=True),
    Column("previous_sha", String(64), nullable=True),
    Column("auth", String(16), nullable=True),
    Column("action", String(16), nullable=False),
    Column("certificate_pem", Text, nullable=True),
    UniqueConstraint("record_id", "position"),
)

claims = Table(
    "claims",
    metadata,
    Column("imei", String(15), primary_key=True),
    Column("station", String(128), nullable=False),
    Column("token", String(32), nullable=False),
    Column("device_uuid", String(64), nullable=True),
    Column("plan_hash", String(128), nullable=True),
    Column("claimed_at", TIME, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("imei", String(15), primary_key=True),
    Column("device_uuid", String(64), nullable=False),
    Column("station", String(128), nullable=False),
    Column("first_seen", TIME, nullable=False),
)

flags = Table(
    "flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("imei", String(15), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("station", String(128), nullable=False),
    Column("device_uuid", String(64), nullable=True),
    Column("detail", Text, nullable=False),
    Column("at", TIME, nullable=False),
    Index(None, "imei"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("stored_at", TIME, nullable=False),
    UniqueConstraint("station", "seq"),
)
