"""Property tests: mutated signatures and lines are rejected or diagnosed, never crash.

Only a Verdict comes back (verify_line raises nothing for bad content; an XsudoError would be
tolerated by the contract, anything else is a bug). A mutated line may only stay valid when
the bytes the modem hashes are still exactly the signed ones.
"""

from __future__ import annotations

import base64
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify.support import der_b64, line_for, load_test_key, raw_b64, sign_raw_bytes
from xsudo.diagnose import CODES, Verdict, verify_line
from xsudo.errors import XsudoError

KEY = load_test_key("test-key-1")
PUB = KEY.public_key()
BODY = b'%CMNG=0,16842753,0,"-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"'
R, S = sign_raw_bytes(KEY, BODY)
DER = base64.b64decode(der_b64(R, S))
RAW = base64.b64decode(raw_b64(R, S))
LINE = line_for(len(BODY), der_b64(R, S), BODY)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(line: bytes) -> Verdict | None:
    """verify_line, allowing only XsudoError to escape (returned as None)."""
    try:
        verdict = verify_line(line, PUB)
    except XsudoError:
        return None
    assert isinstance(verdict, Verdict)
    assert set(verdict.diagnosis) <= set(CODES)
    assert verdict.exit_code in (0, 1, 2)
    assert verdict.valid == (verdict.exit_code == 0)
    if not verdict.valid:
        assert verdict.diagnosis, "an invalid verdict always says why"
    return verdict


def with_signature(sig: bytes) -> bytes:
    return line_for(len(BODY), base64.b64encode(sig).decode("ascii"), BODY)


def flip(data: bytes, index: int, bit: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


@SETTINGS
@given(st.sampled_from([DER, RAW]), st.integers(min_value=0), st.integers(0, 7))
def test_bit_flipped_signature_is_never_valid(sig: bytes, index: int, bit: int) -> None:
    verdict = run(with_signature(flip(sig, index, bit)))
    assert verdict is None or not verdict.valid


@SETTINGS
@given(st.sampled_from([DER, RAW]), st.data())
def test_truncated_or_extended_signature_is_never_valid(sig: bytes, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        mutated = sig[: data.draw(st.integers(0, len(sig) - 1))]
    else:
        mutated = sig + data.draw(st.binary(min_size=1, max_size=8))
    verdict = run(with_signature(mutated))
    assert verdict is None or not verdict.valid


@SETTINGS
@given(st.integers(1, 3))
def test_re_encoded_signatures(padding: int) -> None:
    """Raw re-encoding verifies with a warning; BER (padded integers) is malformed."""
    raw = run(with_signature(RAW))
    assert raw is not None and raw.valid and raw.diagnosis == ("raw-signature",)
    r_bytes = b"\x00" * padding + R.to_bytes((R.bit_length() + 8) // 8, "big")
    s_bytes = S.to_bytes((S.bit_length() + 8) // 8, "big")
    inner = b"\x02" + bytes([len(r_bytes)]) + r_bytes + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    ber = run(with_signature(b"\x30" + bytes([len(inner)]) + inner))
    assert ber is not None and ber.diagnosis == ("malformed-signature",)


@SETTINGS
@given(st.data())
def test_mutated_base64_text_is_valid_only_if_it_still_decodes_the_same(
    data: st.DataObject,
) -> None:
    text = der_b64(R, S)
    index = data.draw(st.integers(0, len(text)))
    insert = data.draw(
        st.text(
            alphabet=st.characters(min_codepoint=1, max_codepoint=0x7E, blacklist_characters='"'),
            max_size=3,
        )
    )
    cut = data.draw(st.integers(0, 2))
    mutated = text[:index] + insert + text[index + cut :]
    verdict = run(line_for(len(BODY), mutated, BODY))
    if verdict is not None and verdict.valid:
        assert re.sub(r"[ \t\r\n\v\f]", "", mutated) == text


def _mutate_line(line: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["insert", "delete", "replace", "case", "truncate"]))
    index = data.draw(st.integers(0, len(line)))
    if kind == "insert":
        return line[:index] + data.draw(st.binary(min_size=1, max_size=4)) + line[index:]
    if kind == "delete":
        return line[:index] + line[index + data.draw(st.integers(1, 4)) :]
    if kind == "replace":
        return line[:index] + data.draw(st.binary(min_size=1, max_size=1)) + line[index + 1 :]
    if kind == "case":
        return line[:index] + line[index : index + 8].swapcase() + line[index + 8 :]
    return line[:index]


@SETTINGS
@given(st.data())
def test_mutated_line_is_valid_only_if_the_hashed_bytes_are_unchanged(
    data: st.DataObject,
) -> None:
    mutated = LINE
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = _mutate_line(mutated, data)
    verdict = run(mutated)
    if verdict is not None and verdict.valid:
        assert verdict.sha256 is not None and verdict.data_len is not None
        body = mutated.rstrip(b"\r\n").split(b";", 1)[1]
        assert body[: verdict.data_len] == BODY


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(raw: bytes) -> None:
    verdict = run(raw)
    assert verdict is None or not verdict.valid


@SETTINGS
@given(st.binary(max_size=120))
def test_random_bytes_after_the_prefix_never_crash(tail: bytes) -> None:
    run(b"AT%XSUDO=" + tail)
    run(b'AT%XSUDO=5,"' + tail)


# --- every mistake in the table is found when it is the one that was made -----------------

_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters='"\\;'),
    min_size=1,
    max_size=12,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A sendable body: a command, optionally with a quoted multi-line (LF or CRLF) part."""
    head = "%CMNG=0,1,0," + draw(_TEXT)
    lines = draw(st.lists(_TEXT, min_size=0, max_size=4))
    if not lines:
        return head.encode("ascii")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (head + ',"' + newline.join(lines) + newline + '"').encode("ascii")


def _apply_ending(body: bytes, ending: str) -> bytes:
    if ending == "crlf-signed":
        return re.sub(rb"(?<!\r)\n", b"\r\n", body)
    if ending == "lf-signed":
        return body.replace(b"\r\n", b"\n")
    if ending == "literal-backslash-n":
        return body.replace(b"\r\n", b"\\r\\n").replace(b"\n", b"\\n")
    return body


@settings(max_examples=120, deadline=None)
@given(
    bodies(),
    st.sampled_from([None, "crlf-signed", "lf-signed", "literal-backslash-n"]),
    st.booleans(),
    st.sampled_from([b"", b"\n", b"\r\n"]),
)
def test_the_mistake_made_is_the_mistake_reported(
    body: bytes, ending: str | None, at_prefix: bool, suffix: bytes
) -> None:
    signed = _apply_ending(body, ending or "")
    expected: set[str] = set()
    if ending is not None and signed != body:
        expected.add(ending)
    if at_prefix:
        signed = b"AT" + signed
        expected.add("at-prefix-signed")
    if suffix:
        signed += suffix
        expected.add("trailing-lf-signed" if suffix == b"\n" else "trailing-crlf-signed")
    r, s = sign_raw_bytes(KEY, signed)
    verdict = run(line_for(len(body), der_b64(r, s), body))
    assert verdict is not None
    assert verdict.valid is (not expected)
    assert set(verdict.diagnosis) == expected
    assert verdict.matched_variant == signed
