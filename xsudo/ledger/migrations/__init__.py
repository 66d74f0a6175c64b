"""Alembic migrations of the ledger schema, run by :func:`xsudo.ledger.migrate.upgrade` each
time a ledger is opened (no ``alembic.ini``: the script location is this package)."""
