"""Rule S36: ``AT%CERTEXPIRY=<sec_tag>,<type>`` -> ``%CERTEXPIRY: <serial>,<notBefore>,<notAfter>``.

The stored entry is parsed as the modem would have to: the first ``BEGIN CERTIFICATE``
block of the PEM (later ones, the rest of a chain, are ignored), its Base64 body decoded and
read as an X.509 certificate with ``cryptography``. The serial is printed as the upper-case
hex of its DER INTEGER content octets (so a serial whose top bit is set keeps the leading
``00``, as in the documented example), the times as ``yyyymmddhhmmssZ`` in UTC.
"""

from __future__ import annotations

import datetime

from cryptography import x509

from xsudo.sim.certcheck import first_certificate_der
from xsudo.sim.codes import Cme
from xsudo.sim.handlers import Form, HandlerTable, ModemView
from xsudo.sim.params import split_params
from xsudo.sim.reply import ERROR, Reply, cme, ok

MIN_TAG = 1
MAX_TAG = 2147483647
TYPES = frozenset({0, 1, 10})
"""Root CA certificate, client certificate, Nordic identity root CA."""
TIME_FORMAT = "%Y%m%d%H%M%SZ"


def certexpiry(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S36: parameters (50), the entry (513), its first certificate (527)."""
    if form != "set" or not modem.options.traits.certexpiry:
        return ERROR
    params = split_params(args)
    if params is None or len(params) != 2:
        return modem.param_error()
    tag = params[0].int_in(MIN_TAG, MAX_TAG)
    type_ = params[1].int_in(0, max(TYPES))
    if tag is None or type_ not in TYPES:
        return modem.param_error()
    content = modem.nvm.credentials.get((tag, type_))
    if content is None:
        return cme(Cme.NOT_FOUND)
    answer = expiry_line(content)
    if answer is None:
        return cme(Cme.INVALID_CONTENT)
    return ok(answer)


def expiry_line(content: bytes) -> bytes | None:
    """``%CERTEXPIRY: <serial>,<notBefore>,<notAfter>`` for the first certificate in
    ``content``, or ``None`` when there is no parsable one."""
    der = first_certificate_der(content)
    if der is None:
        return None
    try:
        certificate = x509.load_der_x509_certificate(der)
        serial = certificate.serial_number
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
    except ValueError:
        return None
    fields = (serial_hex(serial), _time(not_before), _time(not_after))
    return b"%CERTEXPIRY: " + ",".join(fields).encode("ascii")


def serial_hex(serial: int) -> str:
    """The serial as the modem prints it: the DER INTEGER content octets (minimal two's
    complement) in upper-case hex, ``0x00AEF87681FA968B61`` -> ``00AEF87681FA968B61``."""
    length = 1
    while True:
        try:
            return serial.to_bytes(length, "big", signed=True).hex().upper()
        except OverflowError:
            length += 1


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime(TIME_FORMAT)


HANDLERS: HandlerTable = {b"%CERTEXPIRY": certexpiry}
