"""Options and session setup shared by every command that talks to a modem.

Defining the options imports only click and :mod:`xsudo.cli.params`, so a command's
``--help`` loads no AT layer, pyserial, key store or simulator; the library is imported
when a command runs (:func:`open_device`, :func:`auth_settings`, :func:`choose_kit`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from xsudo.cli.context import app_context
from xsudo.cli.keyopts import key_store
from xsudo.cli.output import note
from xsudo.cli.params import (
    AUTH_MODES,
    CMD_TYPE_ENV,
    CMD_TYPES,
    DEFAULT_SHELL_BUFFER,
    FLOW_CONTROLS,
    SEC_TAG,
    SLOT,
)

if TYPE_CHECKING:
    from xsudo.at.channel import ChannelOptions
    from xsudo.device import Device
    from xsudo.ports import SerialPort
    from xsudo.provision.policy import AuthMode, AuthSettings

F = TypeVar("F", bound=Callable[..., Any])

KEY_ENV = "XSUDO_KEY"


@dataclass(frozen=True)
class Connection:
    """How to reach the modem: ``--port`` (``None`` when not given, or for ``provision``,
    which names several), ``--baud``, ``--timeout``, ``--flow``, ``--cmd-type`` and
    ``--shell-buffer``."""

    port: str | None
    baud: int
    timeout: float
    flow: str
    cmd_type: str
    shell_buffer: int

    def channel_options(self) -> ChannelOptions:
        """Everything but the port, as :meth:`xsudo.at.modem.Modem.open` takes it."""
        from xsudo.at.channel import ChannelOptions

        return ChannelOptions(
            baud=self.baud,
            timeout=self.timeout,
            flow=self.flow,
            cmd_type=self.cmd_type,
            shell_buffer=self.shell_buffer,
        )


@dataclass(frozen=True)
class AuthRequest:
    """What ``--auth``, ``--key`` and ``--slot`` asked for (the key not yet opened)."""

    mode: AuthMode
    key_name: str | None
    slot: int | None

    @property
    def signs(self) -> bool:
        """True when a key is given and the policy may use it."""
        return bool(self.key_name) and self.mode != "never"


def _bundle(func: F, names: tuple[str, ...], build: Callable[..., Any], into: str) -> F:
    """Wrap a click callback so the options ``names`` arrive as one value ``into``."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        kwargs[into] = build(**{name: kwargs.pop(name) for name in names})
        return func(*args, **kwargs)

    return cast(F, command)


def connection_options(func: F) -> F:
    """``--baud``, ``--timeout``, ``--flow``, ``--cmd-type``, ``--shell-buffer``, given to the
    command as one ``connection: Connection`` (``port`` None)."""
    wrapped = _bundle(
        func,
        ("baud", "timeout", "flow", "cmd_type", "shell_buffer"),
        lambda **v: Connection(port=None, **v),
        "connection",
    )
    return _connection_flags(wrapped)


def port_options(func: F) -> F:
    """``--port`` (default ``$XSUDO_PORT``; ``auto``: the connected nRF91 kit) and the
    :func:`connection_options`, given to the command as one ``connection: Connection``."""
    wrapped = _bundle(
        func,
        ("port", "baud", "timeout", "flow", "cmd_type", "shell_buffer"),
        Connection,
        "connection",
    )
    wrapped = _connection_flags(wrapped)
    return click.option(
        "--port",
        default=None,
        help="Serial port or pyserial URL (/dev/ttyACM0, COM3, socket://host:port, "
        "sim://?profile=locked), or auto (the connected nRF91 kit's AT port, see "
        "xsudo ports). Default: $XSUDO_PORT.",
    )(wrapped)


def _connection_flags(func: F) -> F:
    func = click.option(
        "--shell-buffer",
        type=click.IntRange(min=16),
        envvar="XSUDO_SHELL_BUFFER",
        default=DEFAULT_SHELL_BUFFER,
        show_default=True,
        help="Shell mode: the firmware's CONFIG_SHELL_CMD_BUFF_SIZE (longest line + 1).",
    )(func)
    func = click.option(
        "--cmd-type",
        type=click.Choice(CMD_TYPES),
        envvar=CMD_TYPE_ENV,
        default="auto",
        show_default=True,
        help="at: raw AT lines (at_client, serial_modem); shell: the Zephyr shell's 'at' "
        "command (CONFIG_AT_SHELL); auto: ask the device. Default: $XSUDO_CMD_TYPE or auto.",
    )(func)
    func = click.option(
        "--flow",
        type=click.Choice(FLOW_CONTROLS),
        envvar="XSUDO_FLOW",
        default="none",
        show_default=True,
        help="Serial flow control. Nordic DKs' tools use rtscts; pyserial URLs ignore it.",
    )(func)
    func = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Seconds to wait for each command's final result.",
    )(func)
    return click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True)(
        func
    )


def auth_options(func: F) -> F:
    """``--auth``, ``--key`` (default ``$XSUDO_KEY``), ``--slot``, given to the command as one
    ``auth: AuthRequest``."""
    func = _bundle(
        func,
        ("auth", "key_name", "slot"),
        lambda auth, key_name, slot: AuthRequest(auth, key_name, slot),
        "auth",
    )
    func = click.option("--slot", type=SLOT, default=None, help="XPMNG key slot (default 0).")(func)
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


def tag_option(required: bool = True) -> Callable[[F], F]:
    return click.option("--tag", type=SEC_TAG, required=required, help="sec_tag.")


def choose_kit(ports: Sequence[SerialPort]) -> str:
    """``--port auto``: the nRF91 kit's AT port; asks only when there is a real choice and
    a terminal, and says which port it took."""
    from xsudo.ports import at_port_candidates, choose_auto_port

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


def auth_settings(request: AuthRequest, passphrase_file: Path | None) -> AuthSettings:
    """The policy settings, with the key opened early so a passphrase problem stops the
    command before anything reaches the device."""
    from xsudo.provision.policy import AuthSettings

    signer = None
    if request.signs:
        assert request.key_name is not None
        signer = key_store(passphrase_file).signer(request.key_name)
        unlock = getattr(signer, "unlock", None)
        if callable(unlock):
            unlock()
    return AuthSettings(request.mode, signer, request.slot)


@contextmanager
def open_device(
    connection: Connection,
    settings: AuthSettings | None = None,
    passphrase_file: Path | None = None,
) -> Iterator[Device]:
    """:func:`xsudo.connect` with this command's options: the home's audit log (checked
    before the port is opened), its key store, and the connection settings."""
    from xsudo.api import connect
    from xsudo.provision.policy import AuthSettings

    settings = settings or AuthSettings("never")
    home = app_context().ensure_home()
    device = connect(
        connection.port,
        key=settings.signer,
        auth=settings.mode,
        slot=settings.slot,
        home=home,
        store=lambda: key_store(passphrase_file),  # opened when a key is first needed
        choose_port=choose_kit,
        **connection.channel_options(),
    )
    with device:
        channel = device.modem.channel
        if channel.cmd_type == "shell":
            note(f"talking to the Zephyr shell's at command on {channel.port_name}")
        yield device
