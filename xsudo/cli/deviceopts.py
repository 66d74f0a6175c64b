"""Options and session setup shared by every command that talks to a modem."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from xsudo.at.cmdtype import CMD_TYPE_ENV, CMD_TYPES
from xsudo.at.modem import Modem
from xsudo.at.shell import DEFAULT_SHELL_BUFFER
from xsudo.at.transport import AUTO_PORT, FLOW_CONTROLS
from xsudo.audit.log import AuditLog
from xsudo.cli.context import app_context
from xsudo.cli.keyopts import key_store
from xsudo.cli.output import note
from xsudo.content import CredType, parse_cred_type
from xsudo.errors import BadInputError
from xsudo.ports import at_port_candidates, choose_auto_port, list_serial_ports
from xsudo.provision.policy import AUTH_MODES, AuthMode, AuthSettings
from xsudo.provision.session import DeviceSession

F = TypeVar("F", bound=Callable[..., Any])

KEY_ENV = "XSUDO_KEY"


CMD_TYPE_META = "xsudo.cmd_type"
SHELL_BUFFER_META = "xsudo.shell_buffer"
FLOW_META = "xsudo.flow"


def flow_option(func: F) -> F:
    """``--flow`` (default ``$XSUDO_FLOW``, else none), kept in the click context."""
    return click.option(
        "--flow",
        type=click.Choice(FLOW_CONTROLS),
        envvar="XSUDO_FLOW",
        default="none",
        show_default=True,
        expose_value=False,
        callback=_remember(FLOW_META),
        help="Serial flow control. Nordic DKs' tools use rtscts; pyserial URLs ignore it.",
    )(func)


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback keeping an option's value in ``ctx.meta`` for :func:`open_session`
    (so the commands' own signatures do not change)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value

    return callback


def port_options(func: F) -> F:
    """``--port`` (default ``$XSUDO_PORT``; ``auto``: the connected nRF91 kit), ``--baud``,
    ``--timeout``, ``--flow``, ``--cmd-type`` and ``--shell-buffer`` (the last three reach
    :func:`open_session` through the click context, not as parameters)."""
    func = flow_option(func)
    func = click.option(
        "--shell-buffer",
        type=click.IntRange(min=16),
        envvar="XSUDO_SHELL_BUFFER",
        default=DEFAULT_SHELL_BUFFER,
        show_default=True,
        expose_value=False,
        callback=_remember(SHELL_BUFFER_META),
        help="Shell mode: the firmware's CONFIG_SHELL_CMD_BUFF_SIZE (longest line + 1).",
    )(func)
    func = click.option(
        "--cmd-type",
        type=click.Choice(CMD_TYPES),
        envvar=CMD_TYPE_ENV,
        default="auto",
        show_default=True,
        expose_value=False,
        callback=_remember(CMD_TYPE_META),
        help="at: raw AT lines (at_client, serial_modem); shell: the Zephyr shell's 'at' "
        "command (CONFIG_AT_SHELL); auto: ask the device. Default: $XSUDO_CMD_TYPE or auto.",
    )(func)
    func = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Seconds to wait for each command's final result.",
    )(func)
    func = click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True)(
        func
    )
    return click.option(
        "--port",
        envvar="XSUDO_PORT",
        default=None,
        help="Serial port or pyserial URL (/dev/ttyACM0, COM3, socket://host:port, "
        "sim://?profile=locked), or auto (the connected nRF91 kit's AT port, see "
        "xsudo ports). Default: $XSUDO_PORT.",
    )(func)


def auth_options(func: F) -> F:
    """``--auth``, ``--key`` (default ``$XSUDO_KEY``), ``--slot``."""
    func = click.option(
        "--slot", type=click.IntRange(0, 9), default=None, help="XPMNG key slot (default 0)."
    )(func)
    func = click.option(
        "--key",
        "key_name",
        envvar=KEY_ENV,
        default=None,
        help="Signing key for %XSUDO (default: $XSUDO_KEY).",
    )(func)
    return click.option(
        "--auth",
        type=click.Choice(AUTH_MODES),
        default="auto",
        show_default=True,
        help="auto: XSUDO when the modem holds the key; required: XSUDO only; never: plain.",
    )(func)


def cred_type_argument(value: str) -> CredType:
    """Parse a ``--type`` value (name or number) for click callbacks."""
    return parse_cred_type(value)


def tag_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--tag", type=click.IntRange(0, 4294967295), required=required, help="sec_tag."
    )


def resolve_port(port: str | None) -> str:
    """The port to open, or a usage error saying how to choose one.

    ``auto`` picks the AT port of the one nRF91 kit connected; with several kits it asks
    on a terminal and otherwise fails naming them (:func:`xsudo.ports.choose_auto_port`).
    """
    chosen = port or os.environ.get("XSUDO_PORT")
    if not chosen:
        raise BadInputError(
            "no port given",
            "use --port /dev/ttyACM0 (or COM3, socket://..., sim://, auto) or set XSUDO_PORT",
        )
    if chosen.strip().lower() == AUTO_PORT:
        return auto_port()
    return chosen


def auto_port() -> str:
    """The nRF91 kit's AT port for ``--port auto`` (asks only when there is a real choice
    and a terminal)."""
    ports = list_serial_ports()
    candidates = at_port_candidates(ports)
    if len(candidates) > 1 and sys.stdin.isatty():
        for number, candidate in enumerate(candidates, 1):
            note(f"  {number}. {candidate.label()}")
        choice = click.prompt(
            "which kit", type=click.IntRange(1, len(candidates)), err=True, default=None
        )
        return candidates[int(choice) - 1].device
    chosen = choose_auto_port(ports)
    note(f"--port auto: {next(c.label() for c in candidates if c.device == chosen)}")
    return chosen


def _context_value(key: str) -> Any:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(key) if ctx is not None else None


def auth_settings(
    auth: AuthMode, key_name: str | None, slot: int | None, passphrase_file: Path | None
) -> AuthSettings:
    """The policy settings, with the key opened early so a passphrase problem stops the
    command before anything reaches the device."""
    signer = None
    if key_name and auth != "never":
        signer = key_store(passphrase_file).signer(key_name)
        unlock = getattr(signer, "unlock", None)
        if callable(unlock):
            unlock()
    return AuthSettings(auth, signer, slot)


def audit_log() -> AuditLog:
    return AuditLog.in_home(app_context().ensure_home())


@contextmanager
def open_session(
    port: str | None, baud: int, timeout: float, settings: AuthSettings | None = None
) -> Iterator[DeviceSession]:
    """Open the modem and yield a session with identity read and the audit log attached.

    The command type (``--cmd-type``) and shell buffer size come from the click context.
    """
    cmd_type = _context_value(CMD_TYPE_META)
    shell_buffer = _context_value(SHELL_BUFFER_META) or DEFAULT_SHELL_BUFFER
    with Modem.open(
        resolve_port(port),
        baud=baud,
        timeout=timeout,
        flow=_context_value(FLOW_META) or "none",
        cmd_type=cmd_type,
        shell_buffer=shell_buffer,
    ) as modem:
        if modem.channel.cmd_type == "shell":
            note(f"talking to the Zephyr shell's at command on {modem.channel.port_name}")
        session = DeviceSession(modem, settings or AuthSettings("never"), audit_log())
        session.ensure_identity()
        yield session
