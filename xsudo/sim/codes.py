"""The ``+CME ERROR`` codes the simulated modem answers, named in one place.

The simulator keeps its own table instead of using :class:`xsudo.errors.CmeCode`: it is the
independent implementation of the modem that the product is tested against, so the numbers
it answers are written down here from the modem documentation (docs/design/modem.md, M7:
Nordic's CME code table; and the simulator rules), not taken from the code under
test. A wrong number in the product's table therefore shows up as a disagreement in the
tests instead of being shared by both sides; ``tests/sim/test_layering.py`` also checks that
every code here is one the product knows.

Names follow the modem's meanings. 520 has two, as in Nordic's table: ``%XSUDO``
"Authentication failed" and ``%XPMNG`` write "Already exists" (some firmware answers 519
there instead: :data:`XPMNG_EXISTS_CODES`).
"""

from __future__ import annotations

from enum import IntEnum


class Cme(IntEnum):
    """A ``+CME ERROR: <n>`` code (3GPP generic below 512, Nordic's from 512)."""

    INCORRECT_PARAMETERS = 50
    """Rule S11 ``ERR(50)``: a malformed or out-of-range parameter."""
    NOT_FOUND = 513
    """No such credential, ``%XPMNG`` key or ``%XSUDO`` public key."""
    NO_ACCESS = 514
    """Reserved tag or type, unreadable type, or a restricted command without ``%XSUDO``."""
    MEMORY_FULL = 515
    ACTIVE_STATE = 518
    """Not allowed while LTE is active (CFUN 1, 2 or 21)."""
    ALREADY_EXISTS = 519
    """An entry that cannot be overwritten."""
    AUTH_FAILED = 520
    """``%XSUDO``: the signature does not verify (or cannot be decoded)."""
    XPMNG_ALREADY_EXISTS = 520
    """``%XPMNG`` write to an occupied slot (an alias of :attr:`AUTH_FAILED`: same number)."""
    INVALID_CONTENT = 527
    """Invalid certificate content for a type 0/1 write (nRF91x1 mfw >= 2.0.2)."""
    POWER_OFF_WARNING = 528
    """Not allowed while a power-off warning is active."""
    TOKEN_FAILED = 529
    """The token could not be created (``%CLAIMTOKEN`` without an ownership key)."""


XPMNG_EXISTS_CODES = (Cme.ALREADY_EXISTS, Cme.XPMNG_ALREADY_EXISTS)
"""What firmware answers for ``%XPMNG`` on an occupied slot (the ``xpmng_exists_code``
option picks one)."""
