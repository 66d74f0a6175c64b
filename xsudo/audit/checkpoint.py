"""Signed checkpoints of the audit log: its head, signed with a key from the key store.

A checkpoint is a record of event ``checkpoint`` appended to the log, with the fields
``anchor_seq`` and ``anchor_hash`` (the head it anchors), ``key_name``, ``key_fingerprint``
and ``signature``. A copy of that record goes, as one JSON line, to the sidecar file
``<log name>.checkpoints`` next to the log (mode 0600), to be copied off the machine.

Signed message (version 1), built only from the anchor, never from the host or the file::

    b"xsudo audit checkpoint v1\\n" + f"{anchor_seq}:{anchor_hash}".encode("ascii")

``anchor_seq`` in decimal, ``anchor_hash`` in lower-case hex. The signature is ECDSA P-256
over the SHA-256 of that message, DER-encoded, in standard padded Base64. With openssl::

    printf 'xsudo audit checkpoint v1\\n%s:%s' SEQ HASH > msg
    base64 -d <<< SIGNATURE > sig.der
    openssl dgst -sha256 -verify key.pub.pem -signature sig.der msg

A checkpoint holds when its key is trusted (a key of the local key store with that
fingerprint, or a public key given by the verifier), its signature verifies, the log holds
the anchored record with that hash and, for a copy from a sidecar, the log still holds the
checkpoint record itself. So cutting the log back past a checkpoint (the sidecar keeps it)
and re-chaining a forged log under a checkpoint (the anchor no longer matches) both fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xsudo.audit.log import (
    CHECKPOINT_EVENT,
    AuditHead,
    AuditLog,
    AuditLogError,
    ChainReport,
    Field,
    RecordFormatError,
    locked,
    open_private_append,
    parse_record,
    read_lines,
    record_hash,
)
from xsudo.crypto import PublicKey, fingerprint, verify_digest
from xsudo.encoding import SignatureFormatError, decode_der, encode_der
from xsudo.errors import BadInputError, OperationFailed, Remedy, SignatureInvalid
from xsudo.signing import Signer

CHECKPOINT_DOMAIN = b"xsudo audit checkpoint v1\n"
SIDECAR_SUFFIX = ".checkpoints"
_HEX = frozenset("0123456789abcdef")


def checkpoint_message(seq: int, hash: str) -> bytes:
    """The exact bytes a checkpoint of head ``seq:hash`` signs (see the module docstring).

    Raises :class:`ValueError` for a ``seq`` below 1 or a hash that is not 64 lower-hex.
    """
    if type(seq) is not int or seq < 1 or len(hash) != 64 or not set(hash) <= _HEX:
        raise ValueError("a checkpoint anchors a record number >= 1 and a 64-lower-hex hash")
    return CHECKPOINT_DOMAIN + f"{seq}:{hash}".encode("ascii")


def sidecar_path(log_path: Path) -> Path:
    """``<log>.checkpoints`` next to the log."""
    return log_path.with_name(log_path.name + SIDECAR_SUFFIX)


@dataclass(frozen=True)
class Checkpoint:
    """A signed head: ``signature`` is standard Base64 of the DER ECDSA signature."""

    anchor: AuditHead
    key_name: str
    key_fingerprint: str
    signature: str

    def fields(self) -> dict[str, Field]:
        """The fields of the checkpoint's log record."""
        return {
            "anchor_seq": self.anchor.seq,
            "anchor_hash": self.anchor.hash,
            "key_name": self.key_name,
            "key_fingerprint": self.key_fingerprint,
            "signature": self.signature,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Checkpoint:
        """The checkpoint a record holds; :class:`ValueError` naming the bad field."""
        if record.get("event") != CHECKPOINT_EVENT:
            raise ValueError(f"its event is not {CHECKPOINT_EVENT!r}")
        seq, anchor_hash = record.get("anchor_seq"), record.get("anchor_hash")
        if type(seq) is not int or not isinstance(anchor_hash, str):
            raise ValueError("'anchor_seq' or 'anchor_hash' is missing")
        checkpoint_message(seq, anchor_hash)
        texts = [record.get(name) for name in ("key_name", "key_fingerprint", "signature")]
        if not all(isinstance(text, str) for text in texts):
            raise ValueError("'key_name', 'key_fingerprint' or 'signature' is missing")
        return cls(AuditHead(seq, anchor_hash), *(str(text) for text in texts))


def sign_checkpoint(head: AuditHead, signer: Signer) -> Checkpoint:
    """Sign ``head`` with ``signer`` (any key store); the signature is checked against the
    signer's public key before it is returned (:class:`SignatureInvalid` if it fails)."""
    digest = hashlib.sha256(checkpoint_message(head.seq, head.hash)).digest()
    r, s = signer.sign_digest(digest)
    public = signer.public_key()
    if not verify_digest(public, digest, r, s):
        raise SignatureInvalid(
            f"key {signer.name!r} produced a signature that does not verify against its public key",
            "the key store returned a different key than the one registered; check the key",
        )
    signature = base64.b64encode(encode_der(r, s)).decode("ascii")
    return Checkpoint(head, signer.name, fingerprint(public), signature)


def verify_checkpoint(checkpoint: Checkpoint, key: PublicKey) -> bool:
    """True when ``checkpoint.signature`` is a valid signature of its anchor by ``key``."""
    try:
        der = base64.b64decode(checkpoint.signature.encode("ascii"), validate=True)
        r, s = decode_der(der)
    except (binascii.Error, UnicodeEncodeError, SignatureFormatError):
        return False
    message = checkpoint_message(checkpoint.anchor.seq, checkpoint.anchor.hash)
    return verify_digest(key, hashlib.sha256(message).digest(), r, s)


def write_checkpoint(log: AuditLog, signer: Signer) -> dict[str, Any]:
    """Sign the log's head, append the checkpoint record to the log and a copy to the
    sidecar; return the record.

    Raises :class:`BadInputError` for an empty log, :class:`AuditLogError` for a log that
    cannot take a record (nothing signed), and :class:`OperationFailed` when the record is
    in the log but the sidecar copy could not be written.
    """
    log.check_appendable()
    head = log.head()
    if head is None:
        raise BadInputError(
            f"the audit log {log.path} is empty: there is nothing to anchor",
            "make a checkpoint once something has been recorded",
        )
    record = log.append(CHECKPOINT_EVENT, **sign_checkpoint(head, signer).fields())
    append_to_sidecar(sidecar_path(log.path), record)
    return record


def append_to_sidecar(path: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created 0600), under a lock."""
    line = json.dumps(record, sort_keys=True, ensure_ascii=True).encode("ascii") + b"\n"
    try:
        with open_private_append(path) as handle, locked(handle):
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise OperationFailed(
            f"checkpoint record {record['seq']} is in the log, but could not be copied to "
            f"{path}: {exc.strerror or type(exc).__name__}",
            f"copy it by hand from record {record['seq']} of the log",
            remedy=Remedy("audit-show", {"seq": int(record["seq"])}),
        ) from None


@dataclass(frozen=True)
class CheckpointResult:
    """What checking one checkpoint found. ``source`` says where it came from; a failed one
    says why in ``reason`` and, when something can be done about it, what in ``hint`` and
    ``remedy`` (the JSON ``reason`` holds both sentences)."""

    source: str
    ok: bool
    reason: str = ""
    checkpoint: Checkpoint | None = None
    hint: str = field(default="", compare=False)
    remedy: Remedy | None = field(default=None, compare=False)

    @property
    def explained(self) -> str:
        """``reason; hint`` (just ``reason`` without a hint)."""
        return f"{self.reason}; {self.hint}" if self.hint else self.reason

    def to_json(self) -> dict[str, Any]:
        found = self.checkpoint
        return {
            "source": self.source,
            "ok": self.ok,
            "reason": self.explained,
            "anchor": found.anchor.to_json() if found else None,
            "key_name": found.key_name if found else None,
            "key_fingerprint": found.key_fingerprint if found else None,
        }


def trusted_keys(keys: Iterable[PublicKey]) -> dict[str, PublicKey]:
    """``keys`` by fingerprint (computed here, never taken from metadata)."""
    return {fingerprint(key): key for key in keys}


def check_record(
    record: Mapping[str, Any],
    source: str,
    report: ChainReport,
    trusted: Mapping[str, PublicKey],
) -> CheckpointResult:
    """Check one checkpoint record (from the log or a sidecar) against the log's
    ``report``: a trusted key, a valid signature, the anchor in the log, and the checkpoint
    record itself in the log."""
    try:
        checkpoint = Checkpoint.from_record(record)
    except ValueError as exc:
        return CheckpointResult(source, False, f"not a checkpoint: {exc}")
    if checkpoint.key_fingerprint not in trusted and record_hash(record) == record["hash"]:
        return CheckpointResult(
            source,
            False,
            f"signed by key {checkpoint.key_name[:64]!r} ({checkpoint.key_fingerprint[:16]}...), "
            "which is not trusted here",
            checkpoint,
            hint="add it to the key store or to the trusted public keys",
            remedy=Remedy("trust-key", {"fingerprint": checkpoint.key_fingerprint}),
        )
    problem = _problem(checkpoint, record, report, trusted)
    return CheckpointResult(source, not problem, problem, checkpoint)


def check_checkpoints(
    report: ChainReport, files: Sequence[Path], trusted: Mapping[str, PublicKey]
) -> list[CheckpointResult]:
    """Check every checkpoint of the log (``report.checkpoints``) and of the sidecar
    ``files``. A sidecar line identical to a checkpoint of the log is checked once."""
    results = [
        check_record(record, f"log record {record['seq']}", report, trusted)
        for record in report.checkpoints
    ]
    for path in files:
        for source, record, reason in _read_sidecar(path):
            if record is None:
                results.append(CheckpointResult(source, False, reason))
            elif not _is_log_checkpoint(record, report):
                results.append(check_record(record, source, report, trusted))
    return results


def _problem(
    checkpoint: Checkpoint,
    record: Mapping[str, Any],
    report: ChainReport,
    trusted: Mapping[str, PublicKey],
) -> str:
    if record_hash(record) != record["hash"]:
        return "its content does not match its hash (the record was edited)"
    key = trusted[checkpoint.key_fingerprint]  # check_record refused an untrusted key
    if not verify_checkpoint(checkpoint, key):
        return f"its signature does not verify with key {checkpoint.key_fingerprint[:16]}..."
    own = AuditHead.of(record)
    if checkpoint.anchor.seq >= own.seq:
        return f"it anchors record {checkpoint.anchor.seq}, which is not before itself"
    return report.anchor_problem(checkpoint.anchor, "the anchored record") or (
        report.anchor_problem(own, "the checkpoint record")
    )


def _is_log_checkpoint(record: Mapping[str, Any], report: ChainReport) -> bool:
    """True for an exact copy of a checkpoint record of the (intact part of the) log."""
    return any(record == own for own in report.checkpoints)


def _read_sidecar(path: Path) -> list[tuple[str, dict[str, Any] | None, str]]:
    """``(source, record, "")`` for each line of a sidecar, ``(source, None, reason)`` for a
    line that is not a record."""
    try:
        with open(path, "rb") as handle, locked(handle, shared=True):
            lines = list(read_lines(handle))
    except OSError as exc:
        raise AuditLogError(
            f"cannot read the checkpoints file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    entries: list[tuple[str, dict[str, Any] | None, str]] = []
    for number, line in enumerate(lines, start=1):
        source = f"{path.name} line {number}"
        try:
            entries.append((source, parse_record(line), ""))
        except RecordFormatError as exc:
            entries.append((source, None, f"not a checkpoint record: {exc.message}"))
    return entries
