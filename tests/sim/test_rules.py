"""One table per simulator rule (docs/design/simulator.md, rules S1-S18, S24-S27a).

Each row: options, setup commands, the command, and the exact bytes the modem must answer.
SHAs are computed here with hashlib over the bytes between the quotes, and the Amazon Root
CA row is checked against the digest a real nRF9160 printed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from xsudo.sim import POFWARN_URC, Modem, SimOptions

from .conftest import amazon_root_ca, load_vectors

AMAZON = amazon_root_ca()["content"].encode("ascii")
AMAZON_OBSERVED_SHA = amazon_root_ca()["sha256_upper_hex"].encode("ascii")
AMAZON_CRLF = AMAZON.replace(b"\n", b"\r\n")
AMAZON_CR = AMAZON.replace(b"\n", b"\r")
AMAZON_LITERAL = AMAZON.replace(b"\n", b"\\n")
AMAZON_SPACES = AMAZON.replace(b"\n", b" ")
AMAZON_NO_FINAL_LF = AMAZON.rstrip(b"\n")
KEY_A = load_vectors("openssl-recipe.json")["cases"][0]["public_key_pem"].encode("ascii")
RSA_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAM0MKvtb6kq8PWN0YhLCSzsEA9mR3rpD
t1o8t3NujZj8yJ9iv2ti5hbA5LRQcpm7dCKLkeTJ5I4IKnhNbwtpuRUCAwEAAQ==
-----END PUBLIC KEY-----
"""
OK = b"OK\r\n"
ERROR = b"ERROR\r\n"
DECRYPT_FIRST = 2147483648
DECRYPT_LAST = 2147483667
CMEE1 = b"AT+CMEE=1"
OFFLINE = b"AT+CFUN=4"


def sha(content: bytes) -> bytes:
    return hashlib.sha256(content).hexdigest().upper().encode("ascii")


def cme(code: int) -> bytes:
    return b"+CME ERROR: %d\r\n" % code


def listed(tag: int, type_: int, content: bytes) -> bytes:
    return b'%%CMNG: %d,%d,"%s"\r\n' % (tag, type_, sha(content))


def write(tag: int, type_: int, content: bytes) -> bytes:
    return b'AT%%CMNG=0,%d,%d,"%s"' % (tag, type_, content)


