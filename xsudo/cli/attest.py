"""``xsudo device attest``: the modem's attestation token, decoded and checked (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo.cli.deviceopts import Connection, open_device, port_options
from xsudo.cli.keygen import identity_key_option, load_identity_file, signature_line
from xsudo.cli.output import emit, emit_json, json_option, warn


@click.command()
@port_options
@click.option(
    "--challenge",
    default=None,
    help="32 hex digits the modem must put in the token as its nonce (proves freshness).",
)
@identity_key_option
@json_option
def attest(
    connection: Connection,
    challenge: str | None,
    identity_key: Path | None,
    as_json: bool,
) -> None:
    """Read the device attestation token (AT%ATTESTTOKEN) and check it (read-only).

    Prints the message type, device UUID, device type, firmware UUID and nonce; checks the
    COSE_Sign1 structure (ES256) and digest; verifies the signature with --identity-key.
    """
    from xsudo.provision.attest import parse_challenge

    nonce = parse_challenge(challenge) if challenge is not None else None
    verifier = load_identity_file(identity_key)
    with open_device(connection) as dev:
        token = dev.attest(nonce)
    check = token.verify(verifier)
    if as_json:
        data = token.to_json()
        data["cose"].update(check.to_json())
        emit_json({**data, "challenge": nonce.hex() if nonce else None})
        return
    message = token.message
    emit(f"message type:   {message.message_type_name} ({message.message_type})")
    emit(f"device uuid:    {message.device_uuid}")
    emit(f"device type:    {message.device_type_name} ({message.device_type})")
    emit(f"firmware uuid:  {message.firmware_uuid}")
    origin = "the challenge sent" if nonce else "device-generated"
    emit(f"nonce:          {message.nonce.hex() if message.nonce else '-'} ({origin})")
    emit(f"cose:           ES256, kid {token.cose.kid_name or '-'}; digest {token.digest_check}")
    emit(f"signature:      {signature_line(check)}")
    if check.status != "verified":
        warn(
            "the COSE signature was not verified: give --identity-key FILE to check that the "
            "token came from this device"
        )
