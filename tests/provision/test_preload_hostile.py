"""A lying listing before a batch's writes (``CredentialWriter.preload``): the device is
untrusted, so what one ``AT%CMNG=1,<tag>`` says is bounded and strictly parsed, counts only
for that tag, and a bad answer stops the batch before anything is written. Over a real
pyserial port (a pty) to a scripted device."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import pytest

from tests.at.fakedevice import FakeDevice
from xsudo.at import Modem
from xsudo.at.parse import ResponseFormatError
from xsudo.ca import cert_pem
from xsudo.content import CredType, preflight
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter

TAG = 4242
PEM = cert_pem(make_ca(generate_private_key(), "preload test CA"))
ITEM = preflight(PEM, CredType.CA_CERT, TAG)
WRITE = re.compile(rb'AT%CMNG=0,(\d+),(\d+),"(.*)"', re.S)


def board(listing: Callable[[bytes], bytes]) -> Callable[[bytes], Sequence[bytes]]:
    """A modem that stores writes and answers ``AT%CMNG=1,<tag>`` with ``listing(line)``
    (the lie), and a per-type read honestly."""
    stored: dict[tuple[int, int], str] = {}

    def answer(line: bytes) -> Sequence[bytes]:
        if line in (b"AT+CMEE?", b"AT+CFUN?"):
            return (b"+CMEE: 1\r\nOK\r\n" if b"CMEE" in line else b"+CFUN: 1\r\nOK\r\n",)
        if line.startswith(b"AT+CFUN=") or line == b"AT":
            return (b"OK\r\n",)
        write = WRITE.fullmatch(line)
        if write:
            content = write.group(3).replace(b"\r\n", b"\n")
            key = (int(write.group(1)), int(write.group(2)))
            stored[key] = hashlib.sha256(content).hexdigest().upper()
            return (b"OK\r\n",)
        if line == f"AT%CMNG=1,{TAG}".encode():
            return (listing(line) + b"OK\r\n",)
        if line.startswith(f"AT%CMNG=1,{TAG},".encode()):
            kind = int(line.rsplit(b",", 1)[1])
            sha = stored.get((TAG, kind))
            entry = f'%CMNG: {TAG},{kind},"{sha}"\r\n'.encode() if sha else b""
            return (entry + b"OK\r\n",)
        return (b"ERROR\r\n",)

    return answer


def writes(device: FakeDevice) -> list[bytes]:
    return [line for line in device.received if line.startswith(b"AT%CMNG=0,")]


def test_another_tags_entry_with_our_sha_does_not_make_the_write_unchanged() -> None:
    sha = ITEM.sha.encode()
    lie = board(lambda _: b'%CMNG: 7,0,"' + sha + b'"\r\n')
    with FakeDevice(transport="pty", responder=lie) as device:
        modem = Modem.open(device.url, timeout=3, cmd_type="at")
        writer = CredentialWriter(DeviceSession(modem, AuthSettings("never")))
        with modem, writer.batch():
            writer.preload(TAG, [0, 1])
            result = writer.write(ITEM)
        assert result.action == "written"  # the other tag's line counted for nothing
        assert len(writes(device)) == 1


@pytest.mark.parametrize(
    "lie",
    [
        b"%CMNG: " + b"9" * 5000 + b',0,"' + b"A" * 64 + b'"\r\n',  # a huge tag
        f"%CMNG: {TAG},4294967296\r\n".encode(),  # a type past any bound
        f'%CMNG: {TAG},0,"{"Z" * 64}"\r\n'.encode(),  # not a SHA
        b"\x1b[2J%CMNG: garbage\r\n",  # not a listing line
    ],
)
def test_a_malformed_listing_stops_the_batch_before_any_write(lie: bytes) -> None:
    with FakeDevice(transport="pty", responder=board(lambda _: lie)) as device:
        modem = Modem.open(device.url, timeout=3, cmd_type="at")
        writer = CredentialWriter(DeviceSession(modem, AuthSettings("never")))
        with modem, pytest.raises(ResponseFormatError) as caught, writer.batch():
            writer.preload(TAG, [0, 1])
            writer.write(ITEM)
        text = str(caught.value)
        assert text.isascii() and text.isprintable() and len(text) < 400
        assert writes(device) == []
        assert not any(line.startswith(b"AT+CFUN=4") for line in device.received)
