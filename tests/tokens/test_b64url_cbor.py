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


def test_sig_structure_encoding_matches_cbor2_and_rfc8949() -> None:
    ours = cbor.dumps(["Signature1", b"\xa1\x01\x26", b"", b"x" * 300])
    assert ours == cbor2.dumps(["Signature1", b"\xa1\x01\x26", b"", b"x" * 300])
    # array(4), text(10) "Signature1", bstr(3), bstr(0), bstr(300) with a 2-byte length
    head = "84" + "6a" + b"Signature1".hex() + "43a10126" + "40" + "59012c"
    assert ours == bytes.fromhex(head) + b"x" * 300
    assert cbor.dumps(cbor.Tag(18, [1, {4: b"!"}])) == bytes.fromhex("d28201a1044121")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("c24101", cbor.Tag(2, b"\x01")),  # cbor2 alone: the bignum 1
        ("c11a514b67b0", cbor.Tag(1, 1363896240)),  # cbor2 alone: a datetime
        ("d825" + "50" + "00" * 16, cbor.Tag(37, bytes(16))),  # cbor2 alone: a UUID
        ("d9010282 0101".replace(" ", ""), cbor.Tag(258, [1, 1])),  # a set, duplicates kept
        ("d81c81d81d00", cbor.Tag(28, [cbor.Tag(29, 0)])),  # shared references unresolved
        ("8200d9d9f701", [0, cbor.Tag(55799, 1)]),  # cbor2 alone drops tag 55799 anywhere
        ("d2820102", cbor.Tag(18, [1, 2])),  # cbor2 alone: a tuple inside a tag
        ("d2a10102", cbor.Tag(18, {1: 2})),  # cbor2 alone: a frozendict inside a tag
    ],
)
def test_tags_stay_tags_and_containers_are_lists_and_dicts(data: str, expected: object) -> None:
    value = cbor.loads(bytes.fromhex(data))
    assert value == expected
    assert _only_plain_types(value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("ff", "break code"),
        ("f818", "simple value"),
        ("f0", "simple value"),
        ("1c", "reserved additional information 28"),
        ("9d", "reserved additional information 29"),
        ("bf0101ff", "indefinite"),
        ("5f4101ff", "indefinite"),
        ("a1820102 01".replace(" ", ""), "map key"),
        ("a1c2410101", "map key"),
        ("a2 01 01 f5 01".replace(" ", ""), "map key"),
        ("d9d9f7f7", "simple value"),
        ("f700", "simple value"),  # the item is refused before the trailing byte is counted
    ],
)
def test_cbor_rejects_more(data: str, problem: str) -> None:
    with pytest.raises(TokenError, match=problem) as caught:
        cbor.loads(bytes.fromhex(data), "the thing")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("the thing")


def test_cbor_depth_limit_counts_tags_and_containers_alike() -> None:
    for opener in ("81", "a101", "d2"):
        assert cbor.loads(bytes.fromhex(opener * cbor.MAX_DEPTH + "01")) is not None
        with pytest.raises(TokenError, match="nested deeper"):
            cbor.loads(bytes.fromhex(opener * (cbor.MAX_DEPTH + 1) + "01"))


TAGGED = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.integers(-5, 5), inner, max_size=3)
        | st.builds(
            cbor2.CBORTag,
            st.sampled_from([*cbor.CBOR2_SEMANTIC_TAGS, 18, 24, 1000, 2**40]),
            inner,
        )
    ),
    max_leaves=10,
)


@given(TAGGED)
def test_any_tag_content_decodes_to_plain_values_or_token_errors(value: object) -> None:
    try:
        data = cbor2.dumps(value)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    try:
        decoded = cbor.loads(data)
    except TokenError:
        return
    assert _only_plain_types(decoded)


def _only_plain_types(value: object) -> bool:
    if value is None or isinstance(value, bool | int | bytes | str):
        return True
    if isinstance(value, cbor.Tag):
        return _only_plain_types(value.value)
    if type(value) is list:
        return all(_only_plain_types(item) for item in value)
    if type(value) is dict:
        return all(_only_plain_types(k) and _only_plain_types(v) for k, v in value.items())
    return False
