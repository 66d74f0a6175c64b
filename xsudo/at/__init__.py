"""The AT layer: open a port (:mod:`.transport`), split what the device sends into lines
(:mod:`.framing`), run one command at a time to its final result code (:mod:`.channel`),
raw or through the Zephyr shell's ``at`` command (:mod:`.cmdtype`, :mod:`.shell`), the
modem's own commands built in one place (:mod:`.commands`), and typed nRF91 operations on
top (:mod:`.modem`). Nothing here knows about cryptography."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xsudo.lazyexports import lazy_exports

# Names load on first use, so importing the pure vocabulary (xsudo.at.commands) does not
# load the port, channel and modem modules (docs/design/architecture.md, #layers).
_EXPORTS: dict[str, str] = {
    "commands": "",
    "DEFAULT_TERMINATOR": "channel",
    "DEFAULT_TIMEOUT": "channel",
    "AtChannel": "channel",
    "CMD_TYPE_ENV": "cmdtype",
    "CMD_TYPES": "cmdtype",
    "CmdType": "cmdtype",
    "resolve_cmd_type": "cmdtype",
    "FramingOverflow": "framing",
    "LineSplitter": "framing",
    "CredentialContent": "modem",
    "CredentialEntry": "modem",
    "Modem": "modem",
    "ModemIdentity": "modem",
    "family_of": "modem",
    "ResponseFormatError": "parse",
    "URC_PREFIXES": "results",
    "AtResponse": "results",
    "FinalResult": "results",
    "SignedCommandError": "results",
    "DEFAULT_SHELL_BUFFER": "shell",
    "ShellCommandError": "shell",
    "shell_encode": "shell",
    "shell_line": "shell",
    "DEFAULT_BAUD": "transport",
    "PORT_ENV": "transport",
    "open_port": "transport",
    "port_error": "transport",
    "resolve_port": "transport",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import commands
    from .channel import DEFAULT_TERMINATOR, DEFAULT_TIMEOUT, AtChannel
    from .cmdtype import CMD_TYPE_ENV, CMD_TYPES, CmdType, resolve_cmd_type
    from .framing import FramingOverflow, LineSplitter
    from .modem import CredentialContent, CredentialEntry, Modem, ModemIdentity, family_of
    from .parse import ResponseFormatError
    from .results import URC_PREFIXES, AtResponse, FinalResult, SignedCommandError
    from .shell import DEFAULT_SHELL_BUFFER, ShellCommandError, shell_encode, shell_line
    from .transport import DEFAULT_BAUD, PORT_ENV, open_port, port_error, resolve_port


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CMD_TYPES",
    "CMD_TYPE_ENV",
    "DEFAULT_BAUD",
    "DEFAULT_SHELL_BUFFER",
    "DEFAULT_TERMINATOR",
    "DEFAULT_TIMEOUT",
    "PORT_ENV",
    "URC_PREFIXES",
    "AtChannel",
    "AtResponse",
    "CmdType",
    "CredentialContent",
    "CredentialEntry",
    "FinalResult",
    "FramingOverflow",
    "LineSplitter",
    "Modem",
    "ModemIdentity",
    "ResponseFormatError",
    "ShellCommandError",
    "SignedCommandError",
    "commands",
    "family_of",
    "open_port",
    "port_error",
    "resolve_cmd_type",
    "resolve_port",
    "shell_encode",
    "shell_line",
]
