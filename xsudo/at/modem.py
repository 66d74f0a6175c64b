"""Typed modem operations over an :class:`~xsudo.at.channel.AtChannel`.

Contract of :class:`Modem`:

* Commands are built only as :class:`~xsudo.command.AtCommand` values (nothing f-strings AT
  text), so content with a ``"`` or a non-ASCII byte is refused before anything is sent.
* One command at a time (the channel's lock). Every method may raise what
  :meth:`AtChannel.command` raises: :class:`~xsudo.errors.CmeError`/
  :class:`~xsudo.errors.ModemError` decoded for the command sent, and the
  :class:`~xsudo.errors.DeviceError` family. Bad arguments raise
  :class:`~xsudo.errors.BadInputError` with nothing sent.
* Nothing here changes state the caller did not ask for, except numeric error reporting:
  :meth:`enable_numeric_errors` (done by :meth:`Modem.open`) sets ``AT+CMEE=1`` and
  :meth:`close` puts back the value found, as sdk-nrf's ``modem_key_mgmt`` does.
  A device reset turns numeric errors off again; call :meth:`enable_numeric_errors` after
  a :class:`~xsudo.errors.DeviceReset`.
* Policy (offline first, never overwrite, verify SHAs, which tags are reserved) belongs to
  the layer above; this class only speaks the commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Unpack

from xsudo.command import AtCommand, check_slot
from xsudo.errors import BadInputError, CmeError, ModemError, XsudoError

from .channel import AtChannel, ChannelOptions
from .parse import (
    ResponseFormatError,
    parse_cmng,
    parse_quoted_value,
    parse_single_int,
    parse_text_value,
)
from .results import AtResponse

MAX_SEC_TAG = 4294967295
MAX_USER_SEC_TAG = 2147483647
"""Tags above this are the modem's own (reserved)."""
CRED_TYPES = range(14)


@dataclass(frozen=True)
class ModemIdentity:
    """Who the modem is. ``family`` is ``"nrf9160"``, ``"nrf91x1"`` or ``"unknown"``."""

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


def _check_tag(tag: int) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag <= MAX_SEC_TAG:
        raise BadInputError(f"sec_tag {tag!r} is out of range", "sec_tags are 0-4294967295")
    return tag


def _check_type(cred_type: int) -> int:
    if isinstance(cred_type, bool) or not isinstance(cred_type, int) or cred_type not in CRED_TYPES:
        raise BadInputError(
            f"credential type {cred_type!r} is out of range", "%CMNG types are 0-13"
        )
    return cred_type


def _as_text(content: bytes, what: str) -> str:
    if not content:
        raise BadInputError(f"the {what} is empty", "the modem refuses empty content")
    # latin-1 maps every byte to one character, so AtCommand's check names the exact byte
    # that is not printable ASCII.
    return content.decode("latin-1")


