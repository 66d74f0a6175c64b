"""``xsudo sim``: serve a simulated nRF91 modem on a pty or a TCP port.

The first stdout line is what a client opens (a ``/dev/pts/N`` path, or
``socket://HOST:PORT``); it is flushed at once. The simulator runs until SIGINT or SIGTERM
and then exits 0. SIGUSR1 fires the power-off warning, SIGUSR2 reboots the board.

After an ``unplug`` fault the pty vanishes and a new one is opened at once: its path is
printed as another stdout line (like a USB device that re-enumerates). Over TCP the
connection is reset and the next client reaches the same board.

Every simulator option is a flag here, generated from the same table that parses
``sim://`` queries (:data:`xsudo.sim.options.OPTION_FIELDS`), so the two cannot drift.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import click

from xsudo.cli.output import note
from xsudo.errors import BadInputError
from xsudo.sim.options import OPTION_FIELDS, SimOptions
from xsudo.sim.servers import PtyServer, SimServer, TcpServer, parse_host_port


def _option_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Attach one click option per :class:`SimOptions` field."""
    for field in reversed(OPTION_FIELDS):
        meta = field.metadata
        flag = "--" + field.name.replace("_", "-")
        if meta["flag"]:
            decorator = click.option(
                f"{flag}/--no-{flag[2:]}", field.name, default=None, help=meta["help"]
            )
        else:
            decorator = click.option(
                flag,
                field.name,
                default=None,
                multiple=meta["multiple"],
                metavar=meta["metavar"],
                help=meta["help"],
            )
        command = decorator(command)
    return command


def options_from_flags(values: dict[str, Any]) -> SimOptions:
    """The flags the user gave, as text, through :meth:`SimOptions.from_mapping`."""
    mapping: dict[str, str | list[str]] = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            mapping[name] = "1" if value else "0"
        elif isinstance(value, tuple):
            mapping[name] = [str(item) for item in value]
        else:
            mapping[name] = str(value)
    return SimOptions.from_mapping(mapping)


@click.command()
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a new pseudo-terminal.")
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Serve on TCP (PORT 0 picks a free port).")
@_option_flags
def sim(use_pty: bool, tcp: str | None, **values: Any) -> None:
    """Run a simulated nRF91 modem until interrupted.

    \b
    Examples:
      xsudo sim --pty --profile locked --state board.json
      xsudo sim --tcp 127.0.0.1:0 --baud 115200 --urc 'every:5:+CEREG: 1'
    """
    if use_pty == (tcp is not None):
        raise BadInputError("give exactly one of --pty or --tcp HOST:PORT")
    options = options_from_flags(values)
    server: SimServer
    if use_pty:
        pty_server = PtyServer(options, replug=True)
        server, where = pty_server, pty_server.path
        pty_server.on_vanish = lambda: _replugged(pty_server.path)
    else:
        host, port = parse_host_port(tcp or "")
        tcp_server = TcpServer(options, host, port)
        server, where = tcp_server, tcp_server.url
        tcp_server.on_vanish = lambda: note(
            "the connection was reset (fault unplug); the next client reaches the same board"
        )
    _print_line(where)
    note(
        f"simulating {options.profile} ({options.effective_mfw}) at {where}; "
        "stop with Ctrl-C or SIGTERM"
    )
    _serve(server)


def _print_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _replugged(path: str) -> None:
    _print_line(path)
    note(f"the port vanished (fault unplug); the board is back at {path}")


def _serve(server: SimServer) -> None:
    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        server.stop()

    def on_pofwarn(_signum: int, _frame: FrameType | None) -> None:
        server.trigger_pofwarn()

    def on_reboot(_signum: int, _frame: FrameType | None) -> None:
        server.reboot()

    previous = {
        signum: signal.signal(signum, handler)
        for signum, handler in (
            (signal.SIGINT, on_stop),
            (signal.SIGTERM, on_stop),
            (signal.SIGUSR1, on_pofwarn),
            (signal.SIGUSR2, on_reboot),
        )
    }
    try:
        server.serve_forever()
    finally:
        server.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
