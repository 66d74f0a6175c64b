"""``xsudo device probe``: find out what a board's firmware does and write it as a
simulator profile (the library is :mod:`xsudo.provision.fwprobe`)."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo.cli.deviceopts import AuthRequest, Connection, auth_settings, open_device, port_options
from xsudo.cli.keyopts import passphrase_file_option
from xsudo.cli.output import emit, emit_json, json_option, note
from xsudo.cli.params import SLOT
from xsudo.limits import MAX_USER_SEC_TAG

SCRATCH_TAG = click.IntRange(0, MAX_USER_SEC_TAG)


@click.command()
@port_options
@click.option(
    "--scratch-tag",
    type=SCRATCH_TAG,
    default=None,
    metavar="TAG",
    help="Allow write probes at this sec_tag, which must hold nothing; everything written "
    "there is deleted again. Without it the probe only reads.",
)
@click.option(
    "--key",
    "key_name",
    envvar="XSUDO_KEY",
    default=None,
    help="A key whose public half is in --slot: allows the signed probes (raw r||s "
    "signatures, the occupied-slot code, and writes the firmware accepts only signed).",
)
@click.option("--slot", type=SLOT, default=None, help="XPMNG slot holding --key (default 0).")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the profile here (JSON, the format xsudo sim --profile-file reads).",
)
@json_option
@passphrase_file_option
def probe(
    connection: Connection,
    scratch_tag: int | None,
    key_name: str | None,
    slot: int | None,
    out: Path,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Find out what this board's firmware does and write it as a simulator profile.

    Read-only unless --scratch-tag is given; AT%XPRODDONE is only asked about (its test
    form), never run. What cannot be found out is written as "unknown".

    \b
    Examples:
      xsudo device probe --port /dev/ttyACM0 --out board-profile.json
      xsudo device probe --scratch-tag 4242 --key factory --out board-profile.json
      xsudo sim --pty --profile-file board-profile.json
    """
    from xsudo.atomic import write_atomic
    from xsudo.errors import BadInputError
    from xsudo.fileio import show_path
    from xsudo.provision.fwprobe import probe_firmware

    settings = auth_settings(AuthRequest("auto", key_name, slot), passphrase_file)
    with open_device(connection, settings, passphrase_file) as dev:
        report = probe_firmware(dev.session, scratch_tag=scratch_tag)
    try:
        write_atomic(out, report.dump().encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise BadInputError(
            f"cannot write the profile to {show_path(out)}: {exc.strerror or exc}",
            "choose a writable path for --out",
        ) from None
    if as_json:
        emit_json(report.to_json())
    else:
        identity = report.identity
        emit(f"{'firmware:':<24}{identity['mfw']}")
        emit(f"{'model:':<24}{identity['model']} ({identity['hwversion']})")
        emit(f"{'cmee modes:':<24}{', '.join(str(m) for m in report.cmee_modes)}")
        partly = set(report.unknown)
        for name, value in report.traits.items():
            shown = _shown(value)
            if name in partly and value != "unknown":
                shown += " (not all checked)"
            how = report.how.get(name)
            emit(f"{name + ':':<24}{shown}" + (f"  ({how})" if how else ""))
    shown = show_path(out)
    note(f"wrote the profile to {shown}; serve it with xsudo sim --pty --profile-file {shown}")


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)