class Modem:
    """Typed nRF91 operations on one :class:`AtChannel` (see the module contract)."""

    def __init__(self, channel: AtChannel) -> None:
        self.channel = channel
        self._cmee_before: int | None = None

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
        on numeric error codes."""
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
        return self.channel.command(cmd, timeout=timeout, check=check)

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
        return self.channel.command(line, timeout=timeout, check=check, name=name_for_errors)

    # -- error reporting ------------------------------------------------------------------

    def enable_numeric_errors(self) -> int:
        """Make the modem answer ``+CME ERROR: <n>`` (``AT+CMEE=1``); return the old setting.

        The old setting is remembered (the first time) for :meth:`restore_numeric_errors`.
        """
        response = self.command(AtCommand.read("+CMEE"))
        previous = parse_single_int(_one(response, "+CMEE:"), b"+CMEE:")
        if previous != 1:
            self.command(AtCommand.set("+CMEE", 1))
            if self._cmee_before is None:
                self._cmee_before = previous
        return previous

    def restore_numeric_errors(self) -> None:
        """Put back the ``+CMEE`` value :meth:`enable_numeric_errors` changed, if it did."""
        if self._cmee_before is not None:
            previous, self._cmee_before = self._cmee_before, None
            self.command(AtCommand.set("+CMEE", previous))

    # -- identity and power ---------------------------------------------------------------

    def identity(self) -> ModemIdentity:
        """IMEI (``+CGSN``), model (``%HWVERSION``, else ``+CGMM``), firmware (``+CGMR``),
        family, and modem firmware UUID (``%XMODEMUUID``). Optional items the firmware does
        not answer are ``None``; the firmware version is required."""
        mfw = self._bare_value(AtCommand.exec("+CGMR"))
        if mfw is None:
            raise ResponseFormatError(
                "the modem gave no firmware version for AT+CGMR",
                "check that the port is an nRF91 modem's AT interface",
            )
        model = self._prefixed_text(AtCommand.exec("%HWVERSION"), b"%HWVERSION:")
        if model is None:
            model = self._bare_value(AtCommand.exec("+CGMM"), optional=True)
        return ModemIdentity(
            imei=self._bare_value(AtCommand.exec("+CGSN"), optional=True),
            model=model,
            mfw=mfw,
            family=family_of(mfw, model),
            uuid=self._prefixed_text(AtCommand.exec("%XMODEMUUID"), b"%XMODEMUUID:"),
        )

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
        if type is not None and tag is None:
            raise BadInputError("a credential type needs a sec_tag to list", "give --tag too")
        params = [1]
        if tag is not None:
            params.append(_check_tag(tag))
        if type is not None:
            params.append(_check_type(type))
        response = self.command(AtCommand.set("%CMNG", *params))
        entries = []
        for line in response.with_prefix("%CMNG:"):
            entry_tag, entry_type, sha, _ = parse_cmng(line)
            entries.append(CredentialEntry(entry_tag, entry_type, sha))
        return entries

    def cmng_read(self, tag: int, type: int) -> CredentialContent:
        """Read a credential back (``AT%CMNG=2,<tag>,<type>``).

        Missing: ``CmeError`` 513; not readable (private keys, PSKs): 514.
        """
        response = self.command(AtCommand.set("%CMNG", 2, _check_tag(tag), _check_type(type)))
        entry_tag, entry_type, sha, content = parse_cmng(_one(response, "%CMNG:"))
        if content is None:
            raise ResponseFormatError(
                "the modem answered AT%CMNG=2 without content",
                "this credential type may not be readable; compare SHAs with cmng_list",
            )
        return CredentialContent(entry_tag, entry_type, sha, content)

    def cmng_write(
        self,
        tag: int,
        type: int,
        content: bytes,
        password: str | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Write ``content`` exactly as given (``AT%CMNG=0,<tag>,<type>,"<content>"``).

        The modem lists SHA-256 of exactly these bytes. Needs the modem offline (518
        otherwise). ``password`` is only for an encrypted type-2 key; it is sent to the
        modem, never logged or put in an error.
        """
        text = _as_text(content, "credential content")
        command = AtCommand.set("%CMNG", 0, _check_tag(tag), _check_type(type), text, password)
        self.command(command, timeout=timeout)

    def cmng_delete(self, tag: int, type: int) -> None:
        """Delete a credential (``AT%CMNG=3,<tag>,<type>``); missing: ``CmeError`` 513."""
        self.command(AtCommand.set("%CMNG", 3, _check_tag(tag), _check_type(type)))

    # -- %XPMNG ---------------------------------------------------------------------------

    def xpmng_write(
        self, pem: bytes, slot: int | None = None, *, timeout: float | None = None
    ) -> None:
        """Upload the ``%XSUDO`` public key (``AT%XPMNG=0,"<PEM>"[,<slot>]``), write-once.

        An occupied slot gives ``CmeError`` 520 (or 519 on some firmware).
        """
        text = _as_text(pem, "public key PEM")
        self.command(AtCommand.set("%XPMNG", 0, text, check_slot(slot)), timeout=timeout)

    def xpmng_read(self, slot: int | None = None) -> bytes | None:
        """The public key PEM in ``slot`` (``AT%XPMNG=2[,,<slot>]``), or ``None`` when the
        modem says 513 (no key there). With numeric errors off a missing key is a plain
        ``ERROR`` and raises ``CmeError`` code 0."""
        command = AtCommand.set("%XPMNG", 2, None, check_slot(slot))
        try:
            response = self.command(command)
        except CmeError as exc:
            if exc.code == 513:
                return None
            raise
        return parse_quoted_value(_one(response, "%XPMNG:"), b"%XPMNG:")

    # -- helpers --------------------------------------------------------------------------

    def _bare_value(self, command: AtCommand, *, optional: bool = False) -> str | None:
        """The first unprefixed information line, or ``None`` (and on an error result when
        ``optional``)."""
        try:
            response = self.command(command)
        except ModemError:
            if optional:
                return None
            raise
        values = response.bare_lines()
        return values[0].decode("ascii", "replace").strip() if values else None

    def _prefixed_text(self, command: AtCommand, prefix: bytes) -> str | None:
        """The text after ``prefix`` on the first matching line; ``None`` on an error result."""
        try:
            response = self.command(command)
        except ModemError:
            return None
        lines = response.with_prefix(prefix.decode("ascii"))
        return parse_text_value(lines[0], prefix) if lines else None


def _one(response: AtResponse, prefix: str) -> bytes:
    lines = response.with_prefix(prefix)
    if not lines:
        raise ResponseFormatError(
            f"the modem answered {response.command.decode('ascii', 'replace')[:40]} "
            f"without a {prefix} line",
            "check that the port is an nRF91 modem's AT interface",
        )
    return lines[0]
