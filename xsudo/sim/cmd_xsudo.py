"""Rules S19-S23: ``AT%XSUDO=<data_len>,"<b64 signature>"[,<slot>];<command>``.

The simulator really verifies: strict standard padded Base64, strict DER ECDSA-Sig-Value
(raw 64-byte ``r || s`` only when ``accept_raw_signatures`` is on), ECDSA P-256 over
SHA-256 of ``command[:data_len]`` with the slot's ``%XPMNG`` key. Then it runs
``"AT" + command[:data_len]`` and returns that command's reply unchanged.
"""

from __future__ import annotations

from xsudo.crypto import load_public_key, verify_message
from xsudo.encoding import SignatureFormatError, b64decode_strict, decode_der, decode_raw
from xsudo.errors import BadInputError
from xsudo.sim.cmd_cmng import TYPE_PUBLIC_KEY
from xsudo.sim.codes import Cme
from xsudo.sim.handlers import Form, HandlerTable, ModemView
from xsudo.sim.params import find_unquoted, split_params
from xsudo.sim.reply import ERROR, Reply, cme

MAX_DATA_LEN = 1 << 31


def xsudo(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Parse (rule S19), find the key (S20), decode (S21), verify (S22), run (S23)."""
    if form != "set":
        return ERROR
    separator = find_unquoted(args, ord(";"))
    if separator < 0:
        return modem.param_error()
    params = split_params(args[:separator])
    inner = args[separator + 1 :]
    if params is None or len(params) not in (2, 3) or not params[1].quoted:
        return modem.param_error()
    data_len = params[0].int_in(1, MAX_DATA_LEN)
    slot = params[2].int_in(0, 9) if len(params) == 3 else 0
    if data_len is None or slot is None or data_len > len(inner):
        return modem.param_error()
    key_pem = modem.nvm.credentials.get((slot, TYPE_PUBLIC_KEY))
    if key_pem is None:
        return cme(Cme.NOT_FOUND)
    signed = inner[:data_len]
    if not _verifies(key_pem, params[1].value, signed, modem.options.traits.accept_raw_signatures):
        return cme(Cme.AUTH_FAILED)
    return modem.execute(b"AT" + signed, authenticated=True)


def _verifies(key_pem: bytes, signature_b64: bytes, signed: bytes, accept_raw: bool) -> bool:
    try:
        signature = b64decode_strict(signature_b64.decode("ascii"))
        r, s = _decode_signature(signature, accept_raw)
        key = load_public_key(key_pem)
    except (SignatureFormatError, BadInputError, UnicodeDecodeError):
        return False
    return verify_message(key, signed, r, s)


def _decode_signature(signature: bytes, accept_raw: bool) -> tuple[int, int]:
    try:
        return decode_der(signature)
    except SignatureFormatError:
        if not accept_raw:
            raise
    return decode_raw(signature)


HANDLERS: HandlerTable = {b"%XSUDO": xsudo}
