"""Typed modem operations over an :class:`~xsudo.at.channel.AtChannel`.

Contract of :class:`Modem`:

* Commands are built only as :class:`~xsudo.command.AtCommand` values (nothing f-strings AT
  text), the modem's own ones by :mod:`xsudo.at.commands`, so content with a ``"`` or a
  non-ASCII byte is refused before anything is sent.
* One command at a time (the channel's lock). Every method may raise what
  :meth:`AtChannel.command` raises: :class:`~xsudo.errors.CmeError`/
  :class:`~xsudo.errors.ModemError` decoded for the command sent, and the
  :class:`~xsudo.errors.DeviceError` family. Bad arguments raise
  :class:`~xsudo.errors.BadInputError` with nothing sent.
* Nothing here changes state the caller did not ask for, except numeric error reporting:
  :meth:`enable_numeric_errors` (done by :meth:`Modem.open`) sets ``AT+CMEE=1`` when the
  setting read is not 1 and :meth:`close` puts back the value found, only if it was
  changed, as sdk-nrf's ``modem_key_mgmt`` does. At open the read is the channel's sync
  probe itself (one ``AT+CMEE?``).
  :attr:`Modem.numeric_errors` is true only while the device has confirmed ``+CMEE: 1``:
  by the ``AT+CMEE?`` read, by a numeric ``+CME ERROR: <n>`` answer since it was set, or by
  the ``AT+CMEE?`` read-back that the first look at :attr:`numeric_errors` sends when
  neither has confirmed it yet (nothing else needs the read-back, so nothing else pays for
  it). A device that will not take ``AT+CMEE=1`` still works (it answers a bare ``ERROR``,
  which the layers above must treat as ambiguous). A device reset turns numeric errors off
  again (``numeric_errors`` becomes false); call :meth:`enable_numeric_errors` after a
  :class:`~xsudo.errors.DeviceReset`.
* Device identity is checked before it is returned (:meth:`Modem.identity`,
  :meth:`Modem.imei`): IMEI 15 digits, UUID canonical, firmware and model plain tokens,
  else :class:`~xsudo.at.parse.IdentityError` (exit 3). Every number read is bounded
  (:func:`~xsudo.at.parse.parse_int`).
* Policy (offline first, never overwrite, verify SHAs, which tags are reserved) belongs to
  the layer above; this class only speaks the commands. Writing a credential is a
  protected command: :class:`~xsudo.provision.writer.CredentialWriter` sends
  :func:`xsudo.at.commands.cmng_write` under the auth policy (plain or ``%XSUDO``); to send
  one directly, ``modem.command(commands.cmng_write(...))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Unpack

from xsudo.command import AtCommand
from xsudo.errors import BadInputError, CmeCode, CmeError, DeviceReset, ModemError, XsudoError
from xsudo.limits import MAX_USER_SEC_TAG

from . import commands
from .channel import AtChannel, ChannelOptions
from .parse import (
    ResponseFormatError,
    check_firmware,
    check_imei,
    check_model,
    check_uuid,
    parse_cmng,
    parse_quoted_value,
    parse_single_int,
    text_value,
)
from .results import AtResponse


@dataclass(frozen=True)
class ModemIdentity:
    """Who the modem is. ``family`` is ``"nrf9160"``, ``"nrf91x1"`` or ``"unknown"``.

    Built by :meth:`Modem.identity`, so every value has passed its check in
    :mod:`xsudo.at.parse`: ``imei`` 15 digits, ``uuid`` lower-case 8-4-4-4-12 hex, ``mfw``
    and ``model`` plain tokens (no quotes, backslashes, control characters or brackets).
    """

    imei: str | None
    model: str | None
    mfw: str
    family: str
    uuid: str | None


@dataclass(frozen=True)
class CredentialEntry:
    """One ``%CMNG`` list line. ``sha`` is upper-case hex, or ``None`` when not listed."""

    tag: int
    type: int
    sha: str | None

    @property
    def reserved(self) -> bool:
        """A tag above 2^31-1: the modem's own entry (not writable or deletable by hosts)."""
        return self.tag > MAX_USER_SEC_TAG


@dataclass(frozen=True)
class CredentialContent:
    """A credential read back: ``content`` is exactly the bytes between the quotes."""

    tag: int
    type: int
    sha: str | None
    content: bytes


def family_of(mfw: str, model: str | None) -> str:
    """The chip family from the firmware string (``mfw_nrf9160_1.3.5``) or the model."""
    for text in (mfw.lower(), (model or "").lower()):
        if "nrf9160" in text:
            return "nrf9160"
        if any(name in text for name in ("nrf91x1", "nrf9151", "nrf9161", "nrf9131")):
            return "nrf91x1"
    return "unknown"


