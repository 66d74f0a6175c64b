"""Take the modem offline for a write and put the previous functional mode back.

Contract (docs/security.md, "Nothing is lost"): writes go offline (``AT+CFUN=4``) and the
previous mode is restored on every path where the link still answers, including a lost or
late reply to ``AT+CFUN=4`` itself. A modem already offline (4) or powered down (0) is left
as it is. When the restore cannot be confirmed, the error says the modem may be left at
CFUN=4 and names the command that restores it; :meth:`OfflineGuard.restore` may be called
again later (after a reconnect or resync). Read-only operations never use this.
"""

from __future__ import annotations

from types import TracebackType

from xsudo.at.modem import Modem
from xsudo.errors import DeviceError, Note, XsudoError

OFFLINE = 4
NOT_ACTIVE = (0, 4)


class CfunNotRestored(DeviceError):
    """The modem may still be offline (CFUN=4): restoring its previous mode failed."""


class OfflineGuard:
    """One write's CFUN change, as a context manager: entering reads the mode and goes
    offline when the modem is active; leaving restores it (module contract).

    ``previous`` is the mode found (``None`` before entering), ``changed`` whether xsudo
    changed it, ``restored`` whether the previous mode is confirmed back. When the block
    (or going offline) fails, that error is raised after a restore attempt, with the
    restore command added to its hint when the restore failed; on success a failed
    restore raises :class:`CfunNotRestored`.
    """

    def __init__(self, modem: Modem) -> None:
        self.modem = modem
        self.previous: int | None = None
        self.changed = False
        self.restored = True
        self._amended: tuple[XsudoError, Note] | None = None

    def __enter__(self) -> OfflineGuard:
        self.previous = self.modem.cfun()
        if self.previous not in NOT_ACTIVE:
            self.changed, self.restored = True, False
            try:
                self.modem.set_cfun(OFFLINE)
            except XsudoError as exc:
                self._failed(exc)
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            if not self.restore():
                raise self.error()
        elif isinstance(exc, XsudoError):
            self._failed(exc)
        else:
            self.restore()

    def _failed(self, exc: XsudoError) -> None:
        if not self.restore():
            self._amended = (exc, exc.amend(self.not_restored_note()))

    def retry_restore(self, exc: XsudoError) -> bool:
        """Try the restore again (the link may answer by now); when it works, take back
        the note the failed restore added to ``exc``. True when the mode is restored."""
        if not self.restore():
            return False
        if self._amended is not None and self._amended[0] is exc:
            exc.retract(self._amended[1])
            self._amended = None
        return True

    @property
    def restore_command(self) -> str:
        return f"AT+CFUN={self.previous}"

    def restore(self) -> bool:
        """Put the previous mode back if xsudo changed it and it is not back yet; True when
        the modem is (now) known to be in it. Never raises for a device failure."""
        if self.restored or self.previous is None:
            return True
        try:
            self.modem.set_cfun(self.previous)
        except XsudoError:
            return False
        self.restored = True
        return True

    def not_restored_note(self) -> str:
        return (
            f"the modem may be left at CFUN={OFFLINE} (offline): once it answers, send "
            f"{self.restore_command} to restore its previous mode (or reset the board)"
        )

    def error(self) -> CfunNotRestored:
        return CfunNotRestored(
            f"could not restore the modem's previous functional mode (CFUN={self.previous})",
            self.not_restored_note(),
        )


class HeldOffline(OfflineGuard):
    """One trip offline shared by several changes (:meth:`CredentialWriter.batch
    <xsudo.provision.writer.CredentialWriter.batch>`): the first change reads CFUN and goes
    offline; a change that succeeds leaves the modem offline for the next one; a failed
    change restores the previous mode at once, exactly as :class:`OfflineGuard` (and the next
    change goes offline again); :meth:`release` restores it at the end."""

    def __enter__(self) -> HeldOffline:
        if self.previous is None or (self.changed and self.restored):
            self.previous, self.changed, self.restored, self._amended = None, False, True, None
            super().__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:  # a failed change: restore now (see OfflineGuard)
            super().__exit__(exc_type, exc, tb)

    def release(self) -> None:
        """Restore the previous mode if it is not back; raise :class:`CfunNotRestored` when
        that fails."""
        if not self.restore():
            raise self.error()


def offline(modem: Modem) -> OfflineGuard:
    """``with offline(modem):`` - the modem is not active within the block (see
    :class:`OfflineGuard`)."""
    return OfflineGuard(modem)
