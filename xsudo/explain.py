"""The offline catalog of modem error codes, per command: what a code means, its likely
causes, the fix, and where Nordic documents it (contract C3, docs/design/contracts.md).

One source of truth, in two parts that never repeat each other:

* the **meaning** and the **next step** (a hint in words for any caller, and a
  :class:`~xsudo.errors.Remedy` that a front end words in its own terms) come from
  :func:`xsudo.errors.describe_code`, the table every :class:`~xsudo.errors.ModemError` is
  decoded with, so an explanation says exactly what the error said;
* the **likely causes** and the **documentation links** are here, in :data:`CATALOG`, one
  :class:`CodeEntry` per command and code, and one per code for "any command"
  (:data:`ANY_COMMAND`), for every :class:`~xsudo.errors.CmeCode`.

Contract:

* :func:`explain` is pure and offline. For a command it returns that command's entry, else
  the any-command entry (flagged :attr:`Meaning.documented` false); with no command, every
  entry for the code. A code no table knows raises :class:`UnknownCodeError` (exit 2).
* For an ``AT%XSUDO=...;<command>`` line both meanings are given, ``%XSUDO``'s and the
  wrapped command's, with :attr:`Explanation.whose` saying whose the code is taken to be
  (its meaning first): 513 and 520 are ``%XSUDO``'s own, 514 and a bare ``ERROR`` are
  ambiguous (both meanings, always), every other code is the wrapped command's (the modem
  runs it once the signature verifies and passes its answer through). The other side's
  meaning follows when it has one of its own for that code. This is the rule of
  :class:`xsudo.at.results.SignedCommandError`.
* Nothing here sends anything, reads a file or imports the AT layer, keys or the simulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from xsudo.command import command_name, find_unquoted
from xsudo.errors import BadInputError, CmeCode, Remedy, describe_code

ANY_COMMAND = "*"
"""The command of the catalog entries that hold for every command (the generic meaning)."""

XSUDO = "%XSUDO"

# Nordic's pages (the "Sources" of ../shared/spec/nrf91-at.md).
DOC_CMNG_9160 = "https://docs.nordicsemi.com/r/a9hNfce_cGoQ_yc53n~QEg/6~u4x3XnvC7aK0fWkJq15Q"
DOC_CMNG_91X1 = (
    "https://infocenter.nordicsemi.com/topic/ref_at_commands_nrf91x1/REF/at_commands/"
    "security/cmng_set.html"
)
DOC_XPMNG = "https://docs.nordicsemi.com/r/a9hNfce_cGoQ_yc53n~QEg/JZqGpCFSMu4jVficU2VUSg"
DOC_XSUDO = "https://docs.nordicsemi.com/r/a9hNfce_cGoQ_yc53n~QEg/3uqBC0f3gI2u5Ta6NcBhyg"
DOC_XSUDO_91X1 = "https://docs.nordicsemi.com/r/sQuzw4~0kWck7WgIb4K78w/AXEuzrl4bA_ghxkxFEsRoA"
DOC_AUTH_91X1 = (
    "https://infocenter.nordicsemi.com/topic/ref_at_commands_nrf91x1/REF/at_commands/"
    "syntax/authenticate_at_command_use.html"
)
DOC_KEYGEN = (
    "https://docs.nordicsemi.com/r/bundle/ref_at_commands/page/ref/at_commands/security/"
    "keygen_set.html"
)
DOC_CERTEXPIRY = "https://docs.nordicsemi.com/r/a9hNfce_cGoQ_yc53n~QEg/P6T2wQfHpEyhAZuoLoVMjg"
DOC_CLAIMTOKEN = "https://docs.nordicsemi.com/r/a9hNfce_cGoQ_yc53n~QEg/ERfirGoTmDFisBiPSQP0DQ"
DOC_XPOFWARN = (
    "https://infocenter.nordicsemi.com/topic/ref_at_commands_nrf91x1/REF/at_commands/"
    "mob_termination_ctrl_status/xpofwarn.html"
)
DOC_RESPONSES = (
    "https://infocenter.nordicsemi.com/topic/ref_at_commands_nrf91x1/REF/at_commands/"
    "syntax/at_syntax_response.html"
)

XSUDO_OWN_CODES = frozenset({CmeCode.NOT_FOUND, CmeCode.AUTH_FAILED_OR_EXISTS})
"""Codes a signed line's error is taken as ``%XSUDO``'s own (the same set as
:data:`xsudo.at.results.XSUDO_OWN_CODES`, which decodes live errors)."""

XSUDO_AMBIGUOUS_CODES = frozenset({CmeCode.PLAIN_ERROR, CmeCode.NO_ACCESS})
"""Codes a signed line's error cannot be given to either side: 514 is documented for both,
and a bare ``ERROR`` hides any code."""

Whose = Literal["xsudo", "wrapped", "ambiguous"]


@dataclass(frozen=True)
class CodeEntry:
    """What the catalog adds for one ``command`` (``"%CMNG"``, or :data:`ANY_COMMAND`) and
    ``code`` (0 is a bare ``ERROR``): the likely causes, most likely first; Nordic's pages;
    and whether the meaning is the project's reading where Nordic is silent (``assumed``)."""

    command: str
    code: int
    causes: tuple[str, ...]
    docs: tuple[str, ...]
    assumed: bool = False


