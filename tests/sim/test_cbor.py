"""The tiny CBOR codec against RFC 8949 Appendix A and against cbor2."""

from __future__ import annotations

import pytest

from xsudo.sim import cbor

RFC8949_APPENDIX_A: list[tuple[cbor.CborValue, str]] = [
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ("\u00fc", "62c3bc"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (cbor.Tag(1, 1363896240), "c11a514b67b0"),
    (cbor.Tag(23, b"\x01\x02\x03\x04"), "d74401020304"),
]


@pytest.mark.parametrize(
    ("value", "encoded"), RFC8949_APPENDIX_A, ids=[e for _, e in RFC8949_APPENDIX_A]
)
def test_rfc8949_appendix_a(value: cbor.CborValue, encoded: str) -> None:
    assert cbor.dumps(value).hex() == encoded
    assert cbor.loads(bytes.fromhex(encoded)) == value


@pytest.mark.parametrize(
    "data",
    ["0001", "19", "5f", "9f01ff", "f7", "1c", "6161ff"],
    ids=[
        "trailing",
        "truncated-int",
        "indefinite-bytes",
        "indefinite-array",
        "undefined",
        "reserved-info",
        "trailing-after-text",
    ],
)
def test_rejects_what_it_does_not_understand(data: str) -> None:
    with pytest.raises(cbor.CborError):
        cbor.loads(bytes.fromhex(data))


def test_refuses_to_encode_floats() -> None:
    with pytest.raises(cbor.CborError):
        cbor.dumps(1.5)  # type: ignore[arg-type]


def test_agrees_with_cbor2() -> None:
    cbor2 = pytest.importorskip("cbor2")
    value: cbor.CborValue = [9, b"\x00" * 16, cbor.dumps(2**31), {1: -7, "k": [None, True]}]
    ours = cbor.dumps(value)
    assert cbor2.dumps([9, b"\x00" * 16, cbor2.dumps(2**31), {1: -7, "k": [None, True]}]) == ours
    tagged = cbor2.loads(cbor.dumps(cbor.Tag(18, [b"a", {}, b"b", b"c"])))
    assert tagged.tag == 18
    first, second, third, fourth = tagged.value
    assert (first, dict(second), third, fourth) == (b"a", {}, b"b", b"c")
