"""``xsudo cred keygen|issue``: a key generated on the modem, and a CA-signed certificate.

Both are added to the ``cred`` group in :mod:`xsudo.cli.app`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from xsudo.cli.deviceopts import (
    AuthRequest,
    Connection,
    auth_options,
    auth_settings,
    port_options,
    tag_option,
)
from xsudo.cli.inputs import read_file
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.ledger import ledger_option
from xsudo.cli.output import emit, emit_json, file_option, json_option, note, warn
from xsudo.cli.params import CN_SOURCES, DEFAULT_FW_TYPES

if TYPE_CHECKING:
    from cryptography import x509

    from xsudo.audit.log import AuditHead
    from xsudo.ca import CertificateAuthority
    from xsudo.crypto import PublicKey
    from xsudo.provision.keygen import CnSource, KeygenOutcome
    from xsudo.tokens import SignatureCheck

F = TypeVar("F", bound=Callable[..., Any])

identity_key_option: Callable[[F], F] = click.option(
    "--identity-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Device identity public key (PEM) that verifies the COSE signature, e.g. from "
    "xsudo sim --identity-key-out FILE. Without it the signature is not verified.",
)


def load_identity_file(path: Path | None) -> PublicKey | None:
    """The device identity public key in ``path`` (``None`` when not given)."""
    from xsudo.tokens import load_identity_key

    return load_identity_key(read_file(path, "identity key")) if path else None


def check_output_path(path: Path | None, what: str) -> None:
    """Refuse an output file whose directory does not exist, before the device is touched."""
    from xsudo.errors import BadInputError

    if path is not None and not path.parent.is_dir():
        raise BadInputError(f"cannot write {what} {path}: no such directory {path.parent}")


def write_output(path: Path, data: bytes, what: str) -> None:
    from xsudo.errors import OperationFailed

    try:
        path.write_bytes(data)
    except OSError as exc:
        raise OperationFailed(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def signature_line(check: SignatureCheck) -> str:
    if check.status == "verified":
        return f"verified with identity key {check.key_fingerprint}"
    return "NOT verified (no --identity-key given)"


def show_keygen(outcome: KeygenOutcome) -> None:
    """The human result of a keygen (stdout), with notes on stderr."""
    reply = outcome.reply
    csr = reply.csr
    assert csr is not None
    action = "replaced" if outcome.previous_sha else "generated"
    emit(f"{action}: client key in tag {outcome.tag} via {outcome.auth}")
    emit(f"subject:      {csr.subject.rfc4514_string()}")
    emit(f"public key:   {reply.fingerprint}")
    emit(f"device uuid:  {reply.payload.device_uuid}")
    emit(
        f"cose:         ES256, kid {reply.cose.kid_name or '-'}; payload digest matches "
        "SHA-256 of the CSR"
    )
    emit(f"signature:    {signature_line(outcome.signature)}")
    note(outcome.auth_reason)
    if csr.quirk:
        note(
            f"normalised the CSR before verifying it: {csr.quirk}; its signature verifies "
            "after that repair (saved CSR files keep the modem's bytes)"
        )
    if outcome.signature.status != "verified":
        warn(
            "the COSE signature was not verified: give --identity-key FILE to check that "
            "the reply came from this device"
        )


def save_csr(outcome: KeygenOutcome, path: Path) -> None:
    """PEM, or DER when the file name ends in ``.der``."""
    der = path.suffix.lower() == ".der"
    write_output(path, outcome.csr_der if der else outcome.csr_pem, "the CSR")
    note(f"wrote the CSR to {path} ({'DER' if der else 'PEM'})")


@click.command()
@port_options
@auth_options
@tag_option()
@click.option(
    "--attributes",
    default=None,
    help='Subject attributes for the CSR, e.g. "O=Acme,CN=device-1" (default: the modem '
    "puts its device UUID in CN).",
)
@file_option("--csr-out", help="Save the CSR (PEM; DER when FILE ends in .der).")
@identity_key_option
@click.option("--replace", is_flag=True, help="Replace a client key already in the tag.")
@ledger_option
@json_option
@passphrase_file_option
def keygen(
    connection: Connection,
    auth: AuthRequest,
    tag: int,
    attributes: str | None,
    csr_out: Path | None,
    identity_key: Path | None,
    replace: bool,
    ledger_url: str | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Generate a client key on the modem (AT%KEYGEN) and check the CSR it returns.

    The private key never leaves the modem. The CSR's own signature, the COSE_Sign1
    structure (ES256) and its digest of the CSR are always checked; the COSE signature
    only with --identity-key. The key is recorded in the ledger as cred write records a
    write (action keygen; the ledger is opened before the port, exit 3 when unreachable).
    """
    from xsudo.cli.cred import record_results, recorded_device, warn_head

    verifier = load_identity_file(identity_key)
    check_output_path(csr_out, "the CSR")
    settings = auth_settings(auth, passphrase_file)
    with recorded_device(ledger_url, connection, settings, passphrase_file) as (dev, run):
        outcome = dev.keygen(tag, attributes, replace=replace, identity_key=verifier)
        record_results(run, dev, [_key_entry(outcome)])
        head = dev.audit_head
    warn_head(run)
    if csr_out is not None:
        save_csr(outcome, csr_out)
    if as_json:
        csr_path = str(csr_out) if csr_out else None
        emit_json({**outcome.to_json(), "csr_out": csr_path, "audit_head": _head(head)})
    else:
        show_keygen(outcome)