@dataclass(frozen=True)
class Meaning:
    """One command's meaning of a code: :func:`xsudo.errors.describe_code`'s meaning, hint
    and remedy, and the catalog entry's causes and links. ``documented`` is false when the
    command has no entry of its own for the code and the any-command meaning stands in."""

    command: str
    code: int
    meaning: str
    hint: str
    remedy: Remedy | None
    causes: tuple[str, ...]
    docs: tuple[str, ...]
    assumed: bool
    documented: bool

    @property
    def label(self) -> str:
        """How the modem says it: ``ERROR`` or ``+CME ERROR: <code>``."""
        return "ERROR" if self.code == 0 else f"+CME ERROR: {self.code}"

    def to_json(self, fix: str | None = None) -> dict[str, Any]:
        """The JSON object of this meaning; ``fix`` is the next step in the caller's words
        (default: :attr:`hint`)."""
        return {
            "command": None if self.command == ANY_COMMAND else self.command,
            "code": self.code,
            "meaning": self.meaning,
            "causes": list(self.causes),
            "fix": fix if fix is not None else self.hint,
            "remedy": self.remedy.to_json() if self.remedy is not None else None,
            "docs": list(self.docs),
            "assumed": self.assumed,
            "documented": self.documented,
        }


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found for ``code``: the ``command`` asked about (``None``: every
    command), the wrapped command of a signed line (``inner``), whose code it is on a signed
    line (``whose`` and ``whose_text``), and the meanings in order."""

    code: int
    command: str | None
    inner: str | None
    meanings: tuple[Meaning, ...]
    whose: Whose | None = None
    whose_text: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def signed(self) -> bool:
        return self.inner is not None


class UnknownCodeError(BadInputError):
    """A code the catalog does not know for any command (exit 2)."""


def _entry(
    command: str, code: int, causes: tuple[str, ...], docs: tuple[str, ...], assumed: bool = False
) -> tuple[tuple[str, int], CodeEntry]:
    return (command, code), CodeEntry(command, code, causes, docs, assumed)


_CMNG = (DOC_CMNG_9160, DOC_CMNG_91X1)
_OFFLINE_CAUSE = (
    "the modem is active (+CFUN 1, 2 or 21): writes and deletes need it offline (AT+CFUN=4)"
)
_POFWARN_CAUSE = (
    "the supply voltage fell below the %XPOFWARN threshold (on nRF91x1 the warning is on by "
    "default at 3.0 V) and the modem blocks changes to its storage"
)
_POFWARN_JIG = "a weak supply such as a factory jig or a long USB cable (a reported case)"
_PLAIN_ERROR_CAUSES = (
    "numeric error codes are off (AT+CMEE=0): any error comes as a bare ERROR",
    "a syntax error, or a command this firmware does not know",
)

CATALOG: dict[tuple[str, int], CodeEntry] = dict(
    [
        # -- %XSUDO: its own codes (513, 514, 520); others are the wrapped command's ------
        _entry(
            XSUDO,
            0,
            (
                "the firmware does not know %XSUDO",
                "numeric error codes are off and the signature did not verify (a 520 hidden "
                "behind a bare ERROR)",
            ),
            (DOC_XSUDO, DOC_XSUDO_91X1),
        ),
        _entry(
            XSUDO,
            50,
            (
                "data_len is not a positive number, or is larger than the command after ';' "
                "(Nordic says it shall not be greater)",
                "no ';' between the %XSUDO parameters and the command",
            ),
            (DOC_XSUDO,),
            assumed=True,
        ),
        _entry(
            XSUDO,
            513,
            (
                "the slot named in the line (slot 0 when none is given) holds no %XPMNG key",
                "the key was deleted (AT%CMNG=3,<slot>,5) or uploaded to another slot",
            ),
            (DOC_XSUDO, DOC_XSUDO_91X1),
        ),
        _entry(
            XSUDO,
            514,
            (
                "the firmware does not let %XSUDO run this command",
                "the wrapped command's own 'no access' (a reserved sec_tag, an unreadable "
                "type): the modem uses the same code for both and does not say whose",
            ),
            (DOC_XSUDO, DOC_XSUDO_91X1),
        ),
        _entry(
            XSUDO,
            520,
            (
                "the key in the slot is not the key that signed the line",
                "the signed bytes are not the bytes sent: a trailing newline signed (echo "
                "instead of printf), the AT prefix signed, literal \\n escapes that a "
                "terminal or shell changed, or a data_len that does not match",
                "a signature that is not standard padded Base64 of a DER ECDSA signature "
                "on one line (wrapped Base64, raw r||s on firmware that takes only DER)",
            ),
            (DOC_XSUDO, DOC_AUTH_91X1),
        ),
        # -- %XPMNG: the public key slots ------------------------------------------------
        _entry(
            "%XPMNG",
            0,
            ("the firmware does not know %XPMNG", *_PLAIN_ERROR_CAUSES[:1]),
            (DOC_XPMNG,),
        ),
        _entry(
            "%XPMNG",
            50,
            (
                "the content is not a '-----BEGIN PUBLIC KEY-----' PEM of a P-256 key",
                "a slot outside 0-9",
            ),
            (DOC_XPMNG,),
        ),
        _entry(
            "%XPMNG",
            513,
            ("a read of an empty slot: no public key was ever uploaded there",),
            (DOC_XPMNG,),
        ),
        _entry(
            "%XPMNG",
            514,
            (
                "a read on firmware that hides its key slots",
                "a write the firmware does not allow",
            ),
            (DOC_XPMNG,),
        ),
        _entry(
            "%XPMNG",
            515,
            ("the modem's credential storage is full",),
            (DOC_XPMNG,),
        ),
        _entry("%XPMNG", 518, (_OFFLINE_CAUSE,), (DOC_XPMNG,)),
        _entry(
            "%XPMNG",
            519,
            (
                "a key is already in that slot (keys are write-once); some firmware answers "
                "519, others 520",
            ),
            (DOC_XPMNG,),
        ),
        _entry(
            "%XPMNG",
            520,
            (
                "a key is already in that slot (keys are write-once): 'already exists' for a "
                "write, not an authentication failure",
            ),
            (DOC_XPMNG,),
        ),
        _entry("%XPMNG", 528, (_POFWARN_CAUSE, _POFWARN_JIG), (DOC_XPMNG, DOC_XPOFWARN)),
        # -- %CMNG: the credential store -------------------------------------------------
        _entry(
            "%CMNG",
            0,
            (
                *_PLAIN_ERROR_CAUSES,
                "the read (AT%CMNG?) and test (AT%CMNG=?) forms, which are not supported",
            ),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            50,
            (
                "an opcode outside 0-3, or a missing sec_tag, type or content",
                "empty content, or a PSK (type 3) that is not an even number of hex digits",
            ),
            _CMNG,
            assumed=True,
        ),
        _entry(
            "%CMNG",
            513,
            (
                "a read or delete of a sec_tag and type that hold nothing (a list of a missing "
                "pair answers OK with no lines instead)",
            ),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            514,
            (
                "a plain write or delete on firmware that requires authenticated access (%XSUDO)",
                "a reserved sec_tag (above 2147483647) or a modem-owned type (6, 7, 10, 11)",
                "a read of a type that cannot be read back (client certificate, private key, PSK)",
            ),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            515,
            ("the modem's credential storage is full (its capacity is not documented)",),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            518,
            (
                _OFFLINE_CAUSE,
                "the application re-activated the modem during the write",
            ),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            519,
            (
                "the existing entry cannot be overwritten (Nordic does not say which ones; a "
                "normal write replaces an entry)",
            ),
            _CMNG,
        ),
        _entry(
            "%CMNG",
            527,
            (
                "the PEM holds the two characters \\n instead of line breaks (typed or pasted "
                "into a terminal), which nRF91x1 firmware from 2.0.2 refuses for types 0 and 1",
                "missing or damaged BEGIN/END CERTIFICATE armour, or a body that is not Base64",
                "line endings pasted from a terminal program (one report; CRLF itself is "
                "written by Nordic's own tools)",
                "a certificate or chain that is too large",
            ),
            (DOC_CMNG_91X1,),
        ),
        _entry("%CMNG", 528, (_POFWARN_CAUSE, _POFWARN_JIG), (*_CMNG, DOC_XPOFWARN)),
        # -- key generation and tokens ---------------------------------------------------
        _entry(
            "%KEYGEN",
            0,
            ("the firmware does not support %KEYGEN", *_PLAIN_ERROR_CAUSES[:1]),
            (DOC_KEYGEN,),
        ),
        _entry(
            "%KEYGEN",
            514,
            (
                "a sec_tag above 2147483647",
                "sent plain to firmware that requires authenticated access (%XSUDO)",
            ),
            (DOC_KEYGEN,),
        ),
        _entry(
            "%KEYGEN",
            523,
            ("the modem could not generate the key (retry; reset the board if it persists)",),
            (DOC_KEYGEN,),
        ),
        # -- certificate expiry ------------------------------------------------------------
        _entry(
            "%CERTEXPIRY",
            513,
            (
                "nothing is stored at that sec_tag and type",
                "a type other than 0 (CA), 1 (client certificate) or 10 (Nordic identity CA)",
            ),
            (DOC_CERTEXPIRY,),
        ),
        _entry(
            "%CERTEXPIRY",
            527,
            (
                "the entry holds content that is not a readable certificate (firmware before "
                "2.0.2 stores whatever it is given, literal \\n included)",
            ),
            (DOC_CERTEXPIRY,),
        ),
        _entry(
            "%CLAIMTOKEN",
            529,
            (
                "no ownership key at that sec_tag",
                "the secure side of the modem failed to build the token",
            ),
            (DOC_CLAIMTOKEN,),
        ),
    ]
)
"""Every command's entries, by (command, code)."""

