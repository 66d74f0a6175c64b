"""``xsudo key``: generate, import, list, show, export and delete signing keys.

Private keys and passphrases never appear on argv, stdout, stderr or in JSON; passphrases
come from ``--passphrase-file``, ``$XSUDO_KEY_PASSPHRASE`` or a prompt on a terminal, token
PINs from ``--pin-file``, ``$XSUDO_PKCS11_PIN`` or a prompt. Keys that live outside xsudo
are added with ``import-pkcs11`` (a key pair already in a PKCS#11 token) and
``import-command`` (an external signer program).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.keyopts import (
    key_store,
    passphrase_file_option,
    pin_file_option,
    pkcs11_options,
    pkcs11_options_given,
    store_option,
)
from xsudo.cli.output import emit, emit_json, note
from xsudo.cli.params import IMPORT_PASSPHRASE_ENV, KEY_COMMAND_TIMEOUT

if TYPE_CHECKING:
    from xsudo.keys import KeyRecord, KeyStore

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.command()
@click.argument("name")
@store_option
@passphrase_file_option
@pkcs11_options
@json_option
def generate(name: str, store: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Create a new P-256 key called NAME.

    With --store pkcs11 the key pair is made inside the token (--module, --token-label) and
    its private key never leaves it.
    """
    keys = key_store(passphrase_file)
    keys.check_new_name(name)
    record = keys.generate(name, _chosen_store(keys, store))
    _print_record(record, as_json)
    note(
        f"created key {name} in the {record.store} store; upload its public key from: "
        f"xsudo key export {name}"
    )
    _note_nondeterministic(record)


