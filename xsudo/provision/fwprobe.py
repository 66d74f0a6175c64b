"""Find out, safely, what a modem's firmware does, and write it as a simulator profile.

:func:`probe_firmware` asks a connected modem (a real board or the simulator) the questions
whose answers differ between firmware (docs/design/simulator.md, the traits of a profile)
and returns a :class:`FirmwareReport`; :meth:`FirmwareReport.to_profile_json` is a profile
file that ``xsudo sim --profile-file`` (or ``sim://?profile-file=PATH``) loads.

Contract:

* **Read-only by default.** Without a scratch tag nothing that changes the modem's
  non-volatile memory is sent: reads, lists, test forms (``AT%XPRODDONE=?``, never
  ``AT%XPRODDONE`` itself), ``AT+CMEE=<n>`` (put back to 1 at once), ``%CERTEXPIRY`` on an
  empty tag, a line-length search with ``%CMNG`` list lines, and (with a key) ``%XSUDO``
  lines wrapping ``+CGMR``.
* **Writes only at the scratch tag**, and only when it holds nothing (checked first;
  :class:`ScratchTagInUse` otherwise). Every entry the probe made there is deleted before
  it returns; what cannot be deleted is an error naming it. Two more writes happen only
  with a scratch tag: a delete of an *empty* TLS decrypt test tag (2147483667, checked empty
  first) and, with a key that the modem has just accepted, a re-write of that key into its
  own ``%XPMNG`` slot (refused as occupied; it could only store the same key).
* **Signed probes** need the session's key: a ``%XSUDO`` line signed with it must be
  accepted for the slot before any other signed line is sent. Every signature is
  recorded in the audit log like any other.
* **Not a provisioning session.** To learn which commands need ``%XSUDO`` the probe sends
  each one plain once, also after signed lines; the session's "never downgrade" rule
  (:mod:`xsudo.provision.session`) guards real credentials, and the probe writes nothing
  but throwaway content at the scratch tag.
* **Device text is untrusted.** Identity strings go through the same checks as
  :meth:`xsudo.at.modem.Modem.identity`; every value put in the profile is one of a fixed
  set (booleans, 519/520, type numbers, a bounded line length). Nothing the modem sends is
  copied into the profile except the checked identity tokens.
* What cannot be determined is the string ``"unknown"``; the simulator's profile loader
  treats it as "the family's default" (:mod:`xsudo.sim.profile_file`).
* Numeric error codes are required (``AT+CMEE=1``): without them the answers cannot be
  told apart, and :class:`ProbeImpossible` is raised before anything else is sent.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xsudo.at import commands
from xsudo.at.modem import family_of
from xsudo.at.parse import IdentityError, check_model, parse_cmng, text_value
from xsudo.at.results import AtResponse
from xsudo.command import AtCommand
from xsudo.errors import (
    BadInputError,
    DeviceDisconnected,
    DeviceError,
    DeviceReset,
    DeviceTimeout,
    OperationFailed,
    PortError,
    XsudoError,
)
from xsudo.limits import MAX_COMMAND_LINE_BYTES, MAX_USER_SEC_TAG
from xsudo.provision.attest import read_attestation
from xsudo.provision.session import DeviceSession
from xsudo.signing import sign_command

PROFILE_FORMAT = "xsudo-sim-profile"
PROFILE_VERSION = 1
UNKNOWN = "unknown"
PROBE_TOOL = "xsudo.provision.fwprobe"

TRAITS: tuple[str, ...] = (
    "cmee2_accepted",
    "validate_content",
    "tls_decrypt_tags",
    "restricted",
    "non_readable_types",
    "write_once_types",
    "capacity_bytes",
    "plain_param_errors",
    "pofwarn_blocks_read",
    "xpmng_exists_code",
    "xpmng_readable",
    "accept_raw_signatures",
    "csr_null_param",
    "certexpiry",
    "xproddone",
    "max_line",
)
"""The traits of a simulator profile file (the simulator's own list is checked against this
one by the tests; the product does not import the simulator)."""

CMNG_WRITE, CMNG_LIST, CMNG_READ, CMNG_DELETE, KEYGEN = (
    ("%CMNG", 0),
    ("%CMNG", 1),
    ("%CMNG", 2),
    ("%CMNG", 3),
    ("%KEYGEN", None),
)
Candidate = tuple[str, int | None]
"""A command whose need for ``%XSUDO`` the probe checks: its name and, for ``%CMNG``, the
opcode (a ``restricted`` entry of the profile, never sent as such: :func:`label`)."""
CANDIDATES: tuple[Candidate, ...] = (CMNG_WRITE, CMNG_LIST, CMNG_READ, CMNG_DELETE, KEYGEN)


def label(candidate: Candidate) -> str:
    """The profile's ``restricted`` entry for ``candidate``: ``NAME`` or
    ``NAME=<first parameter>``."""
    name, first = candidate
    return name if first is None else name + "=" + str(first)


ALL_TYPES = range(14)
SAFE_READ_TYPES = frozenset({0, 1, 4, 5, 6, 9, 10, 11})
"""Types the probe reads back from entries it did not write (public material only; private
keys and PSKs, types 2, 3, 8, are read only from the scratch tag)."""
DEFAULT_NON_READABLE = frozenset({1, 2, 3, 6, 8, 10, 11})
"""The simulator's assumption for types the probe could not test (rule S14)."""
TLS_DECRYPT_PROBE_TAG = 2147483667
"""The last TLS decrypt test tag (``NRF_SEC_TAG_TLS_DECRYPT_19``), used only when empty."""
MAX_LISTED = 1000
"""Most ``%CMNG`` list lines the probe looks at."""
MAX_TOKEN_CHARS = 8192
"""Longest ``%KEYGEN`` reply the probe decodes."""
MAX_NAME = 64
MAX_DESCRIPTION = 200
ECDSA_SHA256_WITH_NULL = bytes.fromhex("300c06082a8648ce3d0403020500")
ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_CERTEXPIRY_LINE = re.compile(rb"%CERTEXPIRY: ?[0-9A-Fa-f]{1,80},\d{14}Z,\d{14}Z")
PARAM_ERROR_PROBE = AtCommand.set("+CGSN", 9)
"""A parameter no firmware takes, in a command that only reads (the IMEI)."""
PROBE_BODY = AtCommand.exec("+CGMR")
"""What signed probe lines wrap: reading the firmware version changes nothing."""

