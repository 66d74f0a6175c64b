"""Key-store options shared by every command that uses a key (key, sign, verify, device).

``--pin-file`` and the PKCS#11 options (``--module``, ``--token-label``, ``--token-serial``,
``--key-label``) are not passed to the command functions: they are kept in the click context
and read by :func:`key_store`, so every command that takes ``--passphrase-file`` also takes
``--pin-file`` without changing its signature.

The key store (and keyring, cryptography's PKCS#12 code) is imported by :func:`key_store`,
when a command runs, not when the options are defined: a command's ``--help`` does not
load it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from xsudo.cli.context import app_context
from xsudo.cli.params import STORE_NAMES

if TYPE_CHECKING:
    from xsudo.keys import KeyStore

F = TypeVar("F", bound=Callable[..., object])

PIN_FILE_META = "xsudo.keyopts.pin_file"
PKCS11_META = "xsudo.keyopts.pkcs11"
PKCS11_OPTIONS = {
    "module": "--module",
    "token_label": "--token-label",
    "token_serial": "--token-serial",
    "key_label": "--key-label",
}


def _remember_pin_file(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[PIN_FILE_META] = value


def _remember_pkcs11(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name is not None:
        ctx.meta.setdefault(PKCS11_META, {})[param.name] = value


pin_file_option: Callable[[F], F] = click.option(
    "--pin-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    expose_value=False,
    callback=_remember_pin_file,
    help="Read the PKCS#11 token PIN from the first line of FILE (pkcs11 store). Otherwise "
    "$XSUDO_PKCS11_PIN, else a prompt on a terminal.",
)

_passphrase_file: Callable[[F], F] = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the key passphrase from the first line of FILE (file store). Otherwise "
    "$XSUDO_KEY_PASSPHRASE, else a prompt on a terminal.",
)


def passphrase_file_option(func: F) -> F:
    """``--passphrase-file`` (passed to the command) and ``--pin-file`` (kept in the context)."""
    return pin_file_option(_passphrase_file(func))


store_option: Callable[[F], F] = click.option(
    "--store",
    type=click.Choice(STORE_NAMES),
    default=None,
    help="Where the private key goes: keyring (OS keychain), file (passphrase-encrypted "
    "PKCS#12) or pkcs11 (a PKCS#11 token: see --module). Default: keyring when a usable OS "
    "keychain is present, else file. (command keys are added with key import-command.)",
)


def pkcs11_options(func: F) -> F:
    """``--module``, ``--token-label``, ``--token-serial``, ``--key-label`` (pkcs11 store)."""
    helps = {
        "module": "PKCS#11 module (shared library) of the token. Default: $XSUDO_PKCS11_MODULE.",
        "token_label": "Label of the PKCS#11 token (default: the only initialised token).",
        "token_serial": "Serial number of the PKCS#11 token (when labels are not unique).",
        "key_label": "CKA_LABEL of the key pair in the token (default: the key's NAME).",
    }
    for name in reversed(PKCS11_OPTIONS):
        func = click.option(
            PKCS11_OPTIONS[name],
            name,
            default=None,
            expose_value=False,
            callback=_remember_pkcs11,
            help=helps[name],
        )(func)
    return func


def pkcs11_options_given() -> list[str]:
    """The PKCS#11 options given on this command line (their ``--names``)."""
    ctx = click.get_current_context(silent=True)
    given: dict[str, Any] = ctx.meta.get(PKCS11_META, {}) if ctx is not None else {}
    return [PKCS11_OPTIONS[name] for name in PKCS11_OPTIONS if name in given]


def key_store(passphrase_file: Path | None) -> KeyStore:
    """The key store of the running command's home, with passphrases and PINs from the usual
    places and the PKCS#11 options of this command line."""
    from xsudo.keys import KeyStore, PassphraseSource, Pkcs11Config, pin_source
    from xsudo.keys.store import default_backends

    ctx = click.get_current_context(silent=True)
    meta: dict[str, Any] = ctx.meta if ctx is not None else {}
    passphrase = PassphraseSource(passphrase_file)
    config = Pkcs11Config.from_env().merged(**meta.get(PKCS11_META, {}))
    home = app_context().home
    backends = default_backends(
        home, passphrase, pins=pin_source(meta.get(PIN_FILE_META)), pkcs11=config
    )
    return KeyStore(home, passphrase, backends=backends)
