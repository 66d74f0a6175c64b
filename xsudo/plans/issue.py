"""Entries signed at the station: ``issue`` (a key made on the device, its certificate
issued from its CSR), carried by a plan made with ``xsudo plan --station-signs``.

Such an entry cannot be signed ahead: ``%KEYGEN`` makes a new key on each device, and the
certificate is signed from that device's CSR. The plan carries and its signatures cover the
entry's parameters (:class:`~xsudo.plans.model.StationIssue`); the station signs the
``%KEYGEN`` and the certificate's ``%CMNG`` write itself. It needs:

* the plan's line key in its key store (:class:`StationSigners`, ``line``): a signer whose
  public key has the plan's ``key_fingerprint`` (what the device's slot holds);
* every CA key the entries name (``ca_key``), each the key of the CA certificate the plan
  carries (checked by :func:`xsudo.ca.open_ca`, unlocked before any port is opened).

:func:`open_station_signers` checks all of that before any device is touched
(:class:`~xsudo.plans.model.PlanError`, exit 2). :func:`check_issue` and
:func:`ca_certificate` are the checks shared by building and reading a plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from xsudo.ca import CertificateAuthority, cert_pem, load_certificate, open_ca
from xsudo.content import CredType, check_tag
from xsudo.crypto import fingerprint, require_p256_public
from xsudo.errors import BadInputError, UnsupportedKeyError, XsudoError
from xsudo.keys.records import KEY_NAME_PATTERN
from xsudo.plans.model import MAX_ISSUE_DAYS, PlanError, StationIssue, VerifiedPlan
from xsudo.provision.subject import CN_SOURCES, check_attributes, with_common_name
from xsudo.signing import Signer

CLIENT_CERT = int(CredType.CLIENT_CERT)
CLIENT_KEY = int(CredType.CLIENT_KEY)


def ca_certificate(data: bytes, where: str) -> tuple[str, str]:
    """The CA certificate in ``data`` (PEM or DER) as canonical PEM text and the lower-case
    hex SHA-256 of its DER; :class:`PlanError` unless it is a P-256 CA certificate."""
    try:
        cert = load_certificate(data, "CA certificate")
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}") from None
    _check_ca(cert, where)
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert_pem(cert).decode("ascii"), hashlib.sha256(der).hexdigest()


def _check_ca(cert: x509.Certificate, where: str) -> None:
    try:
        require_p256_public(cert.public_key())
    except (UnsupportedKeyError, ValueError):
        raise PlanError(f"{where}: the CA certificate's key is not EC P-256") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        is_ca = False
    if not is_ca:
        raise PlanError(f"{where}: the certificate is not a CA (basicConstraints cA is not set)")


def check_issue(tag: int, issue: StationIssue, where: str) -> None:
    """The parameters of an ``issue`` entry at ``tag`` are usable: a tag the host may use,
    a key-store name, a validity of 1 to :data:`MAX_ISSUE_DAYS` days, ``cn_from`` one of
    ``imei``/``uuid`` (or none), attributes ``NAME=value,...`` not setting the CN when
    ``cn_from`` does. :class:`PlanError` naming the first problem."""
    try:
        check_tag(tag)
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}") from None
    if not isinstance(issue.ca_key, str) or not KEY_NAME_PATTERN.fullmatch(issue.ca_key):
        raise PlanError(f"{where}: ca_key must be a key name (letters, digits, '._-')")
    days = issue.days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_ISSUE_DAYS:
        raise PlanError(f"{where}: days must be a whole number of days, 1-{MAX_ISSUE_DAYS}")
    if issue.cn_from is not None and issue.cn_from not in CN_SOURCES:
        raise PlanError(f"{where}: cn_from must be {' or '.join(CN_SOURCES)} or null")
    if issue.attributes is not None and not isinstance(issue.attributes, str):
        raise PlanError(f"{where}: attributes must be a string or null")
    try:
        check_attributes(issue.attributes)
        if issue.cn_from is not None:
            with_common_name(issue.attributes, "cn")
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}", exc.hint) from None


@dataclass(frozen=True)
class StationSigners:
    """What a station signs with: ``line``, the plan's line key, and the CA of each
    ``issue`` entry by ``(ca_key, ca_sha256)``."""

    line: Signer
    authorities: dict[tuple[str, str], CertificateAuthority] = field(default_factory=dict)

    def authority(self, issue: StationIssue) -> CertificateAuthority:
        """The CA opened for ``issue`` (:func:`open_station_signers` opened every one)."""
        found = self.authorities.get((issue.ca_key, issue.ca_sha256))
        if found is None:
            raise PlanError(f"the CA key {issue.ca_key!r} of an entry was not opened")
        return found

    def check(self, plan: VerifiedPlan) -> None:
        """Refuse (:class:`PlanError`) unless these signers fit ``plan``: the line key's
        fingerprint is the plan's and every entry's CA is here."""
        if fingerprint(self.line.public_key()) != plan.key_fingerprint:
            raise PlanError(f"key {self.line.name!r} is not the plan's line key")
        for entry in plan.station_signed:
            assert entry.issue is not None
            self.authority(entry.issue)


def open_station_signers(
    plan: VerifiedPlan, line: Signer, signer_for: Callable[[str], Signer]
) -> StationSigners:
    """The signers for ``plan``'s station-signed entries, checked and unlocked before any
    device is touched (module contract); :class:`PlanError` when one does not fit or
    cannot be opened."""
    if not plan.station_signed:
        raise PlanError(
            "the plan has no entries signed at the station; a station key is not needed",
            "apply the plan without a station key",
        )
    signers = StationSigners(line)
    held = fingerprint(line.public_key())
    if held != plan.key_fingerprint:
        raise PlanError(
            f"key {line.name!r} ({held[:16]}...) is not the plan's line key "
            f"({plan.key_fingerprint[:16]}...)",
            "give the key that signed the plan's lines (the plan names its fingerprint)",
        )
    _unlock(line)
    signers_by_name: dict[str, Signer] = {}
    for entry in plan.station_signed:
        issue = entry.issue
        assert issue is not None
        if (issue.ca_key, issue.ca_sha256) in signers.authorities:
            continue
        where = f"the CA key {issue.ca_key!r} of tag {entry.tag}"
        try:
            signer = signers_by_name.get(issue.ca_key) or signer_for(issue.ca_key)
            certificate = load_certificate(issue.ca_pem.encode("ascii"), "CA certificate")
            authority = open_ca(certificate, signer)
            _unlock(signer)
        except XsudoError as exc:
            raise PlanError(f"{where}: {exc.message}", exc.hint) from None
        signers_by_name[issue.ca_key] = signer
        signers.authorities[(issue.ca_key, issue.ca_sha256)] = authority
    signers.check(plan)
    return signers


def _unlock(signer: Signer) -> None:
    """Ask for a passphrase or PIN now, not in the middle of a board."""
    unlock = getattr(signer, "unlock", None)
    if callable(unlock):
        unlock()
