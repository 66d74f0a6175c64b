"""The simulated modem's memory: the volatile state, and the non-volatile memory and its file.

What survives a reboot (like the modem's NVM): every ``%CMNG`` entry with its exact bytes
(``%XPMNG`` keys are the type-5 entries in tags 0-9, ``%KEYGEN`` keys the type-2/8 entries),
the device identity key, and whether ``%XPRODDONE`` has run (rule S37). CFUN, CMEE and the
power-off warning are volatile and are not stored: they are :class:`Volatile`.

File format (``format: "xsudo-sim-state/1"``)::

    {"format": "xsudo-sim-state/1",
     "identity_key": "<PKCS#8 PEM>",
     "production_done": false,
     "credentials": [{"tag": 42, "type": 0, "sha256": "<hex>", "content_b64": "..."}]}

Content is Base64 so every byte (CR, LF, non-ASCII) survives; ``sha256`` is informational.
``production_done`` may be missing (files written before it existed): false.
The file is written atomically (:func:`xsudo.atomic.write_atomic`: temp file in the same
directory, fsync, ``os.replace``, directory fsync) with mode 0600: it is a test board's
memory and may hold test private keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import operator
import os
import re
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.atomic import TempFileError, write_atomic
from xsudo.crypto import generate_private_key, load_private_key
from xsudo.errors import BadInputError
from xsudo.fileio import STATE_FILE_LIMIT, read_optional_input, show_path
from xsudo.sim.seeds import reserved_entries

STATE_FORMAT = "xsudo-sim-state/1"
MAX_JSON_DEPTH = 16
"""A state file nests 3 deep; anything deeper than this is refused before parsing."""
MAX_NUMBER_DIGITS = 32
"""Tags and types are at most 10 digits; a longer number is refused while parsing."""

_STATE_HINT = "delete it to start from a factory-new board, or give another state file"
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP_BYTES = bytes.maketrans(b"[{]}", bytes([2, 2, 0, 0]))

CredentialKey = tuple[int, int]


class StateFileError(BadInputError):
    """A simulator state file that cannot be read or written."""


@dataclass
class Volatile:
    """State that a reboot resets (rule conventions: cmee 0, cfun 0, LTE off, no warning)."""

    cmee: int = 0
    cfun: int = 0
    lte_active: bool = False
    pofwarn_active: bool = False


@dataclass
class Nvm:
    """Non-volatile state: credentials by ``(sec_tag, type)``, the identity key, and the
    ``%XPRODDONE`` flag."""

    identity_key: ec.EllipticCurvePrivateKey
    credentials: dict[CredentialKey, bytes] = field(default_factory=dict)
    production_done: bool = False
    """Set for good by ``AT%XPRODDONE`` (rule S37); nothing else in the simulator reads it."""

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
            "production_done": self.production_done,
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
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format is not {STATE_FORMAT!r}")
            key = load_private_key(_text(data, "identity_key").encode("ascii"))
            credentials: dict[CredentialKey, bytes] = {}
            for item in data["credentials"]:
                tag, type_ = _whole(item, "tag"), _whole(item, "type")
                content = base64.b64decode(_text(item, "content_b64"), validate=True)
                credentials[(tag, type_)] = content
            production_done = data.get("production_done", False)
            if not isinstance(production_done, bool):
                raise TypeError("production_done is not true or false")
        except (
            AttributeError,
            KeyError,
            TypeError,
            ValueError,
            binascii.Error,
            BadInputError,
        ) as exc:
            raise StateFileError(
                f"{source} is not a simulator state file ({_one_line(exc)})", _STATE_HINT
            ) from None
        return cls(identity_key=key, credentials=credentials, production_done=production_done)


def _text(item: Any, name: str) -> str:
    value = item[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _whole(item: Any, name: str) -> int:
    value = item[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ValueError(f"{name} is not an integer 0..2^32-1")
    return value


def load_nvm(path: str | os.PathLike[str]) -> Nvm | None:
    """The NVM stored in ``path``, or ``None`` when the file does not exist.

    Anything else that is not a state file :meth:`Nvm.to_json` wrote is one
    :class:`StateFileError` line naming the file: unreadable, not a regular file, larger
    than :data:`~xsudo.fileio.STATE_FILE_LIMIT`, not UTF-8, not JSON, nested deeper than
    :data:`MAX_JSON_DEPTH`, numbers longer than :data:`MAX_NUMBER_DIGITS`, or the wrong shape.
    """
    try:
        raw = read_optional_input(path, "simulator state", limit=STATE_FILE_LIMIT)
    except BadInputError as exc:
        raise StateFileError(exc.message, _STATE_HINT) from None
    if raw is None:
        return None
    return Nvm.from_json(parse_state_json(raw, show_path(path)), show_path(path))


def parse_state_json(raw: bytes, source: str) -> Any:
    """``raw`` decoded as UTF-8 JSON, bounded: :class:`StateFileError` naming ``source``
    instead of a huge-number ``ValueError``, a ``RecursionError`` or a decode error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_json(source, f"not UTF-8 text: byte {exc.start}") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise _not_json(source, f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float)
    except json.JSONDecodeError as exc:
        raise _not_json(source, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except (ValueError, RecursionError) as exc:
        raise _not_json(source, _one_line(exc)) from None


def json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting in JSON ``text``, brackets inside strings ignored.

    Linear time with C-level loops, so a 16 MiB file of brackets is measured quickly.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    steps = brackets.encode("ascii").translate(_STEP_BYTES)
    return max(accumulate(map(operator.sub, steps, repeat(1))), default=0)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def _not_json(source: str, why: str) -> StateFileError:
    return StateFileError(f"{source} is not a simulator state file ({why})", _STATE_HINT)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def save_nvm(path: str | os.PathLike[str], nvm: Nvm) -> None:
    """Write ``nvm`` to ``path`` atomically (:func:`xsudo.atomic.write_atomic`, mode 0600):
    readers see the old file or the new one, never a partial one."""
    target = Path(path)
    data = (json.dumps(nvm.to_json(), indent=1, sort_keys=True) + "\n").encode("utf-8")
    try:
        write_atomic(target, data, mode=0o600)
    except TempFileError as exc:
        raise StateFileError(
            f"cannot write simulator state in {target.parent}: {exc.strerror}"
        ) from None
    except OSError as exc:
        raise StateFileError(
            f"cannot save simulator state to {target}: {exc.strerror or exc}",
            "the previous state file is unchanged",
        ) from None
