"""The audit log: a hash-chained record of signatures and device writes, and its checkpoints.

* :mod:`xsudo.audit.log` - :class:`~xsudo.audit.log.AuditLog`, the append-only JSON-lines
  log, and its chain check;
* :mod:`xsudo.audit.checkpoint` - signed checkpoints of the log's head, kept off the machine.

Checking a signed ``AT%XSUDO`` line offline (why a modem answered ``+CME ERROR: 520``) is not
here: see :mod:`xsudo.diagnose`.
"""

from __future__ import annotations
