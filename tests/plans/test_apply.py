"""``xsudo plan`` and ``xsudo apply`` end to end on simulated boards over real ptys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.plans.conftest import CA_TAG, PSK_ID_TAG, ca_pem, write_manifest
from tests.support.boards import Result, board, cfun, snapshot, xsudo  # noqa: F401
from tests.support.signers import MemorySigner
from xsudo.crypto import public_key_pem
from xsudo.plans.build import build_plan, write_plan
from xsudo.sim import PtyServer

Run = Callable[..., Result]


@pytest.fixture
def station(tmp_path: Path, xsudo: Run) -> dict[str, Path]:  # noqa: F811
    """A key ``factory`` in the (in-memory) key store, its public half in a file, a
    manifest and a plan made with the CLI."""
    assert xsudo("key", "generate", "factory").code == 0
    exported = xsudo("key", "export", "factory")
    assert exported.code == 0
    pub = tmp_path / "factory.pub"
    pub.write_text(exported.out)
    manifest = write_manifest(tmp_path)
    plan = tmp_path / "plan.json"
    made = xsudo("plan", str(manifest), "--key", "factory", "-o", str(plan), "--expires", "2d")
    assert made.code == 0, made.err
    return {"pub": pub, "plan": plan, "manifest": manifest}


_IMEIS = iter(range(10**6))


def locked_board(board: Callable[..., PtyServer], xsudo: Run, key: str = "factory") -> PtyServer:  # noqa: F811
    """A ``locked`` board (a new IMEI each) whose slot 0 holds ``key``'s public half."""
    server = board("locked", imei=f"352656100{next(_IMEIS):06d}")
    done = xsudo("device", "upload-key", "--port", server.path, "--key", key)
    assert done.code == 0, done.err
    return server


def apply(xsudo: Run, plan: Path, pub: Path, *ports: str, extra: tuple[str, ...] = ()) -> Result:  # noqa: F811
    args = ["apply", str(plan), "--trust", str(pub), "--json"]
    for port in ports:
        args += ["--port", port]
    return xsudo(*args, *extra)


def expected_content() -> dict[tuple[int, int], bytes]:
    return {(CA_TAG, 0): ca_pem().encode(), (PSK_ID_TAG, 4): b"factory-device"}


def test_apply_writes_verifies_and_then_is_unchanged(
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],
) -> None:
    servers = [locked_board(board, xsudo) for _ in range(2)]
    for server in servers:
        server.board.modem.volatile.cfun = 1  # online: apply must go offline and come back
    shown = xsudo("plan", "show", str(station["plan"]), "--json")
    assert shown.code == 0, shown.err
    summary = shown.json()
    assert summary["signatures"][0]["key_name"] == "factory"
    assert summary["signatures"][0]["verified"] is True
    first = apply(xsudo, station["plan"], station["pub"], *(s.path for s in servers))
    assert first.code == 0, first.err
    lines = [json.loads(line) for line in first.out.splitlines()]
    assert [line["status"] for line in lines] == ["written", "written"]
    for server in servers:
        stored = snapshot(server)
        for where, content in expected_content().items():
            assert stored[where] == content
        assert cfun(server) == 1  # the previous mode is back
    for line in lines:
        shas = {(r["tag"], r["type_id"]): r["sha"] for r in line["results"]}
        for where, content in expected_content().items():
            assert shas[where] == hashlib.sha256(content).hexdigest().upper()
    again = apply(xsudo, station["plan"], station["pub"], *(s.path for s in servers))
    assert again.code == 0, again.err
    assert [json.loads(x)["status"] for x in again.out.splitlines()] == ["unchanged"] * 2


def test_a_slot_with_another_key_gets_nothing(
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],
) -> None:
    assert xsudo("key", "generate", "other").code == 0
    server = locked_board(board, xsudo, "other")
    before = snapshot(server)
    done = apply(xsudo, station["plan"], station["pub"], server.path)
    assert done.code == 1
    line = json.loads(done.out)
    assert line["status"] == "failed"
    assert "nothing written" in line["error"]
    assert snapshot(server) == before


