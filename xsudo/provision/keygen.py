"""Key generation on the modem (``%KEYGEN``) and client certificates issued from its CSR.

Contract (docs/design/contracts.md, C4 and C5):

* ``AT%KEYGEN=<tag>,2,0[,"<attributes>"]`` is a protected command: it goes through
  :meth:`DeviceSession.run_protected` (plain or ``%XSUDO`` per the policy), offline
  (``AT+CFUN=4``, the previous mode restored after).
* Nothing is lost: a tag that already holds a client key (or, for :meth:`issue`, a client
  certificate) is refused before anything is sent, unless ``replace``. Reserved tags are
  refused locally.
* The reply is checked (:func:`xsudo.tokens.decode_keygen`): CSR self-signature, COSE
  structure and ES256, payload digest, and that the payload names this tag. The COSE
  signature is verified when the device identity key is given, and the result says when
  it was not. After the command the modem must list a client key for the tag.
* :meth:`KeyGenerator.issue` signs a client certificate from the CSR with a CA whose key is
  only reached through a :class:`~xsudo.signing.Signer`, and writes it with the normal
  :class:`CredentialWriter` (preflight, SHA verified, audit).
* Every keygen and issue, successful or not, appends an audit record (metadata only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from xsudo.at import commands
from xsudo.ca import CertificateAuthority, cert_pem, issue_from_csr
from xsudo.content import XSUDO_MAX_OVERHEAD, CredType, check_tag, preflight
from xsudo.crypto import PublicKey
from xsudo.errors import BadInputError, OperationFailed, Remedy, XsudoError
from xsudo.provision.attest import read_device_uuid, token_text
from xsudo.provision.offline import offline
from xsudo.provision.session import DeviceSession
from xsudo.provision.subject import CN_SOURCES as CN_SOURCES  # re-exported: keygen's API
from xsudo.provision.subject import CnSource as CnSource
from xsudo.provision.subject import check_attributes as check_attributes
from xsudo.provision.subject import with_common_name as with_common_name
from xsudo.provision.writer import CredentialWriter, CredResult, VerificationFailed
from xsudo.tokens import KeygenReply, SignatureCheck, TokenError, decode_keygen

CLIENT_KEY = int(CredType.CLIENT_KEY)
CLIENT_CERT = int(CredType.CLIENT_CERT)
CSR_FORMAT = int(commands.KeygenFormat.CSR)
KEYGEN_MIN_TIMEOUT = 30.0
"""Seconds to wait for ``%KEYGEN`` at least: generating a key takes the modem a while."""


class KeygenRefused(OperationFailed):
    """The tag already holds a key or certificate and ``replace`` was not given."""


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = values[0].value if values else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class KeygenOutcome:
    """One ``%KEYGEN`` that succeeded: the checked reply and how it was authenticated."""

    tag: int
    reply: KeygenReply
    signature: SignatureCheck
    auth: str
    auth_reason: str
    key_sha: str | None
    previous_sha: str | None

    @property
    def csr_pem(self) -> bytes:
        assert self.reply.csr is not None
        return self.reply.csr.pem()

    @property
    def csr_der(self) -> bytes:
        """The CSR as the modem sent it (its SHA-256 is the signed COSE digest)."""
        assert self.reply.csr is not None
        return self.reply.csr.received

    def to_json(self) -> dict[str, Any]:
        data = self.reply.to_json()
        data["cose"].update(self.signature.to_json())
        return {
            "tag": self.tag,
            "action": "replaced" if self.previous_sha else "generated",
            "key_sha": self.key_sha,
            "previous_sha": self.previous_sha,
            "auth": self.auth,
            "auth_reason": self.auth_reason,
            **data,
        }


@dataclass(frozen=True)
class IssueOutcome:
    """A key generated on the modem and its CA-signed certificate written back."""

    keygen: KeygenOutcome
    certificate: x509.Certificate
    written: CredResult
    ca_fingerprint: str

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.certificate)

    def to_json(self) -> dict[str, Any]:
        cert = self.certificate
        return {
            "keygen": self.keygen.to_json(),
            "certificate": {
                "subject": cert.subject.rfc4514_string(),
                "issuer": cert.issuer.rfc4514_string(),
                "serial": format(cert.serial_number, "x"),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "sha256": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
                "ca_fingerprint": self.ca_fingerprint,
            },
            "write": self.written.to_json(),
        }


class KeyGenerator:
    """``%KEYGEN`` and certificate issuing on one :class:`DeviceSession`.

    ``identity_key`` is the device identity public key that verifies the COSE signatures;
    without it the results say the signature was not verified.
    """

    def __init__(self, session: DeviceSession, identity_key: PublicKey | None = None) -> None:
        self.session = session
        self.modem = session.modem
        self.writer = CredentialWriter(session)
        self.identity_key = identity_key

    # -- keygen -----------------------------------------------------------------------------

    def generate(
        self, tag: int, attributes: str | None = None, *, replace: bool = False
    ) -> KeygenOutcome:
        """Generate a client key in ``tag`` and return the checked CSR (module contract)."""
        check_tag(tag)
        attributes = check_attributes(attributes)
        previous = self.writer.stored_sha(tag, CLIENT_KEY)
        if previous is not None and not replace:
            self._audit("keygen", tag, CLIENT_KEY, result="refused", previous_sha=previous)
            raise KeygenRefused(
                f"tag {tag} already holds a client key (SHA {previous})",
                "generate with replace=True (replace = true in a manifest) for a new key there",
                remedy=Remedy("replace-credential", {"tag": tag, "kind": "key"}),
            )
        self.session.ensure_plan()  # decided before the modem is touched
        try:
            with offline(self.modem):
                outcome = self._keygen(tag, attributes, previous)
        except XsudoError as exc:
            self._audit_failure("keygen", tag, CLIENT_KEY, previous, exc)
            raise
        self._audit_keygen(outcome)
        return outcome

    def _keygen(self, tag: int, attributes: str | None, previous: str | None) -> KeygenOutcome:
        command = commands.keygen(tag, CLIENT_KEY, CSR_FORMAT, attributes)
        timeout = max(self.modem.channel.timeout, KEYGEN_MIN_TIMEOUT)
        protected = self.session.run_protected(
            command, tag=tag, cred_type=CLIENT_KEY, timeout=timeout
        )
        reply = decode_keygen(token_text(protected.response, "%KEYGEN:"))
        if reply.csr is None:
            raise TokenError("the modem answered KEYGEN format 0 with a public key, not a CSR")
        if reply.payload.sec_tag != tag:
            raise TokenError(
                f"the signed KEYGEN payload names sec_tag {reply.payload.sec_tag}, not {tag}"
            )
        signature = reply.verify(self.identity_key)
        entries = [e for e in self.modem.cmng_list(tag, CLIENT_KEY) if e.type == CLIENT_KEY]
        if not entries:
            raise VerificationFailed(
                f"after %KEYGEN the modem lists no client key for tag {tag}: the key was not "
                "stored",
                f"check what the modem lists under tag {tag}",
                remedy=Remedy("list-credentials", {"tag": tag}),
            )
        plan = protected.plan
        listed = entries[0].sha.upper() if entries[0].sha else None
        return KeygenOutcome(tag, reply, signature, plan.method, plan.reason, listed, previous)

    # -- issue ------------------------------------------------------------------------------

    def issue(
        self,
        tag: int,
        ca: CertificateAuthority,
        *,
        days: int = 365,
        cn_from: CnSource | None = None,
        attributes: str | None = None,
        replace: bool = False,
    ) -> IssueOutcome:
        """Generate a key in ``tag``, sign its CSR with ``ca`` and write the certificate as
        the tag's client certificate. With ``cn_from`` the CSR asks for ``CN=<IMEI>`` or
        ``CN=<device UUID>`` read from the modem, and the CSR must carry it."""
        check_tag(tag)
        if days < 1:
            raise BadInputError(f"a validity of {days} days is not positive", "give at least 1 day")
        check_attributes(attributes)
        expected_cn = self._common_name_from(cn_from)
        if expected_cn is not None:
            attributes = with_common_name(attributes, expected_cn)
        existing = self.writer.stored_sha(tag, CLIENT_CERT)
        if existing is not None and not replace:
            self._audit("issue", tag, CLIENT_CERT, result="refused", previous_sha=existing)
            raise KeygenRefused(
                f"tag {tag} already holds a client certificate (SHA {existing})",
                "issue with replace=True (replace = true in a manifest) for a new key and "
                "certificate",
                remedy=Remedy("replace-credential", {"tag": tag, "kind": "certificate"}),
            )
        try:
            with offline(self.modem):
                generated = self.generate(tag, attributes, replace=replace)
                return self._issue(generated, ca, days, cn_from, expected_cn, replace)
        except XsudoError as exc:
            self._audit_failure("issue", tag, CLIENT_CERT, existing, exc)
            raise

    def _common_name_from(self, cn_from: CnSource | None) -> str | None:
        if cn_from is None:
            return None
        if cn_from == "imei":
            imei = self.session.ensure_identity().imei
            if not imei:
                raise OperationFailed(
                    "the CN is to be the IMEI, but the modem reports no IMEI (AT+CGSN)",
                    "take the CN from the device UUID (cn_from 'uuid')",
                    remedy=Remedy("set-cn-from", {"cn_from": "uuid"}),
                )
            return imei
        return str(read_device_uuid(self.modem))

    def _issue(
        self,
        generated: KeygenOutcome,
        ca: CertificateAuthority,
        days: int,
        cn_from: CnSource | None,
        expected_cn: str | None,
        replace: bool,
    ) -> IssueOutcome:
        csr = generated.reply.csr
        assert csr is not None
        if expected_cn is not None and _common_name(csr.subject) != expected_cn:
            raise TokenError(
                f"the CSR's CN is {_common_name(csr.subject)!r}, but the modem's "
                f"{cn_from} is {expected_cn!r}",
                "the firmware ignored the attributes; do not issue for this CSR",
            )
        if cn_from == "uuid" and str(generated.reply.payload.device_uuid) != expected_cn:
            raise TokenError(
                f"the signed KEYGEN payload names device {generated.reply.payload.device_uuid}, "
                f"but the modem's UUID is {expected_cn}"
            )
        certificate = issue_from_csr(ca, csr.csr, days=days)
        item = preflight(
            cert_pem(certificate),
            CredType.CLIENT_CERT,
            generated.tag,
            extra_overhead=XSUDO_MAX_OVERHEAD if self.session.auth.signer else 0,
        )
        written = self.writer.write(item, replace=replace)
        if not written.ok:
            raise KeygenRefused(written.message)
        outcome = IssueOutcome(generated, certificate, written, ca.fingerprint)
        self._audit(
            "issue",
            generated.tag,
            CLIENT_CERT,
            result=written.action,
            sha=written.sha,
            ca_fingerprint=ca.fingerprint,
            ca_key_name=ca.signer.name,
            cert_serial=format(certificate.serial_number, "x"),
            cert_subject=certificate.subject.rfc4514_string(),
            public_key_fingerprint=generated.reply.fingerprint,
        )
        return outcome

    # -- audit ------------------------------------------------------------------------------

    def _audit_keygen(self, outcome: KeygenOutcome) -> None:
        reply = outcome.reply
        signed = self.session.last_signed if outcome.auth == "xsudo" else None
        self._audit(
            "keygen",
            outcome.tag,
            CLIENT_KEY,
            result="replaced" if outcome.previous_sha else "generated",
            sha=outcome.key_sha,
            previous_sha=outcome.previous_sha,
            auth=outcome.auth,
            auth_reason=outcome.auth_reason,
            key_name=self.session.auth.signer.name if signed and self.session.auth.signer else None,
            key_fingerprint=signed.key_fingerprint if signed else None,
            signed_sha256=signed.sha256 if signed else None,
            public_key_fingerprint=reply.fingerprint,
            csr_sha256=reply.csr.sha256 if reply.csr else None,
            csr_quirk=reply.csr.quirk if reply.csr else None,
            device_uuid=str(reply.payload.device_uuid),
            cose_signature=outcome.signature.status,
            identity_key_fingerprint=outcome.signature.key_fingerprint,
        )

    def _audit_failure(
        self, event: str, tag: int, cred_type: int, previous: str | None, exc: XsudoError
    ) -> None:
        plan = self.session.plan
        self._audit(
            event,
            tag,
            cred_type,
            result=f"failed: {exc.message}",
            previous_sha=previous,
            auth=plan.method if plan else None,
            auth_reason=plan.reason if plan else None,
        )

    def _audit(self, event: str, tag: int, cred_type: int, **fields: str | int | None) -> None:
        log = self.session.audit
        if log is not None:
            log.append(event, device_imei=self.session.imei, tag=tag, type=cred_type, **fields)
