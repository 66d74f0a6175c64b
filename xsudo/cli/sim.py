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
from typing import TYPE_CHECKING, Any

import click

from xsudo.cli.output import note

if TYPE_CHECKING:
    from xsudo.sim.options import SimOptions
    from xsudo.sim.servers import SimServer


def _option_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Attach one click option per :class:`SimOptions` field."""
    from xsudo.sim.options import OPTION_FIELDS

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
    from xsudo.sim.options import SimOptions

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

    Without --pty or --tcp, --identity-key-out FILE and --profile-out FILE write their
    files for the board and exit (with --state the board is the one in that state file,
    created when missing, so the key stays valid for later runs).

    \b
    Examples:
      xsudo sim --pty --profile locked --state board.json
      xsudo sim --tcp 127.0.0.1:0 --baud 115200 --urc 'every:5:+CEREG: 1'
      xsudo sim --pty --profile-file probed.json
      xsudo sim --state board.json --identity-key-out id.pem
    """
    from xsudo.errors import BadInputError
    from xsudo.sim.servers import PtyServer, TcpServer, parse_host_port

    if use_pty and tcp is not None:
        raise BadInputError("give one of --pty or --tcp HOST:PORT, not both")
    options = options_from_flags(values)
    if not use_pty and tcp is None:
        _write_files_only(options)
        return
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
        f"simulating {options.profile_name} ({options.effective_mfw}) at {where}; "
        "stop with Ctrl-C or SIGTERM"
    )
    _serve(server)


def _write_files_only(options: SimOptions) -> None:
    """No port asked for: write the files ``--identity-key-out``/``--profile-out`` name
    (building the board does that) and return; without either there is nothing to do."""
    from xsudo.errors import BadInputError
    from xsudo.fileio import show_path
    from xsudo.sim.board import Board

    if not options.identity_key_out and not options.profile_out:
        raise BadInputError(
            "give --pty or --tcp HOST:PORT to serve a board",
            "or only --identity-key-out FILE / --profile-out FILE to write them and exit",
        )
    Board(options)
    for path, what in (
        (options.identity_key_out, "the identity public key"),
        (options.profile_out, "the profile"),
    ):
        if path:
            note(f"wrote {what} of the simulated board to {show_path(path)}")
    if options.identity_key_out and not options.state:
        note(
            "without --state this board is not kept: give the same --state FILE here and "
            "when serving it, so the key belongs to the board you talk to"
        )


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