def test_an_expired_plan_is_refused_before_any_port(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
) -> None:
    key = MemorySigner(name="factory")
    server = board("locked")
    before = snapshot(server)
    manifest = write_manifest(tmp_path)
    past = datetime.now(UTC) - timedelta(days=3)
    document, _ = build_plan(manifest, key, now=past, validity=timedelta(days=1))
    plan = tmp_path / "old.json"
    write_plan(plan, document)
    pub = tmp_path / "k.pub"
    pub.write_text(public_key_pem(key.public_key()))
    done = apply(xsudo, plan, pub, server.path)
    assert done.code == 2
    assert "expired" in done.err and done.out == ""
    assert snapshot(server) == before
    two = apply(xsudo, plan, pub, server.path, extra=("--approvals", "2"))
    assert two.code == 2 and "required" in two.err


def test_plan_approve_and_show_from_the_cli(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],
) -> None:
    assert xsudo("key", "generate", "qa").code == 0
    before = json.loads(station["plan"].read_text())["payload"]
    assert xsudo("plan", "approve", str(station["plan"]), "--key", "qa").code == 0
    assert json.loads(station["plan"].read_text())["payload"] == before
    again = xsudo("plan", "approve", str(station["plan"]), "--key", "qa")
    assert again.code == 2 and "already signed" in again.err
    shown = xsudo("plan", "show", str(station["plan"]))
    assert shown.code == 0
    assert "(qa): verified" in shown.out and "(factory): verified" in shown.out
    refused = xsudo(
        "plan", str(station["manifest"]), "--key", "factory", "-o", str(station["plan"])
    )
    assert refused.code == 2 and "exists" in refused.err


def test_another_plan_needs_replace(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],
) -> None:
    server = locked_board(board, xsudo)
    assert apply(xsudo, station["plan"], station["pub"], server.path).code == 0
    other = tmp_path / "other.json"
    made = xsudo("plan", str(station["manifest"]), "--key", "factory", "-o", str(other))
    assert made.code == 0, made.err
    refused = apply(xsudo, other, station["pub"], server.path)
    assert refused.code == 1
    assert "another plan" in json.loads(refused.out)["error"]
    replaced = apply(xsudo, other, station["pub"], server.path, extra=("--replace",))
    assert replaced.code == 0, replaced.err
    line = json.loads(replaced.out)
    assert line["status"] == "unchanged" and line["ledger_record"] is not None


def test_plan_refuses_a_per_device_manifest_in_one_line(
    tmp_path: Path,
    xsudo: Run,  # noqa: F811
) -> None:
    assert xsudo("key", "generate", "factory").code == 0
    manifest = write_manifest(
        tmp_path, '\n[[credential]]\ntag = 7\ntype = "client-cert"\nfile = "{imei}.pem"\n'
    )
    done = xsudo("plan", str(manifest), "--key", "factory", "-o", str(tmp_path / "p.json"))
    assert done.code == 2 and done.out == ""
    assert done.err.startswith("error: ") and "per device" in done.err
    assert not (tmp_path / "p.json").exists()


def test_apply_with_one_worker_writes_every_board_in_port_order(
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],
) -> None:
    """``--workers 1`` takes the boards one at a time; every board is written and the
    report keeps the order of the ``--port`` options."""
    servers = [locked_board(board, xsudo) for _ in range(3)]
    paths = [s.path for s in servers]
    done = apply(xsudo, station["plan"], station["pub"], *paths, extra=("--workers", "1"))
    assert done.code == 0, done.err
    lines = [json.loads(line) for line in done.out.splitlines()]
    assert [line["port"] for line in lines] == paths
    assert [line["status"] for line in lines] == ["written"] * 3
    assert "3 boards ok" in done.err