@click.command("import")
@click.argument("name")
@click.argument(
    "key_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@store_option
@passphrase_file_option
@pkcs11_options
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
    input. With --store pkcs11 the key is written into the token as a non-extractable key.
    """
    from xsudo.crypto import load_private_key
    from xsudo.keys import PassphraseSource, is_encrypted_private_key

    keys = key_store(passphrase_file)
    keys.check_new_name(name)
    data = _read_key_file(key_file)
    source_password = None
    if is_encrypted_private_key(data):
        source = PassphraseSource(
            source_passphrase_file,
            env_var=IMPORT_PASSPHRASE_ENV,
            file_param="source_passphrase_file",
            file_what="the source passphrase file",
        )
        source_password = source.get(f"passphrase of the key file {key_file}")
    load_private_key(data, source_password)  # refuse a bad key before choosing a store
    record = keys.import_key(name, data, _chosen_store(keys, store), source_password)
    _print_record(record, as_json)
    note(f"imported key {name} into the {record.store} store")


@click.command("import-pkcs11")
@click.argument("name")
@pkcs11_options
@pin_file_option
@json_option
def import_pkcs11(name: str, as_json: bool) -> None:
    """Use a P-256 key pair that is already in a PKCS#11 token as NAME.

    The pair is found by --key-label (default NAME) in the token named by --token-label or
    --token-serial (default: the only initialised token) of --module. Its public key is read
    from the token; nothing in the token is changed, and xsudo key delete only forgets it.
    """
    from xsudo.errors import BadInputError
    from xsudo.keys import Pkcs11KeyBackend

    keys = key_store(None)
    keys.check_new_name(name)
    backend = keys.backend("pkcs11")
    if not isinstance(backend, Pkcs11KeyBackend):  # pragma: no cover - the standard backends
        raise BadInputError("this xsudo has no pkcs11 store")
    public, details = backend.locate(name)
    record = keys.register_existing(name, "pkcs11", public, details)
    _print_record(record, as_json)
    note(
        f"registered key {name}: pair {details['key_label']!r} in PKCS#11 token "
        f"{details['token_label']!r}"
    )
    _note_nondeterministic(record)


@click.command("import-command")
@click.argument("name")
@click.option(
    "--command",
    "command_line",
    required=True,
    help="The signer: a program and its arguments (split like a shell would; no shell runs). "
    "xsudo appends the path of a file holding the 32-byte SHA-256 digest and reads the "
    "signature (DER, raw r||s, or one line of Base64 of either) from its standard output. "
    "Keep secrets out of it: the command inherits the environment.",
)
@click.option(
    "--public-key",
    "public_key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The signer key's public key (PEM or DER).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=3600),
    default=KEY_COMMAND_TIMEOUT,
    show_default=True,
    help="Seconds the command may take per signature before it is stopped.",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Do not run the command once now to check that it signs with --public-key.",
)
@json_option
def import_command(
    name: str,
    command_line: str,
    public_key_file: Path,
    timeout: float,
    no_check: bool,
    as_json: bool,
) -> None:
    """Register an external signer command (Vault Transit, a cloud KMS, ...) as key NAME.

    Unless --no-check is given, the command signs one test digest now and the signature must
    verify against --public-key.
    """
    from xsudo.crypto import load_public_key
    from xsudo.errors import BadInputError
    from xsudo.keys import CommandKeyBackend, CommandSigner, SignerCommand

    keys = key_store(None)
    keys.check_new_name(name)
    public = load_public_key(_read_key_file(public_key_file))
    command = SignerCommand.parse(command_line, timeout)
    backend = keys.backend("command")
    if not isinstance(backend, CommandKeyBackend):  # pragma: no cover - the standard backends
        raise BadInputError("this xsudo has no command store")
    details = backend.describe(command)
    if not no_check:
        CommandSigner(name, public, command).sign_digest(CHECK_DIGEST)
        note("the signer command signed a test digest and the signature verifies")
    record = keys.register_existing(name, "command", public, details)
    _print_record(record, as_json)
    note(f"registered key {name}: signed by {details['command']}")
    _note_nondeterministic(record)


CHECK_DIGEST = hashlib.sha256(b"xsudo signer check").digest()


@click.command("list")
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


@click.command()
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show key NAME: store, fingerprint (SHA-256 of the public key DER), creation time."""
    _print_record(key_store(None).get(name), as_json)


@click.command()
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
    from xsudo.errors import BadInputError

    pem = key_store(None).get(name).public_key_pem
    if output is None or str(output) == "-":
        click.echo(pem, nl=False)
        return
    try:
        output.write_bytes(pem.encode("ascii"))
    except OSError as exc:
        raise BadInputError(f"cannot write {output}: {exc.strerror}") from None
    note(f"wrote the public key of {name} to {output}")


@click.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Delete without asking (needed without a terminal).")
@pin_file_option
def delete(name: str, yes: bool) -> None:
    """Delete key NAME (its private key cannot be recovered).

    A key made or imported into a PKCS#11 token is destroyed in the token (the PIN is
    needed); a key registered with import-pkcs11 or import-command is only forgotten.
    """
    from xsudo.errors import BadInputError

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
    if _only_forgotten(record):
        note(f"forgot key {name}; the key itself ({_where(record)}) was not touched")
    else:
        note(f"deleted key {name}")


def _chosen_store(keys: KeyStore, store: str | None) -> str:
    """The store to use; when none was given, the default, said on stderr with the reason."""
    from xsudo.errors import BadInputError

    given = pkcs11_options_given()
    if given and store != "pkcs11":
        raise BadInputError(
            f"{', '.join(given)} only apply to the pkcs11 store", "add --store pkcs11"
        )
    if store is not None:
        return store
    chosen, reason = keys.default_store()
    note(f"using the {chosen} store: {reason} (choose with --store)")
    return chosen


def _only_forgotten(record: KeyRecord) -> bool:
    """True when deleting ``record`` leaves its key where it is (not xsudo's to destroy)."""
    return record.store == "command" or (
        record.store == "pkcs11" and record.details.get("origin") == "referenced"
    )


def _where(record: KeyRecord) -> str:
    if record.store == "command":
        return f"behind {record.details.get('command', 'the signer command')}"
    return (
        f"pair {record.details.get('key_label', '?')!r} in PKCS#11 token "
        f"{record.details.get('token_label', '?')!r}"
    )


def _note_nondeterministic(record: KeyRecord) -> None:
    if record.store in ("pkcs11", "command"):
        note(
            f"signatures by the {record.store} store are not deterministic: xsudo sign gives a "
            "different line for the same command on every run (each one verifies)"
        )


def _read_key_file(path: Path) -> bytes:
    """The key file's bytes (``-``: stdin), at most :data:`~xsudo.fileio.KEY_FILE_LIMIT`;
    a special file (FIFO, device) or an empty file is refused."""
    from xsudo.errors import BadInputError
    from xsudo.fileio import KEY_FILE_LIMIT, read_input, read_stream

    if str(path) == "-":
        data = read_stream(sys.stdin.buffer, "the key on stdin", limit=KEY_FILE_LIMIT)
    else:
        data = read_input(path, "the key file", limit=KEY_FILE_LIMIT)
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
