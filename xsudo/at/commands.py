"""The modem's own commands, built in one place.

Every ``%CMNG``, ``%XPMNG``, ``%KEYGEN``, ``%ATTESTTOKEN`` and ``%XSUDO`` value xsudo sends
(and the ``%`` identity reads) is made by a function here, as an
:class:`~xsudo.command.AtCommand`: the writer, the key slots, keygen, attestation, the
content fit check, the CLI's dry run and :class:`~xsudo.at.modem.Modem` all call these.
Nothing else spells these commands' parameters.

Contract:

* **Ranges are checked when the value is built**, against :mod:`xsudo.limits`: sec_tags
  0-4294967295, ``%CMNG`` types 0-13, key slots 0-9, ``%KEYGEN`` key types and formats, a
  16-byte challenge. A bad one raises :class:`~xsudo.errors.BadInputError` (a slot:
  :class:`~xsudo.errors.CommandTextError`, as :func:`~xsudo.command.check_slot` always has)
  and nothing is sent.
* **Text is checked when the command is rendered** (:meth:`AtCommand.body`,
  :meth:`AtCommand.line`, so before any byte is sent): a double quote in content, a
  non-ASCII or control byte, a line over 4095 bytes raise
  :class:`~xsudo.errors.CommandTextError`. Content given as bytes is passed through
  byte for byte (decoded as Latin-1, so the check names the exact offending byte).
* **Policy is not here**: which tags a host may write (:func:`xsudo.content.check_tag`),
  never overwriting, plain or signed (:mod:`xsudo.provision`).
* The ``%XSUDO`` line itself is assembled by :func:`xsudo.command.build_xsudo_line` (the
  one place; re-exported here with :class:`~xsudo.command.XsudoLine` and
  :func:`~xsudo.command.xsudo_prefix`). :func:`xsudo_test` is the firmware probe
  ``AT%XSUDO=?``.

The rendered forms (nRF91 AT Commands reference):

* :func:`cmng_write` ``AT%CMNG=0,<tag>,<type>,"<content>"[,"<passwd>"]``,
  :func:`cmng_list` ``AT%CMNG=1[,<tag>[,<type>]]``, :func:`cmng_read`
  ``AT%CMNG=2,<tag>,<type>``, :func:`cmng_delete` ``AT%CMNG=3,<tag>,<type>``;
* :func:`xpmng_write` ``AT%XPMNG=0,"<PEM>"[,<slot>]``, :func:`xpmng_read`
  ``AT%XPMNG=2[,,<slot>]``;
* :func:`keygen` ``AT%KEYGEN=<tag>,<key_type>,<format>[,"<attributes>"[,"<key_usage>"]]``;
* :func:`attesttoken` ``AT%ATTESTTOKEN[="<32 hex>"]``, :func:`deviceuuid`
  ``AT%DEVICEUUID``, :func:`xmodemuuid` ``AT%XMODEMUUID``, :func:`hwversion`
  ``AT%HWVERSION``;
* :func:`xsudo_test` ``AT%XSUDO=?``;
* :func:`certexpiry` ``AT%CERTEXPIRY=<tag>,<type>``, :func:`xproddone` ``AT%XPRODDONE``.
"""

from __future__ import annotations

from enum import IntEnum

from xsudo.command import AtCommand, Param, XsudoLine, build_xsudo_line, check_slot, xsudo_prefix
from xsudo.errors import BadInputError
from xsudo.limits import (
    ATTEST_CHALLENGE_BYTES,
    CRED_TYPES,
    KEYGEN_KEY_TYPES,
    KEYGEN_KEY_USAGE_BITS,
    KEYGEN_OUTPUT_FORMATS,
    MAX_SEC_TAG,
    MAX_USER_SEC_TAG,
)

__all__ = [
    "ATTESTTOKEN",
    "CERTEXPIRY",
    "CERTEXPIRY_TYPES",
    "CMNG",
    "DEVICEUUID",
    "HWVERSION",
    "KEYGEN",
    "XMODEMUUID",
    "XPMNG",
    "XPRODDONE",
    "XSUDO",
    "CmngOp",
    "KeygenFormat",
    "XpmngOp",
    "XsudoLine",
    "attesttoken",
    "build_xsudo_line",
    "certexpiry",
    "check_cred_type",
    "check_sec_tag",
    "check_slot",
    "cmng_delete",
    "cmng_list",
    "cmng_read",
    "cmng_write",
    "deviceuuid",
    "hwversion",
    "keygen",
    "xmodemuuid",
    "xpmng_read",
    "xpmng_write",
    "xproddone",
    "xsudo_prefix",
    "xsudo_test",
]

