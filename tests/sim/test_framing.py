"""Rules S1-S4 at the byte-stream level: at_host-style framing, echo, scripted faults and URCs."""

from __future__ import annotations

import pytest

from xsudo.sim import RESET_BANNER, Board, Link, SimOptions
from xsudo.sim.framing import Framer
from xsudo.sim.wire import OutputQueue


@pytest.mark.parametrize(
    ("terminator", "stream", "commands"),
    [
        ("cr", b"AT+CGMR\rAT\r", [b"AT+CGMR", b"AT"]),
        ("cr", b"AT+CGMR\r\nAT\r\n", [b"AT+CGMR", b"\nAT"]),
        ("lf", b"AT+CGMR\r\nAT\n", [b"AT+CGMR\r", b"AT"]),
        ("crlf", b"AT+CGMR\r\nAT\r\n", [b"AT+CGMR\r", b"AT\r"]),
        ("crlf", b"AT\rX\nAT\r\n", [b"AT\rX\nAT\r"]),
        ("nul", b"AT\r\n\0AT\0", [b"AT\r\n", b"AT"]),
        ("cr", b'AT%CMNG=0,1,0,"a\rb\r\nc"\r', [b'AT%CMNG=0,1,0,"a\rb\r\nc"']),
        ("lf", b'AT%CMNG=0,1,0,"a\nb"\n', [b'AT%CMNG=0,1,0,"a\nb"']),
        ("cr", b"A\0T\r", [b"AT"]),
        ("cr", b"\r\r", [b"", b""]),
    ],
    ids=[
        "cr",
        "cr-leaves-lf",
        "lf-leaves-cr",
        "crlf",
        "crlf-lone-cr-lf",
        "nul",
        "quoted-cr-lf",
        "quoted-lf",
        "stray-nul-dropped",
        "empty",
    ],
)
def test_framer(terminator: str, stream: bytes, commands: list[bytes]) -> None:
    framer = Framer(terminator)
    assert [command for _, command in framer.feed(stream)] == commands


def test_framer_byte_by_byte_equals_all_at_once() -> None:
    stream = b'AT%CMNG=0,1,0,"-----BEGIN\r\nX\r\n"\rAT+CGMR\r'
    one = Framer()
    many = Framer()
    assert [c for _, c in one.feed(stream)] == [
        c for byte in stream for _, c in many.feed(bytes([byte]))
    ]


def test_framer_offsets_point_past_the_terminator() -> None:
    assert Framer().feed(b"AT\rAT+CGMR\r") == [(3, b"AT"), (11, b"AT+CGMR")]


def test_truncate_mode_drops_like_at_host_and_hangs_on_a_lost_quote() -> None:
    framer = Framer("cr", max_line=10, overflow="truncate")
    assert framer.feed(b"AT+ABCDEFGHIJKLM\r") == [(17, b"AT+ABCDEFG")]
    assert framer.feed(b'AT%CMNG="12345"\rAT\r') == []
    assert framer.pending == b'AT%CMNG="1'


def test_error_mode_keeps_long_commands_so_the_modem_can_refuse_them() -> None:
    board = Board(SimOptions(max_line=10))
    link = Link(board)
    assert link.receive(b"AT+ABCDEFGHIJKLM\rAT\r") == [(17, b"ERROR\r\n"), (20, b"OK\r\n")]


def test_link_echo_comes_first_and_no_echo_by_default() -> None:
    assert Link(Board()).receive(b"AT\r") == [(3, b"OK\r\n")]
    assert Link(Board(SimOptions(echo=True))).receive(b"AT\r") == [(0, b"AT\r"), (3, b"OK\r\n")]


def test_link_empty_commands_are_silent() -> None:
    link = Link(Board())
    assert link.receive(b"\r\n\r\n") == []
    assert link.receive(b"AT\r\n") == [(3, b"OK\r\n")]


def test_fault_drop_loses_the_response_but_runs_the_command() -> None:
    board = Board(SimOptions.from_mapping({"fault": "drop:2"}))
    link = Link(board)
    assert link.receive(b"AT+CMEE=1\r") == [(10, b"OK\r\n")]
    assert link.receive(b'AT%CMNG=0,1,4,"x"\r') == []
    assert link.receive(b"AT%CMNG=1,1\r")[0][1].startswith(b"%CMNG: 1,4,")


