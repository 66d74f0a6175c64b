"""scan_capture and find_xsudo_lines: every AT%XSUDO line of a capture, framed the way the
modem frames a command (to the first CR/LF outside quotes), checked one by one.

Captures are assembled here from lines built by hand and signed with ``cryptography``
(tests/verify/support.py) and from Nordic's recipe vectors (made with the openssl CLI).
The parser takes untrusted text, so it is also fuzzed (bounded sizes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify.support import (
    VECTORS_DIR,
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    sign_raw_bytes,
)
from xsudo.crypto import load_public_key
from xsudo.diagnose import ScanResult, scan_capture
from xsudo.diagnose.scan import MAX_SCAN_LINE, find_xsudo_lines

KEY = load_test_key("test-key-1")
PUB = KEY.public_key()
SHORT = b"%CMNG=3,16842753,0"
PEM_BODY = (
    b'%CMNG=0,16842753,0,"-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"'
)
GOOD = mistaken_line(KEY, SHORT, SHORT)
GOOD_PEM = mistaken_line(KEY, PEM_BODY, PEM_BODY)
ECHOED = mistaken_line(KEY, SHORT, SHORT + b"\n")
ESCAPED_BODY = PEM_BODY.replace(b"\n", b"\\n")
ESCAPED = mistaken_line(KEY, ESCAPED_BODY, ESCAPED_BODY)
R, S = sign_raw_bytes(KEY, SHORT)
WRAPPED = line_for(len(SHORT), der_b64(R, S)[:64] + "\r\n" + der_b64(R, S)[64:], SHORT)
RECIPE: list[dict[str, Any]] = json.loads((VECTORS_DIR / "openssl-recipe.json").read_text())[
    "cases"
]


def scan(capture: bytes) -> list[ScanResult]:
    results = list(scan_capture(capture, PUB))
    for result in results:
        json.dumps(result.to_json())
    return results


def test_mixed_capture_one_result_per_line_in_order() -> None:
    capture = (
        b"*** Booting nRF Connect SDK ***\r\n"  # 1
        b"uart:~$ " + GOOD + b"\r\n"  # 2
        b"OK\r\n"  # 3
        b"[00:00:02.100] TX: " + GOOD_PEM + b"\r\n"  # 4-8: the PEM spans five lines
        b"OK\r\n"  # 9
        b"> " + ECHOED + b"\r\n"  # 10
        b"+CME ERROR: 520\r\n"  # 11
        + WRAPPED  # 12-13
        + b"\r\n+CME ERROR: 520\r\n"  # 14
        + ESCAPED  # 15
        + b"\r\nAT%XSUDO=?\r\n"  # 16: the test command is not a signed line
        b'AT%XSUDO=7,"QUJD";%CMNG=1\r\n'  # 17
    )
    results = scan(capture)
    summary = [(r.line_number, r.valid, r.verdict.diagnosis) for r in results]
    assert summary == [
        (2, True, ()),
        (4, True, ()),
        (10, False, ("trailing-lf-signed",)),
        (12, False, ("wrapped-base64",)),
        (15, True, ("literal-newline-content",)),
        (17, False, ("malformed-signature",)),
    ]
    assert results[1].verdict.body_len == len(PEM_BODY)  # the PEM is one body
    assert results[4].verdict.content_cme == 527
    for result in results:
        assert capture[result.offset : result.offset + 9].upper() == b"AT%XSUDO="


def test_json_of_a_result() -> None:
    (result,) = scan(b"log: " + GOOD_PEM + b"\n")
    obj = result.to_json()
    assert set(obj) == {
        "line_number",
        "offset",
        "valid",
        "diagnosis",
        "message",
        "fixes",
        "data_len",
        "body_len",
        "slot",
        "encoding",
        "sha256",
        "content_cme",
    }
    assert (obj["line_number"], obj["offset"], obj["valid"]) == (1, 5, True)
    assert obj["sha256"] == hashlib.sha256(PEM_BODY).hexdigest()
    assert obj["data_len"] == len(PEM_BODY)


def test_recipe_lines_in_a_capture_with_crlf_pems() -> None:
    """Lines made with the openssl CLI (LF, CRLF and CR-only PEMs), one capture per key."""
    cases = [c for c in RECIPE if c["xsudo_line"]]
    for case in cases:
        sent = case["xsudo_line"].encode("ascii")
        capture = b"$ cat line.txt\n" + sent + b"\nOK\n" + sent + b"\r\n"
        results = list(scan_capture(capture, load_public_key(case["public_key_pem"].encode())))
        assert [r.valid for r in results] == [True, True], case["name"]
        expected = hashlib.sha256(case["command_intended"].encode("ascii")).hexdigest()
        assert {r.verdict.sha256 for r in results} == {expected}
        assert results[0].line_number == 2


def test_line_numbers_count_lf_crlf_and_lone_cr() -> None:
    capture = b"a\nb\r\nc\rd\n" + GOOD + b"\r" + GOOD + b"\n\n" + GOOD
    assert [r.line_number for r in scan(capture)] == [5, 6, 8]


def test_lowercase_and_missing_at_are_found() -> None:
    lower = b"at%xsudo=" + GOOD[len(b"AT%XSUDO=") :]
    results = scan(lower + b"\n" + GOOD[2:] + b"\n")
    assert [(r.valid, r.offset) for r in results] == [(True, 0), (True, len(lower) + 1)]


def test_an_unclosed_quote_does_not_swallow_the_next_lines() -> None:
    capture = b'AT%XSUDO=7,"abc;%CMNG=1\nOK\n' + GOOD + b"\n"
    results = scan(capture)
    assert [r.verdict.diagnosis for r in results] == [("malformed-line",), ()]
    assert results[1].line_number == 3


def test_a_broken_line_with_a_short_data_len_ends_at_its_capture_line() -> None:
    r, s = sign_raw_bytes(KEY, b"%CMNG=1")
    broken = line_for(5, der_b64(r, s), b'%CMNG=0,1,0,"abc')  # the quote is never closed
    results = scan(broken + b"\n" + GOOD_PEM + b"\n" + GOOD + b"\n")
    assert [r.line_number for r in results] == [1, 2, 7]
    assert [r.valid for r in results] == [False, True, True]


def test_a_pem_with_crlf_line_breaks_is_one_body() -> None:
    body = PEM_BODY.replace(b"\n", b"\r\n")
    results = scan(b"> " + mistaken_line(KEY, body, body) + b"\r\nOK\r\n" + GOOD + b"\r\n")
    assert [(r.line_number, r.valid) for r in results] == [(1, True), (7, True)]
    assert results[0].verdict.body_len == len(body)


def test_a_line_inside_another_lines_quotes_is_not_reported_twice() -> None:
    body = b'%CMNG=0,16842753,0,"AT%XSUDO=7,\\"x\\";%CMNG=1"'
    found = list(find_xsudo_lines(mistaken_line(KEY, body, body)))
    assert len(found) == 1


def test_data_len_still_decides_what_is_signed() -> None:
    sent = SHORT + b";+CFUN=1"
    results = scan(b"x " + mistaken_line(KEY, sent, SHORT, data_len=len(SHORT)) + b"\n")
    assert results[0].valid and results[0].verdict.diagnosis == ("data-len-mismatch",)


def test_nothing_found_yields_nothing() -> None:
    assert scan(b"") == []
    assert scan(b"AT%CMNG=1\r\nOK\r\n%XSUDO: 1\r\nAT%XSUDO=?\r\n") == []


def test_an_over_long_line_is_cut_at_the_bound() -> None:
    capture = b'AT%XSUDO=7,"' + b"A" * (3 * MAX_SCAN_LINE) + b'";x'
    found = list(find_xsudo_lines(capture))
    assert found and all(len(f.raw) <= MAX_SCAN_LINE for f in found)


# --- fuzzing: untrusted captures ------------------------------------------------------------

_PIECES = st.sampled_from(
    [b"AT%XSUDO=", b"at%xsudo=", b"%XSUDO=?", b'"', b";", b",", b"\r", b"\n", b"\r\n", b"7"]
)
_JUNK = st.lists(st.one_of(_PIECES, st.binary(max_size=12)), max_size=40).map(b"".join)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(_JUNK)
def test_any_capture_is_scanned_without_error_and_within_bounds(capture: bytes) -> None:
    found = list(find_xsudo_lines(capture))
    offsets = [f.offset for f in found]
    assert offsets == sorted(set(offsets))
    for item in found:
        assert 1 <= item.line_number <= capture.count(b"\n") + capture.count(b"\r") + 1
        assert capture[item.offset :].startswith(item.raw)
        assert b"%XSUDO=" in item.raw[:9].upper()
        assert len(item.raw) <= MAX_SCAN_LINE
    for previous, item in itertools.pairwise(found):
        assert previous.offset + len(previous.raw) <= item.offset  # no overlap
    for result in scan(capture):
        assert result.verdict.exit_code in (0, 1, 2)
        assert not result.valid  # no junk verifies


@FUZZ
@given(_JUNK, _JUNK, st.sampled_from([GOOD, GOOD_PEM]), st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_a_good_line_between_junk_lines_is_found_valid(
    before: bytes, after: bytes, good: bytes, end: bytes
) -> None:
    # A line with a well-formed head whose data_len runs past its capture line and whose
    # body opens a quote takes the next lines in, as the modem would: keep junk quote-free.
    before = before.replace(b'"', b"'")
    capture = before + end + good + end + after
    results = scan(capture)
    offset = len(before) + len(end)
    hits = [r for r in results if r.offset == offset]
    assert len(hits) == 1 and hits[0].valid
    assert hits[0].line_number == 1 + sum(
        capture[:offset].count(brk) for brk in (b"\n", b"\r")
    ) - capture[:offset].count(b"\r\n")
