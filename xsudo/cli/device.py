"""``xsudo device info|upload-key``: who the modem is, and its XSUDO key slots."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo.cli.deviceopts import AuthRequest, Connection, auth_settings, open_device, port_options
from xsudo.cli.hints import cli_words
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import emit, emit_json, json_option, note
from xsudo.cli.params import SLOT
from xsudo.device import DeviceInfo
from xsudo.provision.policy import AUTH_MODES, AuthMode, AuthSettings


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
        ("uuid", identity.uuid),
        ("cfun", info.cfun),
    ):
        emit(f"{label + ':':<13}{value if value is not None else '-'}")
    if slots is None:
        emit("xpmng:       not supported by this firmware (plain ERROR)")
        return
    if not slots:
        emit("xpmng:       no public keys in slots 0-9")
    for s in slots:
        local = f"  (local key {s.local_key})" if s.local_key else "  (no local key matches)"
        emit(f"slot {s.slot}:      {s.fingerprint}{local}")
    if probe is not None:
        words = cli_words(probe.remedy)
        detail = f"{probe.detail}; {words}" if words else probe.detail
        emit(f"xsudo:       {'works' if probe.works else 'not working'}: {detail}")


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
    public_key = key_store(passphrase_file).public_key(key_name)
    with open_device(connection, AuthSettings(auth, None, slot), passphrase_file) as dev:
        result = dev.upload_key(slot, public_key=public_key, name=key_name, replace=replace)
    if as_json:
        emit_json(result.to_json())
        return
    emit(f"{result.action}: slot {slot} holds {key_name} ({result.fingerprint})")
    if result.previous_fingerprint and result.action == "replaced":
        note(f"replaced the key {result.previous_fingerprint}")
