"""Credential type names and numbers; sec_tag ranges."""

from __future__ import annotations

import pytest

from xsudo.content import (
    ContentError,
    CredType,
    ReservedTagError,
    check_tag,
    cred_type_label,
    is_reserved_tag,
    parse_cred_type,
    reserved_tag_name,
)
from xsudo.errors import BadInputError

WRITABLE = {
    "ca-cert": 0,
    "client-cert": 1,
    "client-key": 2,
    "psk": 3,
    "psk-id": 4,
    "public-key": 5,
}
MODEM_SIDE = {
    6: "device-identity-public-key",
    8: "endorsement-key",
    9: "ownership-key",
    10: "nordic-identity-root-ca",
    11: "nordic-base-public-key",
}


@pytest.mark.parametrize(("name", "number"), sorted(WRITABLE.items()))
def test_parse_writable_by_name_and_number(name: str, number: int) -> None:
    assert parse_cred_type(name) == number
    assert parse_cred_type(str(number)) == number
    assert parse_cred_type(number) == number
    assert parse_cred_type(f" {name.upper().replace('-', '_')} ") == number
    assert CredType(number).label == name
    assert CredType(number).writable


def test_examples_from_the_brief() -> None:
    assert parse_cred_type("ca-cert") is CredType.CA_CERT
    assert parse_cred_type("2") is CredType.CLIENT_KEY


@pytest.mark.parametrize(("number", "name"), sorted(MODEM_SIDE.items()))
def test_modem_side_types_have_names_but_are_not_writable(number: int, name: str) -> None:
    assert cred_type_label(number) == name
    assert parse_cred_type(name, writable_only=False) == number
    with pytest.raises(ContentError) as caught:
        parse_cred_type(str(number))
    assert caught.value.code == "not-writable"
    assert name in str(caught.value)


@pytest.mark.parametrize("text", ["", "7", "13", "cert", "-1", "ca cert"])
def test_unknown_types(text: str) -> None:
    with pytest.raises(ContentError) as caught:
        parse_cred_type(text, writable_only=False)
    assert caught.value.code == "unknown-type"
    assert "ca-cert (0)" in str(caught.value)
    assert caught.value.exit_code == 2


def test_unknown_number_label() -> None:
    assert cred_type_label(13) == "type-13"


def test_secret_types() -> None:
    secret = {t for t in CredType if t.is_secret}
    assert {CredType.CLIENT_KEY, CredType.PSK} <= secret
    assert CredType.CA_CERT not in secret
    assert CredType.PSK_ID not in secret
    assert {t for t in CredType if t.is_pem} == {0, 1, 2, 5}


@pytest.mark.parametrize("tag", [0, 1, 16842753, 2147483647])
def test_writable_tags(tag: int) -> None:
    assert check_tag(tag) == tag
    assert not is_reserved_tag(tag)
    assert reserved_tag_name(tag) is None


@pytest.mark.parametrize(
    ("tag", "fragment"),
    [
        (2147483648, "TLS decrypt tag 0"),
        (2147483667, "TLS decrypt tag 19"),
        (2147483668, "reserved for the modem"),
        (4294967292, "Nordic base public key"),
        (4294967293, "Nordic identity root CA"),
        (4294967294, "device identity public key"),
        (4294967295, "reserved for the modem"),
    ],
)
def test_reserved_tags(tag: int, fragment: str) -> None:
    assert is_reserved_tag(tag)
    assert fragment in (reserved_tag_name(tag) or "")
    with pytest.raises(ReservedTagError) as caught:
        check_tag(tag)
    assert caught.value.tag == tag
    assert fragment in str(caught.value)
    assert "0-2147483647" in str(caught.value)


@pytest.mark.parametrize("tag", [-1, 4294967296, True])
def test_out_of_range_tags(tag: int) -> None:
    with pytest.raises(BadInputError) as caught:
        check_tag(tag)
    assert isinstance(caught.value, ContentError)
    assert caught.value.code == "bad-tag"
