"""Profiles (built-in and from files), and rule S37 (``%XPRODDONE``).

* The built-in profiles: the ``locked`` rehearsal does not look like a Nordic release, the
  nRF9151 profile prints what an nRF9151 prints.
* Profile files: every built-in profile survives dump -> load with the same answers to a
  set of probe commands; options override a file; bad files are one-line errors naming
  the file.
* ``%XPRODDONE``: a persistent, idempotent flag.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from xsudo.at.parse import check_firmware
from xsudo.sim import Board, Modem, SimOptionError, SimOptions, StateFileError, parse_sim_url
from xsudo.sim.profile_file import (
    PROFILE_FILE_LIMIT,
    dump_profile,
    load_profile_file,
    profile_to_json,
)
from xsudo.sim.profiles import PROFILES, TRAIT_NAMES, mfw_version
from xsudo.sim.state import Nvm, load_nvm
from xsudo.tokens.payload import DEVICE_TYPES

from .conftest import amazon_root_ca

OK = b"OK\r\n"
ERROR = b"ERROR\r\n"
CMEE1 = b"AT+CMEE=1"
AMAZON = amazon_root_ca()["content"].encode("ascii")
AMAZON_LITERAL = AMAZON.replace(b"\n", b"\\n")


def write(tag: int, type_: int, content: bytes) -> bytes:
    return b'AT%%CMNG=0,%d,%d,"%s"' % (tag, type_, content)


# -- the built-in profiles ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_firmware_string_is_one_the_product_accepts(name: str) -> None:
    mfw = PROFILES[name].mfw
    assert check_firmware(mfw) == mfw
    assert Modem(SimOptions(profile=name)).handle(b"AT+CGMR") == mfw.encode() + b"\r\n" + OK


def test_the_locked_rehearsal_does_not_look_like_a_release() -> None:
    locked = PROFILES["locked"]
    assert locked.mfw == "mfw_nrf91x1_rehearsal-locked"
    assert mfw_version(locked.mfw) is None  # no x.y.z a reader could take for a release
    assert "rehearsal" in locked.mfw
    assert "hypothetical" in locked.description
    assert "not a Nordic release" in locked.description
    options = SimOptions(profile="locked")
    assert options.effective_validate_content is True
    assert options.effective_restricted == ("%CMNG=0", "%CMNG=3", "%KEYGEN")


def test_the_profile_help_names_every_profile() -> None:
    from xsudo.sim.options import OPTION_FIELDS

    (profile,) = [f for f in OPTION_FIELDS if f.name == "profile"]
    for name in PROFILES:
        assert name in profile.metadata["help"]


def test_the_nrf9151_profile() -> None:
    modem = Modem(SimOptions(profile="nrf9151-2.0"))
    assert modem.handle(b"AT+CGMR") == b"mfw_nrf91x1_2.0.4\r\nOK\r\n"
    assert modem.handle(b"AT+CGMM") == b"nRF9151-LACA\r\nOK\r\n"
    assert modem.handle(b"AT%HWVERSION") == b"%HWVERSION: nRF9151 LACA A0A\r\nOK\r\n"
    assert modem.handle(b"AT%DEVICEUUID").startswith(b"%DEVICEUUID: ")
    assert DEVICE_TYPES[modem.options.profile_info.device_type] == "nRF9151 LACA"
    assert modem.handle(CMEE1) == OK
    assert modem.handle(write(1, 0, AMAZON_LITERAL)) == b"+CME ERROR: 527\r\n"
    assert modem.handle(write(1, 0, AMAZON)) == OK
    assert modem.handle(write(2147483650, 0, AMAZON)) == OK
    assert modem.handle(write(1, 4, b"x")) == OK  # nothing needs %XSUDO


# -- %XPRODDONE (rule S37) --------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["nrf91x1-2.0", "nrf9151-2.0", "nrf9151-ntn", "locked"])
def test_xproddone_sets_a_flag_once_and_for_all(profile: str) -> None:
    changes: list[bool] = []
    modem = Modem(
        SimOptions(profile=profile),
        on_change=lambda nvm: changes.append(nvm.production_done),
    )
    assert modem.nvm.production_done is False
    assert modem.handle(b"AT%XPRODDONE") == OK
    assert modem.nvm.production_done is True
    assert modem.handle(b"AT%XPRODDONE") == OK  # idempotent
    assert modem.nvm.production_done is True
    assert changes == [True]  # saved once
    modem.reboot()
    assert modem.nvm.production_done is True
    if profile != "locked":  # the flag changes nothing the simulator models
        assert modem.handle(write(1, 4, b"x")) == OK


@pytest.mark.parametrize("command", [b"AT%XPRODDONE?", b"AT%XPRODDONE=1", b"AT%XPRODDONE="])
def test_xproddone_has_no_other_form(command: bytes) -> None:
    modem = Modem()
    modem.handle(CMEE1)
    assert modem.handle(command) == ERROR
    assert modem.nvm.production_done is False


def test_xproddone_test_form_answers_ok_and_changes_nothing() -> None:
    changes: list[bool] = []
    modem = Modem(on_change=lambda nvm: changes.append(nvm.production_done))
    assert modem.handle(b"AT%XPRODDONE=?") == OK
    assert modem.nvm.production_done is False
    assert changes == []


def test_xproddone_is_absent_on_nrf9160_and_when_turned_off() -> None:
    for options in (SimOptions(profile="nrf9160-1.3"), SimOptions(xproddone=False)):
        modem = Modem(options)
        assert modem.handle(b"AT%XPRODDONE") == ERROR
        assert modem.handle(b"AT%XPRODDONE=?") == ERROR
        assert modem.nvm.production_done is False
    assert Modem(SimOptions(profile="nrf9160-1.3", xproddone=True)).handle(b"AT%XPRODDONE") == OK


def test_xproddone_persists_in_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    board = Board(SimOptions(state=str(path)))
    assert json.loads(path.read_text())["production_done"] is False
    assert board.modem.handle(b"AT%XPRODDONE") == OK
    assert json.loads(path.read_text())["production_done"] is True
    again = Board(SimOptions(state=str(path)))
    assert again.modem.nvm.production_done is True
    assert again.modem.handle(b"AT%XPRODDONE") == OK


def test_state_files_written_before_the_flag_still_load(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    data = Nvm.fresh(seed_reserved=False).to_json()
    del data["production_done"]
    path.write_text(json.dumps(data))
    nvm = load_nvm(path)
    assert nvm is not None and nvm.production_done is False
    data["production_done"] = "yes"
    path.write_text(json.dumps(data))
    with pytest.raises(StateFileError, match="production_done"):
        load_nvm(path)


# -- profile files ------------------------------------------------------------------------------

KEY_A = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "openssl-recipe.json").read_text()
)["cases"][0]["public_key_pem"].encode("ascii")

PROBES = [
    b"AT+CGMR",
    b"AT+CGMM",
    b"AT%HWVERSION",
    b"AT%XMODEMUUID",
    b"AT%DEVICEUUID",
    b"AT+CMEE=?",
    b"AT+CMEE=2",
    b"AT+CMEE=1",
    b"AT%CMNG=1",
    write(1, 0, AMAZON_LITERAL),
    write(2, 0, AMAZON),
    write(3, 1, AMAZON),
    write(4, 4, b"x" * 5000),
    write(5, 4, b"x"),
    write(5, 4, b"y"),
    write(2147483648, 4, b"x"),
    b"AT%CMNG=2,2147483648,4",
    b"AT%CMNG=2,2,0",
    b"AT%CMNG=2,3,1",
    b"AT%CMNG=3,5,4",
    b"AT%CMNG=3,2147483648,4",
    b"AT%CERTEXPIRY=2,0",
    b"AT%CERTEXPIRY=1,0",
    b'AT%XPMNG=0,"' + KEY_A + b'"',
    b'AT%XPMNG=0,"' + KEY_A + b'"',
    b"AT%XPMNG=2",
    b"AT%CMNG=4",
    b"AT%XPRODDONE?",
    b"AT%XPRODDONE",
    b"AT%CMNG=1",
]
"""Commands whose answers show every trait a profile can set (the write-once, capacity and
raw-signature traits are compared as values below)."""


def probe(options: SimOptions, nvm: Nvm) -> list[bytes]:
    modem = Modem(options, copy.deepcopy(nvm))
    return [modem.handle(command) for command in PROBES]


def dumped(tmp_path: Path, name: str, **changes: Any) -> Path:
    data = profile_to_json(PROFILES[name])
    data.update(changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_built_in_profile_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(dump_profile(PROFILES[name]))
    built_in = SimOptions(profile=name)
    from_file = SimOptions(profile_file=str(path))
    assert from_file.traits == built_in.traits
    assert from_file.profile_name == name
    assert from_file.effective_mfw == built_in.effective_mfw
    assert from_file.profile_info.device_type == built_in.profile_info.device_type
    nvm = Nvm.fresh()
    assert probe(from_file, nvm) == probe(built_in, nvm)
    assert profile_to_json(load_profile_file(path)) == profile_to_json(PROFILES[name])


def test_the_dump_writes_every_trait(tmp_path: Path) -> None:
    data = json.loads(dump_profile(PROFILES["nrf9151-2.0"]))
    assert data["format"] == "xsudo-sim-profile"
    assert data["version"] == 1
    assert sorted(data["traits"]) == sorted(TRAIT_NAMES)
    assert data["traits"]["validate_content"] is True
    assert data["traits"]["tls_decrypt_tags"] is True
    assert data["traits"]["non_readable_types"] == [1, 2, 3, 6, 8, 10, 11]
    assert data["traits"]["capacity_bytes"] is None


def test_the_probe_set_tells_profiles_apart() -> None:
    nvm = Nvm.fresh()
    answers = {name: tuple(probe(SimOptions(profile=name), nvm)) for name in PROFILES}
    assert len(set(answers.values())) == len(PROFILES)


def test_a_minimal_file_takes_the_family_defaults(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    path.write_text(
        json.dumps(
            {
                "format": "xsudo-sim-profile",
                "version": 1,
                "name": "captured",
                "family": "nrf91x1",
                "mfw": "mfw_nrf91x1_2.0.3",
                "hwversion": "nRF9151 LACA A0A",
                "model": "nRF9151-LACA",
                "device_type": 6,
            }
        )
    )
    options = SimOptions(profile_file=str(path))
    assert options.traits == SimOptions(profile="nrf9151-2.0").traits
    assert Modem(options).handle(b"AT+CGMR") == b"mfw_nrf91x1_2.0.3\r\nOK\r\n"


def test_options_override_the_file(tmp_path: Path) -> None:
    path = dumped(tmp_path, "nrf91x1-2.0")
    options = SimOptions.from_mapping(
        {
            "profile-file": str(path),
            "validate-content": "0",
            "xpmng-exists-code": "519",
            "restricted": "%CMNG=0",
            "capacity-bytes": "100",
            "mfw": "mfw_nrf91x1_2.0.9",
        }
    )
    traits = options.traits
    assert traits.validate_content is False
    assert traits.xpmng_exists_code == 519
    assert traits.restricted == ("%CMNG=0",)
    assert traits.capacity_bytes == 100
    assert options.effective_mfw == "mfw_nrf91x1_2.0.9"
    assert SimOptions(profile_file=str(path), capacity_bytes=0).traits.capacity_bytes is None


def test_a_file_states_what_the_firmware_does_even_for_another_mfw(tmp_path: Path) -> None:
    # Built-in profiles derive the 527 check from +CGMR; a file's explicit value stands.
    path = dumped(tmp_path, "nrf91x1-2.0")
    assert SimOptions(profile_file=str(path), mfw="mfw_nrf91x1_2.0.0").traits.validate_content
    assert not SimOptions(mfw="mfw_nrf91x1_2.0.0").traits.validate_content


def test_a_profile_file_through_a_sim_url(tmp_path: Path) -> None:
    path = dumped(tmp_path, "locked")
    _, options = parse_sim_url(f"sim://?profile-file={path}")
    assert options.profile_name == "locked"
    assert options.traits.restricted == ("%CMNG=0", "%CMNG=3", "%KEYGEN")


def test_a_profile_file_and_another_profile_name_conflict(tmp_path: Path) -> None:
    path = dumped(tmp_path, "locked")
    with pytest.raises(SimOptionError, match="both name the firmware") as info:
        SimOptions(profile="nrf9160-1.3", profile_file=str(path))
    assert "\n" not in str(info.value)


def test_profile_out_writes_the_effective_profile(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    Board(SimOptions(profile="nrf9160-1.3", tls_decrypt_tags=True, profile_out=str(out)))
    data = json.loads(out.read_text())
    assert data["name"] == "nrf9160-1.3"
    assert data["traits"]["tls_decrypt_tags"] is True
    assert data["traits"]["csr_null_param"] is True
    loaded = SimOptions(profile_file=str(out))
    assert loaded.traits == SimOptions(profile="nrf9160-1.3", tls_decrypt_tags=True).traits


def test_profile_out_to_a_bad_place_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StateFileError) as info:
        Board(SimOptions(profile_out=str(tmp_path / "missing" / "out.json")))
    assert "\n" not in str(info.value)


def good() -> dict[str, Any]:
    return profile_to_json(PROFILES["nrf91x1-2.0"])


def with_trait(name: str, value: Any) -> dict[str, Any]:
    data = good()
    data["traits"][name] = value
    return data


BAD_FILES: dict[str, bytes | dict[str, Any]] = {
    "unknown-key": {**good(), "imei": "352656100367872"},
    "unknown-trait": with_trait("telepathy", True),
    "no-name": {k: v for k, v in good().items() if k != "name"},
    "no-device-type": {k: v for k, v in good().items() if k != "device_type"},
    "wrong-format": {**good(), "format": "xsudo-sim-state/1"},
    "newer-version": {**good(), "version": 2},
    "version-text": {**good(), "version": "1"},
    "bad-family": {**good(), "family": "nrf52"},
    "mfw-with-quote": {**good(), "mfw": 'mfw"x'},
    "mfw-with-newline": {**good(), "mfw": "mfw\r\nOK"},
    "model-empty": {**good(), "model": ""},
    "description-two-lines": {**good(), "description": "a\nb"},
    "device-type-bool": {**good(), "device_type": True},
    "device-type-large": {**good(), "device_type": 256},
    "traits-list": {**good(), "traits": []},
    "trait-text-bool": with_trait("validate_content", "true"),
    "trait-number-bool": with_trait("certexpiry", 1),
    "xpmng-521": with_trait("xpmng_exists_code", 521),
    "restricted-text": with_trait("restricted", "%CMNG=0"),
    "restricted-junk": with_trait("restricted", ["CMNG"]),
    "types-out-of-range": with_trait("non_readable_types", [1, 14]),
    "capacity-zero": with_trait("capacity_bytes", 0),
    "max-line-zero": with_trait("max_line", 0),
    "float": with_trait("max_line", 4095.0),
    "nan": b'{"format": NaN}',
    "huge-number": b'{"format": "xsudo-sim-profile", "version": 1' + b"0" * 40 + b"}",
    "deep": b"[" * 50 + b"]" * 50,
    "duplicate-key": b'{"format": "xsudo-sim-profile", "format": "xsudo-sim-profile"}',
    "not-json": b"name = locked\n",
    "not-object": b"[1, 2]",
    "not-utf8": b'{"name": "\xff"}',
    "empty": b"",
    "unknown-name": {**good(), "name": "unknown?"},
    "device-type-other-text": {**good(), "device_type": "6"},
    "probe-list": {**good(), "probe": []},
    "probe-unknown-key": {**good(), "probe": {"when": "now"}},
    "probe-unknown-trait": {**good(), "probe": {"unknown": ["telepathy"]}},
    "probe-types-out-of-range": {**good(), "probe": {"untested_types": [99]}},
    "probe-tool-two-lines": {**good(), "probe": {"tool": "a\nb"}},
}


@pytest.mark.parametrize("content", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_profile_files_are_one_line_errors_naming_the_file(
    tmp_path: Path, content: bytes | dict[str, Any]
) -> None:
    path = tmp_path / "captured-board.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    with pytest.raises(SimOptionError) as info:
        SimOptions(profile_file=str(path))
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message and "\r" not in message
    assert "captured-board.json" in message
    assert "Traceback" not in message


def test_unreadable_profile_files_are_one_line_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (PROFILE_FILE_LIMIT + 1))
    for path in (tmp_path / "missing.json", tmp_path, big):
        with pytest.raises(SimOptionError) as info:
            SimOptions.from_mapping({"profile-file": str(path)})
        assert "\n" not in str(info.value)
        assert path.name in str(info.value)


def test_the_error_says_which_key(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(with_trait("telepathy", True)))
    with pytest.raises(SimOptionError, match=re.escape("unknown key 'traits.telepathy'")):
        SimOptions(profile_file=str(path))


def test_the_cli_takes_profile_file_and_profile_out() -> None:
    from xsudo.cli.sim import sim

    flags = {opt for param in sim.params for opt in getattr(param, "opts", ())}
    assert {"--profile-file", "--profile-out", "--certexpiry", "--tls-decrypt-tags"} <= flags


# -- "unknown" values (what xsudo device probe could not find out) ------------------------------


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0", "nrf9151-ntn"])
def test_unknown_traits_take_the_family_default(tmp_path: Path, profile: str) -> None:
    data = profile_to_json(PROFILES[profile])
    data["traits"] = dict.fromkeys(data["traits"], "unknown")
    data["probe"] = {
        "tool": "xsudo device probe",
        "unknown": sorted(data["traits"]),
        "untested_types": [7, 12, 13],
    }
    path = tmp_path / "probed.json"
    path.write_text(json.dumps(data))
    bare = {k: v for k, v in profile_to_json(PROFILES[profile]).items() if k != "traits"}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(bare))
    assert SimOptions(profile_file=str(path)).traits == SimOptions(profile_file=str(plain)).traits


def test_unknown_family_and_device_type_have_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "probed.json"
    path.write_text(json.dumps({**good(), "family": "unknown", "device_type": "unknown"}))
    loaded = load_profile_file(path)
    assert (loaded.family, loaded.device_type) == ("nrf91x1", 0)


def test_one_unknown_trait_leaves_the_others(tmp_path: Path) -> None:
    data = with_trait("xpmng_exists_code", "unknown")
    data["traits"]["xpmng_readable"] = False
    path = tmp_path / "probed.json"
    path.write_text(json.dumps(data))
    traits = SimOptions(profile_file=str(path)).traits
    assert traits.xpmng_exists_code == 520 and traits.xpmng_readable is False


# -- xsudo sim without a port: write the files and exit -------------------------------------


def test_sim_identity_key_out_alone_writes_the_key_and_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.cli import run_cli

    key = tmp_path / "id.pem"
    code, out, err = run_cli(capsys, "sim", "--identity-key-out", str(key))
    assert code == 0 and out == "", err
    assert key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert "--state" in err  # says the board is not kept


def test_sim_identity_key_out_with_state_is_the_board_served_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.cli import run_cli

    key, state, profile = tmp_path / "id.pem", tmp_path / "board.json", tmp_path / "p.json"
    args = ("sim", "--state", str(state), "--identity-key-out", str(key))
    code, _, err = run_cli(capsys, *args, "--profile-out", str(profile))
    assert code == 0, err
    board = Board(SimOptions(state=str(state)))
    assert key.read_bytes() == board.modem.identity_public_pem()
    assert load_profile_file(profile).mfw == PROFILES["nrf91x1-2.0"].mfw
    assert run_cli(capsys, *args)[0] == 0
    assert key.read_bytes() == board.modem.identity_public_pem()  # same board, same key


def test_sim_without_a_port_or_a_file_to_write_is_bad_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.support.cli import assert_one_line_error, run_cli

    assert_one_line_error(*run_cli(capsys, "sim"), "--pty")
    assert_one_line_error(*run_cli(capsys, "sim", "--pty", "--tcp", "127.0.0.1:0"), "not both")


def test_sim_with_a_bad_profile_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.cli import assert_one_line_error, run_cli

    path = tmp_path / "captured.json"
    path.write_text(json.dumps(with_trait("xpmng_exists_code", 521)))
    result = run_cli(capsys, "sim", "--pty", "--profile-file", str(path))
    assert_one_line_error(*result, "captured.json")
