"""The ledger's errors, each with its exit code (docs/reference/exit-codes.md).

* :class:`LedgerUrlError` (2): a ledger URL that cannot be used as given (unknown scheme,
  unparsable, a PostgreSQL URL without the driver installed).
* :class:`LedgerSchemaError` (2): the database holds a ledger schema this version of xsudo
  does not know (a newer xsudo migrated it).
* :class:`LedgerUnavailable` (3): the database cannot be reached or stopped answering
  (server down, connection refused, file locked beyond the timeout).
* :class:`LedgerConflict` (1) and its kinds :class:`ImeiInProgress` and
  :class:`IdentityMismatch`: :meth:`~xsudo.ledger.Ledger.begin_device` refused a device.
* :class:`AuditHeadConflict` (1): a station reported two hashes for one audit record.
* :class:`NotInLedger` (1): no record of that IMEI.

Messages never carry a URL's password (:func:`xsudo.ledger.url.mask_url`).
"""

from __future__ import annotations

from xsudo.errors import BadInputError, OperationFailed, XsudoError


class LedgerUrlError(BadInputError):
    """A ledger URL that cannot be used (exit 2)."""


class LedgerSchemaError(BadInputError):
    """The database's ledger schema is unknown to this version (exit 2)."""


class LedgerUnavailable(XsudoError):
    """The ledger database cannot be reached (exit 3, like a device or transport failure)."""

    exit_code = 3


class LedgerConflict(OperationFailed):
    """A device the ledger refuses to start (exit 1). ``imei`` is the device; ``station``
    the station that holds it (or that saw the other identity); ``flag_id`` the row of the
    ``flags`` table that records the event."""

    def __init__(
        self, message: str, hint: str, *, imei: str, station: str | None, flag_id: int | None
    ) -> None:
        super().__init__(message, hint)
        self.imei = imei
        self.station = station
        self.flag_id = flag_id


class ImeiInProgress(LedgerConflict):
    """The IMEI is being provisioned right now (an unexpired claim exists)."""


class IdentityMismatch(LedgerConflict):
    """The IMEI was seen before with another device UUID: a duplicate or cloned identity."""


class AuditHeadConflict(OperationFailed):
    """The ledger holds another hash for the same station and audit record (exit 1)."""


class NotInLedger(OperationFailed):
    """The ledger has no record of the IMEI (exit 1, like a check that failed)."""
