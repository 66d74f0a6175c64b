"""Alembic's environment for the ledger: migrate the connection the caller passes in
``config.attributes["connection"]`` (already inside its transaction), never a URL of its own.
"""

from __future__ import annotations

from alembic import context

from xsudo.ledger.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
