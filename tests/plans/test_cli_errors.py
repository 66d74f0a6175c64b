"""``xsudo apply``/``plan``/``station``: every refusal is one ``error:`` line that says what
to do, in the command line's words (options and commands, not library names)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.plans.test_apply import apply, locked_board, station  # noqa: F401
from tests.support.boards import Result, board, snapshot, xsudo  # noqa: F401
from xsudo.sim import PtyServer

Run = Callable[..., Result]


def one_error_line(result: Result) -> str:
    assert result.err.startswith("error: "), result.err
    assert result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err and "Error: " not in result.err
    return result.err.strip()


@pytest.mark.parametrize(
    "form", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
@pytest.mark.parametrize("command", ["apply", "station", "show"])
def test_a_private_key_given_to_trust_is_refused(
    tmp_path: Path,
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
    form: serialization.PrivateFormat,
    command: str,
) -> None:
    private = tmp_path / "factory.key"
    private.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, form, serialization.NoEncryption()
        )
    )
    plan, trust = str(station["plan"]), ["--trust", str(private)]
    args = {
        "apply": ["apply", plan, *trust, "--port", "sim://?profile=locked"],
        "station": ["station", "--plan", plan, *trust, "--port", "sim://?profile=locked"],
        "show": ["plan", "show", plan, *trust],
    }[command]
    done = xsudo(*args)
    assert done.code == 2 and done.out == ""
    line = one_error_line(done)
    assert f"{private} holds a private key; give its public key (xsudo key export" in line


def test_a_missing_trust_file_says_what_to_give(
    tmp_path: Path,
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    missing = tmp_path / "nosuch.pub"
    done = xsudo("apply", str(station["plan"]), "--trust", str(missing), "--port", "sim://")
    assert done.code == 2
    line = one_error_line(done)
    assert "nosuch.pub" in line and "xsudo key export" in line


@pytest.mark.parametrize("command", ["apply", "station"])
def test_no_trust_prints_like_every_other_error(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
    command: str,
) -> None:
    plan = str(station["plan"])
    args = (
        ["apply", plan, "--port", "sim://"]
        if command == "apply"
        else ["station", "--plan", plan, "--port", "sim://"]
    )
    done = xsudo(*args)
    assert done.code == 2
    assert "give --trust KEY.pub" in one_error_line(done)


def test_a_manifest_given_as_the_plan_says_it_is_not_a_plan(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    done = xsudo("plan", "show", str(station["manifest"]))
    assert done.code == 2
    assert "this is not a plan file" in one_error_line(done)
    assert "xsudo plan MANIFEST makes one" in done.err


def test_plan_approve_refuses_an_expired_plan(
    tmp_path: Path,
    xsudo: Run,  # noqa: F811
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.plans.conftest import write_manifest
    from xsudo.api import open_key
    from xsudo.plans.build import build_plan, write_plan

    assert xsudo("key", "generate", "factory").code == 0
    assert xsudo("key", "generate", "qa").code == 0
    past = datetime.now(UTC) - timedelta(days=3)
    document, _ = build_plan(
        write_manifest(tmp_path), open_key("factory"), now=past, validity=timedelta(days=1)
    )
    plan = tmp_path / "old.json"
    write_plan(plan, document)
    before = plan.read_bytes()
    done = xsudo("plan", "approve", str(plan), "--key", "qa")
    assert done.code == 2
    line = one_error_line(done)
    assert "the plan expired at" in line and "make a new plan" in line
    assert plan.read_bytes() == before


def test_a_slot_with_another_key_says_how_to_fix_it(
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    assert xsudo("key", "generate", "other").code == 0
    server = locked_board(board, xsudo, "other")
    before = snapshot(server)
    done = apply(xsudo, station["plan"], station["pub"], server.path)
    assert done.code == 1
    error = json.loads(done.out)["error"]
    assert "nothing written" in error
    assert "upload the plan's public key to the slot with xsudo device upload-key" in error
    assert "or use a plan signed with the slot's key" in error
    assert snapshot(server) == before


def test_a_missing_port_is_worded_for_the_command_line(
    tmp_path: Path,
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    port = str(tmp_path / "ttyACM9")
    done = apply(xsudo, station["plan"], station["pub"], port)
    assert done.code == 1
    error = json.loads(done.out)["error"]
    assert "list ports with xsudo ports" in error
    assert "xsudo.ports" not in error
    shown = xsudo("station", "--plan", str(station["plan"]), "--trust", str(station["pub"]),
                  "--port", port, "--json")  # fmt: skip
    assert shown.code == 1
    assert "list ports with xsudo ports" in json.loads(shown.out)["error"]


def test_another_plan_names_the_replace_option(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    server = locked_board(board, xsudo)
    assert apply(xsudo, station["plan"], station["pub"], server.path).code == 0
    other = tmp_path / "other.json"
    made = xsudo("plan", str(station["manifest"]), "--key", "factory", "-o", str(other))
    assert made.code == 0, made.err
    refused = apply(xsudo, other, station["pub"], server.path)
    assert refused.code == 1
    assert "apply with --replace" in json.loads(refused.out)["error"]