def test_fault_reset_sends_the_banner_and_resets_volatile_state() -> None:
    board = Board(SimOptions.from_mapping({"fault": ["reset:3"]}))
    link = Link(board)
    link.receive(b"AT+CMEE=1\rAT+CFUN=1\r")
    assert link.receive(b'AT%CMNG=0,1,4,"x"\r') == [(18, RESET_BANNER)]
    assert (1, 4) not in board.modem.nvm.credentials
    assert link.receive(b"AT+CMEE?\rAT+CFUN?\r") == [
        (9, b"+CMEE: 0\r\nOK\r\n"),
        (18, b"+CFUN: 0\r\nOK\r\n"),
    ]


def test_fault_pofwarn_fires_before_the_command() -> None:
    board = Board(SimOptions.from_mapping({"fault": "pofwarn:2"}))
    link = Link(board)
    link.receive(b"AT+CMEE=1\r")
    assert link.receive(b'AT%CMNG=0,1,4,"x"\r') == [
        (18, b"+CGEV: ME BATTERY LOW\r\n+CME ERROR: 528\r\n")
    ]


def test_urc_after_command_n() -> None:
    board = Board(SimOptions.from_mapping({"urc": ["after:2:+CEREG: 5,1", "after:2:+X"]}))
    link = Link(board)
    assert link.receive(b"AT\r") == [(3, b"OK\r\n")]
    assert link.receive(b"AT\r") == [(3, b"OK\r\n+CEREG: 5,1\r\n+X\r\n")]
    assert link.receive(b"AT\r") == [(3, b"OK\r\n")]


def test_timed_urcs_are_due_at_their_times() -> None:
    board = Board(
        SimOptions.from_mapping({"urc": ["every:2:+CEREG: 1", "at:3:+CEREG: 2"]}), now=100.0
    )
    assert board.next_urc_at() == 102.0
    assert board.due_urcs(101.9) == b""
    assert board.due_urcs(102.0) == b"+CEREG: 1\r\n"
    assert board.next_urc_at() == 103.0
    assert board.due_urcs(106.5) == b"+CEREG: 1\r\n+CEREG: 1\r\n+CEREG: 2\r\n"
    assert board.next_urc_at() == 108.0


def test_output_queue_paces_bytes_at_the_baud_rate() -> None:
    queue = OutputQueue(baud=1000)
    queue.push(b"OK\r\n", earliest=10.0)
    queue.push(b"AB", earliest=10.0)
    assert queue.available(10.0) == 0
    assert queue.next_arrival(10.0) == pytest.approx(10.01)
    assert queue.available(10.025) == 2
    assert queue.take(10, 10.025) == b"OK"
    assert queue.available(10.0401) == 2
    assert queue.take(1, 10.06) == b"\r"
    assert queue.take(10, 10.06) == b"\nAB"
    assert queue.next_arrival(10.06) is None


def test_output_queue_without_baud_is_immediate() -> None:
    queue = OutputQueue()
    queue.push(b"OK\r\n", earliest=5.0)
    assert queue.available(5.0) == 4
    queue.push(b"later", earliest=7.0)
    assert queue.take(100, 5.0) == b"OK\r\n"
    assert queue.next_arrival(5.0) == 7.0
    queue.discard_arrived(7.0)
    assert len(queue) == 0


def test_host_writes_occupy_the_input_wire_back_to_back() -> None:
    from xsudo.sim.wire import InputWire

    wire = InputWire(100_000)  # 0.1 ms per byte
    first = wire.send(10, now=5.0)
    assert first == 5.0
    assert wire.free == pytest.approx(5.001)
    second = wire.send(5, now=5.0005)  # written while the first is still on the wire
    assert second == pytest.approx(5.001)
    assert wire.arrival(second, 5) == pytest.approx(5.0015)
    assert InputWire(0).send(100, now=7.0) == 7.0