_GENERIC_CAUSES: dict[int, tuple[str, ...]] = {
    0: _PLAIN_ERROR_CAUSES,
    23: ("the modem ran out of memory or its storage failed",),
    50: ("a parameter is missing, not a number, or outside its range",),
    51: ("this firmware build has the command disabled",),
    60: ("an internal failure of the modem",),
    513: ("the item the command names does not exist",),
    514: (
        "the item is reserved or protected",
        "the firmware requires authenticated access (%XSUDO) for this command",
    ),
    515: ("the modem's storage is full",),
    516: ("a radio connection is active",),
    517: ("the modem is not activated (+CFUN is not 1)",),
    518: (_OFFLINE_CAUSE,),
    519: ("the item already exists and cannot be replaced",),
    520: ("%XSUDO: the signature did not verify; %XPMNG: the slot already holds a key",),
    521: ("the network search was interrupted",),
    522: ("the band lock (%XBANDLOCK) does not fit the modem",),
    523: ("the modem could not generate a key",),
    525: ("the key used to sign a JWT is missing or unusable",),
    527: ("the content does not have the form the command expects",),
    528: (_POFWARN_CAUSE,),
    529: ("the key the token needs is missing, or the secure side failed",),
}

CATALOG.update(
    _entry(
        ANY_COMMAND,
        int(code),
        _GENERIC_CAUSES[int(code)],
        (DOC_RESPONSES, DOC_XPOFWARN) if code == CmeCode.POWER_OFF_WARNING else (DOC_RESPONSES,),
    )
    for code in CmeCode
)

