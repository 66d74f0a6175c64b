"""``xsudo device info|upload-key``: who the modem is, and its XSUDO key slots."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo.cli.deviceopts import (
    AuthRequest,
    Connection,
    audit_head,
    auth_settings,
    open_session,
    port_options,
)
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import emit, emit_json, json_option, note
from xsudo.keys import KeyStore
from xsudo.provision.keyslots import probe_auth, read_slots, upload_key
from xsudo.provision.policy import AUTH_MODES, AuthMode, AuthSettings
from xsudo.signing import Signer


@click.group()
def device() -> None:
    """Inspect a modem and manage its XSUDO public keys (AT%XPMNG)."""


def _local_fingerprints(store: KeyStore) -> dict[str, str]:
    return {record.fingerprint: record.name for record in store.list()}


@device.command()
@port_options
@click.option(
    "--key",
    "key_name",
    envvar="XSUDO_KEY",
    default=None,
    help="Also check that a command signed with this key is accepted.",
)
@click.option("--slot", type=click.IntRange(0, 9), default=None, help="Slot for --key.")
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
    store = key_store(passphrase_file)
    settings = auth_settings(AuthRequest("auto", key_name, slot), passphrase_file)
    with open_session(connection, settings) as session:
        identity = session.ensure_identity()
        cfun = session.modem.cfun()
        slots = read_slots(session.modem, _local_fingerprints(store))
        probe = probe_auth(session) if slots is not None else None
        head = audit_head(session)
    report = {
        "imei": identity.imei,
        "model": identity.model,
        "mfw": identity.mfw,
        "family": identity.family,
        "uuid": identity.uuid,
        "cfun": cfun,
        "xpmng_supported": slots is not None,
        "slots": [s.to_json() for s in slots or []],
        "authenticated_access": probe.to_json() if probe else None,
        "audit_head": head,
    }
    if as_json:
        emit_json(report)
        return
    for label, value in (
        ("imei", identity.imei),
        ("model", identity.model),
        ("firmware", identity.mfw),
        ("family", identity.family),
        ("uuid", identity.uuid),
        ("cfun", cfun),
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
        emit(f"xsudo:       {'works' if probe.works else 'not working'}: {probe.detail}")


@device.command("upload-key")
@port_options
@click.option("--key", "key_name", required=True, envvar="XSUDO_KEY", help="Key to upload.")
@click.option("--slot", type=click.IntRange(0, 9), default=0, show_default=True)
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
    store = key_store(passphrase_file)
    public_key = store.public_key(key_name)
    by_fingerprint = _local_fingerprints(store)

    def signer_for(fingerprint: str) -> Signer | None:
        name = by_fingerprint.get(fingerprint)
        return store.signer(name) if name else None

    with open_session(connection, AuthSettings(auth, None, slot)) as session:
        result = upload_key(
            session, key_name, public_key, slot, replace=replace, signer_for=signer_for
        )
    if as_json:
        emit_json(result.to_json())
        return
    emit(f"{result.action}: slot {slot} holds {key_name} ({result.fingerprint})")
    if result.previous_fingerprint and result.action == "replaced":
        note(f"replaced the key {result.previous_fingerprint}")
