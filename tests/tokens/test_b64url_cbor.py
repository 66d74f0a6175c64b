"""base64url and CBOR decoding: strict, and nothing but TokenError on bad input."""

from __future__ import annotations

import base64
import contextlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xsudo.tokens import TokenError, b64url, cbor


@given(st.binary(max_size=200))
def test_base64url_round_trips_against_the_standard_library(data: bytes) -> None:
    text = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    if data:
        assert b64url.decode(text) == data


@given(st.text(max_size=60))
def test_base64url_decoder_raises_only_token_errors(text: str) -> None:
    with contextlib.suppress(TokenError):  # anything else fails the test
        b64url.decode(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("QUJD=", "padding"),
        ("QUI=", "padding"),
        ("QU+D", "outside base64url"),
        ("QU/D", "outside base64url"),
        ("QU D", "outside base64url"),
        ("QUJDR", "truncated"),
        ("QUI", ""),  # "AB": 3 characters, the 2 unused bits zero
        ("QUJ", "not canonical"),  # the same bytes with an unused bit set
        ("", "empty"),
    ],
)
def test_base64url_strictness(text: str, problem: str) -> None:
    if not problem:
        assert b64url.decode(text) == b"AB"
        return
    with pytest.raises(TokenError, match=problem):
        b64url.decode(text)


def test_reply_must_have_exactly_one_separator() -> None:
    with pytest.raises(TokenError, match="separators"):
        b64url.split_reply("QUJD", "KEYGEN")
    with pytest.raises(TokenError, match="separators"):
        b64url.split_reply("QUJD.QUJD.QUJD", "KEYGEN")


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(-100, 100) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(VALUES)
def test_cbor_decodes_what_cbor2_encodes(value: object) -> None:
    assert cbor.loads(cbor2.dumps(value)) == value


@given(st.binary(max_size=64))
def test_cbor_decoder_raises_only_token_errors(data: bytes) -> None:
    with contextlib.suppress(TokenError):  # anything else fails the test
        cbor.loads(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (bytes.fromhex("9f01ff"), "indefinite"),
        (bytes.fromhex("f93c00"), "float"),
        (bytes.fromhex("f7"), "simple value"),
        (bytes.fromhex("a20101 0102".replace(" ", "")), "duplicate map key"),
        (bytes.fromhex("0102"), "after the CBOR item"),
        (bytes.fromhex("5a00000010"), "truncated"),
        (bytes.fromhex("62c328"), "UTF-8"),
        (bytes.fromhex("a1f401"), "map key"),
        (bytes.fromhex("81" * 20 + "01"), "nested deeper"),
    ],
)
def test_cbor_rejects(data: bytes, problem: str) -> None:
    with pytest.raises(TokenError, match=problem):
        cbor.loads(data)


def test_self_described_tag_is_removed_only_at_the_top() -> None:
    tagged = cbor.loads(cbor2.dumps(cbor2.CBORTag(55799, [1, 2])))
    assert cbor.untag_self_described(tagged) == [1, 2]
    assert cbor.untag_self_described([1, 2]) == [1, 2]
    other = cbor.loads(cbor2.dumps(cbor2.CBORTag(18, [1])))
    assert cbor.untag_self_described(other) == cbor.Tag(18, [1])


def test_sig_structure_encoding_matches_cbor2() -> None:
    expected = cbor2.dumps(["Signature1", b"\xa1\x01\x26", b"", b"x" * 300])
    ours = (
        cbor.dumps_array_head(4)
        + cbor.dumps_text("Signature1")
        + cbor.dumps_bytes(b"\xa1\x01\x26")
        + cbor.dumps_bytes(b"")
        + cbor.dumps_bytes(b"x" * 300)
    )
    assert ours == expected
