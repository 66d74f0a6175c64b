"""Rules S11-S18: ``%CMNG`` (write, list, read, delete) and ``%XPMNG`` (write-once keys).

Credentials are stored as the exact bytes between the quotes. An ``%XPMNG`` key in slot
``n`` *is* the ``%CMNG`` entry ``(n, 5)``: deleting that entry frees the slot, and the entry
cannot be overwritten by a ``%CMNG`` write while it exists (519).
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.sim.certcheck import valid_certificate_content
from xsudo.sim.codes import Cme
from xsudo.sim.handlers import Form, HandlerTable, ModemView
from xsudo.sim.params import Param, split_params
from xsudo.sim.profiles import TLS_DECRYPT_TAGS
from xsudo.sim.reply import ERROR, OK, Reply, cme, ok, power_gate

MAX_TAG = 4294967295
MAX_USER_TAG = 2147483647
MAX_TYPE = 13
MAX_PASSWD = 32
RESERVED_TYPES = frozenset({6, 7, 10, 11})
TYPE_PUBLIC_KEY = 5
TYPE_PSK = 3
CERT_TYPES = (0, 1)
XPMNG_SLOTS = range(10)
_HEX = frozenset(b"0123456789abcdefABCDEF")


def sha_hex(content: bytes) -> bytes:
    """The digest a modem lists: SHA-256 of the stored bytes, 64 upper-case hex digits."""
    return hashlib.sha256(content).hexdigest().upper().encode("ascii")


def cmng(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rules S11-S16."""
    if form != "set":
        return ERROR
    params = split_params(args)
    op = params[0].int_in(0, 3) if params else None
    if params is None or op is None:
        return modem.param_error()
    return (_write, _list, _read, _delete)[op](modem, params[1:])


def host_writable(modem: ModemView, tag: int) -> bool:
    """Rules S12a/S15: tags 0-2147483647, and the TLS decrypt test tags on firmware that has
    them; every other tag above 2147483647 is the modem's (514)."""
    return tag <= MAX_USER_TAG or (
        modem.options.traits.tls_decrypt_tags and tag in TLS_DECRYPT_TAGS
    )


def _tag_and_type(params: list[Param]) -> tuple[int, int] | None:
    if len(params) < 2:
        return None
    tag = params[0].int_in(0, MAX_TAG)
    type_ = params[1].int_in(0, MAX_TYPE)
    return None if tag is None or type_ is None else (tag, type_)


def _write(modem: ModemView, params: list[Param]) -> Reply:
    """Rule S12 (checks in the rule's order, first match wins)."""
    key = _tag_and_type(params)
    if key is None or len(params) not in (3, 4) or not params[2].quoted:
        return modem.param_error()
    if len(params) == 4 and (not params[3].quoted or len(params[3].value) > MAX_PASSWD):
        return modem.param_error()
    tag, type_ = key
    content = params[2].value
    if (refused := power_gate(modem.volatile)) is not None:
        return refused
    if not content:
        return modem.param_error()
    if not host_writable(modem, tag) or type_ in RESERVED_TYPES:
        return cme(Cme.NO_ACCESS)
    if (
        type_ in CERT_TYPES
        and modem.options.traits.validate_content
        and not valid_certificate_content(content)
    ):
        return cme(Cme.INVALID_CONTENT)
    if type_ == TYPE_PSK and (len(content) % 2 or not set(content) <= _HEX):
        return modem.param_error()
    if key in modem.nvm.credentials and _write_once(modem, tag, type_):
        return cme(Cme.ALREADY_EXISTS)
    if not _fits(modem, key, content):
        return cme(Cme.MEMORY_FULL)
    modem.nvm.credentials[key] = content
    modem.nvm_changed()
    return OK


def _write_once(modem: ModemView, tag: int, type_: int) -> bool:
    if type_ == TYPE_PUBLIC_KEY and tag in XPMNG_SLOTS:
        return True
    return type_ in modem.options.traits.write_once_types


def _fits(modem: ModemView, key: tuple[int, int], content: bytes) -> bool:
    capacity = modem.options.traits.capacity_bytes
    if capacity is None:
        return True
    used = sum(
        len(value)
        for (tag, type_), value in modem.nvm.credentials.items()
        if host_writable(modem, tag) and (tag, type_) != key
    )
    return used + len(content) <= capacity