class Modem:
    """Typed nRF91 operations on one :class:`AtChannel` (see the module contract)."""

    def __init__(self, channel: AtChannel) -> None:
        self.channel = channel
        self._cmee_before: int | None = None
        self._numeric_errors = False
        self._cmee_unconfirmed: int | None = None  # the value found when AT+CMEE=1 said OK

    @property
    def numeric_errors(self) -> bool:
        """Whether the device confirmed ``+CMEE: 1`` (numeric ``+CME ERROR: <n>`` codes) and
        has not been seen to reset since. When false, an error may come as a bare ``ERROR``
        that says nothing about its cause.

        After ``AT+CMEE=1`` answered ``OK`` and nothing has confirmed it yet, the first
        look sends the read-back ``AT+CMEE?`` (see the module contract)."""
        if self._cmee_unconfirmed is not None:
            self._confirm_numeric_errors()
        return self._numeric_errors

    @classmethod
    def open(
        cls,
        port: str | None = None,
        *,
        numeric_errors: bool = True,
        **options: Unpack[ChannelOptions],
    ) -> Modem:
        """Open the port with :meth:`AtChannel.open` (``options`` are its keywords: baud,
        timeout, flow, terminator, cmd_type, shell_buffer, ...), sync, and (by default) turn
        on numeric error codes (:meth:`enable_numeric_errors`; a device that refuses them
        still opens, with :attr:`numeric_errors` false)."""
        channel = AtChannel.open(port, **options)
        modem = cls(channel)
        if numeric_errors:
            try:
                modem.enable_numeric_errors()
            except BaseException:
                channel.close()
                raise
        return modem

    def __enter__(self) -> Modem:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Put back the ``+CMEE`` setting found (best effort), then close the channel."""
        try:
            self.restore_numeric_errors()
        except XsudoError:
            pass
        finally:
            self.channel.close()

    # -- plain commands -------------------------------------------------------------------

    def command(
        self, cmd: AtCommand, *, timeout: float | None = None, check: bool = True
    ) -> AtResponse:
        """Send one :class:`AtCommand` (see :meth:`AtChannel.command`)."""
        try:
            response = self.channel.command(cmd, timeout=timeout, check=check)
        except DeviceReset:
            self._reset_seen()
            raise
        except ModemError as exc:
            self._error_seen(exc.kind)
            raise
        if response.result is not None:
            self._error_seen(response.result.kind)
        return response

    def send_line(
        self,
        line: bytes,
        *,
        name_for_errors: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> AtResponse:
        """Send a prepared line (e.g. a rendered ``%XSUDO`` line) exactly as given.

        Its bytes are validated, never re-rendered. Errors are decoded for
        ``name_for_errors`` when given; for an ``%XSUDO`` line otherwise per
        :class:`~xsudo.at.results.SignedCommandError` (513/520 as ``%XSUDO``'s, others as
        the wrapped command's).
        """
        try:
            response = self.channel.command(
                line, timeout=timeout, check=check, name=name_for_errors
            )
        except DeviceReset:
            self._reset_seen()
            raise
        except ModemError as exc:
            self._error_seen(exc.kind)
            raise
        if response.result is not None:
            self._error_seen(response.result.kind)
        return response

    def _reset_seen(self) -> None:
        """A reboot puts ``+CMEE`` back to its default: nothing is confirmed any more."""
        self._numeric_errors = False
        self._cmee_unconfirmed = None

    def _error_seen(self, kind: str) -> None:
        """A ``+CME ERROR: <n>`` (kind ``CME``) proves numeric error codes are on."""
        if kind == "CME" and self._cmee_unconfirmed is not None:
            self._cmee_unconfirmed = None
            self._numeric_errors = True

    # -- error reporting ------------------------------------------------------------------

    def enable_numeric_errors(self) -> int | None:
        """Try to make the modem answer ``+CME ERROR: <n>``; return the setting found
        (``None`` when the device would not say).

        Commands: ``AT+CMEE?`` (on a channel that has just opened, the sync probe is this
        read); only if that is not 1, ``AT+CMEE=1``. When that says ``OK`` the setting
        counts as changed (it is put back on :meth:`close`) but not yet confirmed: the first
        look at :attr:`numeric_errors` reads it back with ``AT+CMEE?``, unless a numeric
        ``+CME ERROR`` answer has proved it meanwhile. :attr:`numeric_errors` is true only
        when the device reported ``+CMEE: 1`` (or a numeric code). A device that answers an
        error (or no ``+CMEE:`` line) to any of them is left as it is and is not an error
        here; nothing is changed when the setting could not be read (it could not be put
        back). A ``+CMEE:`` line that is not a bounded number raises
        :class:`~xsudo.at.parse.ResponseFormatError`.

        The old setting is remembered (the first time it is changed) for
        :meth:`restore_numeric_errors`.
        """
        self._cmee_unconfirmed = None
        previous = self._read_cmee()
        if previous is None or previous == 1:
            self._numeric_errors = previous == 1
            return previous
        self._numeric_errors = False
        if not self.command(AtCommand.set("+CMEE", 1), check=False).ok:
            return previous
        if self._cmee_before is None:
            self._cmee_before = previous
        self._cmee_unconfirmed = previous
        return previous

    def _confirm_numeric_errors(self) -> None:
        """The read-back after ``AT+CMEE=1`` said ``OK``: numeric only on ``+CMEE: 1``; a
        setting still at its old value was not changed (nothing to put back)."""
        previous, self._cmee_unconfirmed = self._cmee_unconfirmed, None
        now = self._read_cmee()
        if now == previous and self._cmee_before == previous:
            self._cmee_before = None
        self._numeric_errors = now == 1

    def _read_cmee(self) -> int | None:
        """The ``+CMEE`` setting, or ``None`` when the device answers an error or no
        ``+CMEE:`` line."""
        response = self.command(AtCommand.read("+CMEE"), check=False)
        lines = response.with_prefix("+CMEE:")
        if not response.ok or not lines:
            return None
        return parse_single_int(lines[0], b"+CMEE:")

    def restore_numeric_errors(self) -> None:
        """Put back the ``+CMEE`` value :meth:`enable_numeric_errors` changed, if it did
        (nothing is sent otherwise); :attr:`numeric_errors` is false afterwards unless
        that value was 1."""
        if self._cmee_before is not None:
            previous, self._cmee_before = self._cmee_before, None
            self._numeric_errors = False
            self._cmee_unconfirmed = None
            self.command(AtCommand.set("+CMEE", previous))
            self._numeric_errors = previous == 1

    # -- identity and power ---------------------------------------------------------------

    def identity(self) -> ModemIdentity:
        """IMEI (``+CGSN``), model (``%HWVERSION``, else ``+CGMM``), firmware (``+CGMR``),
        family, and modem firmware UUID (``%XMODEMUUID``), in that order of commands.

        Optional items the firmware answers with an error (or no value) are ``None`` (PTI
        firmware without an IMEI answers ``ERROR`` to ``AT+CGSN``); the firmware version is
        required. The IMEI may come bare or as ``+CGSN: "<imei>"``. Every value is checked
        (:func:`~xsudo.at.parse.check_firmware`, :func:`~xsudo.at.parse.check_model`,
        :func:`~xsudo.at.parse.check_imei`, :func:`~xsudo.at.parse.check_uuid`; the UUID is
        returned lower-case); one that does not fit raises
        :class:`~xsudo.at.parse.IdentityError` (exit 3) and nothing is returned.
        """
        mfw, model = self.firmware_and_model()
        imei = self.imei()
        raw_uuid = self._prefixed_value(commands.xmodemuuid(), b"%XMODEMUUID:")
        return ModemIdentity(
            imei=imei,
            model=model,
            mfw=mfw,
            family=family_of(mfw, model),
            uuid=None if raw_uuid is None else check_uuid(raw_uuid),
        )

    def firmware_and_model(self) -> tuple[str, str | None]:
        """The checked firmware version (``+CGMR``, required) and model (``%HWVERSION``, else
        ``+CGMM``; ``None`` when the firmware gives neither): the part of :meth:`identity`
        a record of the device needs besides its IMEI, in two commands where the firmware
        has ``%HWVERSION``. Raises as :meth:`identity` does."""
        raw_mfw = self._bare_value(AtCommand.exec("+CGMR"))
        if raw_mfw is None:
            raise ResponseFormatError(
                "the modem gave no firmware version for AT+CGMR",
                "check that the port is an nRF91 modem's AT interface",
            )
        return check_firmware(raw_mfw), self._model()

    def _model(self) -> str | None:
        """The checked model: ``%HWVERSION``'s text, else ``+CGMM``'s bare value."""
        raw = self._prefixed_value(commands.hwversion(), b"%HWVERSION:")
        if raw is None:
            raw = self._bare_value(AtCommand.exec("+CGMM"), optional=True)
        return None if raw is None else check_model(raw)

    def imei(self) -> str | None:
        """The checked IMEI from ``AT+CGSN`` (one command): its bare line, else a
        ``+CGSN: "<imei>"`` line (quotes optional); ``None`` on an error result or no value
        (PTI firmware has no IMEI). One that does not fit raises
        :class:`~xsudo.at.parse.IdentityError`."""
        try:
            response = self.command(AtCommand.exec("+CGSN"))
        except ModemError:
            return None
        bare = response.bare_lines()
        if bare:
            return check_imei(bare[0].strip(b" \t"))
        prefixed = response.with_prefix("+CGSN:")
        if prefixed:
            return check_imei(text_value(prefixed[0], b"+CGSN:"))
        return None

    def cfun(self) -> int:
        """The functional mode (``AT+CFUN?``): 0 off, 1 normal, 2 RX only, 4 offline, ..."""
        response = self.command(AtCommand.read("+CFUN"))
        return parse_single_int(_one(response, "+CFUN:"), b"+CFUN:")

    def set_cfun(self, mode: int, *, timeout: float | None = None) -> None:
        """Set the functional mode (``AT+CFUN=<mode>``); waits for ``OK``."""
        if isinstance(mode, bool) or not isinstance(mode, int) or mode < 0:
            raise BadInputError(f"CFUN mode {mode!r} is not valid", "use 0, 1, 2, 4, 20, 21, ...")
        self.command(AtCommand.set("+CFUN", mode), timeout=timeout)

    # -- %CMNG ----------------------------------------------------------------------------

    def cmng_list(self, tag: int | None = None, type: int | None = None) -> list[CredentialEntry]:
        """List stored credentials (``AT%CMNG=1[,<tag>[,<type>]]``), reserved ones included.

        A type needs a tag (the parameters nest). No match is an empty list.
        """
        response = self.command(commands.cmng_list(tag, type))
        entries = []
        for line in response.with_prefix("%CMNG:"):
            entry_tag, entry_type, sha, _ = parse_cmng(line)
            entries.append(CredentialEntry(entry_tag, entry_type, sha))
        return entries

    def cmng_read(self, tag: int, type: int) -> CredentialContent:
        """Read a credential back (``AT%CMNG=2,<tag>,<type>``).

        Missing: ``CmeError`` 513; not readable (private keys, PSKs): 514.
        """
        response = self.command(commands.cmng_read(tag, type))
        entry_tag, entry_type, sha, content = parse_cmng(_one(response, "%CMNG:"))
        if content is None:
            raise ResponseFormatError(
                "the modem answered AT%CMNG=2 without content",
                "this credential type may not be readable; compare SHAs with cmng_list",
            )
        return CredentialContent(entry_tag, entry_type, sha, content)

    def cmng_delete(self, tag: int, type: int) -> None:
        """Delete a credential (``AT%CMNG=3,<tag>,<type>``); missing: ``CmeError`` 513."""
        self.command(commands.cmng_delete(tag, type))

    # -- %XPMNG ---------------------------------------------------------------------------

    def xpmng_write(
        self, pem: bytes, slot: int | None = None, *, timeout: float | None = None
    ) -> None:
        """Upload the ``%XSUDO`` public key (``AT%XPMNG=0,"<PEM>"[,<slot>]``), write-once.

        An occupied slot gives ``CmeError`` 520 (or 519 on some firmware).
        """
        self.command(commands.xpmng_write(pem, slot), timeout=timeout)

    def xpmng_read(self, slot: int | None = None) -> bytes | None:
        """The public key PEM in ``slot`` (``AT%XPMNG=2[,,<slot>]``), or ``None`` when the
        modem says 513 (no key there). With numeric errors off a missing key is a plain
        ``ERROR`` and raises ``CmeError`` code 0."""
        command = commands.xpmng_read(slot)
        try:
            response = self.command(command)
        except CmeError as exc:
            if exc.code == CmeCode.NOT_FOUND:
                return None
            raise
        return parse_quoted_value(_one(response, "%XPMNG:"), b"%XPMNG:")

    # -- helpers --------------------------------------------------------------------------

    def _bare_value(self, command: AtCommand, *, optional: bool = False) -> bytes | None:
        """The first unprefixed information line (unchecked bytes, spaces around dropped),
        or ``None`` (and on an error result when ``optional``)."""
        try:
            response = self.command(command)
        except ModemError:
            if optional:
                return None
            raise
        values = response.bare_lines()
        return values[0].strip(b" \t") if values else None

    def _prefixed_value(self, command: AtCommand, prefix: bytes) -> bytes | None:
        """The unchecked bytes after ``prefix`` on the first matching line (see
        :func:`~xsudo.at.parse.text_value`); ``None`` on an error result or no such line."""
        try:
            response = self.command(command)
        except ModemError:
            return None
        lines = response.with_prefix(prefix.decode("ascii"))
        return text_value(lines[0], prefix) if lines else None


def _one(response: AtResponse, prefix: str) -> bytes:
    lines = response.with_prefix(prefix)
    if not lines:
        raise ResponseFormatError(
            f"the modem answered {response.command.decode('ascii', 'replace')[:40]} "
            f"without a {prefix} line",
            "check that the port is an nRF91 modem's AT interface",
        )
    return lines[0]
