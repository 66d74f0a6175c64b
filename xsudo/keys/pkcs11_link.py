"""Reaching a PKCS#11 token: load the module, find the token, keep one logged-in session.

python-pkcs11 is imported lazily, so xsudo works without it; :func:`pkcs11_module` raises a
:class:`~xsudo.errors.KeyStoreError` saying to install ``xsudo[hsm]``.

Sessions: PKCS#11 login state belongs to the application and the token, not to a session
(a second ``C_Login`` fails with ``CKR_USER_ALREADY_LOGGED_IN`` and one ``C_Logout`` logs every
session out). So this process keeps at most one logged-in session per token, shared by every
signer and store operation on that token through :func:`acquire`/:meth:`TokenLink.release`.
The session closes (and logs out) when its last user releases it, or with
:func:`close_sessions`. The PIN is asked only when a login is needed, and is never kept.

Threads: python-pkcs11 initialises modules with ``C_Initialize(NULL)``, which tells a module
it will be called from one thread at a time (SoftHSM2 then does no locking of its own). So
every call into a module, and the session table, is serialised by one process-wide lock,
:data:`MODULE_LOCK`; hold it (``with link.lock``) around every use of a session.

Every failure is one :class:`~xsudo.errors.KeyStoreError` line with a next step: module not
loadable, token not found (listing the tokens found), wrong or locked PIN.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from xsudo.errors import BadInputError, KeyStoreError, Remedy, WrongPassphraseError
from xsudo.keys.passphrase import PassphraseSource

if TYPE_CHECKING:
    from pkcs11 import Session, Token

PKCS11_MODULE_ENV = "XSUDO_PKCS11_MODULE"
PKCS11_PIN_ENV = "XSUDO_PKCS11_PIN"
PIN_FILE_PARAM = "pin_file"
INSTALL_HINT = "install the PKCS#11 support with: pip install 'xsudo[hsm]'"


def pkcs11_module() -> ModuleType:
    """The ``pkcs11`` package (python-pkcs11), or a KeyStoreError saying how to get it."""
    try:
        import pkcs11
    except ImportError:
        raise KeyStoreError(
            "the pkcs11 store needs python-pkcs11, which is not installed", INSTALL_HINT
        ) from None
    return pkcs11


def pkcs11_installed() -> bool:
    """True when python-pkcs11 can be imported."""
    try:
        pkcs11_module()
    except KeyStoreError:
        return False
    return True


def pin_source(pin_file: os.PathLike[str] | None = None) -> PassphraseSource:
    """Where a token PIN comes from: ``pin_file``, ``$XSUDO_PKCS11_PIN``, else a prompt."""
    from pathlib import Path

    return PassphraseSource(
        Path(pin_file) if pin_file is not None else None,
        env_var=PKCS11_PIN_ENV,
        file_param=PIN_FILE_PARAM,
        file_what="the PIN file",
        secret="PIN",
    )


def load_library(module: str) -> Any:
    """The loaded and initialised PKCS#11 ``module`` (a python-pkcs11 ``lib``)."""
    pkcs11 = pkcs11_module()
    if not os.path.isfile(module):
        raise KeyStoreError(
            f"the PKCS#11 module {module} does not exist",
            f"give the module's path, or set {PKCS11_MODULE_ENV} "
            "(SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)",
            remedy=Remedy("give-pkcs11-module"),
        )
    try:
        with MODULE_LOCK:
            return pkcs11.lib(module)
    except pkcs11.PKCS11Error as exc:
        raise KeyStoreError(
            f"cannot load the PKCS#11 module {module}: {describe(exc)}",
            "check that the file is the vendor's PKCS#11 library and that its own "
            "configuration (for SoftHSM2: SOFTHSM2_CONF) is in place",
        ) from None


def describe(exc: BaseException) -> str:
    """One line about a python-pkcs11 error: its class (the CKR_ code) and any text."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__} ({text[:160]})" if text else type(exc).__name__


def token_serial(token: Token) -> str:
    """The token's serial number as text (the 16-character field, padding removed)."""
    raw = token.serial
    return raw.decode("ascii", "replace").strip() if isinstance(raw, bytes) else str(raw).strip()


def _initialised_tokens(lib: Any) -> list[Token]:
    pkcs11 = pkcs11_module()
    try:
        with MODULE_LOCK:
            tokens = list(lib.get_tokens())
            initialised = [t for t in tokens if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED]
    except pkcs11.PKCS11Error as exc:
        raise KeyStoreError(
            f"the PKCS#11 module {lib.so} cannot list its tokens: {describe(exc)}",
            "check that the token is connected",
        ) from None
    return initialised


def _listing(tokens: list[Token]) -> str:
    if not tokens:
        return "no initialised token"
    return ", ".join(f"{t.label!r} (serial {token_serial(t)})" for t in tokens)


