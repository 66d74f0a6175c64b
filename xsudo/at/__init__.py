"""The AT layer: open a port (:mod:`.transport`), split what the device sends into lines
(:mod:`.framing`), run one command at a time to its final result code (:mod:`.channel`),
raw or through the Zephyr shell's ``at`` command (:mod:`.cmdtype`, :mod:`.shell`), the
modem's own commands built in one place (:mod:`.commands`), and typed nRF91 operations on
top (:mod:`.modem`). Nothing here knows about cryptography."""

from . import commands
from .channel import DEFAULT_TERMINATOR, DEFAULT_TIMEOUT, AtChannel
from .cmdtype import CMD_TYPE_ENV, CMD_TYPES, CmdType, resolve_cmd_type
from .framing import FramingOverflow, LineSplitter
from .modem import CredentialContent, CredentialEntry, Modem, ModemIdentity, family_of
from .parse import ResponseFormatError
from .results import URC_PREFIXES, AtResponse, FinalResult, SignedCommandError
from .shell import DEFAULT_SHELL_BUFFER, ShellCommandError, shell_encode, shell_line
from .transport import DEFAULT_BAUD, PORT_ENV, open_port, port_error, resolve_port

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
