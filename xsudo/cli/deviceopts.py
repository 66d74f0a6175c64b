"""Options and session setup shared by every command that talks to a modem."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from xsudo.at.modem import Modem
from xsudo.audit.log import AuditLog
from xsudo.cli.context import app_context
from xsudo.cli.keyopts import key_store
from xsudo.content import CredType, parse_cred_type
from xsudo.errors import BadInputError
from xsudo.provision.policy import AUTH_MODES, AuthMode, AuthSettings
from xsudo.provision.session import DeviceSession

F = TypeVar("F", bound=Callable[..., Any])

KEY_ENV = "XSUDO_KEY"


def port_options(func: F) -> F:
    """``--port`` (default ``$XSUDO_PORT``), ``--baud``, ``--timeout``."""
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
        "sim://?profile=locked). Default: $XSUDO_PORT.",
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
    """The port to open, or a usage error saying how to choose one."""
    chosen = port or os.environ.get("XSUDO_PORT")
    if not chosen:
        raise BadInputError(
            "no port given",
            "use --port /dev/ttyACM0 (or COM3, socket://..., sim://) or set XSUDO_PORT",
        )
    return chosen


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
    """Open the modem and yield a session with identity read and the audit log attached."""
    with Modem.open(resolve_port(port), baud=baud, timeout=timeout) as modem:
        session = DeviceSession(modem, settings or AuthSettings("never"), audit_log())
        session.ensure_identity()
        yield session
