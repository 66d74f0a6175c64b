"""Read-only token commands: the device attestation token and the device UUID.

Contract: nothing here changes the modem's state or CFUN. :func:`read_attestation` sends
``AT%ATTESTTOKEN`` (with a 16-byte challenge as 32 hex digits when given), decodes and
checks the reply (:func:`xsudo.tokens.decode_attestation`), including that the challenge
came back as the nonce.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING

from xsudo.at import commands
from xsudo.at.modem import Modem
from xsudo.at.parse import (
    ResponseFormatError,
    check_uuid,
    parse_quoted_value,
    parse_text_value,
)
from xsudo.at.results import AtResponse
from xsudo.errors import BadInputError, ModemError
from xsudo.limits import ATTEST_CHALLENGE_BYTES
from xsudo.tokens.errors import TokenError

if TYPE_CHECKING:
    from xsudo.tokens import Attestation


def parse_challenge(text: str) -> bytes:
    """``--challenge`` text (32 hex digits) -> 16 bytes; :class:`BadInputError` otherwise."""
    cleaned = text.strip()
    if len(cleaned) != 2 * ATTEST_CHALLENGE_BYTES:
        raise BadInputError(
            f"the challenge is {len(cleaned)} characters; it must be 32 hex digits (16 bytes)"
        )
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise BadInputError("the challenge is not hexadecimal", "give 32 hex digits") from None


def token_text(response: AtResponse, prefix: str) -> str:
    """The quoted token in the ``prefix`` line of ``response`` (e.g. ``"%KEYGEN:"``)."""
    lines = response.with_prefix(prefix)
    if not lines:
        raise TokenError(f"the modem answered OK without a {prefix} line")
    try:
        return parse_quoted_value(lines[0], prefix.encode("ascii")).decode("ascii")
    except (ResponseFormatError, UnicodeDecodeError):
        raise TokenError(f"the {prefix} line is not a quoted token") from None


def read_attestation(modem: Modem, challenge: bytes | None = None) -> Attestation:
    """Request, decode and check the attestation token (read-only)."""
    from xsudo.tokens import decode_attestation

    response = modem.command(commands.attesttoken(challenge))
    return decode_attestation(token_text(response, "%ATTESTTOKEN:"), challenge)


def listed_device_uuid(modem: Modem) -> str | None:
    """The device UUID from ``%DEVICEUUID`` alone (nRF91x1), lower-case and checked;
    ``None`` when the firmware answers an error or no such line (nRF9160). Unlike
    :func:`read_device_uuid` it never asks for an attestation token."""
    try:
        response = modem.command(commands.deviceuuid())
    except ModemError:
        return None
    lines = response.with_prefix("%DEVICEUUID:")
    if not lines:
        return None
    return check_uuid(parse_text_value(lines[0], b"%DEVICEUUID:"))


def read_device_uuid(modem: Modem) -> uuid.UUID:
    """The device UUID: ``%DEVICEUUID`` (nRF91x1), else from the attestation token
    (nRF9160 has no ``%DEVICEUUID``)."""
    try:
        response = modem.command(commands.deviceuuid())
    except ModemError:
        return read_attestation(modem).message.device_uuid
    lines = response.with_prefix("%DEVICEUUID:")
    if lines:
        return uuid.UUID(check_uuid(parse_text_value(lines[0], b"%DEVICEUUID:")))
    return read_attestation(modem).message.device_uuid


def recorded_device_uuid(modem: Modem) -> str | None:
    """The device UUID a record of the device carries (read-only, best effort):
    ``%DEVICEUUID`` on nRF91x1; on nRF9160, which has no ``%DEVICEUUID``, the device UUID in
    the attestation token (``%ATTESTTOKEN``, modem firmware 1.3.0 and later), the same
    identifier from the one place that firmware gives it. ``None`` when neither answers, or
    the answer fails its check (the record then lacks it; nothing is stopped for it).

    ``%XMODEMUUID`` is never taken for it: it names the modem firmware build, the same on
    every device that runs it, and changes with a firmware update."""
    from xsudo.errors import XsudoError

    with contextlib.suppress(XsudoError):
        listed = listed_device_uuid(modem)
        if listed is not None:
            return listed
    with contextlib.suppress(XsudoError):
        return str(read_attestation(modem).message.device_uuid)
    return None
