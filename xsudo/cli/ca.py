"""``xsudo ca create``: a test/development CA whose key lives in the xsudo key store."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo.cli.keyopts import key_store, passphrase_file_option, store_option
from xsudo.cli.output import emit, emit_block, emit_json, json_option, note, warn


@click.command()
@click.argument("name")
@click.option("--cn", default=None, help="The CA's common name (default: NAME).")
@click.option(
    "--days", type=click.IntRange(min=1), default=3650, show_default=True, help="Validity."
)
@store_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the CA certificate PEM to FILE (never overwritten); default: stdout.",
)
@json_option
@passphrase_file_option
def create(
    name: str,
    cn: str | None,
    days: int,
    store: str | None,
    output: Path | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a lab CA: a new P-256 key NAME in the key store and a self-signed CA
    certificate for it.

    The common name (--cn, else NAME) must be 1-64 printable characters; it is checked
    before the key is created.

    For labs, tests and development only: a production fleet needs a CA under proper
    PKI control. The CA key is generated inside the key store and used only through it
    (xsudo cred issue --ca-key NAME); it is never written out in plaintext.
    """
    from xsudo.ca import cert_pem, check_name_text, make_ca_with_signer
    from xsudo.errors import BadInputError, OperationFailed

    common_name = check_name_text(name, "NAME") if cn is None else check_name_text(cn, "--cn")
    keys = key_store(passphrase_file)
    keys.check_new_name(name)
    if output is not None and (output.exists() or not output.parent.is_dir()):
        raise BadInputError(
            f"cannot write the CA certificate to {output}: "
            + ("the file exists" if output.exists() else "no such directory"),
            "choose another -o FILE",
        )
    record = keys.generate(name, store)
    certificate = make_ca_with_signer(keys.signer(name), common_name, days=days)
    pem = cert_pem(certificate)
    if output is not None:
        try:
            with open(output, "xb") as handle:
                handle.write(pem)
        except OSError as exc:
            raise OperationFailed(
                f"created key {name}, but cannot write the CA certificate {output}: "
                f"{exc.strerror or exc}",
                "fix the path and rerun with another NAME, or delete the key: "
                f"xsudo key delete {name}",
            ) from None
    report = {
        "name": name,
        "store": record.store,
        "fingerprint": record.fingerprint,
        "subject": certificate.subject.rfc4514_string(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "serial": format(certificate.serial_number, "x"),
        "output": str(output) if output else None,
    }
    if as_json:
        emit_json({**report, "certificate_pem": pem.decode("ascii")})
    elif output is None:
        emit_block(pem.decode("ascii").rstrip("\n"))
    else:
        emit(f"created CA {report['subject']} (key {name}, {record.store} store) -> {output}")
    note(f"lab CA key {name} is in the {record.store} store; fingerprint {record.fingerprint}")
    warn("this CA is for labs and tests; do not use it for a production fleet")
