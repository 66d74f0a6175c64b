"""The provisioning ledger: every device provisioned, at every station, in one database.

A SQLite file in the xsudo home by default; a PostgreSQL database when several stations
share one (a URL, or ``$XSUDO_LEDGER``). The same schema on both, migrated by Alembic when
a ledger is opened. Start with :meth:`Ledger.open`; docs/how-to/ledger.md is the guide.

The store (and with it SQLAlchemy and Alembic) is imported on first use of
:class:`Ledger`, not with this package: the record types and errors are light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xsudo.lazyexports import lazy_exports
from xsudo.ledger.errors import (
    AuditHeadConflict,
    IdentityMismatch,
    ImeiInProgress,
    LedgerConflict,
    LedgerSchemaError,
    LedgerUnavailable,
    LedgerUrlError,
    NotInLedger,
)
from xsudo.ledger.records import (
    AuditHeadEntry,
    Claim,
    CredentialEntry,
    DeviceHistory,
    DeviceRecord,
    Flag,
    Previous,
)

if TYPE_CHECKING:
    from xsudo.ledger.store import Ledger

__all__ = [
    "AuditHeadConflict",
    "AuditHeadEntry",
    "Claim",
    "CredentialEntry",
    "DeviceHistory",
    "DeviceRecord",
    "Flag",
    "IdentityMismatch",
    "ImeiInProgress",
    "Ledger",
    "LedgerConflict",
    "LedgerSchemaError",
    "LedgerUnavailable",
    "LedgerUrlError",
    "NotInLedger",
    "Previous",
]


__getattr__ = lazy_exports(__name__, {"Ledger": "store"})
