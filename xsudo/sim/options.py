"""Simulator options: one frozen value, one parser for URL queries and CLI flags alike.

:meth:`SimOptions.from_mapping` takes ``{name: text or [text, ...]}`` (a ``sim://`` query or
the ``xsudo sim`` flags) and returns the options, so the three ways into the simulator cannot
drift apart. Names may use ``-`` or ``_``. Every field's metadata carries its help text and
parser; the CLI builds its flags from that table (:data:`OPTION_FIELDS`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

from xsudo.sim.codes import XPMNG_EXISTS_CODES
from xsudo.sim.errors import SimOptionError
from xsudo.sim.profile_file import load_profile_file
from xsudo.sim.profiles import (
    DEFAULT_NON_READABLE,
    DEFAULT_PROFILE,
    PROFILES,
    Profile,
    Traits,
)

__all__ = [
    "DEFAULT_IMEI",
    "DEFAULT_NON_READABLE",
    "OPTION_FIELDS",
    "TRAIT_OPTIONS",
    "FaultSpec",
    "SimOptionError",
    "SimOptions",
    "UrcSpec",
]

DEFAULT_IMEI = "352656100367872"
TERMINATORS: dict[str, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "nul": b"\0"}
EOLS: dict[str, bytes] = {"crlf": b"\r\n", "cr": b"\r", "lf": b"\n"}


def _q(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message: escaped (``ascii``) and cut at ``limit`` characters."""
    return ascii(text[:limit]) + ("..." if len(text) > limit else "")


@dataclass(frozen=True)
class UrcSpec:
    """An injected unsolicited result code.

    ``kind`` ``after``: once, right after the response to command number ``value``;
    ``at``: once, ``value`` seconds after start; ``every``: every ``value`` seconds.
    """

    kind: Literal["after", "at", "every"]
    value: float
    text: str

    @classmethod
    def parse(cls, spec: str) -> UrcSpec:
        """Parse ``KIND:VALUE:TEXT`` (``after:3:+CEREG: 5``, ``every:2.5:+CEREG: 1``)."""
        kind, _, rest = spec.partition(":")
        value_text, sep, text = rest.partition(":")
        if kind not in ("after", "at", "every") or not sep or not text:
            raise SimOptionError(
                f"bad URC spec {_q(spec)}",
                "use after:N:TEXT, at:SECONDS:TEXT or every:SECONDS:TEXT",
            )
        value = _parse_float(value_text, "URC " + kind)
        if kind == "after" and (value != int(value) or value < 1):
            raise SimOptionError(f"bad URC spec {_q(spec)}", "after:N needs a command number >= 1")
        if kind == "every" and value <= 0:
            raise SimOptionError(f"bad URC spec {_q(spec)}", "every:SECONDS needs SECONDS > 0")
        return cls(kind, value, text)  # type: ignore[arg-type]


