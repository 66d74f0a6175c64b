"""What one session sends: the commands a connection, a write and a fleet run cost.

Bytes are the contract, so these tests read the simulator's journal (the commands the board
received, in order) and compare whole sequences: set-up is the sync probe (which is also the
``+CMEE`` read), ``AT+CMEE=1`` and the IMEI, and nothing else; a write is its check, one trip
offline, the write and its read-back; a fleet run goes offline once for all of a device's
writes. A failed change inside such a run still restores CFUN at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import xsudo
from xsudo.api import provision
from xsudo.at.modem import Modem
from xsudo.ca import cert_pem
from xsudo.content import CredType, preflight
from xsudo.crypto import generate_private_key
from xsudo.errors import XsudoError
from xsudo.labpki import make_ca
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter
from xsudo.sim import SimOptions, register_url_handler
from xsudo.sim.board import Board
from xsudo.sim.registry import board_for, forget_boards

TAG = 16842753
PROFILE = "nrf91x1-2.0"
PEMS = [cert_pem(make_ca(generate_private_key(), f"CA {n}")) for n in range(3)]
SET_UP = [b"AT+CMEE?", b"AT+CMEE=1", b"AT+CGSN"]
IDENTITY_ONLY = {b"AT+CGMR", b"AT%HWVERSION", b"AT+CGMM", b"AT%XMODEMUUID"}


@pytest.fixture(autouse=True)
def boards() -> Iterator[None]:
    register_url_handler()
    forget_boards()
    yield
    forget_boards()


def online_board(name: str, fault: str | None = None) -> Board:
    """A named board at CFUN=1 with numeric errors off (as a modem boots)."""
    mapping = {"profile": PROFILE, **({"fault": [fault]} if fault else {})}
    board = board_for(name, SimOptions.from_mapping(mapping))
    board.modem.volatile.cfun, board.modem.volatile.lte_active = 1, True
    return board


def sent(board: Board) -> list[bytes]:
    """The commands the board received, each cut after its parameters' start for writes."""
    return [r.command.split(b'"')[0] for r in board.journal]


def test_one_write_costs_set_up_check_offline_write_read_back(tmp_path: Path) -> None:
    board = online_board("one")
    with xsudo.connect("sim://one", home=tmp_path) as dev:
        result = dev.write_credential(TAG, "ca-cert", PEMS[0])
    assert result.action == "written" and result.landed == "landed"
    check = b"AT%CMNG=1,16842753,0"
    assert sent(board) == [
        *SET_UP,
        check,
        b"AT+CFUN?",
        b"AT+CFUN=4",
        b"AT%CMNG=0,16842753,0,",
        b"AT+CFUN=1",
        check,
        b"AT+CMEE=0",
    ]
    assert board.modem.volatile.cfun == 1


def test_a_list_costs_only_the_set_up(tmp_path: Path) -> None:
    board = online_board("list")
    with xsudo.connect("sim://list", home=tmp_path) as dev:
        dev.list_credentials()
        imei = dev.session.imei
    assert sent(board) == [*SET_UP, b"AT%CMNG=1", b"AT+CMEE=0"]
    assert imei is not None and len(imei) == 15


def test_the_identity_is_read_once_when_asked_for(tmp_path: Path) -> None:
    board = online_board("who")
    with xsudo.connect("sim://who", home=tmp_path) as dev:
        first = dev.identity
        assert dev.identity is first
    commands = sent(board)
    assert commands[:3] == SET_UP
    assert sum(c in IDENTITY_ONLY for c in commands) == len(set(commands) & IDENTITY_ONLY) > 0
    assert first.imei == dev.session.known_imei


def test_a_fleet_device_goes_offline_once(tmp_path: Path) -> None:
    board = online_board("fleet")
    manifest = tmp_path / "fleet.toml"
    entries = []
    labels = ("ca-cert", "client-cert", "ca-cert")
    for index, (label, pem) in enumerate(zip(labels, PEMS, strict=True)):
        (tmp_path / f"{index}.pem").write_bytes(pem)
        tag = TAG if index < 2 else TAG + 1
        entries.append(f'[[credential]]\ntag = {tag}\ntype = "{label}"\nfile = "{index}.pem"\n')
    manifest.write_text("".join(entries))
    (report,) = provision(manifest, ["sim://fleet"], home=tmp_path)
    assert report.ok, report.error
    commands = sent(board)
    assert commands.count(b"AT+CFUN?") == 1
    assert commands.count(b"AT+CFUN=4") == 1
    assert commands.count(b"AT+CFUN=1") == 1
    assert not set(commands) & IDENTITY_ONLY
    writes = [i for i, c in enumerate(commands) if c.startswith(b"AT%CMNG=0,")]
    assert len(writes) == 3
    assert commands.index(b"AT+CFUN=4") < writes[0] < writes[-1] < commands.index(b"AT+CFUN=1")
    assert board.modem.volatile.cfun == 1


def _writer(url: str, tmp_path: Path) -> tuple[Modem, CredentialWriter]:
    modem = Modem.open(url, timeout=0.3, cmd_type="at")
    return modem, CredentialWriter(DeviceSession(modem, AuthSettings("never")))