_RESTRICTION_WORDS = {True: "got 514", False: "ran", None: "not determined"}

Outcome = str | int
"""``"OK"``, ``"ERROR"``, ``"CMS"``, or the ``+CME ERROR`` code."""


class ProbeImpossible(DeviceError):
    """The modem cannot be probed (no numeric error codes, or online for write probes)."""


class ScratchTagInUse(BadInputError):
    """The scratch tag holds something (or its contents cannot be checked); nothing was
    written."""


class ScratchNotCleaned(OperationFailed):
    """Entries the probe wrote at the scratch tag could not be deleted."""


@dataclass
class FirmwareReport:
    """What the probe found. ``identity`` holds the profile's identity fields; ``traits``
    every trait (a value, or ``"unknown"``); ``restricted`` each candidate command
    (``True``: needs ``%XSUDO``, ``False``: does not, ``None``: not determined);
    ``how`` one line per trait saying how it was found (the probe's own words)."""

    identity: dict[str, Any]
    traits: dict[str, Any]
    cmee_modes: tuple[int, ...]
    restricted: dict[str, bool | None]
    untested_types: tuple[int, ...]
    how: dict[str, str] = field(default_factory=dict)
    scratch_tag: int | None = None
    signed: bool = False

    @property
    def unknown(self) -> list[str]:
        """Traits not (fully) determined: ``"unknown"`` values, and ``restricted`` when a
        candidate was not checked."""
        names = [name for name in TRAITS if self.traits[name] == UNKNOWN]
        if any(value is None for value in self.restricted.values()) and "restricted" not in names:
            names.append("restricted")
        return sorted(names, key=TRAITS.index)

    def to_profile_json(self) -> dict[str, Any]:
        """The profile file (format ``xsudo-sim-profile``, version 1)."""
        data: dict[str, Any] = {"format": PROFILE_FORMAT, "version": PROFILE_VERSION}
        data.update(self.identity)
        data["traits"] = dict(self.traits)
        data["probe"] = {
            "tool": PROBE_TOOL,
            "unknown": self.unknown,
            "untested_types": list(self.untested_types),
        }
        return data

    def dump(self) -> str:
        """:meth:`to_profile_json` as the text of a profile file (indented, ends in LF)."""
        return json.dumps(self.to_profile_json(), indent=2) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The report for ``--json``: the profile plus how each answer was found."""
        return {
            "profile": self.to_profile_json(),
            "cmee_modes": list(self.cmee_modes),
            "restricted": dict(self.restricted),
            "how": dict(self.how),
            "scratch_tag": self.scratch_tag,
            "signed": self.signed,
        }


@dataclass
class _Answer:
    outcome: Outcome
    lines: list[bytes]


def probe_firmware(session: DeviceSession, *, scratch_tag: int | None = None) -> FirmwareReport:
    """Probe the modem of ``session`` (see the module contract). ``scratch_tag`` (0 to
    2147483647, holding nothing) allows the write probes there; the session's key, when it
    has one, allows the signed probes. Raises :class:`ProbeImpossible`,
    :class:`ScratchTagInUse`, :class:`ScratchNotCleaned` and the device errors."""
    if scratch_tag is not None and not 0 <= scratch_tag <= MAX_USER_SEC_TAG:
        raise ScratchTagInUse(
            f"scratch tag {scratch_tag} is not a host tag",
            f"choose an empty tag 0-{MAX_USER_SEC_TAG}",
        )
    return _Prober(session, scratch_tag).run()


class _Prober:
    def __init__(self, session: DeviceSession, scratch: int | None) -> None:
        self.session = session
        self.modem = session.modem
        self.scratch = scratch
        self.traits: dict[str, Any] = dict.fromkeys(TRAITS, UNKNOWN)
        self.how: dict[str, str] = {}
        self.restricted: dict[Candidate, bool | None] = dict.fromkeys(CANDIDATES, None)
        self.readable: dict[int, bool] = {}
        self.listed: list[tuple[int, int]] | None = None
        self.key_ok = False
        self.cmee_modes: list[int] = [1]

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> FirmwareReport:
        if not self.modem.numeric_errors:
            raise ProbeImpossible(
                "the modem does not report numeric error codes (AT+CMEE=1 was not confirmed)",
                "check that the port is an nRF91 modem's AT interface; without numeric codes "
                "the probe cannot tell its answers apart",
            )
        identity = self._identity()
        self._cmee()
        self._param_errors()
        self._list_all()
        self._xpmng_readable()
        self._read_restriction()
        self._readable_listed_types()
        self._certexpiry()
        self._xproddone()
        self._max_line()
        self._signed_probes()
        if self.scratch is not None:
            self._write_probes(self.scratch)
        self._finish_types()
        return FirmwareReport(
            identity=identity,
            traits=self.traits,
            cmee_modes=tuple(sorted(self.cmee_modes)),
            restricted={label(c): needs for c, needs in self.restricted.items()},
            untested_types=tuple(t for t in ALL_TYPES if t not in self.readable),
            how=self.how,
            scratch_tag=self.scratch,
            signed=self.key_ok,
        )

    # -- sending ----------------------------------------------------------------------------

    def _ask(self, command: AtCommand | bytes, name: str | None = None) -> _Answer:
        if isinstance(command, AtCommand):
            response = self.modem.command(command, check=False)
        else:
            response = self.modem.send_line(command, check=False, name_for_errors=name)
        return _answer(response)

    def _ask_signed(self, command: AtCommand, encoding: Literal["der", "raw"] = "der") -> _Answer:
        session = self.session
        signer = session.auth.signer
        assert signer is not None
        signed = sign_command(command.body(), signer, encoding=encoding, slot=session.auth.slot)
        if session.audit is not None:
            session.audit.append(
                "sign", **signed.audit_fields(), device_imei=session.imei, result="probe"
            )
        session.signed_sent = True
        return _answer(self.modem.send_line(signed.xsudo.render(), check=False))

    def _protected(self, command: AtCommand, candidate: Candidate) -> _Answer | None:
        """``command`` plain when ``candidate`` needs no ``%XSUDO``, signed when it does and
        the key works; ``None`` when neither is possible (nothing sent)."""
        needs = self.restricted[candidate]
        if needs is False:
            return self._ask(command)
        if needs is True and self.key_ok:
            return self._ask_signed(command)
        return None

    def _found(self, trait: str, value: Any, how: str) -> None:
        self.traits[trait] = value
        self.how[trait] = how

    # -- read-only probes -------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        mfw = self.session.ensure_identity().mfw
        hwversion = self._checked_model(commands.hwversion(), b"%HWVERSION:")
        model = self._checked_model(AtCommand.exec("+CGMM"), None)
        family = family_of(mfw, hwversion if hwversion != UNKNOWN else None)
        if family == UNKNOWN and model != UNKNOWN:
            family = family_of(mfw, model)
        shown = model if model != UNKNOWN else hwversion
        description = f"probed from {shown} running {mfw} by xsudo's firmware probe"
        return {
            "name": ("probed-" + mfw)[:MAX_NAME],
            "description": description[:MAX_DESCRIPTION],
            "family": family,
            "mfw": mfw,
            "hwversion": hwversion,
            "model": model,
            "device_type": self._device_type(),
        }

    def _checked_model(self, command: AtCommand, prefix: bytes | None) -> str:
        answer = self._ask(command)
        if answer.outcome != "OK":
            return UNKNOWN
        if prefix is None:
            values = [line for line in answer.lines if not line.startswith((b"+", b"%"))]
        else:
            values = [text_value(line, prefix) for line in answer.lines if line.startswith(prefix)]
        if not values:
            return UNKNOWN
        try:
            return check_model(values[0].strip(b" \t"))
        except IdentityError:
            return UNKNOWN

    def _device_type(self) -> int | str:
        try:
            device_type = read_attestation(self.modem).message.device_type
        except (DeviceTimeout, DeviceDisconnected, DeviceReset, PortError):
            raise
        except XsudoError:
            return UNKNOWN
        return device_type if 0 <= device_type <= 255 else UNKNOWN

    def _cmee(self) -> None:
        accepted: dict[int, bool] = {}
        for mode in (0, 2):
            answer = self._ask(AtCommand.set("+CMEE", mode))
            accepted[mode] = answer.outcome == "OK"
            if accepted[mode]:
                self.cmee_modes.append(mode)
                if self._ask(AtCommand.set("+CMEE", 1)).outcome != "OK":
                    raise ProbeImpossible(
                        f"the modem took AT+CMEE={mode} but refused AT+CMEE=1 afterwards",
                        "reset the board; its error reporting is not what the probe left",
                    )
        self._found(
            "cmee2_accepted",
            accepted[2],
            "AT+CMEE=2 answered " + ("OK (then set back to 1)" if accepted[2] else "an error"),
        )

    def _param_errors(self) -> None:
        outcome = self._ask(PARAM_ERROR_PROBE).outcome
        if outcome == 50:
            self._found("plain_param_errors", False, "AT+CGSN=9 answered +CME ERROR: 50")
        elif outcome == "ERROR":
            self._found("plain_param_errors", True, "AT+CGSN=9 answered a bare ERROR")

    def _list_all(self) -> None:
        answer = self._ask(commands.cmng_list())
        if answer.outcome == 514:
            self.restricted[CMNG_LIST] = True
            return
        if answer.outcome != "OK":
            return
        self.restricted[CMNG_LIST] = False
        self.listed = _entries(answer)

    def _xpmng_readable(self) -> None:
        for slot in range(10):
            outcome = self._ask(commands.xpmng_read(slot)).outcome
            if outcome == 514:
                self._found("xpmng_readable", False, f"reading key slot {slot} answered 514")
                return
            if outcome not in ("OK", 513):
                return
        self._found("xpmng_readable", True, "reading key slots 0-9 answered a key or 513")

    def _empty_tag(self) -> int:
        """A host tag the listing shows empty (2147483647 downwards)."""
        used = {tag for tag, _ in self.listed or ()}
        tag = MAX_USER_SEC_TAG
        while tag in used:
            tag -= 1
        return tag

    def _read_restriction(self) -> None:
        tag = self._empty_tag()
        outcome = self._ask(commands.cmng_read(tag, 4)).outcome
        if outcome in (513, "OK"):
            self.restricted[CMNG_READ] = False
        elif outcome == 514:
            # 514 for a missing entry is what a restricted read answers (the tag is empty
            # by the listing, or, when listing is refused too, the last host tag)
            self.restricted[CMNG_READ] = True

    def _readable_listed_types(self) -> None:
        if self.restricted[CMNG_READ] is not False or self.listed is None:
            return
        for cred_type in sorted(SAFE_READ_TYPES):
            entry = next((e for e in self.listed if e[1] == cred_type), None)
            if entry is not None:
                self._read_type(*entry)

    def _read_type(self, tag: int, cred_type: int) -> None:
        """Whether a stored ``(tag, type)`` can be read; the content is not kept."""
        answer = self._protected(commands.cmng_read(tag, cred_type), CMNG_READ)
        if answer is None:
            return
        if answer.outcome == "OK" and any(line.startswith(b"%CMNG:") for line in answer.lines):
            self.readable[cred_type] = True
        elif answer.outcome == 514:
            self.readable[cred_type] = False

    def _certexpiry(self) -> None:
        tag = self._empty_tag()
        outcome = self._ask(commands.certexpiry(tag, 0)).outcome
        if outcome == "ERROR":
            self._found("certexpiry", False, f"AT%CERTEXPIRY={tag},0 answered a bare ERROR")
        elif isinstance(outcome, int) or outcome == "OK":
            self._found("certexpiry", True, f"AT%CERTEXPIRY={tag},0 was understood")

    def _xproddone(self) -> None:
        outcome = self._ask(dataclasses.replace(commands.xproddone(), form="test")).outcome
        if outcome == "OK":
            self._found("xproddone", True, "AT%XPRODDONE=? answered OK (never run)")
        elif outcome == "ERROR":
            self._found(
                "xproddone", False, "AT%XPRODDONE=? answered ERROR (absent, or no test form)"
            )

    def _max_line(self) -> None:
        """The longest list line (zero-padded tag) still answered with its entry."""
        if not self.listed:
            return
        tag, cred_type = self.listed[0]
        head, comma, tail = commands.cmng_list(tag, cred_type).line().partition(b",")
        shortest = len(head) + len(comma) + len(tail)

        def accepted(length: int) -> bool:
            line = head + comma + b"0" * (length - shortest) + tail  # the tag, zero-padded
            try:
                answer = self._ask(line)
            except BadInputError:  # longer than this transport sends (the shell's buffer)
                return False
            return answer.outcome == "OK" and (tag, cred_type) in _entries(answer)

        if not (accepted(shortest) and accepted(shortest + 1)):
            return
        if accepted(MAX_COMMAND_LINE_BYTES):
            self._found(
                "max_line",
                MAX_COMMAND_LINE_BYTES,
                f"a {MAX_COMMAND_LINE_BYTES}-character line was taken (xsudo sends no longer)",
            )
            return
        low, high = shortest + 1, MAX_COMMAND_LINE_BYTES
        while high - low > 1:
            middle = (low + high) // 2
            if accepted(middle):
                low = middle
            else:
                high = middle
        self._found("max_line", low, f"{low} characters taken, {low + 1} refused")

    # -- signed probes ----------------------------------------------------------------------

    def _signed_probes(self) -> None:
        if self.session.auth.signer is None:
            return
        slot = self.session.auth.slot_number
        outcome = self._ask_signed(PROBE_BODY).outcome
        if outcome != "OK":
            self.how["signed"] = f"a DER-signed +CGMR for slot {slot} answered {outcome}"
            return
        self.key_ok = True
        raw = self._ask_signed(PROBE_BODY, "raw").outcome
        if raw == "OK":
            self._found("accept_raw_signatures", True, "a raw r||s signature was accepted")
        elif raw == 520:
            self._found("accept_raw_signatures", False, "a raw r||s signature got 520")

    # -- write probes (scratch tag only) ----------------------------------------------------

    def _write_probes(self, scratch: int) -> None:
        self._check_scratch(scratch)
        try:
            if self._restriction_probes(scratch):
                self._content_probes(scratch)
                self._tls_decrypt_probe()
            self._xpmng_occupied_probe()
        finally:
            self._clean(scratch)

    def _list(self, tag: int) -> list[tuple[int, int]] | None:
        answer = self._protected(commands.cmng_list(tag), CMNG_LIST)
        if answer is None or answer.outcome != "OK":
            return None
        return [entry for entry in _entries(answer) if entry[0] == tag]

    def _check_scratch(self, scratch: int) -> None:
        held = self._list(scratch)
        if held is None:
            raise ScratchTagInUse(
                f"cannot check that scratch tag {scratch} is empty (listing it failed)",
                "probe with a key the modem accepts, or without a scratch tag",
            )
        if held:
            types = ", ".join(str(cred_type) for _, cred_type in held)
            raise ScratchTagInUse(
                f"scratch tag {scratch} holds credentials (types {types}); the probe writes "
                "and deletes there, so it only uses an empty tag",
                "choose a tag that holds nothing (a credential listing shows the tags in use)",
            )
        cfun = self.modem.cfun()
        if cfun in (1, 2, 21):
            raise ProbeImpossible(
                f"the modem is online (+CFUN: {cfun}); write probes would be refused (518)",
                "take it offline with AT+CFUN=4 first, or probe without a scratch tag",
            )

    def _restriction_probes(self, tag: int) -> bool:
        """Which of ``%CMNG=0``, ``%CMNG=3`` and ``%KEYGEN`` need ``%XSUDO``, each sent plain
        once. The delete goes first, on the empty tag: nothing is written unless what is
        written can be deleted again. Returns whether writes may be made."""
        delete = self._ask(commands.cmng_delete(tag, 4)).outcome
        if delete in (513, 514):
            self.restricted[CMNG_DELETE] = delete == 514
        if not self._can_delete():
            self.how["writes"] = "no writes: deletes need %XSUDO and no accepted key was given"
            return False
        write = self._ask(commands.cmng_write(tag, 4, "xsudo-probe")).outcome
        if write in ("OK", 514):
            self.restricted[CMNG_WRITE] = write == 514
        if write == "OK":
            self._delete(tag, 4)
        keygen = self._ask(commands.keygen(tag, 2, 0))
        if keygen.outcome in ("OK", 514):
            self.restricted[KEYGEN] = keygen.outcome == 514
        if keygen.outcome == 514:
            keygen = self._protected(commands.keygen(tag, 2, 0), KEYGEN) or keygen
        if keygen.outcome == "OK":
            self._csr_null_param(keygen)
            self._delete(tag, 2)
        return True

    def _can_delete(self) -> bool:
        needs = self.restricted[CMNG_DELETE]
        return needs is False or (needs is True and self.key_ok)

    def _csr_null_param(self, answer: _Answer) -> None:
        der = _keygen_body(answer)
        if der is None:
            return
        if ECDSA_SHA256_WITH_NULL in der:
            self._found("csr_null_param", True, "the %KEYGEN CSR's algorithm has a NULL")
        elif ECDSA_SHA256 in der:
            self._found("csr_null_param", False, "the %KEYGEN CSR's algorithm has no NULL")

    def _write(self, tag: int, cred_type: int, content: bytes) -> Outcome | None:
        answer = self._protected(commands.cmng_write(tag, cred_type, content), CMNG_WRITE)
        return None if answer is None else answer.outcome

    def _delete(self, tag: int, cred_type: int) -> Outcome | None:
        answer = self._protected(commands.cmng_delete(tag, cred_type), CMNG_DELETE)
        return None if answer is None else answer.outcome

    def _content_probes(self, tag: int) -> None:
        certificate = _throwaway_certificate()
        escaped = certificate.replace(b"\n", b"\\n")
        outcome = self._write(tag, 0, escaped)
        if outcome == 527:
            self._found("validate_content", True, "a PEM with literal \\n got 527")
        elif outcome == "OK":
            self._found("validate_content", False, "a PEM with literal \\n was stored")
            self._delete(tag, 0)
        if outcome is None:
            return
        contents = {0: certificate, 1: certificate, 2: _throwaway_key(), 3: b"0123456789abcdef"}
        contents[4] = b"xsudo-probe"
        for cred_type, content in contents.items():
            if self._write(tag, cred_type, content) == "OK":
                self._read_type(tag, cred_type)
        if self.traits["certexpiry"] is True:
            answer = self._ask(commands.certexpiry(tag, 0))
            shaped = answer.outcome == "OK" and any(
                _CERTEXPIRY_LINE.fullmatch(line) for line in answer.lines
            )
            self.how["certexpiry"] += "; its answer for a stored certificate " + (
                "has the documented shape" if shaped else "does NOT have the documented shape"
            )

    def _tls_decrypt_probe(self) -> None:
        tag = TLS_DECRYPT_PROBE_TAG
        if self._list(tag) != []:
            return
        outcome = self._delete(tag, 4)
        if outcome == 513:
            self._found("tls_decrypt_tags", True, f"deleting empty tag {tag} answered 513")
        elif outcome == 514:
            self._found("tls_decrypt_tags", False, f"deleting empty tag {tag} answered 514")

    def _xpmng_occupied_probe(self) -> None:
        signer = self.session.auth.signer
        if not self.key_ok or signer is None:
            return
        pem = signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        slot = self.session.auth.slot_number
        outcome = self._ask(commands.xpmng_write(pem, slot)).outcome
        if outcome in (519, 520):
            self._found(
                "xpmng_exists_code", outcome, f"re-writing the key in slot {slot} got {outcome}"
            )

    def _clean(self, tag: int) -> None:
        held = self._list(tag)
        left = []
        for _, cred_type in held if held is not None else []:
            if self._delete(tag, cred_type) != "OK":
                left.append(cred_type)
        if held is None or left:
            what = "could not be listed" if held is None else f"still holds types {left}"
            raise ScratchNotCleaned(
                f"scratch tag {tag} {what} after the probe",
                "delete them by hand (signed if the firmware needs it)",
            )

    # -- the result -------------------------------------------------------------------------

    def _finish_types(self) -> None:
        refused = {t for t, readable in self.readable.items() if not readable}
        untested = {t for t in ALL_TYPES if t not in self.readable}
        self.traits["non_readable_types"] = sorted(refused | (DEFAULT_NON_READABLE & untested))
        tested = sorted(self.readable)
        self.how["non_readable_types"] = (
            f"read back types {tested}; the others take the simulator's default"
        )
        self.how["restricted"] = "sent plain: " + ", ".join(
            label(c) + " " + _RESTRICTION_WORDS[needs] for c, needs in self.restricted.items()
        )
        self.traits["restricted"] = [label(c) for c, needs in self.restricted.items() if needs]


def _answer(response: AtResponse) -> _Answer:
    result = response.result
    outcome: Outcome
    if result is None or result.kind == "OK":
        outcome = "OK" if response.ok else "ERROR"
    elif result.kind == "CME":
        outcome = result.code
    else:
        outcome = result.kind
    return _Answer(outcome, list(response.lines))


def _entries(answer: _Answer) -> list[tuple[int, int]]:
    entries = []
    for line in answer.lines[:MAX_LISTED]:
        if line.startswith(b"%CMNG:"):
            try:
                tag, cred_type, _, _ = parse_cmng(line)
            except XsudoError:
                continue
            entries.append((tag, cred_type))
    return entries


def _keygen_body(answer: _Answer) -> bytes | None:
    """The first half of a ``%KEYGEN: "<b64url>.<b64url>"`` line, decoded (bounded)."""
    for line in answer.lines:
        if not line.startswith(b"%KEYGEN:"):
            continue
        token = text_value(line, b"%KEYGEN:")
        if len(token) > MAX_TOKEN_CHARS:
            return None
        first = token.split(b".", 1)[0]
        try:
            return base64.urlsafe_b64decode(first + b"=" * (-len(first) % 4))
        except (binascii.Error, ValueError):
            return None
    return None


def _throwaway_certificate() -> bytes:
    """A self-signed P-256 certificate (LF line ends, trailing LF) made for this probe."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xsudo firmware probe")])
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _throwaway_key() -> bytes:
    """A P-256 private key (PKCS#8 PEM) made for this probe and never used."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
