"""A connected modem as one Python object: :class:`Device`, what :func:`xsudo.connect` returns.

Contract (docs/design/contracts.md, C4 and C5):

* A :class:`Device` owns one conversation with one modem: its identity (the IMEI read and
  checked when it connects, the rest on first use), the authentication decision (made
  once, before the first protected command), offline/restore around every write, and the
  audit record of every signature and change, which carries the IMEI.
* Every method that changes the modem appends to the audit log and returns a result that
  carries the log's head; read-only methods never change CFUN.
* Errors are :class:`xsudo.errors.XsudoError` with facts (``exit_code``, typed fields);
  nothing here prints.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from xsudo.at.modem import CredentialEntry, Modem, ModemIdentity
from xsudo.audit.log import AuditHead
from xsudo.content.digest import match_convention, normalise_sha
from xsudo.content.types import CredType, parse_cred_type, reserved_tag_name
from xsudo.crypto import PublicKey
from xsudo.errors import DeviceError, XsudoError
from xsudo.limits import MAX_USER_SEC_TAG, XPMNG_KEY_TYPE, XPMNG_SLOTS
from xsudo.provision.keyslots import (
    ProbeResult,
    SlotInfo,
    SlotsHidden,
    UploadResult,
    probe_auth,
    read_slots,
    upload_key,
)
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter, CredResult
from xsudo.signing import Signer

if TYPE_CHECKING:  # the feature modules load when their method is first used (cold start)
    from xsudo.ca import CertificateAuthority
    from xsudo.content import Preflight
    from xsudo.keys import KeyStore
    from xsudo.provision.expiry import ExpiryReport
    from xsudo.provision.keygen import CnSource, IssueOutcome, KeygenOutcome
    from xsudo.provision.production import ProductionDone
    from xsudo.tokens import Attestation


@dataclass(frozen=True)
class Credential:
    """One stored credential as the modem lists it: ``sha256`` is upper-case hex (the
    modem's form), ``None`` when the modem lists none."""

    tag: int
    type: int
    sha256: str | None

    @property
    def reserved(self) -> str | None:
        """The name of the modem's own entry (tags above 2^31-1), ``None`` for yours."""
        return reserved_tag_name(self.tag) if self.tag > MAX_USER_SEC_TAG else None

    @property
    def type_label(self) -> str:
        try:
            return CredType(self.type).label
        except ValueError:
            return str(self.type)

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "type": self.type_label,
            "type_id": self.type,
            "sha": self.sha256,
            "reserved": self.reserved,
        }

    @classmethod
    def of(cls, entry: CredentialEntry) -> Credential:
        return cls(entry.tag, entry.type, entry.sha)


def kept_reason(entry: Credential) -> str | None:
    """Why :meth:`Device.delete_all` leaves ``entry`` alone (``None``: it deletes it): the
    modem's reserved entries, and the ``%XPMNG`` public keys (type 5 on tags 0-9), which
    are deleted only by name."""
    if entry.reserved:
        return f"reserved ({entry.reserved})"
    if entry.type == XPMNG_KEY_TYPE and entry.tag in XPMNG_SLOTS:
        return f"the %XSUDO public key of slot {entry.tag} (delete it by name)"
    return None


@dataclass(frozen=True)
class BulkDelete:
    """What :meth:`Device.delete_all` did: results per entry deleted, entries kept (with
    why), entries that failed or were not attempted (with the error), and the audit head."""

    deleted: tuple[CredResult, ...]
    kept: tuple[tuple[Credential, str], ...]
    failed: tuple[tuple[Credential, str, str | None], ...]
    error: XsudoError | None
    audit_head: AuditHead | None

    def to_json(self) -> dict[str, Any]:
        return {
            "deleted": [r.to_json() for r in self.deleted],
            "kept": [{**_entry(c), "reason": why} for c, why in self.kept],
            "failed": [{**_entry(c), "error": e, "landed": landed} for c, e, landed in self.failed],
            "audit_head": self.audit_head.to_json() if self.audit_head else None,
        }


def _entry(credential: Credential) -> dict[str, Any]:
    return {
        "tag": credential.tag,
        "type": credential.type_label,
        "type_id": credential.type,
    }


@dataclass(frozen=True)
class CheckResult:
    """Whether the modem holds a file at ``(tag, type)``, and in which writer's form."""

    tag: int
    type: int
    stored: bool
    device_sha: str | None
    convention: str | None

    @property
    def matches(self) -> bool:
        return self.convention is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "type": CredType(self.type).label,
            "stored": self.stored,
            "device_sha": self.device_sha,
            "matches": self.matches,
            "convention": self.convention,
        }


