"""Line classification, final result codes, command names and per-command error decoding."""

from __future__ import annotations

import pytest

from xsudo.at.results import (
    LineKind,
    SignedCommandError,
    classify,
    clean_line,
    expected_prefixes,
    modem_error,
    parse_final,
    xsudo_inner,
)
from xsudo.command import command_name
from xsudo.errors import CmeCode, CmeError, ModemError


@pytest.mark.parametrize(
    ("line", "kind", "code"),
    [
        (b"OK", "OK", 0),
        (b"ERROR", "ERROR", 0),
        (b"+CME ERROR: 513", "CME", 513),
        (b"+CME ERROR:520", "CME", 520),
        (b"+CMS ERROR: 304", "CMS", 304),
        (b"+CME ERROR: invalid content", "CME", -1),
    ],
)
def test_final_result_codes(line: bytes, kind: str, code: int) -> None:
    final = parse_final(line)
    assert final is not None
    assert (final.kind, final.code, final.text) == (kind, code, line.decode())


@pytest.mark.parametrize("line", [b"OKAY", b"+CME: 1", b"ERRORS", b"%CMNG: 1,0", b"ok"])
def test_not_final(line: bytes) -> None:
    assert parse_final(line) is None


@pytest.mark.parametrize(
    ("line", "expected", "kind"),
    [
        (b'+CEREG: 5,"1A2B"', (), LineKind.URC),
        (b'+CEREG: 5,"1A2B"', (b"+CEREG:",), LineKind.INFO),
        (b"+CGEV: ME BATTERY LOW", (b"%CMNG:",), LineKind.URC),
        (b"%CESQ: 54,2,16,2", (), LineKind.URC),
        (b"%XPOFWARN", (), LineKind.URC),
        (b"[00:00:01.234,000] <inf> at_host: ready", (), LineKind.LOG),
        (b"<err> modem: oops", (), LineKind.LOG),
        (b"*** Booting nRF Connect SDK v2.6.0 ***", (), LineKind.BANNER),
        (b"Ready", (), LineKind.BANNER),
        (b"#XBOOT: 0", (), LineKind.BANNER),
        (b"abc\x01def", (), LineKind.GARBAGE),
        (b"caf\xc3\xa9", (), LineKind.GARBAGE),
        (b"mfw_nrf9160_1.3.5", (), LineKind.INFO),
        (b'%CMNG: 1,0,"\xff"', (b"%CMNG:",), LineKind.INFO),
        (b"+CME ERROR: 514", (), LineKind.FINAL),
    ],
)
def test_classify(line: bytes, expected: tuple[bytes, ...], kind: LineKind) -> None:
    assert classify(line, expected) is kind


def test_clean_line_drops_noise_and_ansi() -> None:
    assert clean_line(b"\x00\xff\x1b[1;32mOK\x1b[0m  ") == b"OK"


@pytest.mark.parametrize(
    ("line", "name"),
    [
        (b"AT%CMNG=1", "%CMNG"),
        (b"AT+CFUN?", "+CFUN"),
        (b"AT+CMEE=?", "+CMEE"),
        (b"at%xmodemuuid", "%XMODEMUUID"),
        (b"AT", "AT"),
        (b'AT%XSUDO=5,"c2ln",1;%CMNG=3,1,0', "%XSUDO"),
    ],
)
def test_command_name(line: bytes, name: str) -> None:
    assert command_name(line) == name


def test_xsudo_inner_and_expected_prefixes() -> None:
    line = b'AT%XSUDO=14,"a;b=",2;%CMNG=2,12,0'
    assert xsudo_inner(line) == b"%CMNG=2,12,0"
    assert expected_prefixes(line) == (b"%XSUDO:", b"%CMNG:")
    assert xsudo_inner(b"AT%CMNG=1") is None


def test_errors_are_decoded_for_the_command() -> None:
    error = modem_error(b'AT%XPMNG=0,"k"', parse_final(b"+CME ERROR: 520"))  # type: ignore[arg-type]
    assert isinstance(error, CmeError)
    assert (error.command, error.kind, error.code) == ("%XPMNG", "CME", 520)
    assert error.cme is CmeCode.AUTH_FAILED_OR_EXISTS
    assert "already exists" in error.meaning


def test_plain_error_and_cms() -> None:
    plain = modem_error(b"AT+CGSN", parse_final(b"ERROR"))  # type: ignore[arg-type]
    assert isinstance(plain, CmeError)
    assert (plain.command, plain.kind, plain.code) == ("+CGSN", "ERROR", 0)
    cms = modem_error(b"AT+CMGS=1", parse_final(b"+CMS ERROR: 304"))  # type: ignore[arg-type]
    assert type(cms) is ModemError
    assert (cms.kind, cms.code) == ("CMS", 304)


@pytest.mark.parametrize(
    ("code", "decoded_as"),
    [(520, "%XSUDO"), (513, "%XSUDO"), (518, "%CMNG"), (527, "%CMNG"), (514, "%CMNG")],
)
def test_signed_line_error_rule(code: int, decoded_as: str) -> None:
    line = b'AT%XSUDO=14,"c2lnbmF0dXJl";%CMNG=0,1,0,"x"'
    final = parse_final(b"+CME ERROR: %d" % code)
    assert final is not None
    error = modem_error(line, final)
    assert isinstance(error, SignedCommandError)
    assert isinstance(error, CmeError)
    assert (error.command, error.code) == (decoded_as, code)
    assert (error.wrapper, error.inner_command) == ("%XSUDO", "%CMNG")
    assert "%XSUDO" in str(error) and "%CMNG" in str(error)


def test_explicit_name_overrides() -> None:
    final = parse_final(b"+CME ERROR: 513")
    assert final is not None
    error = modem_error(b'AT%XSUDO=1,"x";%CMNG=2,1,0', final, "%CMNG")
    assert type(error) is CmeError
    assert error.command == "%CMNG"
