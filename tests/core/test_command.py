"""AT command values, body checks and the XSUDO line format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xsudo.command import (
    MAX_LINE_BYTES,
    AtCommand,
    XsudoLine,
    build_xsudo_line,
    check_command_text,
    find_unquoted,
    parse_xsudo_line,
    strip_at_prefix,
    strip_one_terminator,
)
from xsudo.errors import CommandTextError, LineParseError

RECIPE = Path(__file__).resolve().parents[1] / "vectors" / "openssl-recipe.json"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("%CMNG=1\n", "line break outside double quotes"),
        ('%CMNG=0,1,0,"abc', "unbalanced double quote"),
        ('%CMNG=0,1,0,"a\x00b"', "control character 0x00"),
        ('%CMNG=0,1,0,"a\tb"', "control character 0x09"),
        ("%CMNG=0,1,0,\u201cabc\u201d", "typographic quote (U+201C)"),
        ('%CMNG=0,1,0,"caf\u00e9"', "non-ASCII character (U+00E9)"),
    ],
)
def test_check_command_text_refuses(text: str, fragment: str) -> None:
    with pytest.raises(CommandTextError, match=re.escape(fragment)):
        check_command_text(text)
    with pytest.raises(CommandTextError):
        check_command_text(text.encode("utf-8"))


def test_check_command_text_allows_line_breaks_inside_quotes() -> None:
    body = '%CMNG=0,1,0,"-----BEGIN CERTIFICATE-----\r\nAAAA\n-----END CERTIFICATE-----\n"'
    assert check_command_text(body) == body.encode("ascii")


def test_at_command_rendering() -> None:
    assert AtCommand.set("%CMNG", 0, 42, 0, "PEM\n").line() == b'AT%CMNG=0,42,0,"PEM\n"'
    assert AtCommand.set("%XPMNG", 2, None, 3).body() == b"%XPMNG=2,,3"
    assert AtCommand.set("%CMNG", 1, None, None).body() == b"%CMNG=1"
    assert AtCommand.read("+CFUN").line() == b"AT+CFUN?"
    assert AtCommand.test("+CFUN").line() == b"AT+CFUN=?"
    assert AtCommand.exec("+CGMR").line() == b"AT+CGMR"


def test_at_command_refuses_a_quote_in_a_string_and_overlong_lines() -> None:
    with pytest.raises(CommandTextError, match="double quote"):
        AtCommand.set("%CMNG", 0, 1, 0, 'a"b').body()
    content = "A" * (MAX_LINE_BYTES - len('AT%CMNG=0,1,0,""') + 1)
    with pytest.raises(CommandTextError, match="4095"):
        AtCommand.set("%CMNG", 0, 1, 0, content).line()
    assert len(AtCommand.set("%CMNG", 0, 1, 0, content[:-1]).line()) == MAX_LINE_BYTES


def test_xsudo_line_renders_like_the_recipe_vectors() -> None:
    for case in json.loads(RECIPE.read_text())["cases"]:
        if case["xsudo_line"] is None:
            continue
        body = case["command_intended"].encode("ascii")
        line = XsudoLine(len(body), case["sig_der_b64"], None, body)
        assert line.render().decode("ascii") == case["xsudo_line"]
        parsed = parse_xsudo_line(line.render() + b"\r\n")
        assert parsed.data_len == case["intended_len"]
        assert parsed.signature_text == case["sig_der_b64"]
        assert parsed.body == body
        assert parsed.had_at_prefix


def test_build_xsudo_line_counts_bytes_and_places_the_slot() -> None:
    line = build_xsudo_line(b'%CMNG=0,1,0,"a\r\nb"', "c2ln", 7)
    assert line.data_len == 18
    assert line.render() == b'AT%XSUDO=18,"c2ln",7;%CMNG=0,1,0,"a\r\nb"'
    with pytest.raises(CommandTextError):
        build_xsudo_line(b"", "c2ln", None)
    with pytest.raises(CommandTextError):
        build_xsudo_line(b"%CMNG=1", "c2ln", 10)


@pytest.mark.parametrize(
    "raw",
    [
        b"AT+CFUN?",
        b"AT%XSUDO=12;%CMNG=1",
        b'AT%XSUDO=x,"c2ln";%CMNG=1',
        b'AT%XSUDO=0,"c2ln";%CMNG=1',
        b"AT%XSUDO=7,c2ln;%CMNG=1",
        b'AT%XSUDO=7,"c2ln",12;%CMNG=1',
        b'AT%XSUDO=7,"c2ln",1,2;%CMNG=1',
        b'AT%XSUDO=7,"c2ln";',
    ][:-1],
)
def test_parse_xsudo_line_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(LineParseError):
        parse_xsudo_line(raw)


def test_parse_xsudo_line_is_lenient_where_diagnosis_needs_it() -> None:
    parsed = parse_xsudo_line(b'%xsudo=7,"AB\nCD",3;%CMNG=1 trailing\n')
    assert not parsed.had_at_prefix
    assert parsed.signature_text == "AB\nCD"
    assert parsed.slot == 3
    assert parsed.body == b"%CMNG=1 trailing"
    quoted_semicolon = parse_xsudo_line(b'AT%XSUDO=5,"a;b";%CMNG=1')
    assert quoted_semicolon.body == b"%CMNG=1"


def test_strip_helpers() -> None:
    assert strip_at_prefix("AT%CMNG=1") == ("%CMNG=1", True)
    assert strip_at_prefix("at+CFUN?") == ("+CFUN?", True)
    assert strip_at_prefix("%CMNG=1") == ("%CMNG=1", False)
    assert strip_one_terminator(b"x\r\n") == (b"x", "CRLF")
    assert strip_one_terminator(b"x\n\n") == (b"x\n", "LF")
    assert strip_one_terminator(b"x\r") == (b"x", "CR")
    assert strip_one_terminator(b"x") == (b"x", None)


def test_literal_newline_escapes_are_found_only_inside_quotes() -> None:
    from xsudo.command import has_literal_newline_escape

    assert has_literal_newline_escape(b'%CMNG=0,1,0,"-----BEGIN X-----\\nAAAA"')
    assert has_literal_newline_escape(b'%CMNG=0,1,0,"a\\r\\nb"')
    assert not has_literal_newline_escape(b'%CMNG=0,1,0,"a\nb"')
    assert not has_literal_newline_escape(b"%CMNG=1\\n")


def _first_unquoted_by_walking(data: bytes, char: int) -> int:
    """The reference: walk the bytes, toggling on every double quote."""
    in_quotes = False
    for index, byte in enumerate(data):
        if byte == 0x22:
            in_quotes = not in_quotes
        elif byte == char and not in_quotes:
            return index
    return -1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'%XSUDO=3,"a;b";%CMNG=1', 14),
        (b'"unclosed;', -1),
        (b"no separator", -1),
        (b";", 0),
        (b'"";x', 2),
    ],
)
def test_find_unquoted_examples(data: bytes, expected: int) -> None:
    assert find_unquoted(data, 0x3B) == expected


@given(st.binary(max_size=64).map(lambda b: b.replace(b"\x00", b";")))
def test_find_unquoted_matches_a_byte_walk(data: bytes) -> None:
    assert find_unquoted(data, 0x3B) == _first_unquoted_by_walking(data, 0x3B)
    assert find_unquoted(data, 0x2C) == _first_unquoted_by_walking(data, 0x2C)
