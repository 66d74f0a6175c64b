"""``xsudo key``: generate, import, list, show, export and delete signing keys.

Private keys and passphrases never appear on argv, stdout, stderr or in JSON; passphrases
come from ``--passphrase-file``, ``$XSUDO_KEY_PASSPHRASE`` or a prompt on a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xsudo.cli.keyopts import key_store, passphrase_file_option, store_option
from xsudo.cli.output import emit, emit_json, note
from xsudo.crypto import load_private_key
from xsudo.errors import BadInputError
from xsudo.keys import (
    IMPORT_PASSPHRASE_ENV,
    KeyRecord,
    KeyStore,
    PassphraseSource,
    is_encrypted_private_key,
)

MAX_KEY_FILE_BYTES = 1 << 20

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def key() -> None:
    """Manage EC P-256 signing keys (OS keychain or passphrase-encrypted files)."""


@key.command()
@click.argument("name")
@store_option
@passphrase_file_option
@json_option
def generate(name: str, store: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Create a new P-256 key called NAME."""
    keys = key_store(passphrase_file)
    keys.check_new_name(name)
    record = keys.generate(name, _chosen_store(keys, store))
    _print_record(record, as_json)
    note(
        f"created key {name} in the {record.store} store; upload its public key from: "
        f"xsudo key export {name}"
    )


@key.command("import")
@click.argument("name")
@click.argument(
    "key_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@store_option
@passphrase_file_option
@click.option(
    "--source-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Passphrase of an encrypted FILE, on the first line of this file. Otherwise "
    f"${IMPORT_PASSPHRASE_ENV}, else a prompt on a terminal.",
)
@json_option
def import_(
    name: str,
    key_file: Path,
    store: str | None,
    passphrase_file: Path | None,
    source_passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Import the P-256 private key in FILE as NAME.

    FILE is PEM or DER, PKCS#8 or SEC1, possibly passphrase-encrypted; '-' reads standard
    input.
    """
    keys = key_store(passphrase_file)
    keys.check_new_name(name)
    data = _read_key_file(key_file)
    source_password = None
    if is_encrypted_private_key(data):
        source = PassphraseSource(
            source_passphrase_file,
            env_var=IMPORT_PASSPHRASE_ENV,
            file_option="--source-passphrase-file",
        )
        source_password = source.get(f"passphrase of the key file {key_file}")
    load_private_key(data, source_password)  # refuse a bad key before choosing a store
    record = keys.import_key(name, data, _chosen_store(keys, store), source_password)
    _print_record(record, as_json)
    note(f"imported key {name} into the {record.store} store")


@key.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the keys (name, store, created, fingerprint)."""
    records = key_store(None).list()
    if as_json:
        emit_json([record.to_json() for record in records])
        return
    if not records:
        note("no keys yet; create one with: xsudo key generate NAME")
        return
    rows = [("NAME", "STORE", "CREATED", "FINGERPRINT")]
    rows += [(r.name, r.store, r.created, r.fingerprint) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        emit("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[3]]))


@key.command()
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show key NAME: store, fingerprint (SHA-256 of the public key DER), creation time."""
    _print_record(key_store(None).get(name), as_json)


@key.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Write the PEM to FILE instead of standard output.",
)
def export(name: str, output: Path | None) -> None:
    """Print the public key of NAME as PEM (what AT%XPMNG takes)."""
    pem = key_store(None).get(name).public_key_pem
    if output is None or str(output) == "-":
        click.echo(pem, nl=False)
        return
    try:
        output.write_bytes(pem.encode("ascii"))
    except OSError as exc:
        raise BadInputError(f"cannot write {output}: {exc.strerror}") from None
    note(f"wrote the public key of {name} to {output}")


@key.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Delete without asking (needed without a terminal).")
def delete(name: str, yes: bool) -> None:
    """Delete key NAME (its private key cannot be recovered)."""
    keys = key_store(None)
    record = keys.get(name)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInputError(
                f"deleting key {name!r} needs a confirmation and there is no terminal to ask on",
                "pass --yes to delete it without asking",
            )
        click.confirm(
            f"Delete key {name} ({record.store} store, fingerprint {record.fingerprint[:16]}...)?"
            " Its private key cannot be recovered",
            abort=True,
            err=True,
        )
    keys.delete(name)
    note(f"deleted key {name}")


def _chosen_store(keys: KeyStore, store: str | None) -> str:
    """The store to use; when none was given, the default, said on stderr with the reason."""
    if store is not None:
        return store
    chosen, reason = keys.default_store()
    note(f"using the {chosen} store: {reason} (choose with --store)")
    return chosen


def _read_key_file(path: Path) -> bytes:
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_KEY_FILE_BYTES + 1)
        else:
            with path.open("rb") as handle:
                data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInputError(f"cannot read the key file {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise BadInputError(f"{path} is too large to be a private key file")
    if not data:
        raise BadInputError(f"the key file {path} is empty")
    return data


def _print_record(record: KeyRecord, as_json: bool) -> None:
    if as_json:
        emit_json(record.to_json())
        return
    fields = [
        ("name", record.name),
        ("store", record.store),
        ("fingerprint", record.fingerprint),
        ("created", record.created),
        *sorted(record.details.items()),
    ]
    width = max(len(label) for label, _ in fields) + 1
    for label, value in fields:
        emit(f"{label + ':':<{width}} {value}")