@dataclass(frozen=True)
class DeviceInfo:
    """What :meth:`Device.info` reads: identity, CFUN, the key slots (``None`` when the
    firmware has no ``%XPMNG``, or hides them: ``slots_hidden``) and, with a key, whether a
    signed command is accepted.

    Two UUIDs: ``identity.uuid`` is the modem *firmware* UUID (``%XMODEMUUID``);
    ``device_uuid`` is the device's own UUID (``%DEVICEUUID``, nRF91x1 only; the one a
    certificate's CN is taken from with ``cn_from="uuid"``)."""

    identity: ModemIdentity
    cfun: int
    slots: tuple[SlotInfo, ...] | None
    probe: ProbeResult | None
    audit_head: AuditHead | None
    device_uuid: str | None = None
    slots_hidden: bool = False

    @property
    def firmware_uuid(self) -> str | None:
        """The modem firmware UUID (``%XMODEMUUID``)."""
        return self.identity.uuid

    def to_json(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "imei": identity.imei,
            "model": identity.model,
            "mfw": identity.mfw,
            "family": identity.family,
            "firmware_uuid": identity.uuid,
            "device_uuid": self.device_uuid,
            "uuid": identity.uuid,
            "cfun": self.cfun,
            "xpmng_supported": self.slots is not None or self.slots_hidden,
            "xpmng_readable": self.slots is not None,
            "slots": [s.to_json() for s in self.slots or ()],
            "authenticated_access": self.probe.to_json() if self.probe else None,
            "audit_head": self.audit_head.to_json() if self.audit_head else None,
        }


