"""``xsudo ports``: serial ports, Nordic kits among them, and each nRF91 kit's AT port."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from xsudo.cli.output import cell, emit_json, note, stdout_console

if TYPE_CHECKING:
    from xsudo.ports import SerialPort


def _usb_id(port: SerialPort) -> str:
    if port.vid is None:
        return "-"
    return f"{port.vid:04x}:{port.pid or 0:04x}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per port, in a list.")
def ports(as_json: bool) -> None:
    """List serial ports; mark Nordic kits and the port --port auto would use.

    A kit is recognised by its USB vendor (Nordic 1915, SEGGER 1366) and serial number.
    Its AT port is the first of its ports by USB interface number (the nRF91 application
    UART: VCOM0 on J-Link DKs, interface 0 on Thingy:91 X).
    """
    from xsudo.ports import at_port_candidates, list_serial_ports

    found = list_serial_ports()
    if as_json:
        emit_json([port.to_json() for port in found])
        return
    from rich.table import Table

    table = Table("PORT", "USB", "BOARD", "SERIAL", "AT", "DESCRIPTION", box=None, pad_edge=False)
    for port in found:
        table.add_row(
            *map(
                cell,
                (
                    port.device,
                    _usb_id(port),
                    port.board or "-",
                    port.serial_number or "-",
                    "yes" if port.at_port else "",
                    port.description,
                ),
            )
        )
    stdout_console().print(table)
    candidates = at_port_candidates(found)
    if not found:
        note("no serial ports found")
    elif not candidates:
        note("no nRF91 development kit found; give the port with --port")
    elif len(candidates) == 1:
        note(f"--port auto uses {candidates[0].label()}")
    else:
        note(f"{len(candidates)} nRF91 kits: --port auto asks on a terminal; else use --port")
