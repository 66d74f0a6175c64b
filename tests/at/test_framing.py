"""Line splitting: endings, quotes, bounds, and chunking independence (property test)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsudo.at.framing import FramingOverflow, LineSplitter

PEM_WITH_OK = (
    b"-----BEGIN CERTIFICATE-----\nMIIB\nOK\nERROR\n+CME ERROR: 513\n-----END CERTIFICATE-----\n"
)
READ_RESPONSE = (
    b'%CMNG: 12,0,"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1","'
    + PEM_WITH_OK
    + b'"\r\nOK\r\n'
)


def split(data: bytes, chunks: list[int] | None = None) -> list[bytes]:
    splitter = LineSplitter()
    if chunks is None:
        splitter.feed(data)
    else:
        start = 0
        for size in chunks:
            splitter.feed(data[start : start + size])
            start += size
        splitter.feed(data[start:])
    return splitter.pop_lines()


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n", b"\n\r", b"\r\n\r\n"])
def test_every_line_ending_splits_the_same(ending: bytes) -> None:
    data = ending.join([b"+CFUN: 4", b"", b"OK"]) + ending
    assert split(data) == [b"+CFUN: 4", b"OK"]


def test_blank_lines_and_surrounding_spaces_dropped() -> None:
    assert split(b"\r\n\r\n  +CFUN: 1  \r\n \t \r\nOK\r\n") == [b"+CFUN: 1", b"OK"]


def test_quoted_content_keeps_line_breaks_and_an_inner_ok() -> None:
    lines = split(READ_RESPONSE)
    assert len(lines) == 2
    assert lines[1] == b"OK"
    assert PEM_WITH_OK in lines[0]
    assert lines[0].endswith(b'"')


def test_crlf_inside_quotes_is_content() -> None:
    data = b'%XPMNG: "-----BEGIN PUBLIC KEY-----\r\nAAAA\r\n-----END PUBLIC KEY-----\r\n"\r\nOK\r\n'
    lines = split(data)
    assert lines == [
        b'%XPMNG: "-----BEGIN PUBLIC KEY-----\r\nAAAA\r\n-----END PUBLIC KEY-----\r\n"',
        b"OK",
    ]


def test_echoed_command_with_multiline_content_is_one_line() -> None:
    echo = b'AT%CMNG=0,1,0,"' + PEM_WITH_OK + b'"'
    assert split(echo + b"\r\nOK\r\n") == [echo, b"OK"]


def test_stray_quote_in_a_plain_line_does_not_swallow_the_result() -> None:
    # Log and garbage lines are not quote-aware: a lone quote ends at the line break.
    lines = split(b'[00:00:01.234,000] <inf> app: said "hello\r\nOK\r\n')
    assert lines == [b'[00:00:01.234,000] <inf> app: said "hello', b"OK"]


def test_unterminated_line_is_bounded() -> None:
    splitter = LineSplitter(max_line=100)
    splitter.feed(b"x" * 100)
    with pytest.raises(FramingOverflow):
        splitter.feed(b"x")
    assert splitter.partial == b""
    splitter.feed(b"OK\r\n")
    assert splitter.pop_lines() == [b"OK"]


def test_unclosed_quote_is_bounded_too() -> None:
    splitter = LineSplitter(max_line=100, max_quoted_line=1000)
    splitter.feed(b'%CMNG: 1,0,"')
    with pytest.raises(FramingOverflow):
        for _ in range(20):
            splitter.feed(b"A" * 60 + b"\n")


def test_long_quoted_content_is_not_limited_by_the_unquoted_bound() -> None:
    content = b"\n".join([b"B" * 64] * 100)  # 6.5 kB inside quotes
    splitter = LineSplitter(max_line=200)
    splitter.feed(b'%CMNG: 1,0,"' + b"A" * 64 + b'","' + content + b'"\r\nOK\r\n')
    lines = splitter.pop_lines()
    assert lines[1] == b"OK"
    assert content in lines[0]


TRANSCRIPT = (
    b"\r\n+CEREG: 2\r\n"
    + b"AT%CMNG=2,12,0\r\n"
    + READ_RESPONSE
    + b"[00:00:01.234,000] <inf> at_host: hi\n"
    + b"\xff\xfe\x00garbage\r"
    + b"%XSUDO: 1\n\r\n"
    + b"+CME ERROR: 520\r\n"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(TRANSCRIPT)), max_size=40))
def test_chunking_never_changes_the_lines(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    sizes = [b - a for a, b in zip([0, *points], points, strict=False)]
    assert split(TRANSCRIPT, sizes) == split(TRANSCRIPT)


def test_byte_by_byte_equals_whole() -> None:
    assert split(TRANSCRIPT, [1] * len(TRANSCRIPT)) == split(TRANSCRIPT)