def _list(modem: ModemView, params: list[Param]) -> Reply:
    """Rule S13: compact lines sorted by (tag, type); no match is a bare OK."""
    if len(params) > 2:
        return modem.param_error()
    tag = params[0].int_in(0, MAX_TAG) if params else None
    type_ = params[1].int_in(0, MAX_TYPE) if len(params) == 2 else None
    if (params and tag is None) or (len(params) == 2 and type_ is None):
        return modem.param_error()
    lines = [
        b'%%CMNG: %d,%d,"%s"' % (item_tag, item_type, sha_hex(content))
        for (item_tag, item_type), content in sorted(modem.nvm.credentials.items())
        if (tag is None or item_tag == tag) and (type_ is None or item_type == type_)
    ]
    return ok(*lines)


def _read(modem: ModemView, params: list[Param]) -> Reply:
    """Rule S14."""
    key = _tag_and_type(params)
    if key is None or len(params) != 2:
        return modem.param_error()
    if modem.volatile.pofwarn_active and modem.options.traits.pofwarn_blocks_read:
        return cme(Cme.POWER_OFF_WARNING)
    content = modem.nvm.credentials.get(key)
    if content is None:
        return cme(Cme.NOT_FOUND)
    if key[1] in modem.options.traits.non_readable_types:
        return cme(Cme.NO_ACCESS)
    return ok(b'%%CMNG: %d,%d,"%s","%s"' % (key[0], key[1], sha_hex(content), content))


def _delete(modem: ModemView, params: list[Param]) -> Reply:
    """Rule S15. Deleting ``(slot, 5)`` for slot 0-9 frees that ``%XPMNG`` slot."""
    key = _tag_and_type(params)
    if key is None or len(params) != 2:
        return modem.param_error()
    if (refused := power_gate(modem.volatile)) is not None:
        return refused
    if not host_writable(modem, key[0]):
        return cme(Cme.NO_ACCESS)
    if key not in modem.nvm.credentials:
        return cme(Cme.NOT_FOUND)
    del modem.nvm.credentials[key]
    modem.nvm_changed()
    return OK


def xpmng(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rules S17-S18."""
    if form != "set":
        return ERROR
    params = split_params(args)
    op = params[0].int_in(0, 2) if params else None
    if params is None or op not in (0, 2):
        return modem.param_error()
    return _xpmng_write(modem, params[1:]) if op == 0 else _xpmng_read(modem, params[1:])


def _xpmng_write(modem: ModemView, params: list[Param]) -> Reply:
    if len(params) not in (1, 2) or not params[0].quoted:
        return modem.param_error()
    slot = params[1].int_in(0, 9) if len(params) == 2 else 0
    if slot is None:
        return modem.param_error()
    if (refused := power_gate(modem.volatile)) is not None:
        return refused
    pem = params[0].value
    if not pem or not is_p256_public_key_pem(pem):
        return modem.param_error()
    if (slot, TYPE_PUBLIC_KEY) in modem.nvm.credentials:
        return cme(Cme(modem.options.traits.xpmng_exists_code))
    modem.nvm.credentials[(slot, TYPE_PUBLIC_KEY)] = pem
    modem.nvm_changed()
    return OK


def _xpmng_read(modem: ModemView, params: list[Param]) -> Reply:
    if not params or (len(params) == 1 and params[0].empty):
        slot: int | None = 0
    elif len(params) == 2 and params[0].empty:
        slot = params[1].int_in(0, 9)
    else:
        slot = None
    if slot is None:
        return modem.param_error()
    if not modem.options.traits.xpmng_readable:
        return cme(Cme.NO_ACCESS)
    pem = modem.nvm.credentials.get((slot, TYPE_PUBLIC_KEY))
    if pem is None:
        return cme(Cme.NOT_FOUND)
    return ok(b'%XPMNG: "' + pem + b'"')


def is_p256_public_key_pem(pem: bytes) -> bool:
    """True for a ``BEGIN PUBLIC KEY`` PEM holding a P-256 SubjectPublicKeyInfo."""
    if b"-----BEGIN PUBLIC KEY-----" not in pem:
        return False
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)


HANDLERS: HandlerTable = {b"%CMNG": cmng, b"%XPMNG": xpmng}
