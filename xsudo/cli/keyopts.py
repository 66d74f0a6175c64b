"""Key-store options shared by every command that uses a key (key, sign, verify, device)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from xsudo.cli.context import app_context
from xsudo.keys import STORE_NAMES, KeyStore, PassphraseSource

F = TypeVar("F", bound=Callable[..., object])

passphrase_file_option: Callable[[F], F] = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the key passphrase from the first line of FILE (file store). Otherwise "
    "$XSUDO_KEY_PASSPHRASE, else a prompt on a terminal.",
)

store_option: Callable[[F], F] = click.option(
    "--store",
    type=click.Choice(STORE_NAMES),
    default=None,
    help="Where the private key goes: keyring (OS keychain) or file (passphrase-encrypted "
    "PKCS#12). Default: keyring when a usable OS keychain is present, else file.",
)


def key_store(passphrase_file: Path | None) -> KeyStore:
    """The key store of the running command's home, with passphrases from the usual places."""
    return KeyStore(app_context().home, PassphraseSource(passphrase_file))
