"""One exception tree for the whole toolkit, and the per-command meaning of modem error codes.

Contract (docs/design/contracts.md, C3 and C7): every expected failure is an
:class:`XsudoError` whose ``exit_code`` is the CLI exit status:

* 1 - the operation ran and failed (invalid signature, the modem refused),
* 2 - bad input or usage (unparsable line, wrong key type, wrong passphrase, missing key),
* 3 - device or transport failure (port missing, busy, timed out, disconnected).

``str(error)`` is one line: what happened, then what to do next. Messages never carry
secret material (private keys, passphrases, PSKs, PINs).

Library errors carry facts and, where the next step is an operation of this toolkit, a
:class:`Remedy`: a closed vocabulary of actions (:data:`RemedyAction`) with the values they
need. The ``hint`` is worded for any caller (Python names, environment variables); a front
end words the remedy in its own terms (the command line does so in ``xsudo/cli/hints.py``),
so library text never names command-line options or ``xsudo`` subcommands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any, ClassVar, Literal, get_args

RemedyAction = Literal[
    # ports and the AT link
    "choose-port",
    "check-port",
    "check-at-port",
    "set-baud",
    "set-cmd-type",
    "set-shell-buffer",
    # credentials on the modem
    "list-credentials",
    "delete-credential",
    "replace-credential",
    "check-content",
    "normalise-content",
    # the %XPMNG key slot and authentication
    "upload-key",
    "replace-key",
    "match-slot-key",
    "fix-signed-line",
    "read-slots",
    "import-key",
    "give-key",
    "set-up-key",
    "use-auth-never",
    "diagnose-line",
    # the key store
    "generate-key",
    "export-key",
    "choose-key-name",
    "list-keys",
    "delete-key",
    "reregister-key",
    "register-command-key",
    "raise-timeout",
    "use-file-store",
    "unlock-keychain",
    "set-passphrase",
    "check-passphrase",
    "give-pkcs11-module",
    "choose-token",
    "check-key-label",
    "use-token-key",
    # certificates and tokens
    "create-ca",
    "set-cn-from",
    "set-attributes",
    "drop-cn",
    "check-identity-key",
    # the audit log
    "audit-verify",
    "audit-show",
    "choose-home",
    "trust-key",
]
"""Every action a :class:`Remedy` can name (closed: front ends word each one)."""

REMEDY_ACTIONS: tuple[str, ...] = get_args(RemedyAction)

RemedyValue = str | int | None


@dataclass(frozen=True)
class Remedy:
    """What to do next, as data: an ``action`` from :data:`RemedyAction` and the values it
    needs (``params``: e.g. ``{"key": "factory", "slot": 0}``; ``None`` means unknown).

    The error's ``hint`` says the same in words for any caller; a front end (the CLI) turns
    the remedy into its own wording (an option, a subcommand).
    """

    action: RemedyAction
    params: Mapping[str, RemedyValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in REMEDY_ACTIONS:
            raise ValueError(f"unknown remedy action {self.action!r}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.action, tuple(sorted(self.params.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Remedy):
            return NotImplemented
        return self.action == other.action and dict(self.params) == dict(other.params)

    def __repr__(self) -> str:
        return f"Remedy({self.action!r}, {dict(self.params)!r})"

    def get(self, name: str) -> RemedyValue:
        """The value of parameter ``name`` (``None`` when absent)."""
        return self.params.get(name)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "params": dict(self.params)}


@dataclass(frozen=True)
class Note:
    """One thing added to an error's hint after it was raised (:meth:`XsudoError.amend`)."""

    text: str
    remedy: Remedy | None = None


