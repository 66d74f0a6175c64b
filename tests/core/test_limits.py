"""xsudo.limits: every number documented, and the places that keep a copy agree with it."""

from __future__ import annotations

import ast
from pathlib import Path

from xsudo import command, limits
from xsudo.at import framing, parse
from xsudo.content import MAX_TAG, MAX_WRITABLE_TAG, TLS_DECRYPT_TAGS, CredType, reserved_tag_name
from xsudo.tokens import CHALLENGE_BYTES

SOURCE = Path(limits.__file__)


def test_every_constant_says_where_it_comes_from() -> None:
    body = ast.parse(SOURCE.read_text(encoding="utf-8")).body
    names = []
    for index, node in enumerate(body):
        if isinstance(node, ast.Assign):
            [target] = node.targets
            assert isinstance(target, ast.Name)
            names.append(target.id)
            following = body[index + 1] if index + 1 < len(body) else None
            assert (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
                and len(following.value.value) > 30
            ), f"{target.id} has no docstring"
    assert names and all(name.isupper() for name in names)


def test_the_values() -> None:
    assert limits.MAX_SEC_TAG == 2**32 - 1
    assert limits.MAX_USER_SEC_TAG == 2**31 - 1
    assert range(2**31, 2**31 + 20) == limits.TLS_DECRYPT_TAGS
    assert range(14) == limits.CRED_TYPES
    assert range(10) == limits.XPMNG_SLOTS
    assert limits.MAX_COMMAND_LINE_BYTES == 4095
    assert limits.MAX_RESPONSE_LINE_BYTES == 8192


def test_the_two_line_limits_are_different_things() -> None:
    assert limits.MAX_COMMAND_LINE_BYTES != limits.MAX_RESPONSE_LINE_BYTES
    assert command.MAX_LINE_BYTES == limits.MAX_COMMAND_LINE_BYTES  # the sending limit
    assert framing.MAX_LINE_BYTES == limits.MAX_RESPONSE_LINE_BYTES  # the reading limit


def test_copies_agree() -> None:
    assert command.XSUDO_SLOTS == limits.XPMNG_SLOTS
    assert parse.MAX_FIELD_VALUE == limits.MAX_SEC_TAG
    assert CHALLENGE_BYTES == limits.ATTEST_CHALLENGE_BYTES
    assert (MAX_TAG, MAX_WRITABLE_TAG) == (limits.MAX_SEC_TAG, limits.MAX_USER_SEC_TAG)
    assert TLS_DECRYPT_TAGS == limits.TLS_DECRYPT_TAGS


def test_types_and_tags_fit_the_content_layer() -> None:
    assert all(kind.value in limits.CRED_TYPES for kind in CredType)
    assert limits.XPMNG_KEY_TYPE == CredType.PUBLIC_KEY
    assert limits.KEYGEN_KEY_TYPES == (CredType.CLIENT_KEY, CredType.ENDORSEMENT_KEY)
    assert reserved_tag_name(limits.NORDIC_BASE_PUBLIC_KEY_TAG) == "Nordic base public key"
    assert reserved_tag_name(limits.NORDIC_IDENTITY_ROOT_CA_TAG) == "Nordic identity root CA"
    assert reserved_tag_name(limits.DEVICE_IDENTITY_PUBLIC_KEY_TAG) == "device identity public key"
    assert reserved_tag_name(limits.MAX_USER_SEC_TAG) is None
    assert reserved_tag_name(limits.MAX_USER_SEC_TAG + 1) == "nRF91x1 TLS decrypt tag 0"