COMMANDS: tuple[str, ...] = tuple(
    sorted({command for command, _ in CATALOG if command != ANY_COMMAND})
)
"""The commands with entries of their own."""

KNOWN_CODES: tuple[int, ...] = tuple(sorted({code for _, code in CATALOG}))
"""Every code some entry explains (0 is a bare ``ERROR``)."""


def meaning_of(command: str, code: int) -> Meaning:
    """``code`` for ``command`` (a name such as ``"%CMNG"``, or :data:`ANY_COMMAND`): its own
    entry, else the any-command entry (``documented`` false). Raises
    :class:`UnknownCodeError` for a code no entry knows."""
    entry = CATALOG.get((command, code))
    documented = entry is not None
    if entry is None:
        entry = CATALOG.get((ANY_COMMAND, code))
    if entry is None:
        raise _unknown(code)
    described = describe_code("" if command == ANY_COMMAND else command, code)
    return Meaning(
        command=command,
        code=code,
        meaning=described.meaning,
        hint=described.hint,
        remedy=described.remedy,
        causes=entry.causes,
        docs=entry.docs,
        assumed=entry.assumed,
        documented=documented or command == ANY_COMMAND,
    )


def explain(code: int, command: str | None = None) -> Explanation:
    """What ``code`` means (module contract). ``command`` is a name (``%CMNG``, ``AT%XSUDO``,
    ``XPMNG``) or a whole AT line (see :func:`commands_in`); ``None`` gives every command's
    meaning, the any-command one last."""
    if code not in KNOWN_CODES:
        raise _unknown(code)
    if command is None:
        names = [name for name in COMMANDS if (name, code) in CATALOG]
        meanings = tuple(meaning_of(name, code) for name in [*names, ANY_COMMAND])
        return Explanation(code, None, None, meanings)
    outer, inner = commands_in(command)
    if inner is None:
        return Explanation(code, outer, None, (meaning_of(outer, code),))
    whose, text = whose_code(code, inner)
    first, second = (inner, XSUDO) if whose == "wrapped" else (XSUDO, inner)
    pair = [meaning_of(first, code), meaning_of(second, code)]
    if whose != "ambiguous" and not pair[1].documented:
        pair.pop()  # the other side has no meaning of its own for this code
    return Explanation(code, XSUDO, inner, tuple(pair), whose, text)