def find_token(lib: Any, label: str | None, serial: str | None) -> Token:
    """The one initialised token matching ``label`` and/or ``serial``.

    With neither given, the only initialised token; several (or none) is an error that lists
    what was found.
    """
    tokens = _initialised_tokens(lib)
    matches = [
        t
        for t in tokens
        if (label is None or t.label == label) and (serial is None or token_serial(t) == serial)
    ]
    if len(matches) == 1:
        return matches[0]
    wanted = " and ".join(
        part
        for part in (
            f"label {label!r}" if label is not None else "",
            f"serial {serial!r}" if serial is not None else "",
        )
        if part
    )
    if not matches:
        what = f"no PKCS#11 token with {wanted}" if wanted else "no initialised PKCS#11 token"
        raise KeyStoreError(
            f"{what} in module {lib.so} (found: {_listing(tokens)})",
            "check the token label and serial and that the token is connected "
            "(SoftHSM2: softhsm2-util --show-slots)",
            remedy=Remedy("choose-token", {"matches": 0}),
        )
    raise KeyStoreError(
        f"{len(matches)} PKCS#11 tokens match {wanted or 'in module ' + str(lib.so)} "
        f"(found: {_listing(matches)})",
        "choose one by its serial",
        remedy=Remedy("choose-token", {"matches": len(matches)}),
    )


# One lock for every call into a PKCS#11 module and for the session table (see above).
MODULE_LOCK = threading.RLock()


@dataclass(eq=False)
class TokenLink:
    """This process's session on one token, shared by everyone who :func:`acquire`\\ s it."""

    key: tuple[str, str]
    label: str
    session: Session
    users: int = 0
    closed: bool = False

    @property
    def lock(self) -> threading.RLock:
        """The lock to hold while using :attr:`session` (:data:`MODULE_LOCK`)."""
        return MODULE_LOCK

    def release(self) -> None:
        """Give up one use; the last one closes the session (and so logs out)."""
        with MODULE_LOCK:
            if self.closed:
                return
            self.users -= 1
            if self.users > 0:
                return
            _links.pop(self.key, None)
            self._close()

    def _close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):  # a token already gone has no session to close
            self.session.close()


_links: dict[tuple[str, str], TokenLink] = {}


def acquire(lib: Any, token: Token, pins: PassphraseSource) -> TokenLink:
    """A use of the logged-in session on ``token``, opening (and logging in) if needed."""
    with MODULE_LOCK:
        key = (str(lib.so), token_serial(token))
        link = _links.get(key)
        if link is None or link.closed:
            link = TokenLink(key, token.label, _login(token, pins))
            _links[key] = link
        link.users += 1
        return link


def close_sessions() -> None:
    """Close every token session this process holds (long-running callers, tests)."""
    with MODULE_LOCK:
        links = list(_links.values())
        _links.clear()
        for link in links:
            link._close()


def _login(token: Token, pins: PassphraseSource) -> Session:
    pkcs11 = pkcs11_module()
    secret = pins.get(f"PIN of PKCS#11 token {token.label!r}")
    try:
        pin = secret.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(
            f"the PIN for token {token.label!r} is not UTF-8 text", "PKCS#11 PINs are UTF-8"
        ) from None
    try:
        return _open(token, pin, pins, read_write=True)
    except pkcs11.TokenWriteProtected:  # a sign-only token refuses R/W sessions
        return _open(token, pin, pins, read_write=False)


def _open(token: Token, pin: str, pins: PassphraseSource, *, read_write: bool) -> Session:
    """A session logged in as the user; python-pkcs11 errors become one-line KeyStoreErrors."""
    pkcs11 = pkcs11_module()
    label = token.label
    try:
        try:
            return token.open(rw=read_write, user_pin=pin)
        except pkcs11.UserAlreadyLoggedIn:  # login is per process: this one is logged in
            return token.open(rw=read_write)
    except pkcs11.TokenWriteProtected:
        if not read_write:
            raise KeyStoreError(f"PKCS#11 token {label!r} is write-protected") from None
        raise
    except pkcs11.PinIncorrect:
        raise WrongPassphraseError(
            f"wrong PIN for PKCS#11 token {label!r}",
            f"check the PIN ({pins.describe()}); the token locks after a few wrong tries",
            remedy=pins.remedy("check-passphrase", locks=True),
        ) from None
    except pkcs11.PinLocked:
        raise KeyStoreError(
            f"the user PIN of PKCS#11 token {label!r} is locked",
            "reset it with the token's security-officer tools",
        ) from None
    except (pkcs11.PinExpired, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise KeyStoreError(
            f"PKCS#11 token {label!r} refused the PIN: {describe(exc)}",
            "check the PIN, or change it with the token's tools",
        ) from None
    except pkcs11.PKCS11Error as exc:
        raise KeyStoreError(
            f"cannot open a session on PKCS#11 token {label!r}: {describe(exc)}",
            "check that the token is connected and retry",
        ) from None
