"""Helpers of the audit log tests: the CLI run in-process, logs to tamper with, signers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.signers import MemorySigner
from xsudo.audit.log import GENESIS, AuditLog, record_hash
from xsudo.crypto import PrivateKey, PublicKey, generate_private_key


def fill(log: AuditLog, count: int) -> None:
    """Append ``count`` sign records."""
    for index in range(count):
        log.append("sign", key_fingerprint="ab" * 32, data_len=index + 1, result="signed")


def lines_of(path: Path) -> list[bytes]:
    """The lines of a file, each with its LF."""
    return path.read_bytes().splitlines(keepends=True)


def encode(record: dict[str, Any]) -> bytes:
    """A record as xsudo writes it (sorted keys, ASCII, one LF)."""
    return json.dumps(record, sort_keys=True).encode("ascii") + b"\n"


def rehashed(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its ``hash`` recomputed (what a forger does after an edit)."""
    return {**record, "hash": record_hash(record)}


def rechain(records: list[dict[str, Any]]) -> list[bytes]:
    """Renumber ``records`` and recompute every ``prev`` and ``hash``: a forged log that is a
    valid chain."""
    prev, out = GENESIS, []
    for seq, record in enumerate(records, start=1):
        fixed = rehashed({**record, "seq": seq, "prev": prev})
        out.append(encode(fixed))
        prev = fixed["hash"]
    return out


class KeySigner(MemorySigner):
    """The shared in-memory signer, named first (``KeySigner("cp")``)."""

    def __init__(self, name: str = "test", key: PrivateKey | None = None) -> None:
        super().__init__(key, name)


class LyingSigner(KeySigner):
    """Signs with one key and claims another's public key (a faulty external signer)."""

    def public_key(self) -> PublicKey:
        return generate_private_key().public_key()