class Device:
    """One connected modem (see the module contract). Use :func:`xsudo.connect` to make
    one, as a context manager; :meth:`close` puts back what the connection changed.

    ``store`` is the key store whose keys are named in slot listings and sign the delete of
    a key being replaced (``None``: no local keys are known), or a function that opens it:
    it is then called on first use, so a command that never needs a key never loads the
    key stores.
    """

    def __init__(
        self, session: DeviceSession, store: KeyStore | Callable[[], KeyStore] | None = None
    ) -> None:
        self.session = session
        self.writer = CredentialWriter(session)
        self._store = store

    @property
    def store(self) -> KeyStore | None:
        """The key store (opened now if it was given as a function)."""
        if callable(self._store):
            self._store = self._store()
        return self._store

    def local_keys(self) -> dict[str, str]:
        """The store's keys, by fingerprint -> name."""
        store = self.store
        return {r.fingerprint: r.name for r in store.list()} if store is not None else {}

    def _signer_for(self, fingerprint: str) -> Signer | None:
        name = self.local_keys().get(fingerprint)
        store = self.store
        return store.signer(name) if store is not None and name else None

    # -- the conversation ---------------------------------------------------------------

    @property
    def modem(self) -> Modem:
        """The typed modem (for commands this class does not wrap)."""
        return self.session.modem

    @property
    def identity(self) -> ModemIdentity:
        """IMEI, model, firmware, family and modem UUID, read and checked the first time it is
        asked for (connecting reads only the IMEI)."""
        return self.session.ensure_identity()

    @property
    def key(self) -> Signer | None:
        """The signing key of this connection (``None`` without one)."""
        return self.session.auth.signer

    @property
    def audit_head(self) -> AuditHead | None:
        """The audit log's last record now (``None`` without a log or records)."""
        return self.session.audit.head() if self.session.audit is not None else None

    def close(self) -> None:
        """Put back numeric error reporting as found and close the port."""
        self.session.modem.close()

    def __enter__(self) -> Device:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- credentials ----------------------------------------------------------------------

    def prepare(
        self,
        tag: int,
        type: CredType | int | str,
        content: bytes,
        *,
        password: str | None = None,
        client_cert: bytes | None = None,
    ) -> Preflight:
        """Validate and normalise ``content`` for ``(tag, type)`` without touching the modem
        (what :meth:`write_credential` does first); raises
        :class:`~xsudo.content.ContentError` (exit 2)."""
        from xsudo.content.fit import XSUDO_MAX_OVERHEAD
        from xsudo.content.preflight import preflight

        signing = self.session.auth.signer is not None and self.session.auth.mode != "never"
        return preflight(
            content,
            as_cred_type(type),
            tag,
            password=password,
            client_cert=client_cert,
            extra_overhead=XSUDO_MAX_OVERHEAD if signing else 0,
        )

    def write_credential(
        self,
        tag: int,
        type: CredType | int | str,
        content: bytes | Preflight,
        *,
        replace: bool = False,
        password: str | None = None,
        client_cert: bytes | None = None,
    ) -> CredResult:
        """Write ``content`` (normalised and validated first) to ``(tag, type)`` under the
        auth policy, verify it by the modem's SHA, and record it.

        Identical content already stored is ``unchanged``; different content is ``refused``
        unless ``replace``. After a link fault the result (or the error's ``outcome``) says
        whether the write ``landed``.
        """
        from xsudo.content.preflight import Preflight

        item = (
            content
            if isinstance(content, Preflight)
            else self.prepare(tag, type, content, password=password, client_cert=client_cert)
        )
        return self.writer.write(item, replace=replace, password=password)

    def delete_credential(self, tag: int, type: CredType | int | str) -> CredResult:
        """Delete ``(tag, type)`` under the auth policy (``absent`` when nothing is stored)."""
        return self.writer.delete(tag, int(as_cred_type(type, writable_only=False)))

    def list_credentials(
        self, tag: int | None = None, type: CredType | int | str | None = None
    ) -> builtins.list[Credential]:
        """The stored credentials (read-only), reserved entries included."""
        type_id = None if type is None else int(as_cred_type(type, writable_only=False))
        return [Credential.of(e) for e in self.modem.cmng_list(tag, type_id)]

    def check_credential(self, tag: int, type: CredType | int | str, content: bytes) -> CheckResult:
        """Whether the modem holds ``content`` at ``(tag, type)``, comparing SHAs only
        (read-only); ``convention`` names the writer form that matches."""
        kind = as_cred_type(type, writable_only=False)
        entries = [e for e in self.modem.cmng_list(tag, int(kind)) if e.type == int(kind)]
        device_sha = normalise_sha(entries[0].sha) if entries and entries[0].sha else None
        convention = match_convention(content, kind, device_sha) if device_sha else None
        return CheckResult(tag, int(kind), bool(entries), device_sha, convention)

    def delete_all(
        self,
        tag: int | None = None,
        *,
        confirm: Callable[[builtins.list[Credential]], None] | None = None,
    ) -> BulkDelete:
        """Delete every credential (under ``tag``) except the modem's reserved entries and the
        ``%XPMNG`` keys (:func:`kept_reason`), one by one under the auth policy. Stops at a
        device failure, or at any failure once a signed line was sent.

        ``confirm(doomed)`` is called with the entries about to be deleted (when there are
        any), before the first delete; it raises to stop.
        """
        entries = self.list_credentials(tag)
        kept = tuple((e, why) for e in entries if (why := kept_reason(e)) is not None)
        doomed = [e for e in entries if kept_reason(e) is None]
        if doomed and confirm is not None:
            confirm(doomed)
        deleted: list[CredResult] = []
        failed: list[tuple[Credential, str, str | None]] = []
        stopped: XsudoError | None = None
        for index, entry in enumerate(doomed):
            try:
                deleted.append(self.writer.delete(entry.tag, entry.type))
            except XsudoError as exc:
                failed.append((entry, str(exc), (exc.outcome or {}).get("landed")))
                if isinstance(exc, DeviceError) or self.session.signed_sent:
                    stopped = exc
                    failed += [(e, "not attempted", None) for e in doomed[index + 1 :]]
                    break
        return BulkDelete(tuple(deleted), kept, tuple(failed), stopped, self.audit_head)

    # -- key slots --------------------------------------------------------------------------

    def slots(self) -> builtins.list[SlotInfo] | None:
        """The ``%XPMNG`` slots that hold a key, with the local key's name where known
        (read-only); ``None`` when the firmware has no ``%XPMNG``. A firmware that refuses
        to read its slots (514) raises :class:`~xsudo.provision.keyslots.SlotsHidden`."""
        return read_slots(self.modem, self.local_keys())

    def info(self) -> DeviceInfo:
        """Identity (both UUIDs), CFUN, slots and (with a key) a signed probe; read-only.

        A firmware that hides its key slots (514 to ``%XPMNG`` reads) gives
        ``slots=None, slots_hidden=True`` and is still probed."""
        from xsudo.provision.attest import listed_device_uuid

        cfun = self.modem.cfun()
        device_uuid = listed_device_uuid(self.modem)
        hidden = False
        try:
            slots = self.slots()
        except SlotsHidden:
            slots, hidden = None, True
        probe = self.probe() if slots is not None or hidden else None
        found = tuple(slots) if slots is not None else None
        return DeviceInfo(
            self.identity, cfun, found, probe, self.audit_head, device_uuid, slots_hidden=hidden
        )

    def upload_key(
        self,
        slot: int | None = None,
        *,
        public_key: PublicKey | None = None,
        name: str | None = None,
        replace: bool = False,
    ) -> UploadResult:
        """Put the connection's key (or ``public_key``) into ``slot`` with ``%XPMNG``, read
        it back and compare. A different key in the slot is replaced only with ``replace``
        (its delete goes under the auth policy, signed with the local key that matches it)."""
        key = self.session.auth.signer
        if public_key is None:
            if key is None:
                raise ValueError("upload_key needs a connection key or a public_key")
            public_key = key.public_key()
        label = name or (key.name if key is not None else "public key")
        where = self.session.auth.slot_number if slot is None else slot
        return upload_key(
            self.session, label, public_key, where, replace=replace, signer_for=self._signer_for
        )

    # -- keys generated on the device, tokens -------------------------------------------------

    def keygen(
        self,
        tag: int,
        attributes: str | None = None,
        *,
        replace: bool = False,
        identity_key: PublicKey | None = None,
    ) -> KeygenOutcome:
        """Generate a client key in ``tag`` with ``%KEYGEN`` (a protected command, under the
        auth policy) and return the checked CSR; ``identity_key`` verifies the reply's COSE
        signature. A tag that holds a key is refused unless ``replace``."""
        from xsudo.provision.keygen import KeyGenerator

        return KeyGenerator(self.session, identity_key).generate(tag, attributes, replace=replace)

    def issue(
        self,
        tag: int,
        ca: CertificateAuthority,
        *,
        days: int = 365,
        cn_from: CnSource | None = None,
        attributes: str | None = None,
        replace: bool = False,
        identity_key: PublicKey | None = None,
    ) -> IssueOutcome:
        """Generate a key in ``tag``, have ``ca`` sign its CSR, and write the certificate as
        the tag's client certificate (verified by SHA, recorded)."""
        from xsudo.provision.keygen import KeyGenerator

        return KeyGenerator(self.session, identity_key).issue(
            tag, ca, days=days, cn_from=cn_from, attributes=attributes, replace=replace
        )

    def attest(self, challenge: bytes | None = None) -> Attestation:
        """The device attestation token (``%ATTESTTOKEN``), decoded and checked; read-only."""
        from xsudo.provision.attest import read_attestation

        return read_attestation(self.modem, challenge)

    # -- certificate expiry, production done --------------------------------------------

    def cert_expiry(self, tag: int | None = None, *, now: datetime | None = None) -> ExpiryReport:
        """Serial, notBefore and notAfter of every certificate (types 0 and 1, under ``tag``)
        the modem lists, from ``%CERTEXPIRY`` (read-only; see :mod:`xsudo.provision.expiry`).
        ``now`` (UTC, default the current time) is what ``days_left`` counts from.

        Raises :class:`~xsudo.provision.expiry.CertExpiryUnsupported` (exit 1) on firmware
        without ``%CERTEXPIRY``."""
        from xsudo.provision.expiry import read_expiry

        return read_expiry(self.modem, tag, now=now)

    def production_done(self, *, confirm: str) -> ProductionDone:
        """Send ``AT%XPRODDONE``: the modem then refuses older modem firmware. **This cannot
        be undone.** ``confirm`` must be this device's IMEI (its firmware UUID when it has
        no IMEI), or :class:`~xsudo.provision.production.ConfirmationMismatch` (exit 2) is
        raised with nothing sent. Audited; see :mod:`xsudo.provision.production`."""
        from xsudo.provision.production import production_done

        return production_done(self.session, confirm)

    def probe(self) -> ProbeResult:
        """Whether a harmless signed command (``+CGSN``) is accepted with the connection's
        key and slot (read-only)."""
        return probe_auth(self.session)


def as_cred_type(value: CredType | int | str, *, writable_only: bool = True) -> CredType:
    """``value`` as a :class:`CredType`: the enum, its number, or its name (``"ca-cert"``)."""
    if isinstance(value, CredType):
        return value
    return parse_cred_type(value, writable_only=writable_only)
