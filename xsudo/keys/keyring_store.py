"""Store ``keyring``: the OS keychain through the ``keyring`` library, with its traps refused.

Contract:

* Only backends known to encrypt secrets at rest are used (an allowlist, exact class match:
  :data:`ENCRYPTING_BACKENDS`, i.e. the macOS Keychain, the Windows Credential Locker, the
  Secret Service through D-Bus or libsecret, and KWallet). Any other backend is refused with
  :class:`InsecureStoreError` naming it, unless the user names it in ``XSUDO_KEYRING_ALLOW``
  (comma-separated ``module.Class`` names, exact match, no wildcards).
* Backends that never keep a secret safely are refused even when named there:
  ``keyring.backends.fail`` (no keychain found), ``keyring.backends.null`` (discards) and
  ``keyrings.alt`` ``PlaintextKeyring`` (base64 in a plain file), and their subclasses.
* A chainer is resolved to its highest-priority backend, which is then judged and used
  directly, so a write never silently falls through to a weaker backend; a chainer with
  nothing to chain is refused. A backend whose priority says it is unusable (raises, or is
  <= 0) is refused.
* A backend known to prompt on the terminal (``keyrings.alt`` ``EncryptedKeyring``,
  ``keyrings.cryptfile``) is refused when stdin is not a terminal, so nothing hangs in CI.
* Every write is read back and compared; a mismatch is refused (and the entry removed).
* The secret is the PKCS#8 DER of the key, base64, under service ``xsudo`` and username =
  key name. It never appears in messages.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from xsudo.crypto import PrivateKey, require_p256_private
from xsudo.errors import InsecureStoreError, KeyStoreError, Remedy
from xsudo.keys.backend import LocalKeyBackend
from xsudo.keys.records import KeyRecord

if TYPE_CHECKING:  # keyring itself loads when a key of this store is used, not on import
    from keyring.backend import KeyringBackend

SERVICE = "xsudo"
SECRET_FORMAT = "pkcs8-der-base64"

ALLOW_ENV = "XSUDO_KEYRING_ALLOW"
ENCRYPTING_BACKENDS = frozenset(
    {
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
    }
)
"""``module.Class`` of the backends known to encrypt at rest (accepted without opt-in)."""

_CHAINER = "keyring.backends.chainer.ChainerBackend"
_NEVER: dict[str, str] = {
    "keyring.backends.fail.Keyring": "keyring found no OS keychain on this system",
    "keyring.backends.null.Keyring": "the null keyring backend discards every secret",
    "keyrings.alt.file.PlaintextKeyring": (
        "keyrings.alt PlaintextKeyring keeps secrets only base64-encoded in a plain file"
    ),
}
_CLASS_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", re.ASCII)
_PROMPTING = frozenset(
    {"keyrings.alt.file.EncryptedKeyring", "keyrings.cryptfile.cryptfile.CryptFileKeyring"}
)

T = TypeVar("T")


def backend_label(backend: object) -> str:
    """``module.Class`` of a keyring backend, for messages and metadata."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _lineage(backend: object) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(backend).__mro__}


@dataclass(frozen=True)
class Assessment:
    """Whether a keyring backend may hold xsudo keys; ``backend`` is the one to use."""

    usable: bool
    reason: str
    backend: KeyringBackend | None = None


class AllowListError(ValueError):
    """``XSUDO_KEYRING_ALLOW`` holds something that is not a ``module.Class`` name."""


def opted_in_backends(value: str | None = None) -> frozenset[str]:
    """The ``module.Class`` names in ``XSUDO_KEYRING_ALLOW`` (or ``value``), comma-separated;
    :class:`AllowListError` for an entry that is not an exact dotted name (no wildcards)."""
    raw = os.environ.get(ALLOW_ENV, "") if value is None else value
    names = [item.strip() for item in raw.split(",") if item.strip()]
    for name in names:
        if not _CLASS_NAME.fullmatch(name):
            raise AllowListError(
                f"{ALLOW_ENV} entry {name!r} is not a module.Class name (no wildcards)"
            )
    return frozenset(names)