def open_ca_files(ca_cert: Path, ca_key: str, passphrase_file: Path | None) -> CertificateAuthority:
    """The CA certificate and a signer for its key from the key store, checked to match
    (the key is unlocked now, so a passphrase problem stops before the device is touched)."""
    from xsudo.ca import load_certificate, open_ca

    cert = load_certificate(read_file(ca_cert, "CA certificate"), f"CA certificate {ca_cert}")
    signer = key_store(passphrase_file).signer(ca_key)
    authority = open_ca(cert, signer)
    unlock = getattr(signer, "unlock", None)
    if callable(unlock):
        unlock()
    return authority


@click.command()
@port_options
@auth_options
@tag_option()
@click.option(
    "--ca",
    "ca_cert",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The CA certificate (PEM or DER).",
)
@click.option(
    "--ca-key", required=True, help="Name of the CA's key in the xsudo key store (any store)."
)
@click.option(
    "--days", type=click.IntRange(min=1), default=365, show_default=True, help="Validity."
)
@click.option(
    "--cn-from",
    type=click.Choice(CN_SOURCES),
    default=None,
    help="Ask the modem for CN=<IMEI> or CN=<device UUID> (read from the modem) and "
    "require it in the CSR.",
)
@click.option("--attributes", default=None, help='Other subject attributes, e.g. "O=Acme".')
@file_option("--cert-out", help="Also save the issued certificate (PEM).")
@file_option("--csr-out", help="Also save the CSR (PEM; DER when FILE ends in .der).")
@identity_key_option
@click.option(
    "--replace", is_flag=True, help="Replace a client key and certificate already in the tag."
)
@json_option
@passphrase_file_option
@file_option(
    "--onboarding-csv",
    help="Append the device to an nRF Cloud bulk-onboarding CSV (device ID = the CN). "
    "Deprecated: the ledger records the certificate; export the rows with xsudo ledger "
    "export --format nrfcloud.",
)
@click.option(
    "--fw-types",
    default=DEFAULT_FW_TYPES,
    show_default=True,
    help="For --onboarding-csv: firmware types for FOTA, |-separated.",
)
@click.option("--subtype", default="", help="For --onboarding-csv: the device subtype.")
@click.option("--tags", default="", help="For --onboarding-csv: |-separated device tags.")
@click.option(
    "--ca-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Passphrase of the CA key (file store), if it differs from --passphrase-file.",
)
@ledger_option
def issue(
    connection: Connection,
    auth: AuthRequest,
    tag: int,
    ca_cert: Path,
    ca_key: str,
    days: int,
    cn_from: CnSource | None,
    attributes: str | None,
    cert_out: Path | None,
    csr_out: Path | None,
    identity_key: Path | None,
    replace: bool,
    as_json: bool,
    passphrase_file: Path | None,
    onboarding_csv: Path | None,
    fw_types: str,
    subtype: str,
    tags: str,
    ca_passphrase_file: Path | None,
    ledger_url: str | None,
) -> None:
    """Generate a key on the modem, sign its CSR with a CA key from the key store, and
    write the certificate as the tag's client certificate (verified by SHA, audited).

    The CA key is used only through the key store's signer: it is never written out.
    The CA certificate must hold the CA key's public key.

    The device is recorded in the ledger as cred write records a write: the key (action
    keygen) and the certificate (action issued, kept for ledger export --format nrfcloud).
    The ledger is opened before the port and the IMEI claimed before %KEYGEN (exit 3 when
    the ledger cannot be reached, exit 1 when it refuses the IMEI; nothing changed).
    """
    from xsudo.cli.cred import record_results, recorded_device, warn_head
    from xsudo.ledger.recording import issued_result
    from xsudo.provision.onboarding import append_rows, check_fw_types, row_for

    verifier = load_identity_file(identity_key)
    check_fw_types(fw_types)
    for path, what in ((cert_out, "the certificate"), (csr_out, "the CSR")):
        check_output_path(path, what)
    authority = open_ca_files(ca_cert, ca_key, ca_passphrase_file or passphrase_file)
    settings = auth_settings(auth, passphrase_file)
    with recorded_device(ledger_url, connection, settings, passphrase_file) as (dev, run):
        outcome = dev.issue(
            tag,
            authority,
            days=days,
            cn_from=cn_from,
            attributes=attributes,
            replace=replace,
            identity_key=verifier,
        )
        cert = (issued_result(outcome.written.to_json()), outcome.cert_pem.decode("ascii"))
        record_results(run, dev, [_key_entry(outcome.keygen), cert])
        head = dev.audit_head
    warn_head(run)
    if csr_out is not None:
        save_csr(outcome.keygen, csr_out)
    if cert_out is not None:
        write_output(cert_out, outcome.cert_pem, "the certificate")
        note(f"wrote the certificate to {cert_out}")
    if onboarding_csv is not None:
        row = row_for(
            outcome.certificate, outcome.cert_pem, subtype=subtype, tags=tags, fw_types=fw_types
        )
        append_rows(onboarding_csv, [row])
        note(f"added device {row.device_id} to {onboarding_csv}")
        note(
            "--onboarding-csv is deprecated: the ledger records this certificate; export "
            "the rows with xsudo ledger export --format nrfcloud"
        )
    if as_json:
        emit_json({**outcome.to_json(), "audit_head": _head(head)})
        return
    show_keygen(outcome.keygen)
    _show_certificate(outcome.certificate, outcome.written.sha, outcome.written.action)


def _show_certificate(cert: x509.Certificate, sha: str | None, action: str) -> None:
    emit(f"certificate:  {cert.subject.rfc4514_string()} issued by {cert.issuer.rfc4514_string()}")
    emit(f"serial:       {format(cert.serial_number, 'x')}")
    emit(f"not after:    {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}Z")
    emit(f"{action}: client certificate, modem SHA {sha}")


def _key_entry(outcome: KeygenOutcome) -> dict[str, Any]:
    from xsudo.ledger.recording import keygen_result

    return keygen_result(outcome.tag, outcome.key_sha, outcome.previous_sha, outcome.auth)


def _head(head: AuditHead | None) -> dict[str, Any] | None:
    return head.to_json() if head is not None else None
