"""What a received line is (final result, URC, log, boot banner, garbage, information) and
the values a finished exchange produces.

Contract:

* Final result codes are exactly ``OK``, ``ERROR``, ``+CME ERROR: <n>`` and
  ``+CMS ERROR: <n>`` (space after the colon optional), recognised only as a whole line.
  ``<n>`` is 1-5 ASCII digits; anything else after ``ERROR:`` (text, a 5000-digit number,
  nothing) still ends the exchange, but the result is *malformed*
  (:attr:`FinalResult.malformed`) and the channel raises :func:`malformed_final_error`
  (a :class:`~xsudo.at.parse.ResponseFormatError`, exit 3) instead of a modem error.
  :func:`parse_final` never raises.
* A URC is a line starting with a known unsolicited prefix (:data:`URC_PREFIXES`) that is not
  the response prefix of the command in flight (``AT+CEREG?`` answers ``+CEREG: ...``).
* Log lines are Zephyr log output (``[00:00:01.234,000] <inf> ...``, ``<err> ...``).
* Boot banners (``*** Booting ...``, ``Ready``, ``#XBOOT``) mean the device restarted.
* Garbage is a line with a non-printable or non-ASCII byte outside double quotes.
* Errors are decoded per command (docs/design/contracts.md, C3); for an ``%XSUDO`` line see
  :func:`modem_error` for which command's meaning is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from xsudo.command import command_name, find_unquoted
from xsudo.errors import CmeCode, CmeError, ModemError, describe_code

from .framing import strip_leading_junk
from .parse import ResponseFormatError, show

URC_PREFIXES: tuple[bytes, ...] = (
    b"+CEREG:",
    b"+CGEV:",
    b"+CSCON:",
    b"+CIREG:",
    b"+CNEC_ESM:",
    b"+CNEC_EMM:",
    b"+CNEC_GMM:",
    b"+CMT:",
    b"+CMTI:",
    b"+CDS:",
    b"+CBM:",
    b"+CUSD:",
    b"+CTZV:",
    b"+CEDRXP:",
    b"+CPSMS:",
    b"%XPOFWARN",
    b"%CESQ:",
    b"%MDMEV:",
    b"%XTIME:",
    b"%XSIM:",
    b"%XMODEMSLEEP:",
    b"%NCELLMEAS:",
    b"%XT3412:",
    b"%XVBATLOWLVL:",
    b"%XDATAPRFL:",
    b"%CONEVAL:",
    b"%XBATSTAT:",
    b"#XSMS:",
    b"#XPPP:",
)
"""Prefixes of unsolicited result codes nRF91 modems and sdk-nrf apps emit."""

_FINAL = re.compile(rb"^(?:OK|ERROR|\+(CME|CMS) ERROR:[ \t]*(.*))$")
MAX_ERROR_CODE_DIGITS = 5
"""Most digits in a ``+CME ERROR``/``+CMS ERROR`` code (nRF91 codes are 0-65535)."""
_ERROR_CODE = re.compile(rb"[0-9]{1,%d}" % MAX_ERROR_CODE_DIGITS)
_LOG = re.compile(
    rb"^(?:\[\d{2}:\d{2}:\d{2}\.\d{3},\d{3}\] )?<(?:err|wrn|inf|dbg)> |^\[\d{2}:\d{2}:\d{2}\.\d{3}"
)
_BANNERS = (b"*** Booting ", b"#XBOOT")
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")


class LineKind(Enum):
    """What a received line is."""

    FINAL = "final"
    URC = "urc"
    LOG = "log"
    BANNER = "banner"
    GARBAGE = "garbage"
    INFO = "info"


@dataclass(frozen=True)
class FinalResult:
    """A final result code: ``kind`` is ``OK``, ``ERROR``, ``CME`` or ``CMS``.

    ``code`` is the number after ``+CME ERROR:``/``+CMS ERROR:`` (0 for ``OK`` and plain
    ``ERROR``; -1 when what follows is not 1-5 digits, see :attr:`malformed`). ``text`` is
    the line as received (non-ASCII bytes as U+FFFD).
    """

    kind: str
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.kind == "OK"

    @property
    def malformed(self) -> bool:
        """A ``+CME ERROR``/``+CMS ERROR`` whose code is not 1-5 digits: it ends the
        exchange, but carries no code to decode."""
        return self.kind in ("CME", "CMS") and self.code < 0


@dataclass
class AtResponse:
    """The result of one command.

    ``command`` is the line sent (``AT`` included, terminator excluded); ``lines`` the
    information lines in order, raw bytes (quoted content keeps its CR/LF); ``final`` the
    final result code as received (``"OK"``, ``"ERROR"``, ``"+CME ERROR: 520"``); ``urcs``
    the URCs that arrived while it was in flight (also queued on the channel).
    """

    command: bytes
    lines: list[bytes]
    final: str
    urcs: list[bytes] = field(default_factory=list)
    result: FinalResult | None = None

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    def with_prefix(self, prefix: str) -> list[bytes]:
        """The information lines starting with ``prefix`` (e.g. ``"%CMNG:"``), prefix kept."""
        wanted = prefix.encode("ascii").upper()
        return [line for line in self.lines if line[: len(wanted)].upper() == wanted]

    def bare_lines(self) -> list[bytes]:
        """The information lines that carry no ``+NAME:``/``%NAME:`` prefix (bare values)."""
        return [line for line in self.lines if not _has_response_prefix(line)]


def _has_response_prefix(line: bytes) -> bool:
    return re.match(rb"^[+%#][A-Za-z0-9_]+:", line) is not None


def clean_line(line: bytes) -> bytes:
    """Drop leading line noise and ANSI colour codes from a received line."""
    if b"\x1b" in line:
        line = _ANSI.sub(b"", line)
    return strip_leading_junk(line).rstrip(b" \t")


def parse_final(line: bytes) -> FinalResult | None:
    """The final result code ``line`` is, or ``None``. Never raises: an error code that is
    not 1-5 ASCII digits gives code -1 (:attr:`FinalResult.malformed`)."""
    match = _FINAL.match(line)
    if match is None:
        return None
    text = line.decode("ascii", "replace")
    kind = match.group(1)
    if kind is None:
        return FinalResult("OK" if line == b"OK" else "ERROR", 0, text)
    digits = match.group(2).strip(b" \t")
    code = int(digits) if _ERROR_CODE.fullmatch(digits) else -1
    return FinalResult(kind.decode("ascii"), code, text)


def malformed_final_error(line: bytes, final: FinalResult) -> ResponseFormatError:
    """The error for a :attr:`~FinalResult.malformed` final answering ``line``: the device
    sent an error code xsudo cannot read (the value shown escaped and truncated)."""
    return ResponseFormatError(
        f"the device answered {command_name(line)} with a malformed error code: {show(final.text)}",
        "check that the port is an nRF91 modem's AT interface; "
        f"error codes are 1-{MAX_ERROR_CODE_DIGITS} digits",
    )


def is_log_line(line: bytes) -> bool:
    return _LOG.match(line) is not None


def is_boot_banner(line: bytes) -> bool:
    return line.startswith(_BANNERS) or line == b"Ready"


def is_garbage(line: bytes) -> bool:
    """A non-printable or non-ASCII byte outside double quotes (tab allowed)."""
    in_quotes = False
    for byte in line:
        if byte == 0x22:
            in_quotes = not in_quotes
        elif not in_quotes and not (0x20 <= byte <= 0x7E or byte == 0x09):
            return True
    return False


def urc_prefix(line: bytes, expected: tuple[bytes, ...]) -> bytes | None:
    """The URC prefix ``line`` starts with, unless it is one of the ``expected`` prefixes."""
    upper = line[:24].upper()
    if any(upper.startswith(prefix) for prefix in expected):
        return None
    for prefix in URC_PREFIXES:
        if upper.startswith(prefix):
            return prefix
    return None


def classify(line: bytes, expected: tuple[bytes, ...]) -> LineKind:
    """Classify a cleaned line (see :func:`clean_line`) while ``expected`` prefixes are awaited."""
    if parse_final(line) is not None:
        return LineKind.FINAL
    if is_boot_banner(line):
        return LineKind.BANNER
    if is_log_line(line):
        return LineKind.LOG
    if is_garbage(line):
        return LineKind.GARBAGE
    if urc_prefix(line, expected) is not None:
        return LineKind.URC
    return LineKind.INFO


def xsudo_inner(line: bytes) -> bytes | None:
    """For an ``AT%XSUDO=...;<inner>`` line, the inner command (after the first unquoted ``;``)."""
    if command_name(line) != "%XSUDO":
        return None
    separator = find_unquoted(line, 0x3B)
    return None if separator < 0 else line[separator + 1 :]


def expected_prefixes(line: bytes) -> tuple[bytes, ...]:
    """Response prefixes the command on ``line`` may answer with (its own, and for an
    ``%XSUDO`` line the wrapped command's)."""
    names = [command_name(line)]
    inner = xsudo_inner(line)
    if inner is not None:
        names.append(command_name(inner))
    return tuple(name.encode("ascii", "replace") + b":" for name in names if name != "AT")


XSUDO_OWN_CODES = frozenset({CmeCode.NOT_FOUND, CmeCode.AUTH_FAILED_OR_EXISTS})
"""Codes an ``%XSUDO`` line's error is decoded as ``%XSUDO``'s own (no key, auth failed)."""


class SignedCommandError(CmeError):
    """The modem refused an ``%XSUDO`` line.

    The modem gives one code for the wrapper and the wrapped command together, so which one
    failed is ambiguous. Rule: 513 (no public key in the slot) and 520 (authentication
    failed) are decoded as ``%XSUDO``'s; every other code (518, 527, 514, 50, plain ``ERROR``)
    as the wrapped command's, because once the signature verified the modem runs the inner
    command and passes its result through. ``command`` is the name whose meaning was used;
    ``wrapper`` is ``"%XSUDO"`` and ``inner_command`` the wrapped command's name.
    """

    def __init__(self, inner_command: str, code: int, kind: str = "CME") -> None:
        decoded_as = "%XSUDO" if code in XSUDO_OWN_CODES else inner_command
        super().__init__(decoded_as, code, kind)
        self.wrapper = "%XSUDO"
        self.inner_command = inner_command
        label = "ERROR" if kind == "ERROR" else f"+{kind} ERROR: {code}"
        self.message = (
            f"%XSUDO-signed {inner_command} failed with {label}: "
            f"{describe_code(decoded_as, code).meaning}"
        )


def modem_error(line: bytes, final: FinalResult, name: str | None = None) -> ModemError:
    """The typed error for a failed ``final`` answering ``line``.

    ``final`` must not be :attr:`~FinalResult.malformed` (use
    :func:`malformed_final_error` for that). ``name`` overrides the command name taken from
    ``line``. ``ERROR`` and ``+CME ERROR`` give :class:`~xsudo.errors.CmeError` (kind
    ``"ERROR"``/``"CME"``), ``+CMS ERROR`` gives :class:`~xsudo.errors.ModemError` with
    kind ``"CMS"``, and an ``%XSUDO`` line gives a :class:`SignedCommandError`.
    """
    inner = xsudo_inner(line)
    if final.kind == "CMS":
        return ModemError(name or command_name(line), "CMS", final.code)
    if inner is not None and name in (None, "%XSUDO"):
        return SignedCommandError(command_name(inner), final.code, final.kind)
    return CmeError(name or command_name(line), final.code, final.kind)