def assess_backend(
    backend: KeyringBackend, *, can_prompt: bool, allowed: Collection[str] | None = None
) -> Assessment:
    """Decide whether ``backend`` keeps secrets safely here (see the module contract).

    ``allowed`` is the user's opt-in list (default: :func:`opted_in_backends`).
    """
    try:
        opted_in = opted_in_backends() if allowed is None else frozenset(allowed)
    except AllowListError as exc:
        return Assessment(False, str(exc))
    backend, via, refusal = _resolve_chainer(backend)
    if refusal is not None:
        return Assessment(False, refusal)
    label = backend_label(backend)
    lineage = _lineage(backend)
    for refused, why in _NEVER.items():
        if refused in lineage:
            cannot = f"; {ALLOW_ENV} cannot enable it" if label in opted_in else ""
            return Assessment(False, f"{why} ({label}){cannot}")
    if label in ENCRYPTING_BACKENDS:
        accepted = f"OS keychain backend {label}{via}"
    elif label in opted_in:
        accepted = f"keyring backend {label}{via}, allowed by {ALLOW_ENV}"
    else:
        return Assessment(
            False,
            f"{label} is not a keyring backend known to encrypt at rest (to use it anyway, "
            f"set {ALLOW_ENV}={label})",
        )
    unusable = _unusable(backend, label, lineage, can_prompt=can_prompt)
    if unusable is not None:
        return Assessment(False, unusable)
    return Assessment(True, accepted, backend)


def _resolve_chainer(backend: KeyringBackend) -> tuple[KeyringBackend, str, str | None]:
    """``backend``, or a chainer's highest-priority backend; with why it cannot be used."""
    if _CHAINER not in _lineage(backend):
        return backend, "", None
    try:
        chain = list(getattr(backend, "backends", []))
    except Exception as exc:
        return backend, "", f"keyring's chainer backend failed ({type(exc).__name__})"
    if not chain:
        return backend, "", "keyring's chainer backend has no usable backend to chain"
    return chain[0], " (first in keyring's chainer)", None


