"""xsudo.at.commands: the exact line each builder renders, and what each refuses.

The expected lines are written out as bytes from the AT reference forms, not computed with
AtCommand, so a change in how a command renders fails here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xsudo import command as command_module
from xsudo.at import commands
from xsudo.command import AtCommand, XsudoLine
from xsudo.content import CredType, cmng_write_body
from xsudo.errors import BadInputError, CommandTextError

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PUB = b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"
CHALLENGE = bytes(range(16))


@pytest.mark.parametrize(
    ("built", "line"),
    [
        (
            lambda: commands.cmng_write(16842753, 0, PEM),
            b'AT%CMNG=0,16842753,0,"-----BEGIN CERTIFICATE-----\nMIIB\n'
            b'-----END CERTIFICATE-----\n"',
        ),
        (
            lambda: commands.cmng_write(16842753, 2, KEY, "pass,word"),
            b'AT%CMNG=0,16842753,2,"-----BEGIN PRIVATE KEY-----\nMIGH\n'
            b'-----END PRIVATE KEY-----\n","pass,word"',
        ),
        (lambda: commands.cmng_write(7, 4, "device-7"), b'AT%CMNG=0,7,4,"device-7"'),
        (lambda: commands.cmng_write(7, CredType.PSK, b"00ff"), b'AT%CMNG=0,7,3,"00ff"'),
        (lambda: commands.cmng_list(), b"AT%CMNG=1"),
        (lambda: commands.cmng_list(16842753), b"AT%CMNG=1,16842753"),
        (lambda: commands.cmng_list(16842753, 0), b"AT%CMNG=1,16842753,0"),
        (lambda: commands.cmng_list(4294967295, 13), b"AT%CMNG=1,4294967295,13"),
        (lambda: commands.cmng_read(16842753, 0), b"AT%CMNG=2,16842753,0"),
        (lambda: commands.cmng_read(12, CredType.CLIENT_CERT), b"AT%CMNG=2,12,1"),
        (lambda: commands.cmng_delete(16842753, 0), b"AT%CMNG=3,16842753,0"),
        (lambda: commands.cmng_delete(3, 5), b"AT%CMNG=3,3,5"),
        (
            lambda: commands.xpmng_write(PUB),
            b'AT%XPMNG=0,"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"',
        ),
        (
            lambda: commands.xpmng_write(PUB, 3),
            b'AT%XPMNG=0,"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",3',
        ),
        (lambda: commands.xpmng_read(), b"AT%XPMNG=2"),
        (lambda: commands.xpmng_read(0), b"AT%XPMNG=2,,0"),
        (lambda: commands.xpmng_read(3), b"AT%XPMNG=2,,3"),
        (lambda: commands.keygen(16842753, 2, 0), b"AT%KEYGEN=16842753,2,0"),
        (lambda: commands.keygen(16842753, 8, 1), b"AT%KEYGEN=16842753,8,1"),
        (
            lambda: commands.keygen(16842753, 2, 0, "O=Nordic Semiconductor,L=Trondheim,C=no"),
            b'AT%KEYGEN=16842753,2,0,"O=Nordic Semiconductor,L=Trondheim,C=no"',
        ),
        (
            lambda: commands.keygen(16842753, 2, 0, "O=Acme", "101010000"),
            b'AT%KEYGEN=16842753,2,0,"O=Acme","101010000"',
        ),
        (
            lambda: commands.keygen(16842753, 2, 1, key_usage="101010000"),
            b'AT%KEYGEN=16842753,2,1,"","101010000"',
        ),
        (
            lambda: commands.keygen(5, CredType.CLIENT_KEY, commands.KeygenFormat.CSR),
            b"AT%KEYGEN=5,2,0",
        ),
        (lambda: commands.attesttoken(), b"AT%ATTESTTOKEN"),
        (
            lambda: commands.attesttoken(CHALLENGE),
            b'AT%ATTESTTOKEN="000102030405060708090a0b0c0d0e0f"',
        ),
        (lambda: commands.deviceuuid(), b"AT%DEVICEUUID"),
        (lambda: commands.xmodemuuid(), b"AT%XMODEMUUID"),
        (lambda: commands.hwversion(), b"AT%HWVERSION"),
        (lambda: commands.xsudo_test(), b"AT%XSUDO=?"),
    ],
)
def test_each_builder_renders_the_reference_form(
    built: Callable[[], AtCommand], line: bytes
) -> None:
    command = built()
    assert isinstance(command, AtCommand)
    assert command.line() == line
    assert command.body() == line[2:]


@pytest.mark.parametrize(
    "build",
    [
        lambda: commands.cmng_write(-1, 0, PEM),
        lambda: commands.cmng_write(4294967296, 0, PEM),
        lambda: commands.cmng_write(True, 0, PEM),
        lambda: commands.cmng_write("1", 0, PEM),  # type: ignore[arg-type]
        lambda: commands.cmng_write(1, 14, PEM),
        lambda: commands.cmng_write(1, -1, PEM),
        lambda: commands.cmng_write(1, False, PEM),
        lambda: commands.cmng_write(1, 0, b""),
        lambda: commands.cmng_write(1, 0, ""),
        lambda: commands.cmng_list(cred_type=0),
        lambda: commands.cmng_list(-1),
        lambda: commands.cmng_read(1, 14),
        lambda: commands.cmng_delete(4294967296, 0),
        lambda: commands.xpmng_write(b""),
        lambda: commands.keygen(-1, 2, 0),
        lambda: commands.keygen(1, 3, 0),
        lambda: commands.keygen(1, True, 0),
        lambda: commands.keygen(1, 2, 2),
        lambda: commands.keygen(1, 2, 0, "O=Acme", "10101"),
        lambda: commands.keygen(1, 2, 0, "O=Acme", "10101000x"),
        lambda: commands.attesttoken(bytes(15)),
        lambda: commands.attesttoken(bytes(17)),
    ],
)
def test_out_of_range_values_are_refused_when_built(build: Callable[[], AtCommand]) -> None:
    with pytest.raises(BadInputError):
        build()


def test_the_modem_messages_are_kept() -> None:
    with pytest.raises(
        BadInputError, match=r"sec_tag -1 is out of range; sec_tags are 0-4294967295"
    ):
        commands.cmng_read(-1, 0)
    with pytest.raises(BadInputError, match=r"type 14 is out of range; %CMNG types are 0-13"):
        commands.cmng_read(1, 14)
    with pytest.raises(BadInputError, match="must be 16 bytes"):
        commands.attesttoken(b"short")


@pytest.mark.parametrize("slot", [-1, 10])
def test_slots_are_checked_as_xsudo_slots(slot: int) -> None:
    with pytest.raises(CommandTextError, match="XSUDO key slots are 0-9"):
        commands.xpmng_read(slot)
    with pytest.raises(CommandTextError):
        commands.xpmng_write(PUB, slot)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b'has "quote"', "double quote"),
        ("caf\u00e9".encode(), "non-ASCII character"),
        (b"A\x00B", "control character 0x00"),
        (b"A" * 4090, "at most 4095"),
    ],
)
def test_text_is_checked_when_rendered(content: bytes, match: str) -> None:
    command = commands.cmng_write(1, 0, content)  # ranges are fine: built
    with pytest.raises(CommandTextError, match=match):
        command.line()


def test_the_fit_check_renders_the_writers_command() -> None:
    for content, tag, kind, password in [
        (PEM, 16842753, CredType.CA_CERT, None),
        (KEY, 7, CredType.CLIENT_KEY, "pw"),
        (b"device-7", 0, CredType.PSK_ID, None),
    ]:
        body = commands.cmng_write(tag, kind, content, password).body()
        assert cmng_write_body(content, tag, kind, password) == body


def test_the_xsudo_line_is_built_in_one_place() -> None:
    assert commands.build_xsudo_line is command_module.build_xsudo_line
    assert commands.XsudoLine is command_module.XsudoLine
    body = commands.cmng_delete(16842753, 0).body()
    line = commands.build_xsudo_line(body, "MEUCIQ+/=", 1).render()
    assert line == b'AT%XSUDO=18,"MEUCIQ+/=",1;%CMNG=3,16842753,0'
    assert XsudoLine(18, "sig", None, body).render() == b'AT%XSUDO=18,"sig";%CMNG=3,16842753,0'
    assert commands.xsudo_prefix(22, "<signature by k>", 0) == 'AT%XSUDO=22,"<signature by k>",0;'
