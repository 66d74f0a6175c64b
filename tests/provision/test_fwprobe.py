"""``xsudo.provision.fwprobe``: probe a simulated board, build a simulator from the profile
the probe wrote, probe that one, and get the same answers; and the behaviours the probe
found really happen on the simulator built from the file.

Boards are in-process ``sim://`` URLs over a state file (so the tests can prepare and
inspect the board's NVM); ``tests/cli/test_device_probe.py`` runs the command over a pty.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.verify.support import LocalSigner, load_test_key
from xsudo.api import connect
from xsudo.provision import fwprobe
from xsudo.provision.fwprobe import (
    UNKNOWN,
    FirmwareReport,
    ScratchTagInUse,
    probe_firmware,
)
from xsudo.sim import Board, Modem, SimOptions
from xsudo.sim.profiles import PROFILES, TRAIT_NAMES
from xsudo.sim.state import load_nvm

SIGNER = LocalSigner(load_test_key("test-key-1"), "factory")
KEY_PEM = SIGNER.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
SCRATCH = 4242
SLOT = 3

UNUSUAL: dict[str, Any] = {
    "xpmng_readable": False,
    "xpmng_exists_code": 519,
    "max_line": 2000,
    "accept_raw_signatures": True,
    "cmee2": True,
    "plain_param_errors": True,
    "certexpiry": False,
    "xproddone": False,
    "validate_content": False,
    "tls_decrypt_tags": False,
    "csr_null_param": True,
    "non_readable_types": frozenset({1, 2, 3, 4, 6, 8, 10, 11}),
}
"""Every trait the probe can find, set away from the nrf91x1 defaults."""


class Bench:
    """Boards kept in state files under one temp dir, each with the test key in SLOT."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.count = 0

    def url(self, **options: Any) -> tuple[str, Path]:
        self.count += 1
        state = self.tmp_path / f"board{self.count}.json"
        board = Board(SimOptions(state=str(state), **options))
        board.modem.nvm.credentials[(SLOT, 5)] = KEY_PEM
        board.modem.nvm_changed()
        query: dict[str, str] = {"state": str(state)}
        for name, value in options.items():
            query[name.replace("_", "-")] = _text(value)
        return "sim://?" + urllib.parse.urlencode(query), state

    def profile_file(self, report: FirmwareReport) -> Path:
        path = self.tmp_path / f"profile{self.count}.json"
        path.write_text(report.dump())
        return path


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, frozenset | tuple):
        return ",".join(str(item) for item in sorted(value)) or "none"
    return str(value)


def run_probe(url: str, *, key: bool, scratch: int | None) -> FirmwareReport:
    device = connect(url, key=SIGNER if key else None, slot=SLOT, audit=False)
    try:
        return probe_firmware(device.session, scratch_tag=scratch)
    finally:
        device.close()


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


def round_trip(
    bench: Bench, *, key: bool, scratch: int | None, **options: Any
) -> tuple[FirmwareReport, FirmwareReport, Path]:
    url, _ = bench.url(**options)
    first = run_probe(url, key=key, scratch=scratch)
    path = bench.profile_file(first)
    url_again, _ = bench.url(profile_file=str(path))
    return first, run_probe(url_again, key=key, scratch=scratch), path


MODES = {"read-only": (False, None), "scratch": (False, SCRATCH), "key+scratch": (True, SCRATCH)}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("profile", list(PROFILES))
def test_probing_the_probed_profile_gives_the_same_answers(
    bench: Bench, profile: str, mode: str
) -> None:
    key, scratch = MODES[mode]
    first, second, _ = round_trip(bench, key=key, scratch=scratch, profile=profile)
    assert second.to_profile_json() == first.to_profile_json()
    assert second.restricted == first.restricted
    assert second.cmee_modes == first.cmee_modes


VARIANTS: dict[str, dict[str, Any]] = {
    "reads-need-xsudo": {"restricted": ("%CMNG=0", "%CMNG=1", "%CMNG=2")},
    "locked-hidden-slots": {"profile": "locked", "xpmng_readable": False},
    "nrf9160-no-certexpiry": {"profile": "nrf9160-1.3", "certexpiry": False, "cmee2": True},
}