CMNG = "%CMNG"
XPMNG = "%XPMNG"
KEYGEN = "%KEYGEN"
ATTESTTOKEN = "%ATTESTTOKEN"
DEVICEUUID = "%DEVICEUUID"
XMODEMUUID = "%XMODEMUUID"
HWVERSION = "%HWVERSION"
XSUDO = "%XSUDO"
CERTEXPIRY = "%CERTEXPIRY"
XPRODDONE = "%XPRODDONE"

CERTEXPIRY_TYPES = (0, 1, 10)
"""``%CERTEXPIRY`` ``<type>``: 0 root CA certificate, 1 client certificate, 10 Nordic
identity root CA (nRF91 AT Commands reference, ``%CERTEXPIRY`` set command)."""


class CmngOp(IntEnum):
    """``%CMNG`` ``<opcode>``."""

    WRITE = 0
    LIST = 1
    READ = 2
    DELETE = 3


class XpmngOp(IntEnum):
    """``%XPMNG`` ``<opcode>``."""

    WRITE = 0
    READ = 2


class KeygenFormat(IntEnum):
    """``%KEYGEN`` ``<output_format>`` (:data:`xsudo.limits.KEYGEN_OUTPUT_FORMATS`)."""

    CSR = 0
    PUBLIC_KEY = 1


# -- checks --------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sec_tag(tag: int) -> int:
    """``tag`` if it is a sec_tag the modem knows (0-4294967295, reserved ones included),
    else :class:`BadInputError`. Whether a host may *write* it is policy
    (:func:`xsudo.content.check_tag`)."""
    if not _is_int(tag) or not 0 <= tag <= MAX_SEC_TAG:
        raise BadInputError(f"sec_tag {tag!r} is out of range", f"sec_tags are 0-{MAX_SEC_TAG}")
    return int(tag)


def check_cred_type(cred_type: int) -> int:
    """``cred_type`` if it is a ``%CMNG`` type (0-13), else :class:`BadInputError`."""
    if not _is_int(cred_type) or cred_type not in CRED_TYPES:
        raise BadInputError(
            f"credential type {cred_type!r} is out of range",
            f"%CMNG types are {CRED_TYPES.start}-{CRED_TYPES.stop - 1}",
        )
    return int(cred_type)


def _content(content: bytes | str, what: str) -> str:
    """Quoted content as sent: bytes byte for byte (Latin-1, so the text check names the
    exact byte that is not printable ASCII); empty content is refused."""
    if not content:
        raise BadInputError(f"the {what} is empty", "the modem refuses empty content")
    return content.decode("latin-1") if isinstance(content, bytes) else content


# -- %CMNG ---------------------------------------------------------------------------------


def cmng_write(
    tag: int, cred_type: int, content: bytes | str, password: str | None = None
) -> AtCommand:
    """``AT%CMNG=0,<tag>,<type>,"<content>"[,"<passwd>"]``: write ``content`` exactly.

    The modem lists SHA-256 of exactly these bytes. ``password`` is only for an encrypted
    type-2 key; it is sent to the modem, never logged or put in an error.
    """
    text = _content(content, "credential content")
    return AtCommand.set(
        CMNG, int(CmngOp.WRITE), check_sec_tag(tag), check_cred_type(cred_type), text, password
    )


def cmng_list(tag: int | None = None, cred_type: int | None = None) -> AtCommand:
    """``AT%CMNG=1[,<tag>[,<type>]]``: list stored credentials. A type needs a tag (the
    parameters nest)."""
    if cred_type is not None and tag is None:
        raise BadInputError("a credential type needs a sec_tag to list", "give the sec_tag too")
    params: list[Param] = [int(CmngOp.LIST)]
    if tag is not None:
        params.append(check_sec_tag(tag))
    if cred_type is not None:
        params.append(check_cred_type(cred_type))
    return AtCommand.set(CMNG, *params)


def cmng_read(tag: int, cred_type: int) -> AtCommand:
    """``AT%CMNG=2,<tag>,<type>``: read a credential back (certificates, public keys)."""
    return AtCommand.set(CMNG, int(CmngOp.READ), check_sec_tag(tag), check_cred_type(cred_type))


def cmng_delete(tag: int, cred_type: int) -> AtCommand:
    """``AT%CMNG=3,<tag>,<type>``: delete a credential (``(slot, 5)`` frees an ``%XPMNG``
    slot)."""
    return AtCommand.set(CMNG, int(CmngOp.DELETE), check_sec_tag(tag), check_cred_type(cred_type))


# -- %XPMNG --------------------------------------------------------------------------------


def xpmng_write(pem: bytes | str, slot: int | None = None) -> AtCommand:
    """``AT%XPMNG=0,"<PEM>"[,<slot>]``: upload the ``%XSUDO`` public key (write-once)."""
    text = _content(pem, "public key PEM")
    return AtCommand.set(XPMNG, int(XpmngOp.WRITE), text, check_slot(slot))


