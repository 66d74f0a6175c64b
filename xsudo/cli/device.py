"""``xsudo device info|upload-key|production-done``: who the modem is, its XSUDO key slots,
and marking production as done."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.deviceopts import AuthRequest, Connection, auth_settings, open_device, port_options
from xsudo.cli.hints import cli_words
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import emit, emit_json, json_option, note, printable, warn
from xsudo.cli.params import AUTH_MODES, SLOT

if TYPE_CHECKING:
    from xsudo.device import Device, DeviceInfo
    from xsudo.provision.policy import AuthMode


@click.command()
@port_options
@click.option(
    "--key",
    "key_name",
    envvar="XSUDO_KEY",
    default=None,
    help="Also check that a command signed with this key is accepted.",
)
@click.option("--slot", type=SLOT, default=None, help="Slot for --key.")
@json_option
@passphrase_file_option
def info(
    connection: Connection,
    key_name: str | None,
    slot: int | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Identity, CFUN, XPMNG slots and whether authenticated access works (read-only)."""
    settings = auth_settings(AuthRequest("auto", key_name, slot), passphrase_file)
    with open_device(connection, settings, passphrase_file) as dev:
        info = dev.info()
    if as_json:
        emit_json(info.to_json())
        return
    _show_info(info)


def _show_info(info: DeviceInfo) -> None:
    identity, slots, probe = info.identity, info.slots, info.probe
    for label, value in (
        ("imei", identity.imei),
        ("model", identity.model),
        ("firmware", identity.mfw),
        ("family", identity.family),
        ("firmware uuid", identity.uuid),
        ("device uuid", info.device_uuid),
        ("cfun", info.cfun),
    ):
        emit(f"{label + ':':<15}{value if value is not None else '-'}")
    if info.slots_hidden:
        emit("xpmng:         slots hidden: this firmware refuses to read them (514)")
    elif slots is None:
        emit("xpmng:         not supported by this firmware (plain ERROR)")
        return
    elif not slots:
        emit("xpmng:         no public keys in slots 0-9")
    for s in slots or ():
        local = f"  (local key {s.local_key})" if s.local_key else "  (no local key matches)"
        emit(f"{f'slot {s.slot}:':<15}{s.fingerprint}{local}")
    if probe is not None:
        words = cli_words(probe.remedy)
        detail = f"{probe.detail}; {words}" if words else probe.detail
        emit(f"xsudo:         {probe.status}: {detail}")


@click.command("upload-key")
@port_options
@click.option("--key", "key_name", required=True, envvar="XSUDO_KEY", help="Key to upload.")
@click.option("--slot", type=SLOT, default=0, show_default=True)
@click.option("--replace", is_flag=True, help="Replace a different key already in the slot.")
@click.option(
    "--auth",
    type=click.Choice(AUTH_MODES),
    default="auto",
    show_default=True,
    help="How --replace deletes the old key: auto: signed with the local key that matches "
    "it, plain only when none does; required: signed only; never: plain.",
)
@json_option
@passphrase_file_option
def upload_key_command(
    connection: Connection,
    key_name: str,
    slot: int,
    replace: bool,
    auth: AuthMode,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Upload a key's public half to an XPMNG slot, then read it back and compare.

    With --replace a different key in the slot is deleted first (AT%CMNG=3,<slot>,5),
    under the --auth policy."""
    from xsudo.provision.policy import AuthSettings

    public_key = key_store(passphrase_file).public_key(key_name)
    with open_device(connection, AuthSettings(auth, None, slot), passphrase_file) as dev:
        result = dev.upload_key(slot, public_key=public_key, name=key_name, replace=replace)
    if as_json:
        emit_json(result.to_json())
        return
    emit(f"{result.action}: slot {slot} holds {key_name} ({result.fingerprint})")
    if result.previous_fingerprint and result.action == "replaced":
        note(f"replaced the key {result.previous_fingerprint}")


@click.command("production-done")
@port_options
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask: mark production done without typing the IMEI. Required when not on "
    "a terminal.",
)
@json_option
def production_done(connection: Connection, yes: bool, as_json: bool) -> None:
    """Mark customer production as done (AT%XPRODDONE). IRREVERSIBLE: the modem then
    refuses older modem firmware.

    On a terminal without --yes, asks you to type the device's IMEI (its firmware UUID when
    it has no IMEI). Without a terminal, refuses unless --yes. Recorded in the audit log.
    """
    from xsudo.errors import BadInputError
    from xsudo.provision.production import confirmation_token

    if not yes and not sys.stdin.isatty():
        raise BadInputError(
            "production done is irreversible and needs confirmation",
            "pass --yes to mark production done unasked",
        )
    with open_device(connection) as dev:
        token = confirmation_token(dev.session)
        if not yes:
            warn(
                "production done cannot be undone: the modem will refuse older modem "
                "firmware from now on"
            )
            typed = click.prompt(
                f"type the device's {_token_name(dev)} ({printable(token)}) to confirm",
                default="",
                show_default=False,
                err=True,
            )
            if typed.strip() != token:
                raise click.Abort()
        result = dev.production_done(confirm=token)
    if as_json:
        emit_json(result.to_json())
        return
    emit(f"production done: IMEI {result.imei or '-'}; the modem now refuses older modem firmware")


def _token_name(dev: Device) -> str:
    return "IMEI" if dev.identity.imei else "firmware UUID"
