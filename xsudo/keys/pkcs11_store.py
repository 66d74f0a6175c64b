"""Store ``pkcs11``: EC P-256 key pairs inside a PKCS#11 token (HSM, smart card, SoftHSM2).

Contract:

* Configuration: the module path (``--module`` or ``$XSUDO_PKCS11_MODULE``), the token
  (``--token-label`` and/or ``--token-serial``; the only initialised token when neither is
  given) and the key label (``--key-label``, default: the key's name). The PIN comes from
  ``--pin-file``, ``$XSUDO_PKCS11_PIN`` or a prompt on a terminal, and is asked only when a
  session must log in. It is never stored, logged or shown.
* A key's metadata remembers the module, the token (label and serial), the key label, its
  ``CKA_ID`` (hex) and its origin, never the PIN; so ``sign``, ``show`` and ``export`` need
  only the key's name. ``show``/``export`` use the public key in the metadata and never touch
  the token; a signer reads the public key back from the token when it opens and refuses a
  pair that does not match the registered fingerprint.
* :meth:`Pkcs11KeyBackend.generate` makes the pair inside the token: token objects, the same
  ``CKA_LABEL`` and a fresh random 16-byte ``CKA_ID`` on both halves, the private half
  ``CKA_PRIVATE``, ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``, ``CKA_SIGN`` and nothing else.
  :meth:`Pkcs11KeyBackend.store` (``xsudo key import --store pkcs11``) writes an existing key
  into the token with the same attributes (it existed outside the token before, which the
  metadata records as ``origin: imported``). :meth:`Pkcs11KeyBackend.locate`
  (``xsudo key import-pkcs11``) references a pair already in the token (``origin:
  referenced``). A label that is already used in the token is never reused by generate/import.
* Public keys are read from the public key object: ``CKA_EC_PARAMS`` must name prime256v1 and
  ``CKA_EC_POINT`` must be a DER OCTET STRING around ``04||X||Y`` (see
  :mod:`xsudo.keys.pkcs11_attrs`); anything else is an :class:`UnsupportedKeyError`.
* Signing is ``CKM_ECDSA`` over the host-computed SHA-256 digest; the token returns raw
  ``r||s`` (64 bytes), decoded with :func:`xsudo.encoding.decode_raw`. Token ECDSA is not
  deterministic: the same body signs to a different (equally valid) line on every run.
* :meth:`Pkcs11KeyBackend.delete` destroys the objects of a generated or imported key; a
  referenced key is only forgotten (the token's key is not xsudo's to destroy).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from xsudo.crypto import PrivateKey, PublicKey, fingerprint, load_public_key
from xsudo.encoding import SignatureFormatError, decode_raw
from xsudo.errors import BadInputError, KeyStoreError, Remedy, UnsupportedKeyError
from xsudo.keys.local_signer import DIGEST_SIZE
from xsudo.keys.passphrase import PassphraseSource
from xsudo.keys.pkcs11_attrs import (
    check_p256_ec_params,
    ec_point_attribute,
    p256_ec_params,
    private_value_attribute,
    public_key_from_ec_point,
)
from xsudo.keys.pkcs11_link import (
    PKCS11_MODULE_ENV,
    TokenLink,
    acquire,
    describe,
    find_token,
    load_library,
    pin_source,
    pkcs11_installed,
    pkcs11_module,
    token_serial,
)
from xsudo.keys.records import KeyRecord, validate_key_name

STORE_NAME = "pkcs11"
KEY_ID_BYTES = 16
ORIGINS = ("generated", "imported", "referenced")


@dataclass(frozen=True)
class Pkcs11Config:
    """Where new keys go (or existing ones are found). Every field is optional."""

    module: str | None = None
    token_label: str | None = None
    token_serial: str | None = None
    key_label: str | None = None

    @classmethod
    def from_env(cls) -> Pkcs11Config:
        """The module from ``$XSUDO_PKCS11_MODULE``; nothing else has an environment form."""
        return cls(module=os.environ.get(PKCS11_MODULE_ENV) or None)

    def merged(self, **options: str | None) -> Pkcs11Config:
        """This config with every option that was given (not ``None``) replacing its field."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


