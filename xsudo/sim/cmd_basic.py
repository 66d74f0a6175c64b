"""Rules S5-S10, S25, S27 (``%DEVICEUUID``) and S37: CMEE, CFUN, identity commands,
``%XPOFWARN``, ``%XPRODDONE``."""

from __future__ import annotations

from xsudo.sim.handlers import Form, HandlerTable, ModemView
from xsudo.sim.params import split_params
from xsudo.sim.reply import ERROR, OK, Reply, ok

CFUN_MODES = (0, 1, 2, 4, 20, 21, 30, 31, 40, 41, 44)
_LTE_ON = {1: 1, 2: 2, 21: 1}
_LTE_OFF = {0: 0, 4: 4, 20: 4, 44: 4}
POFWARN_LEVELS = range(30, 34)


def cmee(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S5."""
    accepts_2 = modem.options.effective_cmee2
    if form == "read":
        return ok(b"+CMEE: %d" % modem.volatile.cmee)
    if form == "test":
        return ok(b"+CMEE: (0,1,2)" if accepts_2 else b"+CMEE: (0,1)")
    if form != "set":
        return ERROR
    value = args.strip() or b"0"
    allowed = (b"0", b"1", b"2") if accepts_2 else (b"0", b"1")
    if value not in allowed:
        return ERROR
    modem.volatile.cmee = int(value)
    return OK


def cfun(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rules S6-S7."""
    if form == "read":
        return ok(b"+CFUN: %d" % modem.volatile.cfun)
    if form == "test":
        return ok(b"+CFUN: (" + b",".join(b"%d" % m for m in CFUN_MODES) + b")")
    if form != "set":
        return ERROR
    params = split_params(args)
    mode = params[0].int_in(0, 255) if params and len(params) == 1 else None
    if mode is None or mode not in CFUN_MODES:
        return modem.param_error()
    if mode in _LTE_ON:
        modem.volatile.lte_active = True
        modem.volatile.cfun = _LTE_ON[mode]
    elif mode in _LTE_OFF:
        modem.volatile.lte_active = False
        modem.volatile.cfun = _LTE_OFF[mode]
    return OK


def cgmr(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S8."""
    return ok(modem.options.effective_mfw.encode("ascii")) if form == "exec" else ERROR


def cgmi(modem: ModemView, form: Form, args: bytes) -> Reply:
    return ok(b"Nordic Semiconductor ASA") if form == "exec" else ERROR


def cgmm(modem: ModemView, form: Form, args: bytes) -> Reply:
    return ok(modem.options.profile_info.model.encode("ascii")) if form == "exec" else ERROR


def cgsn(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S9: bare IMEI, ``+CGSN: "<imei>"`` for ``=1``; ERROR without an IMEI."""
    imei = modem.options.imei.encode("ascii")
    if not imei:
        return ERROR
    if form == "exec" or (form == "set" and args.strip() == b"0"):
        return ok(imei)
    if form == "set" and args.strip() == b"1":
        return ok(b'+CGSN: "' + imei + b'"')
    return ERROR if form != "set" else modem.param_error()


def xmodemuuid(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S10."""
    if form != "exec":
        return ERROR
    return ok(b"%XMODEMUUID: " + str(modem.modem_uuid).encode("ascii"))


def deviceuuid(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S27: ``%DEVICEUUID`` exists on nRF91x1 only."""
    if form != "exec" or modem.options.profile_info.family != "nrf91x1":
        return ERROR
    return ok(b"%DEVICEUUID: " + str(modem.device_uuid).encode("ascii"))


def hwversion(modem: ModemView, form: Form, args: bytes) -> Reply:
    if form != "exec":
        return ERROR
    return ok(b"%HWVERSION: " + modem.options.profile_info.hwversion.encode("ascii"))


def xpofwarn(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S25: ``=1,<30..33>`` arms (and clears an active warning), ``=0`` disarms."""
    if form != "set":
        return ERROR
    params = split_params(args)
    if not params:
        return modem.param_error()
    state = params[0].int_in(0, 1)
    if state == 0 and len(params) <= 2:
        return OK
    if state == 1 and len(params) == 2:
        level = params[1].int_in(0, 255)
        if level in POFWARN_LEVELS:
            modem.volatile.pofwarn_active = False
            return OK
    return modem.param_error()


def xproddone(modem: ModemView, form: Form, args: bytes) -> Reply:
    """Rule S37: ``AT%XPRODDONE`` sets the non-volatile "production done" flag for good; a
    second run answers ``OK`` again. The test form ``AT%XPRODDONE=?`` answers ``OK`` and
    changes nothing (how ``xsudo device probe`` asks). Other forms, and firmware without
    it, answer ``ERROR``."""
    if not modem.options.traits.xproddone:
        return ERROR
    if form == "test":
        return OK
    if form != "exec":
        return ERROR
    if not modem.nvm.production_done:
        modem.nvm.production_done = True
        modem.nvm_changed()
    return OK


HANDLERS: HandlerTable = {
    b"+CMEE": cmee,
    b"+CFUN": cfun,
    b"+CGMR": cgmr,
    b"+CGMI": cgmi,
    b"+CGMM": cgmm,
    b"+CGSN": cgsn,
    b"%XMODEMUUID": xmodemuuid,
    b"%DEVICEUUID": deviceuuid,
    b"%HWVERSION": hwversion,
    b"%XPOFWARN": xpofwarn,
    b"%XPRODDONE": xproddone,
}
