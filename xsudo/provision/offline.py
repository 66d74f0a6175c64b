"""Take the modem offline for a write and put the previous functional mode back.

Contract (architecture 3.5): writes go offline (``AT+CFUN=4``) and restore the previous
mode afterwards, also on error. A modem already offline (4) or powered down (0) is left
as it is. Read-only operations never use this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from xsudo.at.modem import Modem
from xsudo.errors import XsudoError

OFFLINE = 4
NOT_ACTIVE = (0, 4)


@contextlib.contextmanager
def offline(modem: Modem) -> Iterator[int]:
    """Within the block the modem is not active; yields the mode found before.

    On success a failed restore raises. When the block itself failed, its error is the one
    raised; the restore is still attempted (a port that vanished cannot be restored).
    """
    previous = modem.cfun()
    changed = previous not in NOT_ACTIVE
    if changed:
        modem.set_cfun(OFFLINE)
    try:
        yield previous
    except BaseException:
        if changed:
            with contextlib.suppress(XsudoError):
                modem.set_cfun(previous)
        raise
    if changed:
        modem.set_cfun(previous)
