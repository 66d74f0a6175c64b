"""Rules S26-S27a: ``%KEYGEN``, ``%ATTESTTOKEN`` and ``%CLAIMTOKEN``.

Generated keys are stored as PKCS#8 PEM in the ``%CMNG`` entry ``(tag, key_type)``, so
the listed SHA is SHA-256 of that PEM and the key survives in the state file. The replies
are shaped like real modems' (:mod:`xsudo.sim.tokens`); the ``csr_null_param`` option gives
CSRs the NULL-parameter signatureAlgorithm of older firmware.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.crypto import generate_private_key, load_private_key
from xsudo.errors import BadInputError
from xsudo.sim import tokens
from xsudo.sim.cmd_cmng import MAX_TAG, MAX_USER_TAG
from xsudo.sim.codes import Cme
from xsudo.sim.handlers import Form, HandlerTable, ModemView
from xsudo.sim.params import Param, split_params
from xsudo.sim.reply import ERROR, Reply, cme, ok, power_gate

KEY_TYPES = (2, 8)
TYPE_ENDORSEMENT = 8
TYPE_OWNERSHIP = 9
NONCE_BYTES = 16


def keygen(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S26: ``AT%KEYGEN=<tag>,<2|8>,<0|1>[,"<attributes>"[,"<key_usage>"]]``."""
    if form != "set":
        return ERROR
    params = split_params(args)
    if params is None or not 3 <= len(params) <= 5 or not all(p.quoted for p in params[3:]):
        return modem.param_error()
    tag = params[0].int_in(0, MAX_TAG)
    key_type = params[1].int_in(0, 255)
    output_format = params[2].int_in(0, 1)
    attributes = params[3].value.decode("latin-1") if len(params) > 3 else ""
    subject = tokens.parse_attributes(attributes, str(modem.device_uuid))
    key_usage = params[4].value.decode("latin-1") if len(params) > 4 else None
    usage_ok = key_usage is None or tokens.valid_key_usage(key_usage)
    if tag is None or key_type not in KEY_TYPES or output_format is None:
        return modem.param_error()
    if subject is None or not usage_ok:
        return modem.param_error()
    if (refused := power_gate(modem.volatile)) is not None:
        return refused
    if tag > MAX_USER_TAG:
        return cme(Cme.NO_ACCESS)
    key = _key_for(modem, tag, key_type)
    text = tokens.keygen_reply(
        key,
        output_format,
        subject,
        tag,
        modem.device_uuid,
        modem.identity_key,
        modem.random_bytes(NONCE_BYTES),
        key_usage=key_usage or tokens.DEFAULT_KEY_USAGE,
        null_param=_csr_null_param(modem),
    )
    return ok(b'%KEYGEN: "' + text.encode("ascii") + b'"')


def _key_for(modem: ModemView, tag: int, key_type: int) -> ec.EllipticCurvePrivateKey:
    """A new key, or (type 8) the existing endorsement key in that tag."""
    stored = modem.nvm.credentials.get((tag, key_type))
    if key_type == TYPE_ENDORSEMENT and stored is not None:
        try:
            return load_private_key(stored)
        except BadInputError:
            pass
    key = generate_private_key()
    modem.nvm.credentials[(tag, key_type)] = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    modem.nvm_changed()
    return key


def _challenge(param: Param) -> bytes | None:
    """A quoted 32-hex-digit challenge as 16 bytes, else ``None``."""
    text = param.value
    if not param.quoted or len(text) != 32:
        return None
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None


def attesttoken(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S27: ``AT%ATTESTTOKEN`` or ``AT%ATTESTTOKEN="<32 hex>"``."""
    if form == "exec":
        nonce = modem.random_bytes(NONCE_BYTES)
    elif form == "set":
        params = split_params(args)
        challenge = _challenge(params[0]) if params and len(params) == 1 else None
        if challenge is None:
            return modem.param_error()
        nonce = challenge
    else:
        return ERROR
    text = tokens.attestation_reply(
        modem.device_uuid,
        modem.options.profile_info.device_type,
        modem.modem_uuid,
        nonce,
        modem.identity_key,
    )
    return ok(b'%ATTESTTOKEN: "' + text.encode("ascii") + b'"')


def claimtoken(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S27a: ``AT%CLAIMTOKEN=<tag>[,"<32 hex>"]``; 529 without an ownership key."""
    if form != "set":
        return ERROR
    params = split_params(args)
    if params is None or len(params) not in (1, 2):
        return modem.param_error()
    tag = params[0].int_in(0, MAX_USER_TAG)
    nonce = _challenge(params[1]) if len(params) == 2 else modem.random_bytes(NONCE_BYTES)
    if tag is None or nonce is None:
        return modem.param_error()
    ownership_key = modem.nvm.credentials.get((tag, TYPE_OWNERSHIP))
    if ownership_key is None:
        return cme(Cme.TOKEN_FAILED)
    text = tokens.claim_reply(modem.device_uuid, ownership_key, nonce, modem.identity_key)
    return ok(b'%CLAIMTOKEN: "' + text.encode("ascii") + b'"')


HANDLERS: HandlerTable = {
    b"%KEYGEN": keygen,
    b"%ATTESTTOKEN": attesttoken,
    b"%CLAIMTOKEN": claimtoken,
}


def _csr_null_param(modem: ModemView) -> bool:
    """The CSR quirk: the option when set, else the profile's default."""
    return modem.options.traits.csr_null_param
