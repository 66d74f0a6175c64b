"""Property: a response delivered in any chunking gives the same result through the channel.

The fault tests run over real ports, where the kernel decides how bytes are grouped; this
in-process port hands the channel exactly the chunks hypothesis chooses.
"""

from __future__ import annotations

import itertools
from collections import deque

import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from xsudo.at import AtChannel, AtResponse

SHA = b"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"
PEM = b"-----BEGIN CERTIFICATE-----\r\nMIIB\nOK\n\n+CME ERROR: 1\n-----END CERTIFICATE-----\n"
COMMAND = b"AT%CMNG=2,12,0"
REPLY = (
    COMMAND
    + b"\r\r\n"  # echo, with the terminal's own line end
    + b"+CEREG: 1\n"
    + b'\r\n%CMNG: 12, 0, "'
    + SHA
    + b'", "'
    + PEM
    + b'"\r\n'
    + b"[00:00:01.234,000] <inf> at_host: x\r"
    + b"\xfe\xff\r\n"
    + b"OK\r\n+CSCON: 0\r\n"
)


class ChunkPort(serial.SerialBase):
    """After each command written, delivers the next reply in exactly the chunks given."""

    def __init__(self, replies: list[list[bytes]]) -> None:
        self._replies = replies
        self._pending: deque[bytes] = deque()
        self.written = bytearray()
        super().__init__()
        self.is_open = True

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return len(self._pending[0]) if self._pending else 0

    def read(self, size: int = 1) -> bytes:
        if not self._pending:
            return b""
        chunk = self._pending.popleft()
        if len(chunk) > size:
            self._pending.appendleft(chunk[size:])
        return chunk[:size]

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written += data
        if data.endswith(b"\r\n") and self._replies:
            self._pending.extend(c for c in self._replies.pop(0) if c)
        return len(data)


def run(chunks: list[bytes]) -> tuple[AtResponse, list[bytes], list[bytes], list[bytes]]:
    port = ChunkPort([chunks, [b"OK\r\n"]])
    channel = AtChannel(port, timeout=5)
    response = channel.command(COMMAND)
    channel.command(b"AT")
    return response, channel.urcs(), channel.logs(), channel.strays()


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(marks)]


WHOLE = run([REPLY])


def test_whole_reply() -> None:
    response, urcs, logs, strays = WHOLE
    assert response.lines == [b'%CMNG: 12, 0, "' + SHA + b'", "' + PEM + b'"']
    assert response.final == "OK"
    assert response.urcs == [b"+CEREG: 1"]
    assert urcs == [b"+CEREG: 1", b"+CSCON: 0"]
    assert logs == [b"[00:00:01.234,000] <inf> at_host: x"]
    assert strays == [b"\xfe\xff"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(REPLY) - 1), max_size=60))
def test_any_chunking_gives_the_same_result(points: list[int]) -> None:
    assert run(cut(REPLY, points)) == WHOLE


def test_one_byte_at_a_time() -> None:
    assert run([bytes([b]) for b in REPLY]) == WHOLE
