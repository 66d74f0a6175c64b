"""Auditing signed lines: offline verification and diagnosis of ``AT%XSUDO`` lines.

``verify_line(raw, public_key) -> Verdict`` checks a line the way the modem would and, when
it fails, finds out what the signer actually signed (see :mod:`xsudo.audit.verify`).
"""

from __future__ import annotations

from xsudo.audit.diagnosis import CODES, WARNING_CODES
from xsudo.audit.verify import Verdict, verify_line

__all__ = ["CODES", "WARNING_CODES", "Verdict", "verify_line"]
