"""Parsing %CMNG/%XPMNG/+CFUN information lines."""

from __future__ import annotations

import hashlib

import pytest

from xsudo.at.parse import (
    ResponseFormatError,
    parse_cmng,
    parse_quoted_value,
    parse_single_int,
    parse_text_value,
    split_fields,
)

SHA = "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"


@pytest.mark.parametrize(
    "line",
    [
        b'%CMNG: 16842753,0,"' + SHA.encode() + b'"',
        b'%CMNG: 16842753, 0, "' + SHA.encode() + b'"',
        b'%CMNG: 16842753,0,"' + SHA.lower().encode() + b'"',
        b'%cmng:16842753 ,  0 ,"' + SHA.lower().encode() + b'" ',
    ],
)
def test_list_line_forms(line: bytes) -> None:
    assert parse_cmng(line) == (16842753, 0, SHA, None)


def test_list_line_without_sha_and_reserved_tag() -> None:
    assert parse_cmng(b"%CMNG: 4294967292,11") == (4294967292, 11, None, None)


def test_read_line_content_is_exact_bytes() -> None:
    pem = b"-----BEGIN CERTIFICATE-----\r\nMIIB,x\nOK\n\nERROR\n-----END CERTIFICATE-----\n"
    sha = hashlib.sha256(pem).hexdigest().encode()
    line = b'%CMNG: 12, 0, "' + sha + b'", "' + pem + b'"'
    tag, cred_type, got_sha, content = parse_cmng(line)
    assert (tag, cred_type) == (12, 0)
    assert got_sha == sha.decode().upper()
    assert content == pem


@pytest.mark.parametrize(
    "line",
    [
        b"%CMNG: x,0",
        b"%CMNG: 1",
        b'%CMNG: 1,0,"nothex"',
        b"%CMNG: 1,0," + SHA.encode(),
        b'%XPMNG: 1,0,"' + SHA.encode() + b'"',
        b'%CMNG: 1,0,"' + SHA.encode() + b'","a","b"',
    ],
)
def test_malformed_lines(line: bytes) -> None:
    with pytest.raises(ResponseFormatError):
        parse_cmng(line)


def test_split_fields_respects_quotes() -> None:
    assert split_fields(b'1,"a,b",,"c"') == [b"1", b'"a,b"', b"", b'"c"']


def test_other_values() -> None:
    assert parse_single_int(b"+CFUN: 4", b"+CFUN:") == 4
    assert parse_single_int(b"+CMEE:1", b"+CMEE:") == 1
    pem = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    assert parse_quoted_value(b'%XPMNG: "' + pem + b'"', b"%XPMNG:") == pem
    assert parse_text_value(b"%HWVERSION: nRF9161 LACA A0A", b"%HWVERSION:") == "nRF9161 LACA A0A"
    assert parse_text_value(b'%XMODEMUUID: "abc"', b"%XMODEMUUID:") == "abc"
