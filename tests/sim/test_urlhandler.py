"""``sim://`` through pyserial's ``serial_for_url``: a simulated board behaves like a port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from xsudo.sim import RESET_BANNER, SimOptionError, get_board, register_url_handler
from xsudo.sim.urlhandler.protocol_sim import Serial as SimSerial

from .conftest import amazon_root_ca

PEM = amazon_root_ca()["content"].encode("ascii")
PEM_SHA = amazon_root_ca()["sha256_upper_hex"].encode("ascii")
DEADLINE = 5.0


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_url_handler()
    yield


def open_sim(url: str, timeout: float | None = DEADLINE) -> SimSerial:
    port = serial.serial_for_url(url, timeout=timeout)
    assert isinstance(port, SimSerial)
    return port


def ask(port: serial.SerialBase, command: bytes, final: bytes = b"OK\r\n") -> bytes:
    port.write(command + b"\r")
    return bytes(port.read_until(final))


def test_register_is_idempotent() -> None:
    register_url_handler()
    register_url_handler()
    assert serial.protocol_handler_packages.count("xsudo.sim.urlhandler") == 1


def test_multiline_pem_write_and_list() -> None:
    with open_sim("sim://") as port:
        assert ask(port, b'AT%CMNG=0,16842753,0,"' + PEM + b'"') == b"OK\r\n"
        assert ask(port, b"AT%CMNG=1,16842753,0") == (
            b'%CMNG: 16842753,0,"' + PEM_SHA + b'"\r\nOK\r\n'
        )


def test_query_options_apply() -> None:
    with open_sim("sim://?profile=nrf9160-1.3&imei=350000000000017&echo=1") as port:
        assert ask(port, b"AT+CGSN") == b"AT+CGSN\r350000000000017\r\nOK\r\n"
        assert ask(port, b"AT+CGMR") == b"AT+CGMR\rmfw_nrf9160_1.3.5\r\nOK\r\n"


def test_bad_query_is_a_value_error() -> None:
    with pytest.raises(SimOptionError):
        open_sim("sim://?profile=nope")
    with pytest.raises(ValueError):
        open_sim("sim://?colour=blue")


def test_state_file_shared_across_two_opens(tmp_path: Path) -> None:
    url = f"sim://?state={tmp_path / 'board.json'}&profile=nrf9160-1.3"
    with open_sim(url) as port:
        assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
        assert ask(port, b'AT%CMNG=0,5,0,"HONK"') == b"OK\r\n"
        listing = ask(port, b"AT%CMNG=1")
    with open_sim(url) as port:
        assert ask(port, b"AT%CMNG=1") == listing
        assert ask(port, b"AT+CMEE?") == b"+CMEE: 0\r\nOK\r\n"
    assert b'%CMNG: 5,0,"' in listing


def test_named_board_stays_powered_between_opens() -> None:
    with open_sim("sim://bench-1?profile=locked") as port:
        assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
    with open_sim("sim://bench-1?profile=locked") as port:
        assert ask(port, b"AT+CMEE?") == b"+CMEE: 1\r\nOK\r\n"
        assert ask(port, b'AT%CMNG=0,1,4,"x"', b"\r\n") == b"+CME ERROR: 514\r\n"
    board = get_board("bench-1")
    assert board is not None and board.commands_handled == 3
    with pytest.raises(SimOptionError):
        open_sim("sim://bench-1?profile=nrf9160-1.3")


def test_read_times_out_with_what_arrived() -> None:
    with open_sim("sim://", timeout=0.05) as port:
        assert port.read(10) == b""
        port.write(b"AT\r")
        assert port.read(10) == b"OK\r\n"


def test_in_waiting_and_reset_input_buffer() -> None:
    with open_sim("sim://") as port:
        port.write(b"AT\r")
        assert port.in_waiting == 4
        port.reset_input_buffer()
        assert port.in_waiting == 0
        assert ask(port, b"AT+CMEE?") == b"+CMEE: 0\r\nOK\r\n"


def test_baud_emulation_delays_the_answer() -> None:
    with open_sim("sim://?baud=300") as port:
        port.write(b"AT+CGMR\r")
        assert port.in_waiting == 0
        assert port.read_until(b"OK\r\n") == b"mfw_nrf91x1_2.0.2\r\nOK\r\n"


def test_cancel_read_releases_a_blocked_reader() -> None:
    with open_sim("sim://", timeout=None) as port:
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(port.read(1)))
        reader.start()
        port.cancel_read()
        reader.join(DEADLINE)
        assert not reader.is_alive()


def test_reader_thread_sees_answers_written_from_another_thread() -> None:
    with open_sim("sim://", timeout=DEADLINE) as port:
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(port.read(4)))
        reader.start()
        port.write(b"AT\r")
        reader.join(DEADLINE)
        assert result == [b"OK\r\n"]


def test_timed_urc_arrives_while_waiting() -> None:
    with open_sim("sim://?urc=at:0.01:+CEREG: 5") as port:
        assert port.read_until(b"+CEREG: 5\r\n") == b"+CEREG: 5\r\n"


def test_hooks_and_faults_reach_the_port() -> None:
    with open_sim("sim://?fault=drop:2&fault=reset:4", timeout=0.2) as port:
        assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
        port.write(b"AT\r")
        assert port.read(100) == b""
        port.timeout = DEADLINE
        port.sim_trigger_pofwarn()
        assert port.read_until(b"\r\n") == b"+CGEV: ME BATTERY LOW\r\n"
        assert ask(port, b'AT%CMNG=0,1,4,"x"', b"\r\n") == b"+CME ERROR: 528\r\n"
        port.write(b"AT\r")
        assert port.read_until(RESET_BANNER) == RESET_BANNER
        port.sim_reboot()
        assert port.read_until(RESET_BANNER) == RESET_BANNER
