"""One option parser for sim:// queries and CLI flags."""

from __future__ import annotations

import dataclasses

import click
import pytest

from xsudo.cli.sim import options_from_flags, sim
from xsudo.sim import FaultSpec, SimOptionError, SimOptions, UrcSpec, parse_sim_url
from xsudo.sim.options import OPTION_FIELDS


def test_defaults() -> None:
    options = SimOptions()
    assert options.profile == "nrf91x1-2.0"
    assert options.effective_mfw == "mfw_nrf91x1_2.0.2"
    assert options.imei == "352656100367872"
    assert options.echo is False
    assert options.terminator == "cr"
    assert options.response_eol == "crlf"
    assert options.xpmng_exists_code is None  # unset: the profile decides
    assert options.traits.xpmng_exists_code == 520
    assert options.traits.accept_raw_signatures is False
    assert options.effective_validate_content is True
    assert options.effective_restricted == ()
    assert options.traits.non_readable_types == frozenset({1, 2, 3, 6, 8, 10, 11})
    assert options.traits.max_line == 4095
    assert options.traits.capacity_bytes is None
    assert options.traits.tls_decrypt_tags is True
    assert options.traits.certexpiry is True
    assert options.traits.xproddone is True


@pytest.mark.parametrize(
    ("profile", "validates", "restricted"),
    [
        ("nrf9160-1.3", False, ()),
        ("nrf91x1-2.0", True, ()),
        ("nrf9151-2.0", True, ()),
        ("nrf9151-ntn", True, ()),
        ("locked", True, ("%CMNG=0", "%CMNG=3", "%KEYGEN")),
    ],
)
def test_profiles(profile: str, validates: bool, restricted: tuple[str, ...]) -> None:
    options = SimOptions(profile=profile)
    assert options.effective_validate_content is validates
    assert options.effective_restricted == restricted


def test_from_mapping_parses_every_kind() -> None:
    options = SimOptions.from_mapping(
        {
            "profile": "locked",
            "state": "/tmp/x.json",
            "baud": "115200",
            "echo": "1",
            "accept-raw-signatures": "yes",
            "xpmng_exists_code": "519",
            "cmee2": "on",
            "validate-content": "auto",
            "restricted": "%CMNG=0,%keygen",
            "non-readable-types": "1,2",
            "capacity-bytes": "4096",
            "urc": ["after:3:+CEREG: 5", "every:0.5:+CEREG: 1"],
            "fault": ["drop:2", "reset:4"],
            "imei": "",
        }
    )
    assert options.profile == "locked"
    assert options.state == "/tmp/x.json"
    assert options.baud == 115200
    assert options.echo is True
    assert options.accept_raw_signatures is True
    assert options.xpmng_exists_code == 519
    assert options.cmee2 is True
    assert options.validate_content is None
    assert options.restricted == ("%CMNG=0", "%KEYGEN")
    assert options.non_readable_types == frozenset({1, 2})
    assert options.capacity_bytes == 4096
    assert options.urc == (UrcSpec("after", 3, "+CEREG: 5"), UrcSpec("every", 0.5, "+CEREG: 1"))
    assert options.fault == (FaultSpec("drop", 2), FaultSpec("reset", 4))
    assert options.imei == ""


@pytest.mark.parametrize(
    "mapping",
    [
        {"nope": "1"},
        {"profile": "nrf9999"},
        {"baud": "fast"},
        {"echo": "maybe"},
        {"xpmng-exists-code": "521"},
        {"terminator": "tab"},
        {"urc": "sometimes:1:x"},
        {"urc": "after:0:x"},
        {"fault": "drop:x"},
        {"imei": "12ab"},
    ],
)
def test_bad_options_are_one_line_bad_input(mapping: dict[str, str]) -> None:
    with pytest.raises(SimOptionError) as info:
        SimOptions.from_mapping(mapping)
    assert info.value.exit_code == 2
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_round_trip_through_text() -> None:
    options = SimOptions.from_mapping(
        {"profile": "nrf9160-1.3", "echo": "1", "urc": ["every:2.5:+X"], "restricted": "none"}
    )
    assert SimOptions.from_mapping(options.to_mapping()) == options


def test_sim_url_query() -> None:
    name, options = parse_sim_url(
        "sim://board-7?profile=locked&baud=9600&urc=after:1:+CEREG:%205&echo"
    )
    assert name == "board-7"
    assert options.profile == "locked"
    assert options.baud == 9600
    assert options.echo is True
    assert options.urc == (UrcSpec("after", 1, "+CEREG: 5"),)
    assert parse_sim_url("sim://")[0] == ""


def test_cli_flags_and_url_query_build_the_same_options() -> None:
    query = SimOptions.from_mapping(
        {"profile": "locked", "echo": "1", "urc": ["after:2:+A", "after:3:+B"], "baud": "300"}
    )
    context = sim.make_context(
        "sim",
        [
            "--pty",
            "--profile",
            "locked",
            "--echo",
            "--urc",
            "after:2:+A",
            "--urc",
            "after:3:+B",
            "--baud",
            "300",
        ],
    )
    values = {k: v for k, v in context.params.items() if k not in ("use_pty", "tcp")}
    assert options_from_flags(values) == query


def test_every_option_is_a_cli_flag() -> None:
    flags = {opt for param in sim.params if isinstance(param, click.Option) for opt in param.opts}
    for field in OPTION_FIELDS:
        assert "--" + field.name.replace("_", "-") in flags
    assert len(OPTION_FIELDS) == len(dataclasses.fields(SimOptions))