def _unusable(
    backend: KeyringBackend, label: str, lineage: set[str], *, can_prompt: bool
) -> str | None:
    """Why an allowed ``backend`` cannot be used right now (priority, prompting), if so."""
    try:
        priority: Any = type(backend).priority
    except Exception as exc:
        return f"{label} is not usable here: {_one_line(exc)}"
    if not isinstance(priority, int | float) or priority <= 0:
        return f"{label} reports itself unusable (priority {priority})"
    if lineage & _PROMPTING and not can_prompt:
        return f"{label} would prompt for its password and stdin is not a terminal"
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class KeyringKeyBackend(LocalKeyBackend):
    """Keys in the OS keychain. ``backend`` overrides ``keyring.get_keyring()`` (tests)."""

    def __init__(
        self,
        *,
        service: str = SERVICE,
        backend: KeyringBackend | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.service = service
        self._explicit = backend
        self._interactive = interactive

    @property
    def name(self) -> str:
        return "keyring"

    def assess(self) -> Assessment:
        """The current verdict on the configured keyring backend."""
        if self._explicit is not None:
            configured = self._explicit
        else:
            try:
                import keyring

                configured = keyring.get_keyring()
            except Exception as exc:
                return Assessment(False, f"keyring could not load a backend: {_one_line(exc)}")
        return assess_backend(configured, can_prompt=self._can_prompt())

    def available(self) -> tuple[bool, str]:
        verdict = self.assess()
        return verdict.usable, verdict.reason

    def _can_prompt(self) -> bool:
        if self._interactive is not None:
            return self._interactive
        try:
            return sys.stdin is not None and sys.stdin.isatty()
        except (ValueError, OSError):
            return False

    def _usable(self) -> KeyringBackend:
        verdict = self.assess()
        if not verdict.usable or verdict.backend is None:
            raise InsecureStoreError(
                f"the keyring store cannot be used: {verdict.reason}",
                "use the file store (a passphrase-encrypted key file) instead",
                remedy=Remedy("use-file-store"),
            )
        return verdict.backend

    def _save(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        backend = self._usable()
        label = backend_label(backend)
        service, username = self.service, key_name
        if _call(label, "read", backend.get_password, service, username) is not None:
            raise KeyStoreError(
                f"the keychain already holds an entry for service {service!r}, user "
                f"{username!r}, but xsudo has no key of that name",
                f"choose another name, or remove that entry first (keyring del {service} "
                f"{username})",
            )
        secret = _encode_secret(key)
        _call(
            label,
            "store the key",
            backend.set_password,
            service,
            username,
            secret,
            show_cause=False,
        )
        if _call(label, "read back", backend.get_password, service, username) != secret:
            with contextlib.suppress(Exception):  # best effort: the entry is wrong anyway
                backend.delete_password(service, username)
            raise InsecureStoreError(
                f"the keychain ({label}) did not return what was written "
                "(read-back mismatch); it may lose secrets",
                "use the file store instead",
                remedy=Remedy("use-file-store"),
            )
        return {
            "service": service,
            "username": username,
            "backend": label,
            "format": SECRET_FORMAT,
        }

    def _load(self, record: KeyRecord) -> PrivateKey:
        backend = self._usable()
        service, username = _entry(record)
        value = _call(backend_label(backend), "read", backend.get_password, service, username)
        if value is None:
            raise KeyStoreError(
                f"the keychain has no secret for key {record.name!r} (service {service!r}, "
                f"user {username!r}): the entry was removed or this is another keychain",
                "restore the entry from a backup, or delete the key",
                remedy=Remedy("delete-key", {"key": record.name}),
            )
        return _decode_secret(value, record.name)

    def delete(self, record: KeyRecord) -> None:
        from keyring.errors import PasswordDeleteError

        backend = self._usable()
        label = backend_label(backend)
        service, username = _entry(record)
        try:
            backend.delete_password(service, username)
        except PasswordDeleteError:
            pass  # already gone
        except Exception as exc:
            raise _failure(label, "delete the key", exc, show_cause=True) from None
        if _call(label, "read back", backend.get_password, service, username) is not None:
            raise KeyStoreError(
                f"the keychain ({label}) still holds key {record.name!r} after deleting it",
                "remove the entry with your keychain tool, then retry",
            )


def _entry(record: KeyRecord) -> tuple[str, str]:
    details: Mapping[str, str] = record.details
    return details.get("service", SERVICE), details.get("username", record.name)


def _call(label: str, what: str, fn: Callable[..., T], *args: str, show_cause: bool = True) -> T:
    try:
        return fn(*args)
    except Exception as exc:
        raise _failure(label, what, exc, show_cause=show_cause) from None


def _failure(label: str, what: str, exc: Exception, *, show_cause: bool) -> KeyStoreError:
    cause = _one_line(exc) if show_cause else type(exc).__name__
    return KeyStoreError(
        f"the keychain ({label}) failed to {what}: {cause}",
        "unlock the keychain and retry, or use the file store",
        remedy=Remedy("unlock-keychain"),
    )


def _encode_secret(key: PrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode("ascii")


def _decode_secret(value: str, name: str) -> PrivateKey:
    try:
        der = base64.b64decode(value.encode("ascii"), validate=True)
        key = serialization.load_der_private_key(der, None)
    except (ValueError, TypeError, UnicodeEncodeError, binascii.Error, UnsupportedAlgorithm):
        raise KeyStoreError(
            f"the keychain entry of key {name!r} is not an xsudo key",
            "it was changed outside xsudo; delete the key and create a new one",
        ) from None
    return require_p256_private(key)