@dataclass(frozen=True)
class Row:
    id: str
    command: bytes
    expected: bytes
    setup: tuple[bytes, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


def check(row: Row) -> None:
    modem = Modem(SimOptions(**row.options))
    for command in row.setup:
        modem.handle(command)
    assert modem.handle(row.command) == row.expected


def params(rows: list[Row]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("row", rows, ids=[r.id for r in rows])


# -- rules S1-S4: framing -------------------------------------------------------------------------

RULES_1_TO_4 = [
    Row("stray-leading-lf", b"\nAT+CMEE?", b"+CMEE: 0\r\nOK\r\n"),
    Row("leading-spaces-and-crlf", b" \r\n AT", OK),
    Row("trailing-crlf", b"AT+CMEE?\r\n", b"+CMEE: 0\r\nOK\r\n"),
    Row("trailing-cr-crlf-mode", b"AT+CGSN\r", b"352656100367872\r\nOK\r\n"),
    Row("lower-case-at", b"at+cgmr", b"mfw_nrf91x1_2.0.2\r\nOK\r\n"),
    Row("mixed-case-at", b"aT%cmng=1,7", OK),
    Row("not-at", b"XAT+CGMR", ERROR),
    Row("not-at-cme-on", b"+CGMR", ERROR, setup=(CMEE1,)),
    Row("unknown-command", b"AT+NOPE", ERROR, setup=(CMEE1,)),
    Row("shell-style-at", b"at AT+CGSN", ERROR),
    Row("empty-is-silent", b"\r\n", b""),
    Row("bare-at", b"AT", OK),
    Row("quoted-crlf-is-data", write(7, 4, b"a\r\nb"), OK),
    Row(
        "quoted-crlf-listed",
        b"AT%CMNG=1,7",
        listed(7, 4, b"a\r\nb") + OK,
        setup=(write(7, 4, b"a\r\nb"),),
    ),
    Row("4095-chars-ok", write(1, 4, b"x" * (4095 - 16)), OK),
    Row("4096-chars-error", write(1, 4, b"x" * (4096 - 16)), ERROR, setup=(CMEE1,)),
    Row("max-line-configurable", b"AT+CGMR", ERROR, options={"max_line": 6}),
    Row("response-eol-lf", b"AT+CMEE?", b"+CMEE: 0\nOK\n", options={"response_eol": "lf"}),
]


@params(RULES_1_TO_4)
def test_rules_1_to_4_framing(row: Row) -> None:
    check(row)


def test_rule_4_length_row_is_exactly_at_the_limit() -> None:
    assert len(write(1, 4, b"x" * (4095 - 16))) == 4095


# -- rule S5: CMEE --------------------------------------------------------------------------------

RULE_5 = [
    Row("read-boot", b"AT+CMEE?", b"+CMEE: 0\r\nOK\r\n"),
    Row("set-1", CMEE1, OK),
    Row("read-after-set", b"AT+CMEE?", b"+CMEE: 1\r\nOK\r\n", setup=(CMEE1,)),
    Row("set-0", b"AT+CMEE=0", OK, setup=(CMEE1,)),
    Row("2-refused", b"AT+CMEE=2", ERROR),
    Row("2-refused-nrf9160", b"AT+CMEE=2", ERROR, options={"profile": "nrf9160-1.3"}),
    Row("2-accepted-when-configured", b"AT+CMEE=2", OK, options={"cmee2": True}),
    Row(
        "2-gives-numeric",
        b"AT%CMNG=2,9,0",
        cme(513),
        setup=(b"AT+CMEE=2",),
        options={"cmee2": True},
    ),
    Row("test", b"AT+CMEE=?", b"+CMEE: (0,1)\r\nOK\r\n"),
    Row("err-plain-when-0", b"AT%CMNG=2,9,0", ERROR),
    Row("err-numeric-when-1", b"AT%CMNG=2,9,0", cme(513), setup=(CMEE1,)),
]


@params(RULE_5)
def test_rule_5_cmee(row: Row) -> None:
    check(row)


# -- rules S6-S10: CFUN and identity -------------------------------------------------------------

RULES_6_TO_10 = [
    *[Row(f"cfun-{m}-ok", b"AT+CFUN=%d" % m, OK) for m in (0, 1, 2, 4, 20, 21, 30, 31, 40, 41, 44)],
    Row("cfun-3-err", b"AT+CFUN=3", cme(50), setup=(CMEE1,)),
    Row("cfun-3-plain", b"AT+CFUN=3", ERROR),
    Row("cfun-text-err", b"AT+CFUN=x", cme(50), setup=(CMEE1,)),
    Row("cfun-boot", b"AT+CFUN?", b"+CFUN: 0\r\nOK\r\n"),
    Row("cfun-1", b"AT+CFUN?", b"+CFUN: 1\r\nOK\r\n", setup=(b"AT+CFUN=1",)),
    Row("cfun-2", b"AT+CFUN?", b"+CFUN: 2\r\nOK\r\n", setup=(b"AT+CFUN=2",)),
    Row("cfun-21", b"AT+CFUN?", b"+CFUN: 1\r\nOK\r\n", setup=(b"AT+CFUN=21",)),
    Row("cfun-4", b"AT+CFUN?", b"+CFUN: 4\r\nOK\r\n", setup=(b"AT+CFUN=1", OFFLINE)),
    Row("cfun-44", b"AT+CFUN?", b"+CFUN: 4\r\nOK\r\n", setup=(b"AT+CFUN=44",)),
    Row(
        "cfun-30-unchanged", b"AT+CFUN?", b"+CFUN: 1\r\nOK\r\n", setup=(b"AT+CFUN=1", b"AT+CFUN=30")
    ),
    Row("lte-1-blocks-write", write(1, 4, b"x"), cme(518), setup=(CMEE1, b"AT+CFUN=1")),
    Row("lte-2-blocks-write", write(1, 4, b"x"), cme(518), setup=(CMEE1, b"AT+CFUN=2")),
    Row("lte-21-blocks-write", write(1, 4, b"x"), cme(518), setup=(CMEE1, b"AT+CFUN=21")),
    Row(
        "cfun-31-keeps-lte", write(1, 4, b"x"), cme(518), setup=(CMEE1, b"AT+CFUN=1", b"AT+CFUN=31")
    ),
    Row("cfun-20-frees-write", write(1, 4, b"x"), OK, setup=(b"AT+CFUN=1", b"AT+CFUN=20")),
    Row("cfun-0-frees-write", write(1, 4, b"x"), OK, setup=(b"AT+CFUN=1", b"AT+CFUN=0")),
    Row("cfun-test", b"AT+CFUN=?", b"+CFUN: (0,1,2,4,20,21,30,31,40,41,44)\r\nOK\r\n"),
    Row(
        "cgmr-9160", b"AT+CGMR", b"mfw_nrf9160_1.3.5\r\nOK\r\n", options={"profile": "nrf9160-1.3"}
    ),
    Row("cgmr-91x1", b"AT+CGMR", b"mfw_nrf91x1_2.0.2\r\nOK\r\n"),
    Row(
        "cgmr-ntn",
        b"AT+CGMR",
        b"mfw_nrf9151-ntn_1.0.0-1.alpha\r\nOK\r\n",
        options={"profile": "nrf9151-ntn"},
    ),
    Row(
        "cgmr-override",
        b"AT+CGMR",
        b"mfw_nrf91x1_2.0.4\r\nOK\r\n",
        options={"mfw": "mfw_nrf91x1_2.0.4"},
    ),
    Row("cgsn", b"AT+CGSN", b"352656100367872\r\nOK\r\n"),
    Row("cgsn-1", b"AT+CGSN=1", b'+CGSN: "352656100367872"\r\nOK\r\n'),
    Row(
        "cgsn-imei-option",
        b"AT+CGSN=1",
        b'+CGSN: "350000000000017"\r\nOK\r\n',
        options={"imei": "350000000000017"},
    ),
    Row("cgsn-no-imei", b"AT+CGSN", ERROR, setup=(CMEE1,), options={"imei": ""}),
    Row("cgsn-1-no-imei", b"AT+CGSN=1", ERROR, setup=(CMEE1,), options={"imei": ""}),
    Row("hwversion", b"AT%HWVERSION", b"%HWVERSION: nRF9161 LACA A0A\r\nOK\r\n"),
    Row("deviceuuid-absent-on-9160", b"AT%DEVICEUUID", ERROR, options={"profile": "nrf9160-1.3"}),
]


@params(RULES_6_TO_10)
def test_rules_6_to_10_cfun_and_identity(row: Row) -> None:
    check(row)


UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.mark.parametrize(
    ("profile", "command", "prefix"),
    [
        ("nrf9160-1.3", b"AT%XMODEMUUID", b"%XMODEMUUID: "),
        ("nrf91x1-2.0", b"AT%XMODEMUUID", b"%XMODEMUUID: "),
        ("nrf91x1-2.0", b"AT%DEVICEUUID", b"%DEVICEUUID: "),
        ("nrf9151-ntn", b"AT%DEVICEUUID", b"%DEVICEUUID: "),
    ],
)
def test_rules_10_and_27_uuid_shape(profile: str, command: bytes, prefix: bytes) -> None:
    answer = Modem(SimOptions(profile=profile)).handle(command)
    assert re.fullmatch(re.escape(prefix) + UUID + rb"\r\nOK\r\n", answer)


# -- rule S11: %CMNG parameters ------------------------------------------------------------------

RULE_11 = [
    Row("op-4", b"AT%CMNG=4,1,0", cme(50), setup=(CMEE1,)),
    Row("op-text", b"AT%CMNG=a", cme(50), setup=(CMEE1,)),
    Row("op-missing", b"AT%CMNG=", cme(50), setup=(CMEE1,)),
    Row("tag-text", b'AT%CMNG=0,x,0,"a"', cme(50), setup=(CMEE1,)),
    Row("tag-too-big", b"AT%CMNG=2,4294967296,0", cme(50), setup=(CMEE1,)),
    Row("type-14", b"AT%CMNG=2,1,14", cme(50), setup=(CMEE1,)),
    Row("write-no-content", b"AT%CMNG=0,1,0", cme(50), setup=(CMEE1,)),
    Row("write-no-type", b"AT%CMNG=0,1", cme(50), setup=(CMEE1,)),
    Row("write-unquoted-content", b"AT%CMNG=0,1,4,abc", cme(50), setup=(CMEE1,)),
    Row("write-quoted-tag", b'AT%CMNG=0,"1",4,"abc"', cme(50), setup=(CMEE1,)),
    Row("write-unbalanced-quote", b'AT%CMNG=0,1,4,"abc', cme(50), setup=(CMEE1,)),
    Row("write-text-after-quote", b'AT%CMNG=0,1,4,"a"b', cme(50), setup=(CMEE1,)),
    Row(
        "write-passwd-too-long",
        write(1, 2, b"k") + b',"' + b"p" * 33 + b'"',
        cme(50),
        setup=(CMEE1,),
    ),
    Row("write-passwd-ok", write(1, 2, b"k") + b',"' + b"p" * 32 + b'"', OK),
    Row("read-no-type", b"AT%CMNG=2,1", cme(50), setup=(CMEE1,)),
    Row("delete-no-type", b"AT%CMNG=3,1", cme(50), setup=(CMEE1,)),
    Row("list-type-text", b"AT%CMNG=1,1,x", cme(50), setup=(CMEE1,)),
    Row("list-too-many", b"AT%CMNG=1,1,0,0", cme(50), setup=(CMEE1,)),
    Row(
        "plain-param-errors",
        b"AT%CMNG=4",
        ERROR,
        setup=(CMEE1,),
        options={"plain_param_errors": True},
    ),
]


@params(RULE_11)
def test_rule_11_cmng_parameters(row: Row) -> None:
    check(row)


# -- rule S12: %CMNG write ----------------------------------------------------------------------

POFWARN = b"AT%XPOFWARN=1,30"

RULE_12 = [
    Row("pofwarn-first", write(1, 4, b""), cme(528), setup=(CMEE1, b"AT+CFUN=1", b"#pofwarn")),
    Row("lte-before-empty", write(1, 4, b""), cme(518), setup=(CMEE1, b"AT+CFUN=1")),
    Row("empty-content", write(1, 4, b""), cme(50), setup=(CMEE1,)),
    Row("empty-before-reserved-tag", write(4294967295, 4, b""), cme(50), setup=(CMEE1,)),
    Row("reserved-tag", write(2147483668, 4, b"x"), cme(514), setup=(CMEE1,)),
    Row("reserved-tag-top", write(4294967295, 4, b"x"), cme(514), setup=(CMEE1,)),
    Row("highest-user-tag", write(2147483647, 4, b"x"), OK),
    Row("decrypt-tag-first-91x1", write(DECRYPT_FIRST, 4, b"x"), OK),
    Row("decrypt-tag-last-91x1", write(DECRYPT_LAST, 4, b"x"), OK),
    Row("decrypt-tag-ca-91x1", write(DECRYPT_FIRST, 0, AMAZON), OK),
    Row("decrypt-tag-ntn", write(DECRYPT_LAST, 4, b"x"), OK, options={"profile": "nrf9151-ntn"}),
    Row("decrypt-tag-9151", write(DECRYPT_LAST, 4, b"x"), OK, options={"profile": "nrf9151-2.0"}),
    Row(
        "decrypt-tag-9160",
        write(DECRYPT_FIRST, 4, b"x"),
        cme(514),
        setup=(CMEE1,),
        options={"profile": "nrf9160-1.3"},
    ),
    Row(
        "decrypt-tag-last-9160",
        write(DECRYPT_LAST, 4, b"x"),
        cme(514),
        setup=(CMEE1,),
        options={"profile": "nrf9160-1.3"},
    ),
    Row(
        "decrypt-tags-turned-off",
        write(DECRYPT_FIRST, 4, b"x"),
        cme(514),
        setup=(CMEE1,),
        options={"tls_decrypt_tags": False},
    ),
    Row(
        "decrypt-tags-turned-on-9160",
        write(DECRYPT_FIRST, 4, b"x"),
        OK,
        options={"profile": "nrf9160-1.3", "tls_decrypt_tags": True},
    ),
    Row("decrypt-tag-reserved-type", write(DECRYPT_FIRST, 6, b"x"), cme(514), setup=(CMEE1,)),
    Row(
        "decrypt-tag-checks-content",
        write(DECRYPT_FIRST, 0, AMAZON_LITERAL),
        cme(527),
        setup=(CMEE1,),
    ),
    Row(
        "decrypt-tag-lte-first",
        write(DECRYPT_FIRST, 4, b"x"),
        cme(518),
        setup=(CMEE1, b"AT+CFUN=1"),
    ),
    *[
        Row(f"reserved-type-{t}", write(1, t, b"x"), cme(514), setup=(CMEE1,))
        for t in (6, 7, 10, 11)
    ],
    Row("reserved-type-before-527", write(1, 6, b"x"), cme(514), setup=(CMEE1,)),
    Row("lf-pem-91x1", write(1, 0, AMAZON), OK),
    Row("lf-pem-client-cert-91x1", write(1, 1, AMAZON), OK),
    Row("crlf-pem-91x1", write(1, 0, AMAZON_CRLF), OK),
    Row("no-final-lf-91x1", write(1, 0, AMAZON_NO_FINAL_LF), OK),
    Row("chain-91x1", write(1, 0, AMAZON + AMAZON), OK),
    Row("literal-backslash-n-91x1", write(1, 0, AMAZON_LITERAL), cme(527), setup=(CMEE1,)),
    Row("literal-backslash-n-type-1", write(1, 1, AMAZON_LITERAL), cme(527), setup=(CMEE1,)),
    Row(
        "literal-backslash-n-ntn",
        write(1, 0, AMAZON_LITERAL),
        cme(527),
        setup=(CMEE1,),
        options={"profile": "nrf9151-ntn"},
    ),
    Row(
        "literal-backslash-n-9160",
        write(1, 0, AMAZON_LITERAL),
        OK,
        options={"profile": "nrf9160-1.3"},
    ),
    Row(
        "literal-backslash-n-mfw-2.0.0",
        write(1, 0, AMAZON_LITERAL),
        OK,
        options={"mfw": "mfw_nrf91x1_2.0.0"},
    ),
    Row("cr-only-91x1", write(1, 0, AMAZON_CR), cme(527), setup=(CMEE1,)),
    Row("joined-by-spaces-91x1", write(1, 0, AMAZON_SPACES), cme(527), setup=(CMEE1,)),
    Row("honkhonk-91x1", write(1, 0, b"HONKHONK"), cme(527), setup=(CMEE1,)),
    Row("honkhonk-9160", write(1, 0, b"HONKHONK"), OK, options={"profile": "nrf9160-1.3"}),
    Row(
        "bad-base64-91x1",
        write(1, 0, b"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n"),
        cme(527),
        setup=(CMEE1,),
    ),
    Row(
        "missing-end-91x1",
        write(1, 0, AMAZON + b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
        cme(527),
        setup=(CMEE1,),
    ),
    Row("type-2-not-validated", write(1, 2, AMAZON_LITERAL), OK),
    Row(
        "validation-forced-off",
        write(1, 0, AMAZON_LITERAL),
        OK,
        options={"validate_content": False},
    ),
    Row("psk-hex", write(1, 3, b"0123456789abcdef"), OK),
    Row("psk-odd", write(1, 3, b"012"), cme(50), setup=(CMEE1,)),
    Row("psk-not-hex", write(1, 3, b"0g"), cme(50), setup=(CMEE1,)),
    Row("overwrite-ok", write(1, 4, b"new"), OK, setup=(write(1, 4, b"old"),)),
    Row(
        "write-once-type",
        write(1, 4, b"new"),
        cme(519),
        setup=(CMEE1, write(1, 4, b"old")),
        options={"write_once_types": frozenset({4})},
    ),
    Row(
        "xpmng-slot-not-overwritable",
        write(0, 5, KEY_A),
        cme(519),
        setup=(CMEE1, b'AT%XPMNG=0,"' + KEY_A + b'"'),
    ),
    Row(
        "capacity-full",
        write(2, 4, b"12345"),
        cme(515),
        setup=(CMEE1, write(1, 4, b"1234567")),
        options={"capacity_bytes": 10},
    ),
    Row(
        "capacity-replace-fits",
        write(1, 4, b"1234567890"),
        OK,
        setup=(write(1, 4, b"1234567"),),
        options={"capacity_bytes": 10},
    ),
]


def check_with_hooks(row: Row) -> None:
    modem = Modem(SimOptions(**row.options))
    for command in row.setup:
        if command == b"#pofwarn":
            assert modem.trigger_pofwarn() == POFWARN_URC + b"\r\n"
        else:
            modem.handle(command)
    assert modem.handle(row.command) == row.expected


@params(RULE_12)
def test_rule_12_cmng_write(row: Row) -> None:
    check_with_hooks(row)


@pytest.mark.parametrize(
    "content",
    [AMAZON, AMAZON_CRLF, AMAZON_NO_FINAL_LF, AMAZON_LITERAL, b"a\r\n'x,;", b"\x00\xff"],
    ids=["lf", "crlf", "no-final-lf", "literal-backslash-n", "odd", "binary"],
)
def test_rule_12d_stores_exact_bytes(content: bytes) -> None:
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    assert modem.handle(write(42, 0, content)) == OK
    assert modem.nvm.credentials[(42, 0)] == content
    assert modem.handle(b"AT%CMNG=2,42,0") == (
        b'%CMNG: 42,0,"' + sha(content) + b'","' + content + b'"\r\nOK\r\n'
    )


def test_rule_12_amazon_root_ca_sha_matches_real_modem() -> None:
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    assert modem.handle(write(16842753, 0, AMAZON)) == OK
    line = modem.handle(b"AT%CMNG=1,16842753,0")
    assert line == b'%CMNG: 16842753,0,"' + AMAZON_OBSERVED_SHA + b'"\r\nOK\r\n'
    assert sha(AMAZON) == AMAZON_OBSERVED_SHA
    observed = amazon_root_ca()["observed_list_line"].encode("ascii")
    assert line.split(b"\r\n")[0] == observed


def test_rule_30_literal_backslash_n_is_stored_verbatim_on_9160() -> None:
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    assert modem.handle(write(1, 0, AMAZON_LITERAL)) == OK
    assert modem.nvm.credentials[(1, 0)] == AMAZON_LITERAL
    assert b"\\n" in modem.nvm.credentials[(1, 0)]
    assert modem.handle(b"AT%CMNG=1,1,0") == listed(1, 0, AMAZON_LITERAL) + OK
    assert sha(AMAZON_LITERAL) != AMAZON_OBSERVED_SHA


# -- rules S13-S16: list, read, delete ------------------------------------------------------------

DECRYPT_ID = write(DECRYPT_FIRST, 4, b"id")

RULES_13_TO_16 = [
    Row("list-empty-tag", b"AT%CMNG=1,5", OK),
    Row("list-missing-pair", b"AT%CMNG=1,5,0", OK, setup=(CMEE1, write(5, 4, b"x"))),
    Row(
        "list-tag-sorted-by-type",
        b"AT%CMNG=1,5",
        listed(5, 3, b"00") + listed(5, 4, b"id") + OK,
        setup=(write(5, 4, b"id"), write(5, 3, b"00"), write(6, 4, b"other")),
    ),
    Row(
        "list-pair",
        b"AT%CMNG=1,5,4",
        listed(5, 4, b"id") + OK,
        setup=(write(5, 4, b"id"), write(5, 3, b"00")),
    ),
    Row(
        "list-all-without-seeds",
        b"AT%CMNG=1",
        listed(2, 4, b"b") + listed(10, 4, b"a") + OK,
        setup=(write(10, 4, b"a"), write(2, 4, b"b")),
        options={"seed_reserved": False},
    ),
    Row(
        "list-online-ok",
        b"AT%CMNG=1,5",
        listed(5, 4, b"id") + OK,
        setup=(write(5, 4, b"id"), b"AT+CFUN=1"),
    ),
    Row("read-missing", b"AT%CMNG=2,5,0", cme(513), setup=(CMEE1,)),
    *[
        Row(
            f"read-type-{t}-refused",
            b"AT%%CMNG=2,5,%d" % t,
            cme(514),
            setup=(CMEE1, write(5, t, AMAZON if t == 1 else b"00")),
        )
        for t in (1, 2, 3)
    ],
    Row("read-reserved-identity", b"AT%CMNG=2,4294967294,6", cme(514), setup=(CMEE1,)),
    Row(
        "read-type-4",
        b"AT%CMNG=2,5,4",
        b'%CMNG: 5,4,"' + sha(b"id") + b'","id"\r\nOK\r\n',
        setup=(write(5, 4, b"id"),),
    ),
    Row(
        "read-crlf-verbatim",
        b"AT%CMNG=2,5,0",
        b'%CMNG: 5,0,"' + sha(AMAZON_CRLF) + b'","' + AMAZON_CRLF + b'"\r\nOK\r\n',
        setup=(write(5, 0, AMAZON_CRLF),),
    ),
    Row(
        "read-set-configurable",
        b"AT%CMNG=2,5,1",
        b'%CMNG: 5,1,"' + sha(AMAZON) + b'","' + AMAZON + b'"\r\nOK\r\n',
        setup=(write(5, 1, AMAZON),),
        options={"non_readable_types": frozenset({2})},
    ),
    Row(
        "read-online-ok",
        b"AT%CMNG=2,5,4",
        b'%CMNG: 5,4,"' + sha(b"id") + b'","id"\r\nOK\r\n',
        setup=(write(5, 4, b"id"), b"AT+CFUN=1"),
    ),
    Row("read-pofwarn", b"AT%CMNG=2,5,4", cme(528), setup=(CMEE1, write(5, 4, b"id"), b"#pofwarn")),
    Row(
        "read-pofwarn-allowed",
        b"AT%CMNG=2,5,4",
        b'%CMNG: 5,4,"' + sha(b"id") + b'","id"\r\nOK\r\n',
        setup=(write(5, 4, b"id"), b"#pofwarn"),
        options={"pofwarn_blocks_read": False},
    ),
    Row("delete-ok", b"AT%CMNG=3,5,4", OK, setup=(write(5, 4, b"id"),)),
    Row("delete-then-list", b"AT%CMNG=1,5", OK, setup=(write(5, 4, b"id"), b"AT%CMNG=3,5,4")),
    Row("delete-missing", b"AT%CMNG=3,5,4", cme(513), setup=(CMEE1,)),
    Row(
        "delete-online", b"AT%CMNG=3,5,4", cme(518), setup=(CMEE1, write(5, 4, b"id"), b"AT+CFUN=1")
    ),
    Row(
        "delete-pofwarn", b"AT%CMNG=3,5,4", cme(528), setup=(CMEE1, write(5, 4, b"id"), b"#pofwarn")
    ),
    Row("delete-reserved", b"AT%CMNG=3,4294967294,6", cme(514), setup=(CMEE1,)),
    Row(
        "list-decrypt-tag",
        b"AT%CMNG=1,2147483648",
        listed(DECRYPT_FIRST, 4, b"id") + OK,
        setup=(DECRYPT_ID,),
    ),
    Row(
        "read-decrypt-tag",
        b"AT%CMNG=2,2147483648,4",
        b'%CMNG: 2147483648,4,"' + sha(b"id") + b'","id"\r\nOK\r\n',
        setup=(DECRYPT_ID,),
    ),
    Row("delete-decrypt-tag", b"AT%CMNG=3,2147483648,4", OK, setup=(DECRYPT_ID,)),
    Row(
        "delete-decrypt-tag-then-list",
        b"AT%CMNG=1,2147483648",
        OK,
        setup=(DECRYPT_ID, b"AT%CMNG=3,2147483648,4"),
    ),
    Row("delete-decrypt-tag-missing", b"AT%CMNG=3,2147483667,4", cme(513), setup=(CMEE1,)),
    Row(
        "delete-decrypt-tag-9160",
        b"AT%CMNG=3,2147483648,4",
        cme(514),
        setup=(CMEE1,),
        options={"profile": "nrf9160-1.3"},
    ),
    Row(
        "read-decrypt-tag-9160",
        b"AT%CMNG=2,2147483648,4",
        cme(513),
        setup=(CMEE1,),
        options={"profile": "nrf9160-1.3"},
    ),
    Row("delete-above-decrypt-range", b"AT%CMNG=3,2147483668,4", cme(514), setup=(CMEE1,)),
    Row("delete-reserved-missing", b"AT%CMNG=3,4294967000,0", cme(514), setup=(CMEE1,)),
    Row(
        "delete-xpmng-frees-slot",
        b'AT%XPMNG=0,"' + KEY_A + b'"',
        OK,
        setup=(b'AT%XPMNG=0,"' + KEY_A + b'"', b"AT%CMNG=3,0,5"),
    ),
    Row(
        "delete-xpmng-key-read",
        b"AT%XPMNG=2",
        cme(513),
        setup=(CMEE1, b'AT%XPMNG=0,"' + KEY_A + b'"', b"AT%CMNG=3,0,5"),
    ),
    Row("cmng-read-form", b"AT%CMNG?", ERROR, setup=(CMEE1,)),
    Row("cmng-test-form", b"AT%CMNG=?", ERROR, setup=(CMEE1,)),
    Row("cmng-exec-form", b"AT%CMNG", ERROR, setup=(CMEE1,)),
]


@params(RULES_13_TO_16)
def test_rules_13_to_16_list_read_delete(row: Row) -> None:
    check_with_hooks(row)


def test_rule_13_reserved_entries_are_listed_and_sorted() -> None:
    modem = Modem()
    modem.handle(write(16842753, 0, AMAZON))
    lines = modem.handle(b"AT%CMNG=1").split(b"\r\n")
    assert lines[0] == b'%CMNG: 16842753,0,"' + AMAZON_OBSERVED_SHA + b'"'
    assert [line.split(b'"')[0] for line in lines[1:4]] == [
        b"%CMNG: 4294967292,11,",
        b"%CMNG: 4294967293,10,",
        b"%CMNG: 4294967294,6,",
    ]
    assert lines[4:] == [b"OK", b""]
    for line, key in zip(lines[1:4], sorted(modem.nvm.credentials)[1:], strict=True):
        assert line.split(b'"')[1] == sha(modem.nvm.credentials[key])
    identity_pem = modem.nvm.credentials[(4294967294, 6)]
    assert identity_pem == modem.identity_public_pem()


# -- rules S17-S18: %XPMNG -------------------------------------------------------------------


def xpmng(pem: bytes, slot: int | None = None) -> bytes:
    tail = b"" if slot is None else b",%d" % slot
    return b'AT%XPMNG=0,"' + pem + b'"' + tail


RULES_17_18 = [
    Row("write-slot-0", xpmng(KEY_A), OK),
    Row("write-listed-as-type-5", b"AT%CMNG=1,0", listed(0, 5, KEY_A) + OK, setup=(xpmng(KEY_A),)),
    Row("write-slot-9", xpmng(KEY_A, 9), OK),
    Row("write-slot-10", xpmng(KEY_A, 10), cme(50), setup=(CMEE1,)),
    Row("write-again-520", xpmng(KEY_A), cme(520), setup=(CMEE1, xpmng(KEY_A))),
    Row(
        "write-again-519",
        xpmng(KEY_A),
        cme(519),
        setup=(CMEE1, xpmng(KEY_A)),
        options={"xpmng_exists_code": 519},
    ),
    Row("write-other-slot-free", xpmng(KEY_A, 1), OK, setup=(xpmng(KEY_A),)),
    Row("write-online", xpmng(KEY_A), cme(518), setup=(CMEE1, b"AT+CFUN=1")),
    Row("write-pofwarn", xpmng(KEY_A), cme(528), setup=(CMEE1, b"#pofwarn")),
    Row("write-empty", xpmng(b""), cme(50), setup=(CMEE1,)),
    Row("write-not-pem", xpmng(b"hello"), cme(50), setup=(CMEE1,)),
    Row("write-rsa-key", xpmng(RSA_PUBLIC), cme(50), setup=(CMEE1,)),
    Row("write-unquoted", b"AT%XPMNG=0,abc", cme(50), setup=(CMEE1,)),
    Row("op-1", b"AT%XPMNG=1", cme(50), setup=(CMEE1,)),
    Row("read-missing", b"AT%XPMNG=2", cme(513), setup=(CMEE1,)),
    Row("read-slot-0", b"AT%XPMNG=2", b'%XPMNG: "' + KEY_A + b'"\r\nOK\r\n', setup=(xpmng(KEY_A),)),
    Row(
        "read-slot-3",
        b"AT%XPMNG=2,,3",
        b'%XPMNG: "' + KEY_A + b'"\r\nOK\r\n',
        setup=(xpmng(KEY_A, 3),),
    ),
    Row("read-slot-3-missing", b"AT%XPMNG=2,,3", cme(513), setup=(CMEE1, xpmng(KEY_A))),
    Row("read-form", b"AT%XPMNG?", ERROR, setup=(CMEE1,)),
]


@params(RULES_17_18)
def test_rules_17_18_xpmng(row: Row) -> None:
    check_with_hooks(row)


# -- rule S24: restricted mode ------------------------------------------------------------------

RULE_24 = [
    Row("locked-write", write(1, 4, b"x"), cme(514), setup=(CMEE1,), options={"profile": "locked"}),
    Row("locked-write-plain", write(1, 4, b"x"), ERROR, options={"profile": "locked"}),
    Row("locked-delete", b"AT%CMNG=3,1,4", cme(514), setup=(CMEE1,), options={"profile": "locked"}),
    Row(
        "locked-keygen", b"AT%KEYGEN=1,2,0", cme(514), setup=(CMEE1,), options={"profile": "locked"}
    ),
    Row("locked-list-free", b"AT%CMNG=1,1", OK, options={"profile": "locked"}),
    Row(
        "locked-read-free",
        b"AT%CMNG=2,1,4",
        cme(513),
        setup=(CMEE1,),
        options={"profile": "locked"},
    ),
    Row("locked-xpmng-free", xpmng(KEY_A), OK, options={"profile": "locked"}),
    Row(
        "locked-lowercase",
        b'at%cmng=0,1,4,"x"',
        cme(514),
        setup=(CMEE1,),
        options={"profile": "locked"},
    ),
    Row(
        "unlocked-by-option", write(1, 4, b"x"), OK, options={"profile": "locked", "restricted": ()}
    ),
    Row(
        "restricted-option-elsewhere",
        b"AT+CGMR",
        cme(514),
        setup=(CMEE1,),
        options={"profile": "nrf9160-1.3", "restricted": ("+CGMR",)},
    ),
    Row("default-unrestricted", write(1, 4, b"x"), OK),
]


@params(RULE_24)
def test_rule_24_restricted_mode(row: Row) -> None:
    check(row)


# -- rule S25: power-off warning -------------------------------------------------------------

RULE_25 = [
    Row("arm", b"AT%XPOFWARN=1,30", OK),
    Row("arm-33", b"AT%XPOFWARN=1,33", OK),
    Row("arm-29", b"AT%XPOFWARN=1,29", cme(50), setup=(CMEE1,)),
    Row("arm-no-level", b"AT%XPOFWARN=1", cme(50), setup=(CMEE1,)),
    Row("disarm", b"AT%XPOFWARN=0", OK),
    Row("read-form", b"AT%XPOFWARN?", ERROR, setup=(CMEE1,)),
    Row(
        "trigger-goes-offline",
        b"AT+CFUN?",
        b"+CFUN: 4\r\nOK\r\n",
        setup=(b"AT+CFUN=1", b"#pofwarn"),
    ),
    Row("trigger-blocks-write-528", write(1, 4, b"x"), cme(528), setup=(CMEE1, b"#pofwarn")),
    Row("rearm-clears", write(1, 4, b"x"), OK, setup=(b"#pofwarn", POFWARN)),
]


@params(RULE_25)
def test_rule_25_pofwarn(row: Row) -> None:
    check_with_hooks(row)


def test_xpmng_reads_can_be_refused_like_firmware_that_hides_its_slots() -> None:
    from xsudo.sim import Modem, SimOptions

    modem = Modem(SimOptions.from_mapping({"xpmng-readable": "0"}))
    assert modem.handle(b"AT+CMEE=1") == b"OK\r\n"
    assert modem.handle(b"AT%XPMNG=2") == b"+CME ERROR: 514\r\n"
    assert modem.handle(b"AT%XPMNG=2,,3") == b"+CME ERROR: 514\r\n"
