"""The AT layer: open a port (:mod:`.transport`), split what the device sends into lines
(:mod:`.framing`), run one command at a time to its final result code (:mod:`.channel`), and
typed nRF91 operations on top (:mod:`.modem`). Nothing here knows about cryptography."""

from .channel import DEFAULT_TERMINATOR, DEFAULT_TIMEOUT, AtChannel
from .framing import FramingOverflow, LineSplitter
from .modem import CredentialContent, CredentialEntry, Modem, ModemIdentity, family_of
from .parse import ResponseFormatError
from .results import URC_PREFIXES, AtResponse, FinalResult, SignedCommandError
from .transport import DEFAULT_BAUD, PORT_ENV, open_port, port_error, resolve_port

__all__ = [
    "DEFAULT_BAUD",
    "DEFAULT_TERMINATOR",
    "DEFAULT_TIMEOUT",
    "PORT_ENV",
    "URC_PREFIXES",
    "AtChannel",
    "AtResponse",
    "CredentialContent",
    "CredentialEntry",
    "FinalResult",
    "FramingOverflow",
    "LineSplitter",
    "Modem",
    "ModemIdentity",
    "ResponseFormatError",
    "SignedCommandError",
    "family_of",
    "open_port",
    "port_error",
    "resolve_port",
]
