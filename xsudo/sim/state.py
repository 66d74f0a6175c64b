"""The simulated modem's non-volatile memory and its JSON file.

What survives a reboot (like the modem's NVM): every ``%CMNG`` entry with its exact bytes
(``%XPMNG`` keys are the type-5 entries in tags 0-9, ``%KEYGEN`` keys the type-2/8 entries)
and the device identity key. CFUN, CMEE and the power-off warning are volatile and are not
stored.

File format (``format: "xsudo-sim-state/1"``)::

    {"format": "xsudo-sim-state/1",
     "identity_key": "<PKCS#8 PEM>",
     "credentials": [{"tag": 42, "type": 0, "sha256": "<hex>", "content_b64": "..."}]}

Content is Base64 so every byte (CR, LF, non-ASCII) survives; ``sha256`` is informational.
The file is written atomically (temp file in the same directory, fsync, ``os.replace``) with
mode 0600: it is a test board's memory and may hold test private keys.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.crypto import generate_private_key, load_private_key
from xsudo.errors import BadInputError
from xsudo.sim.seeds import reserved_entries

STATE_FORMAT = "xsudo-sim-state/1"

CredentialKey = tuple[int, int]


class StateFileError(BadInputError):
    """A simulator state file that cannot be read or written."""


@dataclass
class Nvm:
    """Non-volatile state: credentials by ``(sec_tag, type)`` and the identity key."""

    identity_key: ec.EllipticCurvePrivateKey
    credentials: dict[CredentialKey, bytes] = field(default_factory=dict)

    @classmethod
    def fresh(cls, *, seed_reserved: bool = True) -> Nvm:
        """A factory-new board: a new identity key and, optionally, the reserved entries."""
        key = generate_private_key()
        nvm = cls(identity_key=key)
        if seed_reserved:
            nvm.credentials.update(reserved_entries(key.public_key()))
        return nvm

    def to_json(self) -> dict[str, Any]:
        identity_pem = self.identity_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return {
            "format": STATE_FORMAT,
            "identity_key": identity_pem,
            "credentials": [
                {
                    "tag": tag,
                    "type": type_,
                    "sha256": hashlib.sha256(content).hexdigest().upper(),
                    "content_b64": base64.b64encode(content).decode("ascii"),
                }
                for (tag, type_), content in sorted(self.credentials.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "state") -> Nvm:
        """Parse :meth:`to_json` output; raise :class:`StateFileError` on anything else."""
        try:
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format is not {STATE_FORMAT!r}")
            key = load_private_key(data["identity_key"].encode("ascii"))
            credentials: dict[CredentialKey, bytes] = {}
            for item in data["credentials"]:
                tag, type_ = int(item["tag"]), int(item["type"])
                content = base64.b64decode(item["content_b64"], validate=True)
                credentials[(tag, type_)] = content
        except (
            AttributeError,
            KeyError,
            TypeError,
            ValueError,
            binascii.Error,
            BadInputError,
        ) as exc:
            raise StateFileError(
                f"{source} is not a simulator state file ({exc})",
                "delete it to start from a factory-new board, or give another --state file",
            ) from None
        return cls(identity_key=key, credentials=credentials)


def load_nvm(path: str | os.PathLike[str]) -> Nvm | None:
    """The NVM stored in ``path``, or ``None`` when the file does not exist."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"cannot read simulator state {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(
            f"{path} is not JSON ({exc.msg} at line {exc.lineno})",
            "delete it to start from a factory-new board",
        ) from None
    return Nvm.from_json(data, str(path))


def save_nvm(path: str | os.PathLike[str], nvm: Nvm) -> None:
    """Write ``nvm`` to ``path`` atomically: readers see the old file or the new one, never a
    partial one."""
    target = Path(path)
    text = json.dumps(nvm.to_json(), indent=1, sort_keys=True) + "\n"
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateFileError(
            f"cannot write simulator state in {directory}: {exc.strerror}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise StateFileError(
                f"cannot save simulator state to {target}: {exc.strerror or exc}",
                "the previous state file is unchanged",
            ) from None
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
