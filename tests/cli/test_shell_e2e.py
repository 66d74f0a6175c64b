"""The CLI against boards whose UART runs the Zephyr shell (``at <command>``), over real ptys.

Every device command takes ``--cmd-type`` (default ``auto``, or ``$XSUDO_CMD_TYPE``): the
same writes, SHAs and signatures as over at_host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.boards import Result, snapshot
from xsudo.sim import PtyServer

CA_TAG = 16842753

Run = Callable[..., Result]
Board = Callable[..., PtyServer]


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
@pytest.mark.parametrize("cmd_type", ["auto", "shell"])
def test_write_through_the_shell_lists_the_sha_a_real_modem_listed(
    xsudo: Run,
    board: Board,
    observed: dict[str, Any],
    tmp_path: Path,
    profile: str,
    cmd_type: str,
) -> None:
    server = board(profile, cmd_type="shell")
    file = tmp_path / "ca.pem"
    file.write_bytes(observed["content"].replace("\n", "\r\n").encode())  # repaired on the way
    truth = observed["sha256_upper_hex"]
    args = ("--port", server.path, "--cmd-type", cmd_type)
    done = xsudo(
        "cred", "write", *args, "--tag", str(CA_TAG), "--type", "ca-cert", "--json", str(file)
    )
    assert done.code == 0, done.err
    assert done.json()["sha"] == truth
    assert "Zephyr shell" in done.err
    assert hashlib.sha256(snapshot(server)[(CA_TAG, 0)]).hexdigest().upper() == truth
    listed = xsudo("cred", "list", *args, "--tag", str(CA_TAG), "--json")
    assert [row["sha"] for row in listed.json()] == [truth]
    check = xsudo("cred", "check", *args, "--tag", str(CA_TAG), "--type", "ca-cert", str(file))
    assert check.code == 0 and "canonical" in check.out


def test_signed_write_through_the_shell_on_a_locked_board(
    xsudo: Run, board: Board, observed: dict[str, Any], tmp_path: Path
) -> None:
    """Key upload, the XSUDO probe and an XSUDO-signed write, all through ``at '...'``; the
    simulator verifies each signature over the bytes the shell handed the modem."""
    server = board("locked", cmd_type="shell", unescape_lf=True)
    file = tmp_path / "ca.pem"
    file.write_text(observed["content"])
    assert xsudo("key", "generate", "alpha").code == 0
    port = ("--port", server.path)
    assert xsudo("device", "upload-key", *port, "--key", "alpha").code == 0

    info = xsudo("device", "info", *port, "--key", "alpha", "--json")
    assert info.code == 0, info.err
    assert info.json()["imei"] == "352656100367872"
    assert info.json()["authenticated_access"]["works"] is True

    plain = xsudo("cred", "write", *port, "--tag", "5", "--type", "ca-cert", str(file))
    assert plain.code == 1 and "514" in plain.err

    done = xsudo(
        "cred", "write", *port, "--key", "alpha", "--auth", "required",
        "--tag", str(CA_TAG), "--type", "ca-cert", "--json", str(file),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert (done.json()["auth"], done.json()["sha"]) == ("xsudo", observed["sha256_upper_hex"])
    assert snapshot(server)[(CA_TAG, 0)] == observed["content"].encode()


def test_environment_chooses_the_command_type(
    xsudo: Run, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = board(cmd_type="shell")
    monkeypatch.setenv("XSUDO_CMD_TYPE", "at")
    wrong = xsudo("cred", "list", "--port", server.path)
    assert wrong.code == 3
    assert "Zephyr shell" in wrong.err and "--cmd-type shell" in wrong.err
    monkeypatch.setenv("XSUDO_CMD_TYPE", "shell")
    assert xsudo("cred", "list", "--port", server.path, "--json").code == 0


def test_a_line_longer_than_the_shell_buffer_is_refused_before_it_is_sent(
    xsudo: Run, board: Board, observed: dict[str, Any], tmp_path: Path
) -> None:
    server = board(cmd_type="shell")
    file = tmp_path / "ca.pem"
    file.write_text(observed["content"])
    before = snapshot(server)
    result = xsudo(
        "cred", "write", "--port", server.path, "--shell-buffer", "1024",
        "--tag", "9", "--type", "ca-cert", str(file),
    )  # fmt: skip
    assert result.code == 2
    assert "CONFIG_SHELL_CMD_BUFF_SIZE=1024" in result.err
    assert snapshot(server) == before


def test_fleet_of_shell_and_at_boards_with_auto_detection(xsudo: Run, tmp_path: Path) -> None:
    from tests.cli.test_device_and_fleet import make_fleet_files

    imeis = ["352656100000011", "352656100000012"]
    manifest = make_fleet_files(tmp_path, imeis)
    assert xsudo("key", "generate", "factory").code == 0
    ports = [
        f"sim://?profile=locked&state={tmp_path}/s0.json&imei={imeis[0]}&cmd_type=shell",
        f"sim://?profile=locked&state={tmp_path}/s1.json&imei={imeis[1]}",
    ]
    for port in ports:
        uploaded = xsudo("device", "upload-key", "--port", port, "--key", "factory")
        assert uploaded.code == 0, uploaded.err
    result = xsudo("provision", str(manifest), "--port", ports[0], "--port", ports[1], "--json")
    assert result.code == 0, result.err
    reports = [__import__("json").loads(line) for line in result.out.splitlines()]
    assert [r["ok"] for r in reports] == [True, True]
    assert {x["auth"] for r in reports for x in r["results"]} == {"xsudo"}
