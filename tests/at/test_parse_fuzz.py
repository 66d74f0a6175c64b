"""Property tests: parsers and identity checks given arbitrary device bytes return a value
or raise ResponseFormatError/IdentityError (exit 3), never anything else, and every message
they produce is one printable ASCII line."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsudo.at.parse import (
    MAX_FIELD_VALUE,
    IdentityError,
    ResponseFormatError,
    check_firmware,
    check_imei,
    check_model,
    check_uuid,
    parse_cmng,
    parse_int,
    parse_single_int,
    show,
)
from xsudo.at.results import malformed_final_error, parse_final
from xsudo.errors import DeviceError

FUZZ = settings(max_examples=300, deadline=None)
T = TypeVar("T")

# Bytes that look like AT replies more often than uniform noise does.
_PIECES = st.sampled_from(
    [
        b"0",
        b"9",
        b"12",
        b"4294967295",
        b"9" * 5000,
        b",",
        b'"',
        b" ",
        b"\t",
        b"-",
        b"+",
        b"\x00",
        b"\x1b",
        b"\x07",
        b"\xff",
        b"\xd9\xa1",
        b"A",
        b"f",
        b":",
        b"\r",
        b"\n",
    ]
)
DEVICE_BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(_PIECES, st.binary(max_size=8)), max_size=30).map(b"".join),
)


def assert_clean_message(error: DeviceError) -> None:
    text = str(error)
    assert error.exit_code == 3
    assert text.isascii() and text.isprintable(), text
    assert len(text) < 600


@FUZZ
@given(DEVICE_BYTES)
def test_parse_final_never_raises(data: bytes) -> None:
    for line in (data, b"+CME ERROR: " + data, b"+CMS ERROR:" + data):
        final = parse_final(line)
        if final is None:
            continue
        assert final.kind in ("OK", "ERROR", "CME", "CMS")
        if final.kind in ("CME", "CMS"):
            assert final.malformed == (final.code == -1)
            assert -1 <= final.code <= 99999
            if final.malformed:
                assert_clean_message(malformed_final_error(b"AT+CFUN?", final))


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"+CME ERROR: 0", 0),
        (b"+CME ERROR: 99999", 99999),
        (b"+CME ERROR:\t513", 513),
        (b"+CME ERROR: 100000", -1),
        (b"+CME ERROR: " + b"0" * 5000, -1),
        (b"+CMS ERROR: \xd9\xa1", -1),
        (b"+CME ERROR: 1 2", -1),
    ],
)
def test_error_code_bounds(line: bytes, code: int) -> None:
    final = parse_final(line)
    assert final is not None and final.code == code
    assert final.malformed == (code == -1)


def _value_or_format_error(parse: Callable[[bytes], T], data: bytes) -> T | None:
    """``parse(data)``, or ``None`` after checking the ResponseFormatError it raised."""
    try:
        return parse(data)
    except ResponseFormatError as error:
        assert_clean_message(error)
        return None


def _cfun(line: bytes) -> int:
    return parse_single_int(line, b"+CFUN:")


@FUZZ
@given(DEVICE_BYTES)
def test_parse_int_is_bounded(data: bytes) -> None:
    value = _value_or_format_error(parse_int, data)
    if value is not None:
        assert 0 <= value <= MAX_FIELD_VALUE
        assert re.fullmatch(rb"[ \t]*[0-9]{1,10}[ \t]*", data)


@FUZZ
@given(DEVICE_BYTES)
def test_parse_single_int_is_bounded(data: bytes) -> None:
    for line in (data, b"+CFUN: " + data, b"+CMEE:" + data):
        value = _value_or_format_error(_cfun, line)
        assert value is None or 0 <= value <= MAX_FIELD_VALUE


@FUZZ
@given(DEVICE_BYTES, DEVICE_BYTES)
def test_parse_cmng_is_bounded(first: bytes, rest: bytes) -> None:
    for line in (first, b"%CMNG: " + first + b"," + rest, b"%CMNG: " + first):
        value = _value_or_format_error(parse_cmng, line)
        if value is not None:
            tag, cred_type, sha, _ = value
            assert 0 <= tag <= MAX_FIELD_VALUE and 0 <= cred_type <= MAX_FIELD_VALUE
            assert sha is None or re.fullmatch(r"[0-9A-F]{64}", sha)


@pytest.mark.parametrize(
    ("field", "ok"),
    [
        (b"0", True),
        (b" 4294967295\t", True),
        (b"4294967296", False),
        (b"00000000001", False),
        (b"", False),
        (b"-1", False),
        (b"\xd9\xa3", False),
        (b"1" * 5000, False),
    ],
)
def test_parse_int_bounds(field: bytes, ok: bool) -> None:
    if ok:
        assert parse_int(field) == int(field)
    else:
        with pytest.raises(ResponseFormatError):
            parse_int(field)


CHECKS: dict[str, tuple[Callable[[str | bytes], str], str]] = {
    "imei": (check_imei, r"[0-9]{15}"),
    "uuid": (check_uuid, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "firmware": (check_firmware, r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"),
    "model": (check_model, r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}"),
}


def _shaped_or_refused(field: str, value: str | bytes) -> None:
    check, shape = CHECKS[field]
    try:
        result = check(value)
    except IdentityError as error:
        assert error.field == field
        assert_clean_message(error)
        return
    assert re.fullmatch(shape, result, flags=re.ASCII)
    assert "/" not in result and "\\" not in result and "[" not in result


@FUZZ
@given(st.sampled_from(sorted(CHECKS)), st.one_of(DEVICE_BYTES, st.text(max_size=100)))
def test_identity_checks_return_a_shaped_value_or_refuse(field: str, value: str | bytes) -> None:
    _shaped_or_refused(field, value)


@FUZZ
@given(st.sampled_from(sorted(CHECKS)), st.from_regex(r"[0-9a-fA-F-]{0,40}", fullmatch=True))
def test_identity_checks_near_misses(field: str, value: str) -> None:
    _shaped_or_refused(field, value)


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (check_imei, "352656100367872", "352656100367872"),
        (check_imei, b"352656100367872", "352656100367872"),
        (
            check_uuid,
            "25C95751-EFA4-40D4-8B4A-1DCAAB81FAC9",
            "25c95751-efa4-40d4-8b4a-1dcaab81fac9",
        ),
        (check_firmware, "mfw_nrf9151-ntn_1.0.0-1.alpha", "mfw_nrf9151-ntn_1.0.0-1.alpha"),
        (check_firmware, "mfw-pti_nrf91x1_2.3.3", "mfw-pti_nrf91x1_2.3.3"),
        (check_model, "nRF9161 LACA A0A", "nRF9161 LACA A0A"),
        (check_model, "nRF9160-SICA", "nRF9160-SICA"),
    ],
)
def test_identity_checks_accept_real_values(
    check: Callable[[str | bytes], str], value: str | bytes, expected: str
) -> None:
    assert check(value) == expected


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_imei, "352656100367872\n"),  # $ would match before a trailing newline
        (check_imei, "\u0663" * 15),  # Arabic-Indic digits are not ASCII digits
        (check_uuid, "25c95751efa440d48b4a1dcaab81fac9"),
        (check_firmware, "mfw_1.0\u202e"),
        (check_firmware, "-rf"),
        (check_model, " nRF9161"),
        (check_model, "nRF9161\x00"),
        (check_model, "nRF9161 :warning:"),
    ],
)
def test_identity_checks_refuse(check: Callable[[str | bytes], str], value: str) -> None:
    with pytest.raises(IdentityError) as caught:
        check(value)
    assert_clean_message(caught.value)


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_show_is_one_printable_ascii_line(value: str | bytes) -> None:
    shown = show(value)
    assert shown.isascii() and shown.isprintable()
    assert len(shown) <= 10 * 60 + 40  # an astral character escapes to 10 characters