FaultKind = Literal[
    "drop",
    "late",
    "stall",
    "garbage",
    "split",
    "reset",
    "reset-before",
    "reset-after",
    "unplug",
    "pofwarn",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
DEFAULT_GARBAGE = b"\x00\xff\xfe\x80garbage\x80\x1b[31m\r\n"
"""What ``garbage:N`` sends before the reply unless given HEX: line noise (NUL, bytes above
0x7F, as from a wrong baud rate), an ANSI colour code and a line end."""
DEFAULT_SPLIT_GAP = 0.001
"""Seconds between the pieces of a ``split:N`` reply unless given."""
SPLIT_PIECES = (1, 2, 3)
"""Sizes of a split reply's pieces, in turn (so the reply reassembles deterministically)."""
FAULT_GRAMMAR = (
    "use drop:N, late:N:SECONDS, stall:N[:COUNT], garbage:N[:HEX], split:N[:GAP], "
    "reset-before:N (or reset:N), reset-after:N, unplug:N or pofwarn:N; "
    "N counts non-empty commands from 1"
)


@dataclass(frozen=True)
class FaultSpec:
    """A scripted fault at command number ``n`` (1-based, counting non-empty commands).

    Kinds (``KIND:N[:ARG]``):

    * ``drop:N`` - the command runs, its whole reply is lost.
    * ``late:N:SECONDS`` - the command runs; its reply arrives ``seconds`` later than it
      would have (later output queues behind it, as on a UART).
    * ``stall:N[:COUNT]`` - commands N to N+COUNT-1 (``count``; ``None``: every command from
      N on) are swallowed: not run, not answered, as by a hung modem or bridge.
    * ``garbage:N[:HEX]`` - ``data`` (default :data:`DEFAULT_GARBAGE`) arrives just before
      the reply; the command runs.
    * ``split:N[:GAP]`` - the reply arrives in pieces of 1, 2, 3, 1, ... bytes, each
      ``seconds`` (default :data:`DEFAULT_SPLIT_GAP`) after the previous; the command runs.
    * ``reset-before:N`` (``reset:N``) - the modem reboots while the command is in flight:
      it does not run, the boot banner is sent instead, and CFUN, CMEE and the power-off
      warning return to their boot values.
    * ``reset-after:N`` - the command runs (what it stored stays stored), then the modem
      reboots before answering: the reply is lost, the banner is sent, volatile state
      returns to its boot values.
    * ``unplug:N`` - the command runs, then the port vanishes before any reply byte (each
      transport does what a vanished device does to its kind of port).
    * ``pofwarn:N`` - the power-off warning fires just before the command runs (URC first,
      then the command sees it).
    """

    kind: FaultKind
    n: int
    seconds: float | None = None
    count: int | None = None
    data: bytes = b""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise SimOptionError(f"unknown fault kind {self.kind!r}", FAULT_GRAMMAR)
        if self.n < 1:
            raise SimOptionError(f"fault {self.kind}:{self.n}: N counts commands from 1")
        if self.kind == "late" and self.seconds is None:
            raise SimOptionError("fault late:N needs SECONDS (late:N:SECONDS)", FAULT_GRAMMAR)
        if self.seconds is not None:
            if self.kind not in ("late", "split"):
                raise SimOptionError(f"fault {self.kind} takes no SECONDS", FAULT_GRAMMAR)
            if not math.isfinite(self.seconds) or self.seconds < 0:
                raise SimOptionError(
                    f"fault {self.kind}:{self.n}: {self.seconds} is not a number of seconds >= 0"
                )
        if self.count is not None and (self.kind != "stall" or self.count < 1):
            raise SimOptionError(f"fault {self.kind}:{self.n}: bad COUNT", FAULT_GRAMMAR)
        if self.data and self.kind != "garbage":
            raise SimOptionError(f"fault {self.kind} takes no bytes", FAULT_GRAMMAR)

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse ``KIND:N[:ARG]`` (``drop:3``, ``late:3:0.5``, ``stall:4``, ``stall:4:2``,
        ``garbage:2``, ``garbage:2:00ff0d0a``, ``split:5``, ``reset-after:6``, ``unplug:7``)."""
        kind, _, rest = spec.strip().partition(":")
        number, _, arg = rest.partition(":")
        kind = kind.lower()
        takes_arg = {"late": True, "stall": False, "garbage": False, "split": False}
        if kind not in FAULT_KINDS or not _is_count(number):
            raise SimOptionError(f"bad fault spec {_q(spec)}", FAULT_GRAMMAR)
        if kind not in takes_arg and ":" in rest:
            raise SimOptionError(f"bad fault spec {_q(spec)}: {kind} takes only N", FAULT_GRAMMAR)
        if takes_arg.get(kind) and not arg:
            raise SimOptionError(f"bad fault spec {_q(spec)}: {kind} needs SECONDS", FAULT_GRAMMAR)
        n = int(number)
        if n < 1:
            raise SimOptionError(f"bad fault spec {_q(spec)}: N counts commands from 1")
        if ":" in rest and not arg:
            raise SimOptionError(f"bad fault spec {_q(spec)}: empty argument", FAULT_GRAMMAR)
        try:
            if kind in ("late", "split") and arg:
                return cls(kind, n, seconds=_parse_seconds(arg))  # type: ignore[arg-type]
            if kind == "stall" and arg:
                if not _is_count(arg) or int(arg) < 1:
                    raise SimOptionError(f"{arg!r} is not a command count >= 1")
                return cls("stall", n, count=int(arg))
            if kind == "garbage" and arg:
                return cls("garbage", n, data=_parse_hex(arg))
            return cls(kind, n)  # type: ignore[arg-type]
        except SimOptionError as exc:
            raise SimOptionError(
                f"bad fault spec {_q(spec)}: {exc.message}", FAULT_GRAMMAR
            ) from None

    def render(self) -> str:
        """The spec as text (inverse of :meth:`parse`)."""
        head = f"{self.kind}:{self.n}"
        if self.seconds is not None:
            return f"{head}:{_num(self.seconds)}"
        if self.count is not None:
            return f"{head}:{self.count}"
        if self.data:
            return f"{head}:{self.data.hex()}"
        return head

    def covers(self, number: int) -> bool:
        """Whether this fault acts on command ``number`` (a stall covers a range)."""
        if self.kind != "stall":
            return number == self.n
        return number >= self.n and (self.count is None or number < self.n + self.count)


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_seconds(text: str) -> float:
    value = _parse_float(text, "seconds")
    if not math.isfinite(value) or value < 0:
        raise SimOptionError(f"{_q(text)} is not a number of seconds >= 0")
    return value


def _parse_hex(text: str) -> bytes:
    try:
        data = bytes.fromhex(text)
    except ValueError:
        data = b""
    if not data:
        raise SimOptionError(f"{_q(text)} is not hex bytes (e.g. 00ff0d0a)")
    return data


def _parse_float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SimOptionError(f"{what}: {_q(text)} is not a number") from None


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SimOptionError(f"{_q(text)} is not a boolean", "use 1/0, true/false, yes/no or on/off")


def _parse_optional_bool(text: str) -> bool | None:
    if text.strip().lower() in _AUTO:
        return None
    return _parse_bool(text)


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise SimOptionError(f"{_q(text)} is not an integer") from None


_AUTO = ("auto", "default", "profile")


def _parse_optional_int(text: str) -> int | None:
    if text.strip().lower() in _AUTO:
        return None
    return _parse_int(text)


def _parse_capacity(text: str) -> int | None:
    """``auto``: the profile's; ``0``/``none``/``off``/``unlimited``: no limit (0)."""
    lowered = text.strip().lower()
    if lowered in _AUTO:
        return None
    if lowered in ("", "none", "off", "unlimited"):
        return 0
    return _parse_int(text)


def _parse_optional_str(text: str) -> str | None:
    return text or None


def _parse_int_set(text: str) -> frozenset[int] | None:
    if text.strip().lower() in _AUTO:
        return None
    items = [item for item in text.replace(" ", "").split(",") if item]
    if len(items) == 1 and items[0].lower() == "none":
        return frozenset()
    return frozenset(_parse_int(item) for item in items)


def _parse_restricted(text: str) -> tuple[str, ...] | None:
    stripped = text.strip()
    if stripped.lower() in _AUTO:
        return None
    if stripped.lower() in ("", "none"):
        return ()
    return tuple(item.strip().upper() for item in stripped.split(",") if item.strip())


def _choice(*names: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        lowered = text.strip().lower()
        if lowered not in names:
            raise SimOptionError(f"{_q(text)} is not one of {', '.join(names)}")
        return lowered

    return parse


def _profile_name(text: str) -> str:
    if text not in PROFILES:
        raise SimOptionError(
            f"unknown simulator profile {_q(text)}", f"choose one of {', '.join(PROFILES)}"
        )
    return text


def _opt(
    default: Any,
    help: str,
    parse: Callable[[str], Any],
    *,
    multiple: bool = False,
    flag: bool = False,
    metavar: str | None = None,
) -> Any:
    meta = {"help": help, "parse": parse, "multiple": multiple, "flag": flag, "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SimOptions:
    """Everything that configures one simulated board (all fields have safe defaults).

    The firmware comes from ``profile`` (a built-in name) or ``profile_file`` (a profile
    file, which then replaces the named profile); every trait option left unset (``None``)
    takes the profile's value, one that is set overrides it (:attr:`traits`).
    """

    profile: str = _opt(
        DEFAULT_PROFILE,
        f"firmware profile: {', '.join(PROFILES)}",
        _profile_name,
        metavar="NAME",
    )
    profile_file: str | None = _opt(
        None,
        "load the firmware profile from this profile file (JSON, format xsudo-sim-profile) "
        "instead of a built-in one; trait options still override it",
        _parse_optional_str,
        metavar="FILE",
    )
    profile_out: str | None = _opt(
        None,
        "write the board's effective profile (profile or profile-file, with the trait options "
        "applied) to this file as a profile file when the board starts",
        _parse_optional_str,
        metavar="FILE",
    )
    state: str | None = _opt(
        None,
        "JSON file holding the board's NVM (credentials, keys); loaded at start if present "
        "and rewritten atomically after every change",
        _parse_optional_str,
        metavar="FILE",
    )
    mfw: str | None = _opt(
        None, "+CGMR string (default: the profile's)", _parse_optional_str, metavar="TEXT"
    )
    imei: str = _opt(
        DEFAULT_IMEI, "IMEI for +CGSN (empty: +CGSN answers ERROR)", str, metavar="DIGITS"
    )
    echo: bool = _opt(False, "echo received bytes back", _parse_bool, flag=True)
    terminator: str = _opt(
        "cr", "command terminator: cr, lf, crlf or nul", _choice(*TERMINATORS), metavar="NAME"
    )
    response_eol: str = _opt(
        "crlf", "line end of responses: crlf, cr or lf", _choice(*EOLS), metavar="NAME"
    )
    baud: int = _opt(
        0,
        "emulate wire time at this baud rate (10 bits per byte; 0: instant)",
        _parse_int,
        metavar="N",
    )
    max_line: int | None = _opt(
        None,
        "longest command accepted in characters (default: the profile's, 4095 for at_host)",
        _parse_optional_int,
        metavar="N",
    )
    overflow: str = _opt(
        "error",
        "over-long command: error (answer ERROR) or truncate (drop bytes like at_host)",
        _choice("error", "truncate"),
        metavar="MODE",
    )
    accept_raw_signatures: bool | None = _opt(
        None,
        "let %XSUDO accept raw 64-byte r||s signatures (default: the profile's)",
        _parse_optional_bool,
        flag=True,
    )
    xpmng_exists_code: int | None = _opt(
        None,
        "CME code for %XPMNG on an occupied slot, 519 or 520 (default: the profile's)",
        _parse_optional_int,
        metavar="CODE",
    )
    xpmng_readable: bool | None = _opt(
        None,
        "answer %XPMNG=2 reads (off: +CME ERROR: 514, a firmware that hides its key slots; "
        "default: the profile's)",
        _parse_optional_bool,
        flag=True,
    )
    cmee2: bool | None = _opt(
        None, "accept AT+CMEE=2 (default: the profile's)", _parse_optional_bool, flag=True
    )
    validate_content: bool | None = _opt(
        None,
        "check type 0/1 PEM and answer 527 (default: the profile's; nRF91x1 mfw >= 2.0.2 and NTN)",
        _parse_optional_bool,
        flag=True,
    )
    tls_decrypt_tags: bool | None = _opt(
        None,
        "let %CMNG write, read and delete the TLS decrypt test tags 2147483648-2147483667 "
        "(default: the profile's; on for nRF91x1)",
        _parse_optional_bool,
        flag=True,
    )
    certexpiry: bool | None = _opt(
        None,
        "answer %CERTEXPIRY (off: ERROR, a firmware without it; default: the profile's)",
        _parse_optional_bool,
        flag=True,
    )
    xproddone: bool | None = _opt(
        None,
        "answer %XPRODDONE (off: ERROR; default: the profile's, on for nRF91x1)",
        _parse_optional_bool,
        flag=True,
    )
    restricted: tuple[str, ...] | None = _opt(
        None,
        "commands that need %XSUDO, e.g. %CMNG=0,%KEYGEN ('none' for none; default: profile)",
        _parse_restricted,
        metavar="LIST",
    )
    non_readable_types: frozenset[int] | None = _opt(
        None,
        "%CMNG types refused by read, 514 (default: the profile's, 1,2,3,6,8,10,11)",
        _parse_int_set,
        metavar="LIST",
    )
    write_once_types: frozenset[int] | None = _opt(
        None,
        "%CMNG types that cannot be overwritten, 519 (default: the profile's, none)",
        _parse_int_set,
        metavar="LIST",
    )
    capacity_bytes: int | None = _opt(
        None,
        "credential storage capacity in bytes, 515 when full (0: unlimited; default: the "
        "profile's, unlimited)",
        _parse_capacity,
        metavar="N",
    )
    plain_param_errors: bool | None = _opt(
        None,
        "answer plain ERROR instead of +CME ERROR: 50 (default: the profile's)",
        _parse_optional_bool,
        flag=True,
    )
    pofwarn_blocks_read: bool | None = _opt(
        None,
        "an active power-off warning blocks %CMNG read, 528 (default: the profile's, on)",
        _parse_optional_bool,
        flag=True,
    )
    seed_reserved: bool = _opt(
        True, "seed the reserved tags 4294967292-4294967294", _parse_bool, flag=True
    )
    urc: tuple[UrcSpec, ...] = _opt(
        (),
        "inject a URC: after:N:TEXT, at:SECONDS:TEXT or every:SECONDS:TEXT",
        UrcSpec.parse,
        multiple=True,
        metavar="SPEC",
    )
    fault: tuple[FaultSpec, ...] = _opt(
        (),
        "scripted fault at command N: drop:N, late:N:SECONDS, stall:N[:COUNT], "
        "garbage:N[:HEX], split:N[:GAP], reset-before:N (reset:N), reset-after:N, unplug:N "
        "or pofwarn:N",
        FaultSpec.parse,
        multiple=True,
        metavar="SPEC",
    )
    cmd_type: str = _opt(
        "at",
        "at: raw AT lines (at_host); shell: the Zephyr shell's 'at' command (CONFIG_AT_SHELL)",
        _choice("at", "shell"),
        metavar="TYPE",
    )
    unescape_lf: bool = _opt(
        False,
        "shell: replace a literal \\n with CR LF in AT%CMNG=0 (CONFIG_AT_SHELL_UNESCAPE_LF)",
        _parse_bool,
        flag=True,
    )
    shell_buffer: int = _opt(
        4096, "shell: CONFIG_SHELL_CMD_BUFF_SIZE (longest line + 1)", _parse_int, metavar="N"
    )
    shell_echo: bool = _opt(True, "shell: echo typed characters", _parse_bool, flag=True)
    shell_response_max: int = _opt(
        2700,
        "shell: CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN (longer responses fail with -7)",
        _parse_int,
        metavar="N",
    )
    csr_null_param: bool | None = _opt(
        None,
        "%KEYGEN CSRs encode ecdsa-with-SHA256 with a NULL parameter, as older modem firmware "
        "(mfw 1.3.5) does (default: the profile's)",
        _parse_optional_bool,
        flag=True,
    )
    identity_key_out: str | None = _opt(
        None,
        "write the simulated device identity public key (PEM) to this file",
        _parse_optional_str,
        metavar="FILE",
    )

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            _profile_name(self.profile)
        if self.profile_file is not None and self.profile != DEFAULT_PROFILE:
            raise SimOptionError(
                f"profile {self.profile!r} and profile-file {self.profile_file!r} both name "
                "the firmware",
                "give one of them (a profile file replaces the built-in profile)",
            )
        if self.xpmng_exists_code is not None and (
            self.xpmng_exists_code not in XPMNG_EXISTS_CODES
        ):
            raise SimOptionError(f"xpmng-exists-code {self.xpmng_exists_code} is not 519 or 520")
        if self.baud < 0:
            raise SimOptionError("baud must be 0 (instant) or positive")
        if self.max_line is not None and self.max_line < 1:
            raise SimOptionError("max-line must be positive")
        if self.capacity_bytes is not None and self.capacity_bytes < 0:
            raise SimOptionError("capacity-bytes must be 0 (unlimited) or positive")
        if self.shell_buffer < 2 or self.shell_response_max < 1:
            raise SimOptionError("shell-buffer must be at least 2, shell-response-max positive")
        if self.imei and not self.imei.isdigit():
            raise SimOptionError(f"IMEI {self.imei!r} is not all digits")
        _ = self.profile_info  # a bad profile file fails here, at once

    # -- the firmware ----------------------------------------------------------------------

    @cached_property
    def profile_info(self) -> Profile:
        """The profile: loaded from :attr:`profile_file`, else the built-in :attr:`profile`."""
        if self.profile_file is not None:
            return load_profile_file(self.profile_file)
        return PROFILES[self.profile]

    @cached_property
    def traits(self) -> Traits:
        """What this board's firmware does: the profile's traits (derived ones for the
        ``+CGMR`` string in use), then every trait option that is set."""
        decided = self.profile_info.resolved(self.effective_mfw)
        overrides: dict[str, Any] = {}
        for option, trait in TRAIT_OPTIONS.items():
            value = getattr(self, option)
            if value is not None:
                overrides[trait] = value
        if overrides.get("capacity_bytes") == 0:
            overrides["capacity_bytes"] = None
        return dataclasses.replace(decided, **overrides)

    @property
    def effective_profile(self) -> Profile:
        """The profile this board runs, options applied, every trait explicit (what
        ``profile_out`` writes)."""
        values = {name: getattr(self.traits, name) for name in TRAIT_OPTIONS.values()}
        return dataclasses.replace(self.profile_info, mfw=self.effective_mfw, **values)

    @property
    def profile_name(self) -> str:
        """The name of the profile in use (a profile file's own name, when one is loaded)."""
        return self.profile_info.name

    @property
    def effective_mfw(self) -> str:
        return self.mfw or self.profile_info.mfw

    @property
    def effective_cmee2(self) -> bool:
        return self.traits.cmee2_accepted

    @property
    def effective_validate_content(self) -> bool:
        return self.traits.validate_content

    @property
    def effective_restricted(self) -> tuple[str, ...]:
        return self.traits.restricted

    # -- parsing --------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | Sequence[str]]) -> SimOptions:
        """Build options from text values (a URL query or CLI flags).

        Unknown names raise :class:`SimOptionError`. A multi-valued field (``urc``,
        ``fault``) takes every value given; others take the last one.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for raw_name, raw_value in mapping.items():
            name = raw_name.replace("-", "_").lower()
            if name not in fields:
                raise SimOptionError(
                    f"unknown simulator option {_q(raw_name)}",
                    f"known options: {', '.join(n.replace('_', '-') for n in fields)}",
                )
            items = [raw_value] if isinstance(raw_value, str) else list(raw_value)
            meta = fields[name].metadata
            parse: Callable[[str], Any] = meta["parse"]
            try:
                if meta["multiple"]:
                    values[name] = tuple(parse(item) for item in items)
                elif items:
                    values[name] = parse(items[-1])
            except SimOptionError as exc:
                raise SimOptionError(
                    f"option {name.replace('_', '-')}: {exc.message}", exc.hint
                ) from None
        return cls(**values)

    def to_mapping(self) -> dict[str, list[str]]:
        """The options that differ from the defaults, as text (inverse of ``from_mapping``)."""
        out: dict[str, list[str]] = {}
        default = SimOptions()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            out[f.name.replace("_", "-")] = _render(value)
        return out


TRAIT_OPTIONS: dict[str, str] = {
    "cmee2": "cmee2_accepted",
    "validate_content": "validate_content",
    "tls_decrypt_tags": "tls_decrypt_tags",
    "restricted": "restricted",
    "non_readable_types": "non_readable_types",
    "write_once_types": "write_once_types",
    "capacity_bytes": "capacity_bytes",
    "plain_param_errors": "plain_param_errors",
    "pofwarn_blocks_read": "pofwarn_blocks_read",
    "xpmng_exists_code": "xpmng_exists_code",
    "xpmng_readable": "xpmng_readable",
    "accept_raw_signatures": "accept_raw_signatures",
    "csr_null_param": "csr_null_param",
    "certexpiry": "certexpiry",
    "xproddone": "xproddone",
    "max_line": "max_line",
}
"""Option name -> the :class:`~xsudo.sim.profiles.Traits` field it overrides (every trait
has one)."""


def _render(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if value is None:
        return ["auto"]
    if isinstance(value, frozenset):
        return [",".join(str(v) for v in sorted(value)) or "none"]
    if isinstance(value, tuple):
        if value and isinstance(value[0], UrcSpec):
            return [f"{u.kind}:{_num(u.value)}:{u.text}" for u in value]
        if value and isinstance(value[0], FaultSpec):
            return [f.render() for f in value]
        return [",".join(str(v) for v in value) or "none"]
    return [str(value)]


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


OPTION_FIELDS: tuple[dataclasses.Field[Any], ...] = tuple(dataclasses.fields(SimOptions))
"""The option table the CLI turns into flags (name, help, parser, multiple, flag)."""
