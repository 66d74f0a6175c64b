"""Verify and diagnose signed ``AT%XSUDO`` lines, offline.

``verify_line(raw, public_key) -> Verdict`` checks a line the way the modem would and, when
it fails (the modem's ``+CME ERROR: 520``), finds out what the signer actually signed:

* :mod:`xsudo.diagnose.line` - :func:`verify_line` and :class:`Verdict`;
* :mod:`xsudo.diagnose.diagnosis` - the stable diagnosis codes (:data:`CODES`) and the fix
  sentence for each;
* :mod:`xsudo.diagnose.variants` - the table of usual mistakes tried when a line does not
  verify (a trailing newline signed, CRLF for LF, a leading ``AT``, ...);
* :mod:`xsudo.diagnose.scan` - :func:`scan_capture`: every ``AT%XSUDO`` line of a capture
  (terminal log, modem trace), each with its verdict (:class:`ScanResult`).

Pure functions, no I/O. The audit log of what was sent to modems is elsewhere
(:mod:`xsudo.audit`).
"""

from __future__ import annotations

from xsudo.diagnose.diagnosis import CODES, WARNING_CODES
from xsudo.diagnose.line import Verdict, verify_line
from xsudo.diagnose.scan import ScanResult, scan_capture

__all__ = ["CODES", "WARNING_CODES", "ScanResult", "Verdict", "scan_capture", "verify_line"]
