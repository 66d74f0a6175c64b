"""The first ledger schema: device records, credential entries, claims, identities, flags
and audit heads.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("imei", sa.String(15), nullable=False),
        sa.Column("device_uuid", sa.String(64), nullable=True),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("firmware", sa.String(128), nullable=True),
        sa.Column("station", sa.String(128), nullable=False),
        sa.Column("plan_hash", sa.String(128), nullable=True),
        sa.Column("key_fingerprint", sa.String(64), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_device_records"),
    )
    op.create_index("ix_device_records_imei_finished_at", "device_records", ["imei", "finished_at"])
    op.create_index("ix_device_records_finished_at", "device_records", ["finished_at"])
    op.create_index(
        "ix_device_records_station_finished_at", "device_records", ["station", "finished_at"]
    )
    op.create_table(
        "credential_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("tag", sa.BigInteger, nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("sha", sa.String(64), nullable=True),
        sa.Column("previous_sha", sa.String(64), nullable=True),
        sa.Column("auth", sa.String(16), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("certificate_pem", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credential_entries"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["device_records.id"],
            name="fk_credential_entries_record_id_device_records",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "record_id", "position", name="uq_credential_entries_record_id_position"
        ),
    )
    op.create_table(
        "claims",
        sa.Column("imei", sa.String(15), nullable=False),
        sa.Column("station", sa.String(128), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("device_uuid", sa.String(64), nullable=True),
        sa.Column("plan_hash", sa.String(128), nullable=True),
        sa.Column("claimed_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("imei", name="pk_claims"),
    )
    op.create_table(
        "identities",
        sa.Column("imei", sa.String(15), nullable=False),
        sa.Column("device_uuid", sa.String(64), nullable=False),
        sa.Column("station", sa.String(128), nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.PrimaryKeyConstraint("imei", name="pk_identities"),
    )
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("imei", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("station", sa.String(128), nullable=False),
        sa.Column("device_uuid", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flags"),
    )
    op.create_index("ix_flags_imei", "flags", ["imei"])
    op.create_table(
        "audit_heads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("station", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("stored_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_heads"),
        sa.UniqueConstraint("station", "seq", name="uq_audit_heads_station_seq"),
    )


def downgrade() -> None:
    for table in (
        "audit_heads",
        "flags",
        "identities",
        "claims",
        "credential_entries",
        "device_records",
    ):
        op.drop_table(table)