def test_a_failed_change_in_a_batch_restores_at_once_and_the_next_goes_offline_again(
    tmp_path: Path,
) -> None:
    clean = online_board("clean")
    modem, writer = _writer("sim://clean", tmp_path)
    with modem, writer.batch():
        for pem in PEMS[:2]:
            writer.write(preflight(pem, CredType.CA_CERT, TAG if pem is PEMS[0] else TAG + 1))
    second_write = next(
        r.number for r in clean.journal if r.command.startswith(b"AT%CMNG=0,16842754,")
    )
    fault = f"stall:{second_write}:1"  # not run, not answered
    board = online_board("faulty", fault=fault)
    modem, writer = _writer(f"sim://faulty?profile={PROFILE}&fault={fault}", tmp_path)
    cfun_after_failure = None
    with modem, writer.batch():
        writer.write(preflight(PEMS[0], CredType.CA_CERT, TAG))
        assert board.modem.volatile.cfun == 4  # held offline for the next change
        with pytest.raises(XsudoError) as failed:
            writer.write(preflight(PEMS[1], CredType.CA_CERT, TAG + 1))
        cfun_after_failure = board.modem.volatile.cfun
        writer.write(preflight(PEMS[2], CredType.CA_CERT, TAG + 2))
        assert board.modem.volatile.cfun == 4
    assert failed.value.outcome is not None
    assert failed.value.outcome["landed"] == "not-landed"
    assert cfun_after_failure == 1
    assert board.modem.volatile.cfun == 1
    commands = sent(board)
    assert commands.count(b"AT+CFUN=4") == 2 and commands.count(b"AT+CFUN=1") == 2


def test_a_batch_without_changes_sends_no_cfun(tmp_path: Path) -> None:
    board = online_board("idle")
    modem, writer = _writer("sim://idle", tmp_path)
    with modem, writer.batch():
        assert writer.stored_sha(TAG, 0) is None
    assert not any(c.startswith(b"AT+CFUN") for c in sent(board))


def test_a_fleet_device_lists_a_shared_tag_once_before_its_writes(tmp_path: Path) -> None:
    board = online_board("preload")
    manifest = tmp_path / "fleet.toml"
    entries = []
    for index, (label, tag) in enumerate(
        (("ca-cert", TAG), ("client-cert", TAG), ("ca-cert", TAG + 1))
    ):
        (tmp_path / f"{index}.pem").write_bytes(PEMS[index])
        entries.append(f'[[credential]]\ntag = {tag}\ntype = "{label}"\nfile = "{index}.pem"\n')
    manifest.write_text("".join(entries))
    (report,) = provision(manifest, ["sim://preload"], home=tmp_path)
    assert report.ok, report.error
    commands = sent(board)
    first_write = next(i for i, c in enumerate(commands) if c.startswith(b"AT%CMNG=0,"))
    reads_before = [c for c in commands[:first_write] if c.startswith(b"AT%CMNG=1")]
    assert reads_before == [b"AT%CMNG=1,16842753"]  # TAG's two entries: one listing
    after = commands[first_write:]
    assert after.count(b"AT%CMNG=1,16842753,0") == 1  # each write is still read back
    assert after.count(b"AT%CMNG=1,16842753,1") == 1
    assert after.count(b"AT%CMNG=1,16842754,0") == 2  # a lone entry: its own check
    assert after.count(b"AT%CMNG=1,16842754") == 0


def test_preloaded_shas_decide_unchanged_and_refused_like_a_read(tmp_path: Path) -> None:
    board = online_board("held")
    modem, writer = _writer("sim://held", tmp_path)
    with modem, writer.batch():
        writer.write(preflight(PEMS[0], CredType.CA_CERT, TAG))
        writer.write(preflight(PEMS[1], CredType.CLIENT_CERT, TAG))
    start = len(board.journal)
    modem, writer = _writer("sim://held", tmp_path)
    with modem, writer.batch():
        writer.preload(TAG, [0, 1, 2])
        same = writer.write(preflight(PEMS[0], CredType.CA_CERT, TAG))
        other = writer.write(preflight(PEMS[2], CredType.CLIENT_CERT, TAG))
        key_free = writer.write(preflight(PEMS[2], CredType.CA_CERT, TAG + 1))
    assert (same.action, other.action, key_free.action) == ("unchanged", "refused", "written")
    assert other.previous_sha == preflight(PEMS[1], CredType.CLIENT_CERT, TAG).sha
    commands = sent(board)[start:]
    assert b"AT%CMNG=1,16842753,0" not in commands and b"AT%CMNG=1,16842753,1" not in commands
    assert commands.count(b"AT%CMNG=1,16842753") == 1


def test_preload_outside_a_batch_is_a_programming_error(tmp_path: Path) -> None:
    online_board("loose")
    modem, writer = _writer("sim://loose", tmp_path)
    with modem, pytest.raises(RuntimeError):
        writer.preload(TAG, [0])


def test_a_ledger_record_reads_firmware_and_model_only(tmp_path: Path) -> None:
    board = online_board("recorded")
    (tmp_path / "0.pem").write_bytes(PEMS[0])
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(f'[[credential]]\ntag = {TAG}\ntype = "ca-cert"\nfile = "0.pem"\n')
    (report,) = provision(
        manifest, ["sim://recorded"], home=tmp_path, ledger=str(tmp_path / "ledger.sqlite")
    )
    assert report.ok, report.error
    commands = sent(board)
    assert commands.count(b"AT+CGSN") == 1
    assert set(commands) & IDENTITY_ONLY == {b"AT+CGMR", b"AT%HWVERSION"}