@dataclass(frozen=True)
class _Pair:
    private: Any
    public_object: Any
    public: PublicKey
    label: str
    key_id: bytes


class Pkcs11KeyBackend:
    """Keys in a PKCS#11 token, configured by ``config``, with PINs from ``pins``."""

    def __init__(
        self, config: Pkcs11Config | None = None, pins: PassphraseSource | None = None
    ) -> None:
        self.config = config if config is not None else Pkcs11Config.from_env()
        self.pins = pins if pins is not None else pin_source()

    @property
    def name(self) -> str:
        return STORE_NAME

    def available(self) -> tuple[bool, str]:
        if not pkcs11_installed():
            return False, "python-pkcs11 is not installed (pip install 'xsudo[hsm]')"
        if not self.config.module:
            return False, f"no PKCS#11 module given (a module path or {PKCS11_MODULE_ENV})"
        return True, f"PKCS#11 module {self.config.module}"

    def unavailable_remedy(self) -> Remedy | None:
        """What makes :meth:`available` true, when that is configuration (optional member
        of a backend, see :meth:`xsudo.keys.store.KeyStore.generate`)."""
        if pkcs11_installed() and not self.config.module:
            return Remedy("give-pkcs11-module")
        return None

    def generate(self, key_name: str) -> tuple[PublicKey, dict[str, str]]:
        """Create a P-256 pair inside the token (see the module contract)."""
        label = self._key_label(key_name)
        with self._session() as (link, lib):
            pkcs11 = pkcs11_module()
            _require_free_label(link, label)
            key_id = secrets.token_bytes(KEY_ID_BYTES)
            try:
                public_object, _private = link.session.generate_keypair(
                    pkcs11.KeyType.EC,
                    id=key_id,
                    label=label,
                    store=True,
                    capabilities=pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY,
                    public_template=_public_template(pkcs11, label, key_id),
                    private_template=_private_template(pkcs11, label, key_id),
                )
            except pkcs11.PKCS11Error as exc:
                raise _token_failure(link, f"generate key pair {label!r}", exc) from None
            public = _public_of(public_object, _what(link, label))
            return public, _details(lib, link, label, key_id, "generated")

    def store(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        """Write ``key`` into the token as a non-extractable pair (``origin: imported``)."""
        label = self._key_label(key_name)
        with self._session() as (link, lib):
            pkcs11 = pkcs11_module()
            _require_free_label(link, label)
            key_id = secrets.token_bytes(KEY_ID_BYTES)
            private_attrs = {
                **_private_template(pkcs11, label, key_id),
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                pkcs11.Attribute.EC_PARAMS: p256_ec_params(),
                pkcs11.Attribute.VALUE: private_value_attribute(key),
            }
            public_attrs = {
                **_public_template(pkcs11, label, key_id),
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY,
                pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.EC,
                pkcs11.Attribute.EC_PARAMS: p256_ec_params(),
                pkcs11.Attribute.EC_POINT: ec_point_attribute(key.public_key()),
            }
            created: list[Any] = []
            try:
                created.append(link.session.create_object(private_attrs))
                created.append(link.session.create_object(public_attrs))
            except pkcs11.PKCS11Error as exc:
                for obj in created:
                    with contextlib.suppress(pkcs11.PKCS11Error):
                        obj.destroy()
                raise _token_failure(link, f"import the key as {label!r}", exc) from None
            return _details(lib, link, label, key_id, "imported")

    def locate(self, key_name: str) -> tuple[PublicKey, dict[str, str]]:
        """Reference the pair labelled with the configured key label (default ``key_name``)
        in the token."""
        label = self._key_label(key_name)
        with self._session() as (link, lib):
            pair = _find_pair(link, label, None)
            return pair.public, _details(lib, link, pair.label, pair.key_id, "referenced")

    def signer(self, record: KeyRecord) -> Pkcs11Signer:
        return Pkcs11Signer(record, self.pins)

    def delete(self, record: KeyRecord) -> None:
        """Destroy the pair of a generated or imported key; forget a referenced one."""
        ref = KeyRef.of(record)
        if ref.origin == "referenced":
            return
        lib = load_library(ref.module)
        token = find_token(lib, ref.token_label, ref.token_serial)
        link = acquire(lib, token, self.pins)
        try:
            with link.lock:
                pkcs11 = pkcs11_module()
                query = {pkcs11.Attribute.LABEL: ref.key_label, pkcs11.Attribute.ID: ref.key_id}
                try:
                    for obj in list(link.session.get_objects(query)):
                        obj.destroy()
                except pkcs11.PKCS11Error as exc:
                    raise _token_failure(link, f"delete key {ref.key_label!r}", exc) from None
        finally:
            link.release()

    def _key_label(self, key_name: str) -> str:
        label = self.config.key_label or validate_key_name(key_name)
        if not label or not label.isprintable():
            raise BadInputError(f"invalid key label {label!r}", "use printable text for the label")
        return label

    @contextlib.contextmanager
    def _session(self) -> Iterator[tuple[TokenLink, Any]]:
        """The shared session on the configured token, locked for this operation."""
        module = self.config.module
        if not module:
            raise BadInputError(
                "no PKCS#11 module given",
                f"give the module's path, or set {PKCS11_MODULE_ENV} "
                "(SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)",
                remedy=Remedy("give-pkcs11-module"),
            )
        lib = load_library(module)
        token = find_token(lib, self.config.token_label, self.config.token_serial)
        link = acquire(lib, token, self.pins)
        try:
            with link.lock:
                yield link, lib
        finally:
            link.release()


@dataclass(frozen=True)
class KeyRef:
    """Where a pkcs11 key lives, from its metadata."""

    module: str
    token_label: str | None
    token_serial: str | None
    key_label: str
    key_id: bytes
    origin: str

    @classmethod
    def of(cls, record: KeyRecord) -> KeyRef:
        details = record.details
        module = details.get("module", "")
        key_label = details.get("key_label", "")
        try:
            key_id = bytes.fromhex(details.get("key_id", ""))
        except ValueError:
            key_id = b""
        origin = details.get("origin", "")
        if not module or not key_label or origin not in ORIGINS:
            raise KeyStoreError(
                f"the metadata of key {record.name!r} does not say where its PKCS#11 key is",
                "restore the metadata from a backup, or delete the key and register it again",
                remedy=Remedy("reregister-key", {"key": record.name, "store": STORE_NAME}),
            )
        return cls(
            module=module,
            token_label=details.get("token_label") or None,
            token_serial=details.get("token_serial") or None,
            key_label=key_label,
            key_id=key_id,
            origin=origin,
        )


class Pkcs11Signer:
    """Signs digests with a token key; one shared session, logged in once, reused.

    The session is opened on :meth:`unlock` or the first :meth:`sign_digest` and released on
    :meth:`close` (or when the signer is garbage-collected, or at exit). Thread-safe.
    """

    def __init__(self, record: KeyRecord, pins: PassphraseSource) -> None:
        self._record = record
        self._ref = KeyRef.of(record)
        self._pins = pins
        self._public_key = load_public_key(record.public_key_pem.encode("ascii"))
        self._lock = threading.Lock()
        self._link: TokenLink | None = None
        self._key: Any = None
        self._finalizer: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return self._record.name

    def public_key(self) -> PublicKey:
        return self._public_key

    def unlock(self) -> None:
        """Open the token session now (asking for the PIN if it must log in)."""
        with self._lock:
            self._open()

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """``CKM_ECDSA`` over a 32-byte SHA-256 ``digest``; returns ``(r, s)`` (not RFC 6979)."""
        if len(digest) != DIGEST_SIZE:
            raise BadInputError(
                f"a SHA-256 digest is {DIGEST_SIZE} bytes, got {len(digest)}",
                "hash the message with SHA-256 first",
            )
        pkcs11 = pkcs11_module()
        with self._lock:
            link, key = self._open()
            with link.lock:
                try:
                    raw = key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
                except pkcs11.PKCS11Error as exc:
                    raise _token_failure(
                        link, f"sign with key {self._ref.key_label!r}", exc
                    ) from None
        try:
            return decode_raw(bytes(raw))
        except SignatureFormatError as exc:
            raise KeyStoreError(
                f"PKCS#11 token {link.label!r} returned a signature xsudo cannot read ({exc})",
                "the module does not follow PKCS#11 for CKM_ECDSA; report it to its vendor",
            ) from None

    def close(self) -> None:
        """Release the token session (the last user of a session closes it)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._link, self._key, self._finalizer = None, None, None

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> tuple[TokenLink, Any]:
        if self._link is not None and not self._link.closed:
            return self._link, self._key
        ref = self._ref
        lib = load_library(ref.module)
        token = find_token(lib, ref.token_label, ref.token_serial)
        link = acquire(lib, token, self._pins)
        try:
            with link.lock:
                pair = _find_pair(link, ref.key_label, ref.key_id or None)
            if fingerprint(pair.public) != self._record.fingerprint:
                raise KeyStoreError(
                    f"the key pair {ref.key_label!r} on PKCS#11 token {link.label!r} does not "
                    f"match its registered public key (key {self.name!r})",
                    "the token holds a different key under this label; do not use it to sign",
                )
        except BaseException:
            link.release()
            raise
        self._link, self._key = link, pair.private
        self._finalizer = weakref.finalize(self, link.release)
        return link, pair.private


def _public_template(pkcs11: Any, label: str, key_id: bytes) -> dict[Any, Any]:
    attr = pkcs11.Attribute
    return {
        attr.TOKEN: True,
        attr.PRIVATE: False,
        attr.LABEL: label,
        attr.ID: key_id,
        attr.VERIFY: True,
        attr.ENCRYPT: False,
        attr.WRAP: False,
        attr.DERIVE: False,
        attr.EC_PARAMS: p256_ec_params(),
    }


def _private_template(pkcs11: Any, label: str, key_id: bytes) -> dict[Any, Any]:
    attr = pkcs11.Attribute
    return {
        attr.TOKEN: True,
        attr.PRIVATE: True,
        attr.SENSITIVE: True,
        attr.EXTRACTABLE: False,
        attr.LABEL: label,
        attr.ID: key_id,
        attr.SIGN: True,
        attr.DECRYPT: False,
        attr.UNWRAP: False,
        attr.DERIVE: False,
    }


def _what(link: TokenLink, label: str) -> str:
    return f"key {label!r} on PKCS#11 token {link.label!r}"


def _details(lib: Any, link: TokenLink, label: str, key_id: bytes, origin: str) -> dict[str, str]:
    return {
        "module": str(lib.so),
        "token_label": link.label,
        "token_serial": link.key[1],
        "key_label": label,
        "key_id": key_id.hex(),
        "mechanism": "CKM_ECDSA",
        "origin": origin,
    }


def _token_failure(link: TokenLink, what: str, exc: BaseException) -> KeyStoreError:
    return KeyStoreError(
        f"PKCS#11 token {link.label!r} failed to {what}: {describe(exc)}",
        "check the token (connected, logged in, not full) and retry",
    )


def _require_free_label(link: TokenLink, label: str) -> None:
    pkcs11 = pkcs11_module()
    try:
        taken = next(iter(link.session.get_objects({pkcs11.Attribute.LABEL: label})), None)
    except pkcs11.PKCS11Error as exc:
        raise _token_failure(link, "search its objects", exc) from None
    if taken is not None:
        raise KeyStoreError(
            f"PKCS#11 token {link.label!r} already holds objects labelled {label!r}",
            "choose another key label, or register the key that is there "
            "(Pkcs11KeyBackend.locate, then KeyStore.register_existing)",
            remedy=Remedy("use-token-key", {"label": label}),
        )


def _find_pair(link: TokenLink, label: str, key_id: bytes | None) -> _Pair:
    """The private key labelled ``label`` (and ``key_id``) and its public key object."""
    pkcs11 = pkcs11_module()
    attr = pkcs11.Attribute
    what = _what(link, label)
    query: dict[Any, Any] = {attr.CLASS: pkcs11.ObjectClass.PRIVATE_KEY, attr.LABEL: label}
    if key_id:
        query[attr.ID] = key_id
    try:
        privates = list(link.session.get_objects(query))
        if not privates:
            raise KeyStoreError(
                f"PKCS#11 token {link.label!r} has no private key labelled {label!r}"
                + (" with the registered CKA_ID" if key_id else "")
                + f" (private keys found: {_labels(link)})",
                "check the key label (pkcs11-tool --list-objects --login shows the labels)",
                remedy=Remedy("check-key-label", {"label": label}),
            )
        if len(privates) > 1:
            raise KeyStoreError(
                f"PKCS#11 token {link.label!r} has {len(privates)} private keys labelled {label!r}",
                "give each key pair its own label",
            )
        private = privates[0]
        _require_ec_signing_key(pkcs11, private, what)
        found_id = bytes(private[attr.ID] or b"")
        public_object = _public_object(pkcs11, link, label, found_id, what)
    except pkcs11.PKCS11Error as exc:
        raise _token_failure(link, f"read key {label!r}", exc) from None
    public = _public_of(public_object, what)
    return _Pair(private, public_object, public, label, found_id)


def _require_ec_signing_key(pkcs11: Any, private: Any, what: str) -> None:
    key_type = private[pkcs11.Attribute.KEY_TYPE]
    if key_type != pkcs11.KeyType.EC:
        name = getattr(key_type, "name", str(key_type))
        raise UnsupportedKeyError(
            f"{what} is a {name} key; XSUDO needs an EC P-256 (secp256r1/prime256v1) key",
            "generate one in the token (KeyStore.generate with the pkcs11 store)",
            remedy=Remedy("generate-key", {"store": "pkcs11"}),
        )
    check_p256_ec_params(bytes(private[pkcs11.Attribute.EC_PARAMS]), what)
    if not private[pkcs11.Attribute.SIGN]:
        raise KeyStoreError(
            f"{what} may not sign (CKA_SIGN is false)", "use a key pair made for signing"
        )


def _public_object(pkcs11: Any, link: TokenLink, label: str, key_id: bytes, what: str) -> Any:
    attr = pkcs11.Attribute
    query: dict[Any, Any] = {attr.CLASS: pkcs11.ObjectClass.PUBLIC_KEY}
    if key_id:
        query[attr.ID] = key_id
    else:
        query[attr.LABEL] = label
    publics = list(link.session.get_objects(query))
    if len(publics) != 1:
        found = "no" if not publics else str(len(publics))
        raise KeyStoreError(
            f"{what} has {found} matching public key object(s) (same CKA_ID"
            f"{'' if key_id else ' or label'}); xsudo reads the public key from it",
            "store the public key in the token with the private key's CKA_ID",
        )
    return publics[0]


def _public_of(public_object: Any, what: str) -> PublicKey:
    pkcs11 = pkcs11_module()
    attr = pkcs11.Attribute
    try:
        key_type = public_object[attr.KEY_TYPE]
        params = bytes(public_object[attr.EC_PARAMS])
        point = bytes(public_object[attr.EC_POINT])
    except pkcs11.PKCS11Error as exc:
        raise KeyStoreError(f"cannot read the public key of {what}: {describe(exc)}") from None
    if key_type != pkcs11.KeyType.EC:
        name = getattr(key_type, "name", str(key_type))
        raise UnsupportedKeyError(
            f"{what} is a {name} key; XSUDO needs an EC P-256 (secp256r1/prime256v1) key"
        )
    check_p256_ec_params(params, what)
    return public_key_from_ec_point(point, what)


def _labels(link: TokenLink) -> str:
    pkcs11 = pkcs11_module()
    query = {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY}
    labels = sorted({str(obj[pkcs11.Attribute.LABEL]) for obj in link.session.get_objects(query)})
    return ", ".join(repr(label) for label in labels) if labels else "none"


__all__ = [
    "STORE_NAME",
    "KeyRef",
    "Pkcs11Config",
    "Pkcs11KeyBackend",
    "Pkcs11Signer",
    "token_serial",
]