@pytest.mark.parametrize("mode", ["read-only", "key+scratch"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_round_trip(bench: Bench, variant: str, mode: str) -> None:
    key, scratch = MODES[mode]
    first, second, _ = round_trip(bench, key=key, scratch=scratch, **VARIANTS[variant])
    assert second.to_profile_json() == first.to_profile_json()
    assert second.restricted == first.restricted


def test_reads_that_need_xsudo_are_found_with_a_key(bench: Bench) -> None:
    url, _ = bench.url(**VARIANTS["reads-need-xsudo"])
    report = run_probe(url, key=True, scratch=SCRATCH)
    assert sorted(report.traits["restricted"]) == ["%CMNG=0", "%CMNG=1", "%CMNG=2"]
    assert report.traits["validate_content"] is True  # written and read back signed
    assert 0 not in report.untested_types


@pytest.mark.parametrize("profile", list(PROFILES))
def test_what_the_probe_finds_is_the_profile_it_probed(bench: Bench, profile: str) -> None:
    url, _ = bench.url(profile=profile)
    report = run_probe(url, key=True, scratch=SCRATCH)
    truth = PROFILES[profile].resolved()
    assert report.identity["mfw"] == PROFILES[profile].mfw
    assert report.identity["model"] == PROFILES[profile].model
    assert report.identity["hwversion"] == PROFILES[profile].hwversion
    assert report.identity["family"] == PROFILES[profile].family
    assert report.identity["device_type"] == PROFILES[profile].device_type
    for name in (
        "cmee2_accepted",
        "validate_content",
        "tls_decrypt_tags",
        "plain_param_errors",
        "xpmng_exists_code",
        "xpmng_readable",
        "accept_raw_signatures",
        "csr_null_param",
        "certexpiry",
        "xproddone",
        "max_line",
    ):
        assert report.traits[name] == getattr(truth, name), name
    assert sorted(report.traits["restricted"]) == sorted(truth.restricted)
    assert set(report.traits["non_readable_types"]) == set(truth.non_readable_types)
    assert report.signed


def test_unusual_firmware_is_found_and_reproduced(bench: Bench) -> None:
    first, second, path = round_trip(
        bench, key=True, scratch=SCRATCH, profile="nrf91x1-2.0", **UNUSUAL
    )
    assert second.to_profile_json() == first.to_profile_json()
    traits = first.traits
    assert traits["xpmng_readable"] is False
    assert traits["xpmng_exists_code"] == 519
    assert traits["max_line"] == 2000
    assert traits["accept_raw_signatures"] is True
    assert traits["cmee2_accepted"] is True and first.cmee_modes == (0, 1, 2)
    assert traits["plain_param_errors"] is True
    assert traits["certexpiry"] is False and traits["xproddone"] is False
    assert traits["validate_content"] is False and traits["tls_decrypt_tags"] is False
    assert traits["csr_null_param"] is True
    assert 4 in traits["non_readable_types"] and 0 not in traits["non_readable_types"]
    # what the probe could not find (write-once types, capacity, reads during a power-off
    # warning) takes the family default, as it is on the board probed
    assert SimOptions(profile_file=str(path)).traits == (
        SimOptions(profile="nrf91x1-2.0", **UNUSUAL).traits
    )


def test_behaviours_found_reproduce_on_the_simulator_from_the_file(bench: Bench) -> None:
    url, _ = bench.url(profile="nrf9151-2.0", xpmng_readable=False, xpmng_exists_code=519)
    path = bench.profile_file(run_probe(url, key=True, scratch=SCRATCH))
    modem = Modem(SimOptions(profile_file=str(path)))
    assert modem.handle(b"AT+CMEE=1") == b"OK\r\n"
    literal = b'AT%CMNG=0,7,0,"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"'
    assert modem.handle(literal) == b"+CME ERROR: 527\r\n"
    assert modem.handle(b'AT%XPMNG=0,"' + KEY_PEM + b'",1') == b"OK\r\n"
    assert modem.handle(b'AT%XPMNG=0,"' + KEY_PEM + b'",1') == b"+CME ERROR: 519\r\n"
    assert modem.handle(b"AT%XPMNG=2,,1") == b"+CME ERROR: 514\r\n"
    assert modem.handle(b"AT%XPRODDONE=?") == b"OK\r\n"
    assert modem.nvm.production_done is False
    assert modem.handle(b'AT%CMNG=0,2147483648,4,"x"') == b"OK\r\n"


def test_a_shorter_line_limit_is_found_and_reproduced(bench: Bench) -> None:
    url, _ = bench.url(profile="nrf9160-1.3", max_line=1234)
    path = bench.profile_file(run_probe(url, key=False, scratch=None))
    modem = Modem(SimOptions(profile_file=str(path)))
    modem.handle(b"AT+CMEE=1")
    assert modem.handle(b"AT%CMNG=1," + b"0" * 1223 + b"7") == b"OK\r\n"  # 1234 characters
    assert modem.handle(b"AT%CMNG=1," + b"0" * 1224 + b"7") == b"ERROR\r\n"


def test_restricted_commands_are_found_with_a_key(bench: Bench) -> None:
    url, _ = bench.url(profile="locked")
    report = run_probe(url, key=True, scratch=SCRATCH)
    assert report.restricted == {
        "%CMNG=0": True,
        "%CMNG=1": False,
        "%CMNG=2": False,
        "%CMNG=3": True,
        "%KEYGEN": True,
    }
    assert report.traits["validate_content"] is True  # the writes went signed
    assert "restricted" not in report.unknown


def test_without_a_key_locked_writes_are_not_attempted(bench: Bench) -> None:
    url, state = bench.url(profile="locked")
    before = load_nvm(state)
    report = run_probe(url, key=False, scratch=SCRATCH)
    assert report.restricted["%CMNG=3"] is True
    assert report.restricted["%CMNG=0"] is None and report.restricted["%KEYGEN"] is None
    assert {"restricted", "validate_content"} <= set(report.unknown)
    after = load_nvm(state)
    assert before is not None and after is not None
    assert after.credentials == before.credentials


def test_unknowns_are_written_as_unknown_and_load(bench: Bench) -> None:
    url, _ = bench.url(profile="nrf91x1-2.0")
    report = run_probe(url, key=False, scratch=None)
    data = report.to_profile_json()
    for name in ("xpmng_exists_code", "accept_raw_signatures", "validate_content"):
        assert data["traits"][name] == UNKNOWN
        assert name in data["probe"]["unknown"]
    path = bench.tmp_path / "p.json"
    path.write_text(json.dumps(data))
    assert SimOptions(profile_file=str(path)).traits.xpmng_exists_code == 520


def test_the_probe_writes_every_trait_the_simulator_reads() -> None:
    assert fwprobe.TRAITS == TRAIT_NAMES


# -- safety ----------------------------------------------------------------------------------


def test_read_only_probe_sends_no_write(bench: Bench) -> None:
    url, state = bench.url(profile="nrf91x1-2.0")
    before = state.read_bytes()
    report = run_probe(url, key=False, scratch=None)
    assert state.read_bytes() == before  # the NVM was never saved: nothing changed
    assert report.scratch_tag is None and report.traits["xproddone"] is True


def test_the_scratch_tag_is_left_empty(bench: Bench) -> None:
    for profile in ("nrf9160-1.3", "locked"):
        url, state = bench.url(profile=profile)
        before = load_nvm(state)
        run_probe(url, key=True, scratch=SCRATCH)
        after = load_nvm(state)
        assert before is not None and after is not None
        assert after.credentials == before.credentials
        assert after.production_done is False


@pytest.mark.parametrize("held_type", [0, 2, 4])
def test_a_scratch_tag_that_holds_anything_is_refused(bench: Bench, held_type: int) -> None:
    url, state = bench.url(profile="nrf91x1-2.0")
    board = Board(SimOptions(state=str(state)))
    board.modem.nvm.credentials[(SCRATCH, held_type)] = b"keep me"
    board.modem.nvm_changed()
    before = state.read_bytes()
    with pytest.raises(ScratchTagInUse) as info:
        run_probe(url, key=True, scratch=SCRATCH)
    assert info.value.exit_code == 2
    assert f"scratch tag {SCRATCH} holds" in info.value.message
    assert "\n" not in str(info.value)
    assert state.read_bytes() == before


def test_a_scratch_tag_that_cannot_be_listed_is_refused(bench: Bench) -> None:
    url, state = bench.url(profile="nrf91x1-2.0", restricted=("%CMNG=1",))
    before = state.read_bytes()
    with pytest.raises(ScratchTagInUse, match="cannot check"):
        run_probe(url, key=False, scratch=SCRATCH)
    assert state.read_bytes() == before


def test_reserved_scratch_tags_are_refused_before_anything_is_sent(bench: Bench) -> None:
    url, _ = bench.url()
    with pytest.raises(ScratchTagInUse, match="not a host tag"):
        run_probe(url, key=False, scratch=2147483648)


def test_an_online_modem_gets_no_write_probe(bench: Bench) -> None:
    url, state = bench.url(profile="nrf91x1-2.0")
    device = connect(url, audit=False)
    try:
        device.modem.set_cfun(1)
        before = state.read_bytes()
        with pytest.raises(fwprobe.ProbeImpossible, match="online"):
            probe_firmware(device.session, scratch_tag=SCRATCH)
        assert state.read_bytes() == before
    finally:
        device.close()