def xpmng_read(slot: int | None = None) -> AtCommand:
    """``AT%XPMNG=2[,,<slot>]``: the public key PEM in ``slot`` (0 when omitted)."""
    return AtCommand.set(XPMNG, int(XpmngOp.READ), None, check_slot(slot))


# -- %KEYGEN -------------------------------------------------------------------------------


def keygen(
    tag: int,
    key_type: int,
    output_format: int,
    attributes: str | None = None,
    key_usage: str | None = None,
) -> AtCommand:
    """``AT%KEYGEN=<tag>,<key_type>,<output_format>[,"<attributes>"[,"<key_usage>"]]``.

    ``key_type`` 2 (client private key) or 8 (endorsement key); ``output_format`` 0 (CSR)
    or 1 (public key); ``key_usage`` nine ``0``/``1`` characters. A ``key_usage`` without
    ``attributes`` sends empty attributes (``""``), which keeps the parameters in place.
    Attribute syntax is checked by the caller (:func:`xsudo.provision.keygen.check_attributes`).
    """
    if not _is_int(key_type) or key_type not in KEYGEN_KEY_TYPES:
        raise BadInputError(
            f"%KEYGEN key type {key_type!r} is not supported",
            "use 2 (client private key) or 8 (endorsement key)",
        )
    if not _is_int(output_format) or output_format not in KEYGEN_OUTPUT_FORMATS:
        raise BadInputError(
            f"%KEYGEN output format {output_format!r} is not supported",
            "use 0 (CSR) or 1 (public key)",
        )
    if key_usage is not None:
        if len(key_usage) != KEYGEN_KEY_USAGE_BITS or not set(key_usage) <= {"0", "1"}:
            raise BadInputError(
                "%KEYGEN key usage must be nine 0/1 characters",
                'e.g. "101000000" (digitalSignature first)',
            )
        attributes = attributes or ""
    return AtCommand.set(
        KEYGEN, check_sec_tag(tag), int(key_type), int(output_format), attributes, key_usage
    )


# -- %ATTESTTOKEN and identity reads -------------------------------------------------------


def attesttoken(challenge: bytes | None = None) -> AtCommand:
    """``AT%ATTESTTOKEN``, or ``AT%ATTESTTOKEN="<32 hex>"`` with a 16-byte ``challenge``
    (the token's nonce)."""
    if challenge is None:
        return AtCommand.exec(ATTESTTOKEN)
    if len(challenge) != ATTEST_CHALLENGE_BYTES:
        raise BadInputError("the challenge must be 16 bytes (32 hex digits)")
    return AtCommand.set(ATTESTTOKEN, challenge.hex())


def deviceuuid() -> AtCommand:
    """``AT%DEVICEUUID``: the device UUID (nRF91x1 only)."""
    return AtCommand.exec(DEVICEUUID)


def xmodemuuid() -> AtCommand:
    """``AT%XMODEMUUID``: the modem firmware UUID."""
    return AtCommand.exec(XMODEMUUID)


def hwversion() -> AtCommand:
    """``AT%HWVERSION``: the hardware version (model)."""
    return AtCommand.exec(HWVERSION)


# -- %XSUDO --------------------------------------------------------------------------------


def xsudo_test() -> AtCommand:
    """``AT%XSUDO=?``: whether the firmware knows ``%XSUDO`` (its lines themselves come
    from :func:`build_xsudo_line`)."""
    return AtCommand.test(XSUDO)


# -- %CERTEXPIRY and %XPRODDONE ------------------------------------------------------------


def certexpiry(tag: int, cred_type: int) -> AtCommand:
    """``AT%CERTEXPIRY=<tag>,<type>``: serial and validity of the first certificate stored
    at ``(tag, type)``; ``tag`` 1-2147483647, ``type`` one of :data:`CERTEXPIRY_TYPES`."""
    if not _is_int(tag) or not 1 <= tag <= MAX_USER_SEC_TAG:
        raise BadInputError(
            f"sec_tag {tag!r} cannot be queried with %CERTEXPIRY",
            f"%CERTEXPIRY takes sec_tags 1-{MAX_USER_SEC_TAG}",
        )
    if not _is_int(cred_type) or cred_type not in CERTEXPIRY_TYPES:
        raise BadInputError(
            f"credential type {cred_type!r} has no %CERTEXPIRY",
            "%CERTEXPIRY takes type 0 (CA certificate), 1 (client certificate) or 10",
        )
    return AtCommand.set(CERTEXPIRY, int(tag), int(cred_type))


def xproddone() -> AtCommand:
    """``AT%XPRODDONE``: mark customer production as done. **Irreversible**: the modem then
    refuses older modem firmware (see :meth:`xsudo.device.Device.production_done`)."""
    return AtCommand.exec(XPRODDONE)