def whose_code(code: int, inner: str) -> tuple[Whose, str]:
    """Whose ``code`` is, on an ``%XSUDO`` line wrapping ``inner``, and why (module
    contract)."""
    if code in XSUDO_OWN_CODES:
        return "xsudo", f"{code} on a signed line is %XSUDO's own; {inner} did not run"
    if code == CmeCode.NO_ACCESS:
        return "ambiguous", (
            f"514 on a signed line is ambiguous: %XSUDO's 'not allowed' or {inner}'s own "
            "'no access'; the modem does not say which"
        )
    if code == CmeCode.PLAIN_ERROR:
        return "ambiguous", (
            "a bare ERROR on a signed line is ambiguous: it may be %XSUDO's (no %XSUDO, or the "
            f"signature failed with numeric error codes off) or {inner}'s"
        )
    return "wrapped", (
        f"{code} on a signed line is {inner}'s: the signature verified, the modem ran the "
        "command and passed its answer through"
    )


_NAME = re.compile(r"[+%#&]?[A-Za-z][A-Za-z0-9_]*")


def commands_in(text: str) -> tuple[str, str | None]:
    """The command a name or line is about, and for an ``%XSUDO`` line the wrapped command.

    ``%CMNG``, ``AT%CMNG``, ``cmng`` and ``AT%CMNG=0,1,0,"..."`` all give ``("%CMNG",
    None)``; ``AT%XSUDO=35,"...";%CMNG=0,...`` gives ``("%XSUDO", "%CMNG")``. A name without
    its ``%``/``+`` prefix takes ``%`` when the catalog knows that command, else ``+``
    (``CGMR`` is ``+CGMR``). Raises :class:`~xsudo.errors.BadInputError` for text that
    names no command.
    """
    data = text.strip().encode("ascii", "replace")
    if not data:
        raise BadInputError("no command given", "give a command such as %CMNG or a whole AT line")
    name = _normal_name(command_name(data))
    if name != XSUDO:
        return name, None
    separator = find_unquoted(data, 0x3B)
    inner = None if separator < 0 else data[separator + 1 :]
    if inner is None or not inner.strip():
        return name, None
    return name, _normal_name(command_name(inner))


def _normal_name(name: str) -> str:
    if name == "AT":
        return name
    if not _NAME.fullmatch(name):
        raise BadInputError(
            f"{name[:40]!r} is not an AT command name",
            "give a command such as %CMNG, AT%XSUDO or XPMNG, or a whole AT line",
        )
    if name[0] in "+%#&":
        return name
    return f"%{name}" if f"%{name}" in COMMANDS else f"+{name}"


_CODE = re.compile(r"(?:\+?CM[ES]\s*ERROR\s*:?\s*)?([0-9]{1,5})", re.IGNORECASE)


def parse_code(text: str) -> int:
    """The code in ``text``: ``527``, ``+CME ERROR: 527``, ``CME ERROR 527``, or ``ERROR``
    (a bare ``ERROR``, 0). Raises :class:`~xsudo.errors.BadInputError` for anything else."""
    stripped = text.strip()
    if stripped.upper() == "ERROR":
        return 0
    match = _CODE.fullmatch(stripped)
    if match is None:
        raise BadInputError(
            f"{stripped[:40]!r} is not a modem error code",
            "give the number (527), the final line (+CME ERROR: 527) or ERROR",
        )
    return int(match.group(1))


def _unknown(code: int) -> UnknownCodeError:
    known = ", ".join(str(c) for c in KNOWN_CODES)
    return UnknownCodeError(
        f"{code} is not an error code xsudo knows for any command",
        f"known codes: {known}; for others see Nordic's AT command reference ({DOC_RESPONSES})",
    )
