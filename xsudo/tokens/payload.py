"""The signed payload of a modem token, and the message inside ``%ATTESTTOKEN``.

Facts from nRFCloud/utils ``modem_credentials_parser.py`` (which parses real modem output)
and its test fixtures (real replies):

* The COSE payload of a ``%KEYGEN`` reply is
  ``[payload_id, device_uuid(16 bytes), bstr(cbor(sec_tag)), sha256(body), nonce]``,
  wrapped in the self-described CBOR tag 55799 by real modems. ``payload_id`` 9 is a CSR
  message (``CSR_msg_v1``), 8 a public key message (``pubkey_msg_v2``). A negative
  ``sec_tag`` stands for the unsigned 32-bit value.
* The ``%ATTESTTOKEN`` body is ``[message_type, device_uuid(16), device_type,
  firmware_uuid(16), nonce]`` (tag 55799 around it on real modems); the COSE_Sign1 of a
  real attestation token has a ``null`` (detached) payload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from xsudo.tokens import cbor
from xsudo.tokens.errors import TokenError

PAYLOAD_PUBKEY = 8
PAYLOAD_CSR = 9
PAYLOAD_NAMES = {PAYLOAD_PUBKEY: "pubkey_msg_v2", PAYLOAD_CSR: "CSR_msg_v1"}
MESSAGE_TYPES = {
    1: "Device identity message v1",
    2: "Public key message v1",
    3: "CSR message v1",
    5: "Provisioning response v1",
}
DEVICE_TYPES = {
    1: "nRF9160 SIAA",
    2: "nRF9160 SIBA",
    3: "NRF9160 SIAA",
    4: "nRF9161 LACA",
    5: "nRF9131 LACA",
    6: "nRF9151 LACA",
}
UUID_BYTES = 16
DIGEST_BYTES = 32


def _uuid(value: cbor.Value, what: str) -> uuid.UUID:
    if not isinstance(value, bytes) or len(value) != UUID_BYTES:
        raise TokenError(f"{what} is not a 16-byte UUID")
    return uuid.UUID(bytes=value)


def _int(value: cbor.Value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError(f"{what} is not an integer")
    return value


def _bytes(value: cbor.Value, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise TokenError(f"{what} is not a byte string")
    return value


def _array(data: bytes, what: str, sizes: tuple[int, ...]) -> list[cbor.Value]:
    item = cbor.untag_self_described(cbor.loads(data, what))
    if not isinstance(item, list) or len(item) not in sizes:
        expected = " or ".join(str(n) for n in sizes)
        raise TokenError(f"{what} is not a CBOR array of {expected} items")
    return item


def sec_tag_from(value: cbor.Value) -> int:
    """The sec_tag in a payload: a byte string holding a CBOR integer (negative = the
    unsigned 32-bit value, as nRFCloud/utils reads it)."""
    raw = _bytes(value, "the payload's sec_tag")
    tag = _int(cbor.loads(raw, "the payload's sec_tag"), "the payload's sec_tag")
    if tag < 0:
        tag += 1 << 32
    if not 0 <= tag <= 0xFFFFFFFF:
        raise TokenError(f"the payload's sec_tag {tag} is out of range")
    return tag


@dataclass(frozen=True)
class TokenPayload:
    """The COSE payload of a modem token (see the module docstring)."""

    payload_id: int
    device_uuid: uuid.UUID
    sec_tag: int
    digest: bytes
    nonce: bytes

    @property
    def payload_name(self) -> str:
        return PAYLOAD_NAMES.get(self.payload_id, f"payload {self.payload_id}")

    def to_json(self) -> dict[str, Any]:
        return {
            "payload_id": self.payload_id,
            "payload_name": self.payload_name,
            "device_uuid": str(self.device_uuid),
            "sec_tag": self.sec_tag,
            "digest": self.digest.hex(),
            "nonce": self.nonce.hex(),
        }


def parse_payload(data: bytes) -> TokenPayload:
    """Decode a token's COSE payload; :class:`TokenError` when it has another shape."""
    item = _array(data, "the COSE payload", (5,))
    digest = _bytes(item[3], "the payload's digest")
    if len(digest) != DIGEST_BYTES:
        raise TokenError(f"the payload's digest is {len(digest)} bytes, not a SHA-256")
    return TokenPayload(
        payload_id=_int(item[0], "the payload id"),
        device_uuid=_uuid(item[1], "the payload's device UUID"),
        sec_tag=sec_tag_from(item[2]),
        digest=digest,
        nonce=_bytes(item[4], "the payload's nonce"),
    )


@dataclass(frozen=True)
class AttestationMessage:
    """The body of an ``%ATTESTTOKEN`` reply."""

    message_type: int
    device_uuid: uuid.UUID
    device_type: int
    firmware_uuid: uuid.UUID
    nonce: bytes | None

    @property
    def message_type_name(self) -> str:
        return MESSAGE_TYPES.get(self.message_type, f"unknown ({self.message_type})")

    @property
    def device_type_name(self) -> str:
        return DEVICE_TYPES.get(self.device_type, f"unknown ({self.device_type})")

    def to_json(self) -> dict[str, Any]:
        return {
            "message_type": self.message_type,
            "message_type_name": self.message_type_name,
            "device_uuid": str(self.device_uuid),
            "device_type": self.device_type,
            "device_type_name": self.device_type_name,
            "firmware_uuid": str(self.firmware_uuid),
            "nonce": self.nonce.hex() if self.nonce is not None else None,
        }


def parse_attestation_message(data: bytes) -> AttestationMessage:
    """Decode an attestation body (4 items, or 5 with the nonce)."""
    item = _array(data, "the attestation message", (4, 5))
    return AttestationMessage(
        message_type=_int(item[0], "the message type"),
        device_uuid=_uuid(item[1], "the device UUID"),
        device_type=_int(item[2], "the device type"),
        firmware_uuid=_uuid(item[3], "the firmware UUID"),
        nonce=_bytes(item[4], "the nonce") if len(item) == 5 else None,
    )