class XsudoError(Exception):
    """Base of every expected error.

    ``message`` says what happened (facts, with the values); ``hint`` what the caller should
    do next, in words for any caller; ``remedy`` the same as data (:class:`Remedy`) when the
    next step is an operation of this toolkit; ``notes`` what was added later with
    :meth:`amend`. ``str(error)`` is ``message; hint``.
    """

    exit_code: ClassVar[int] = 1

    def __init__(
        self, message: str, hint: str | None = None, *, remedy: Remedy | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.base_hint = hint
        """The hint as raised, without the notes :meth:`amend` added."""
        self.remedy = remedy
        self.notes: list[Note] = []
        self.outcome: dict[str, Any] | None = None
        """What the failed operation left behind, as the JSON its result would have had
        (e.g. a credential write's ``landed``), when the operation got that far."""

    @property
    def hint(self) -> str | None:
        """The hint as raised, then every note, joined with ``; ``."""
        parts = [self.base_hint] if self.base_hint else []
        parts += [note.text for note in self.notes]
        return "; ".join(parts) or None

    def amend(self, note: str, remedy: Remedy | None = None) -> Note:
        """Add ``note`` (one more thing the user must know or do) to the hint; ``remedy``
        is that note as data, when it is an action. Returns the note (see :meth:`retract`)."""
        added = Note(note, remedy)
        self.notes.append(added)
        return added

    def retract(self, note: Note) -> None:
        """Take back a note :meth:`amend` added (it no longer holds)."""
        if note in self.notes:
            self.notes.remove(note)

    def __str__(self) -> str:
        hint = self.hint
        if hint:
            return f"{self.message}; {hint}"
        return self.message


class BadInputError(XsudoError):
    """Input that cannot be used as given (exit 2). Nothing was sent anywhere."""

    exit_code = 2


class CommandTextError(BadInputError):
    """An AT command or body the modem cannot take (non-ASCII, control bytes, quotes, length)."""


class LineParseError(BadInputError):
    """A line that is not a well-formed ``AT%XSUDO`` line."""


class KeyStoreError(BadInputError):
    """A key that cannot be stored, found or opened."""


class KeyNotFoundError(KeyStoreError):
    """No key of that name in the store."""


class UnsupportedKeyError(KeyStoreError):
    """A key that is not EC P-256 (the only curve ``%XSUDO`` verifies)."""


class WrongPassphraseError(KeyStoreError):
    """The passphrase does not open the key."""


class InsecureStoreError(KeyStoreError):
    """A key store that would lose or expose secrets, or a key file readable by others."""


class OperationFailed(XsudoError):
    """The operation ran and did not succeed (exit 1)."""

    exit_code = 1


class SignatureInvalid(OperationFailed):
    """A signature that does not verify."""


class DeviceError(XsudoError):
    """The device or the transport failed (exit 3)."""

    exit_code = 3


class PortError(DeviceError):
    """The port cannot be opened (missing, busy, permission denied)."""


class DeviceTimeout(DeviceError):
    """No final result code arrived before the deadline."""


class DeviceDisconnected(DeviceError):
    """The port went away while in use."""


class DeviceReset(DeviceError):
    """The device rebooted while a command was in flight (a boot banner arrived)."""


class CmeCode(IntEnum):
    """Error codes nRF91 modems return (3GPP generic plus Nordic's 512+ range)."""

    PLAIN_ERROR = 0
    MEMORY_FAILURE = 23
    INCORRECT_PARAMETERS = 50
    COMMAND_DISABLED = 51
    SYSTEM_FAILURE = 60
    NOT_FOUND = 513
    NO_ACCESS = 514
    MEMORY_FULL = 515
    RADIO_ACTIVE = 516
    NOT_ACTIVATED = 517
    ACTIVE_STATE = 518
    ALREADY_EXISTS = 519
    AUTH_FAILED_OR_EXISTS = 520
    PLMN_SEARCH_INTERRUPTED = 521
    BAND_CONFIG_INVALID = 522
    KEYGEN_FAILED = 523
    JWT_FAILED = 525
    INVALID_CONTENT = 527
    POWER_OFF_WARNING = 528
    TOKEN_FAILED = 529


@dataclass(frozen=True)
class CodeMeaning:
    """What a modem error code means for one command, and the next step for the user."""

    meaning: str
    hint: str
    remedy: Remedy | None = None


_OFFLINE_HINT = (
    "take the modem offline with AT+CFUN=4 (xsudo does this for its own writes) and retry"
)
_POFWARN_HINT = (
    "the supply voltage fell below the %XPOFWARN threshold: fix the power supply, "
    "re-arm the warning (AT%XPOFWARN=1,30) or reset the board, then retry"
)

# Meanings that hold for any command unless the command overrides them below.
_GENERIC: dict[int, CodeMeaning] = {
    0: CodeMeaning(
        "the modem answered a plain ERROR",
        "check the command syntax and that this firmware supports the command; "
        "AT+CMEE=1 makes the modem give a numeric reason",
    ),
    23: CodeMeaning("modem memory failure", "reset the board and retry"),
    50: CodeMeaning("incorrect parameters", "check the command's parameters and their ranges"),
    51: CodeMeaning("command disabled in this firmware build", "use a firmware that enables it"),
    60: CodeMeaning("modem system failure", "reset the board and retry"),
    513: CodeMeaning(
        "not found",
        "check the sec_tag and type against the credentials the modem lists",
        Remedy("list-credentials"),
    ),
    514: CodeMeaning("not allowed (no access)", "the entry is reserved or protected"),
    515: CodeMeaning("modem credential storage is full", "delete unused credentials and retry"),
    516: CodeMeaning("a radio connection is active", _OFFLINE_HINT),
    517: CodeMeaning("the modem is not activated", "activate the modem (AT+CFUN=1) and retry"),
    518: CodeMeaning("not allowed while the modem is active", _OFFLINE_HINT),
    519: CodeMeaning("already exists", "delete the existing entry first"),
    520: CodeMeaning("refused by the modem (520)", "see the command's documentation"),
    521: CodeMeaning("PLMN search interrupted", "retry"),
    522: CodeMeaning("band configuration not valid", "check %XBANDLOCK settings"),
    523: CodeMeaning("key generation failed", "retry; if it persists, reset the board"),
    525: CodeMeaning("JWT creation failed", "check the key in that sec_tag"),
    527: CodeMeaning("invalid content", "check the content's format"),
    528: CodeMeaning("not allowed while a power-off warning is active", _POFWARN_HINT),
    529: CodeMeaning("the token could not be created", "check that the ownership key exists"),
}

_SLOT_KEY_EXISTS = CodeMeaning(
    "a public key already exists in that slot (keys are write-once)",
    "delete it first (AT%CMNG=3,<slot>,5) or upload again with replace=True",
    Remedy("replace-key"),
)

_PER_COMMAND: dict[str, dict[int, CodeMeaning]] = {
    "%XSUDO": {
        513: CodeMeaning(
            "no public key in that XSUDO slot",
            "upload the signing key's public half to the slot first",
            Remedy("upload-key"),
        ),
        514: CodeMeaning(
            "the modem does not allow this command through %XSUDO",
            "check the firmware's list of restricted commands",
        ),
        520: CodeMeaning(
            "authentication failed: the signature does not verify over the first data_len "
            "bytes of the command",
            "diagnose the line offline against the slot's public key (xsudo.verify)",
            Remedy("diagnose-line"),
        ),
    },
    "%XPMNG": {
        513: CodeMeaning(
            "no public key in that slot",
            "upload one (Device.upload_key)",
            Remedy("upload-key"),
        ),
        519: _SLOT_KEY_EXISTS,
        520: _SLOT_KEY_EXISTS,
    },
    "%CMNG": {
        513: CodeMeaning(
            "no credential with that sec_tag and type",
            "list the stored credentials (Device.list_credentials)",
            Remedy("list-credentials"),
        ),
        514: CodeMeaning(
            "no access: the sec_tag is reserved, the type is not readable, or this firmware "
            "requires authenticated access (%XSUDO)",
            "for protected writes set up a key: generate one, upload its public half to an "
            "XSUDO slot, then write with auth policy 'required'",
            Remedy("set-up-key"),
        ),
        519: CodeMeaning(
            "the existing credential cannot be overwritten",
            "delete it first, if it is yours to delete",
            Remedy("delete-credential"),
        ),
        527: CodeMeaning(
            "invalid certificate content (types 0/1 are validated on mfw 2.0.2 and later)",
            "the PEM is malformed (literal \\n instead of line breaks, missing armour) or too "
            "large; check it offline with xsudo.content.preflight",
            Remedy("check-content"),
        ),
    },
    "%KEYGEN": {
        514: CodeMeaning("key generation not allowed for that sec_tag", "use a tag below 2^31"),
        0: CodeMeaning(
            "the firmware does not support %KEYGEN", "use a modem firmware that supports it"
        ),
    },
    "%CERTEXPIRY": {
        513: CodeMeaning(
            "no certificate with that sec_tag and type",
            "list the stored credentials (Device.list_credentials); only types 0, 1 and 10 "
            "have an expiry",
            Remedy("list-credentials"),
        ),
        527: CodeMeaning(
            "the stored content is not a certificate the modem can read",
            "rewrite the certificate as a PEM (Device.write_credential), then ask again",
        ),
    },
    "%CLAIMTOKEN": {
        529: CodeMeaning(
            "no ownership key at that sec_tag", "write the ownership key first, then retry"
        ),
    },
}


def describe_code(command: str, code: int) -> CodeMeaning:
    """Return what ``code`` means for ``command`` (e.g. ``"%CMNG"``), with the next step.

    Unknown codes get a generic description that still names the code.
    """
    per_command = _PER_COMMAND.get(command.upper(), {})
    if code in per_command:
        return per_command[code]
    if code in _GENERIC:
        return _GENERIC[code]
    return CodeMeaning(f"modem error {code}", "see the nRF91 AT command reference for this code")


class ModemError(OperationFailed):
    """The modem answered a command with ``ERROR``, ``+CME ERROR: <n>`` or ``+CMS ERROR: <n>``.

    ``command`` is the command name (``"%CMNG"``), ``kind`` one of ``"ERROR"``, ``"CME"``,
    ``"CMS"``, and ``code`` the numeric code (0 for a plain ``ERROR``). Tests assert on these
    fields, not on the message text.
    """

    def __init__(self, command: str, kind: str, code: int) -> None:
        self.command = command
        self.kind = kind
        self.code = code
        described = describe_code(command, code)
        self.meaning = described.meaning
        label = "ERROR" if kind == "ERROR" else f"+{kind} ERROR: {code}"
        super().__init__(
            f"{command or 'command'} failed with {label}: {described.meaning}",
            described.hint,
            remedy=described.remedy,
        )


class CmeError(ModemError):
    """A ``+CME ERROR: <n>`` (or a plain ``ERROR``, code 0) from the modem."""

    def __init__(self, command: str, code: int, kind: str = "CME") -> None:
        super().__init__(command, kind, code)

    @property
    def cme(self) -> CmeCode | None:
        """The code as a :class:`CmeCode`, or ``None`` for a code not in the table."""
        try:
            return CmeCode(self.code)
        except ValueError:
            return None
