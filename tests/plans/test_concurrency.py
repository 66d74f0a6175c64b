"""Several ``xsudo apply`` processes (stations) sharing one ledger, one IMEI on two boards
at two stations: every good board is written and recorded exactly once, the duplicate is
reported and not written.

Runs on SQLite (always) and PostgreSQL (``ledger_url``, tests/ledger/conftest.py: skipped
without a server, failed when ``XSUDO_TEST_REQUIRE_POSTGRES=1``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ledger.conftest import ledger_url, postgres_url  # noqa: F401
from tests.plans.conftest import CA_TAG, write_manifest
from tests.support.signers import MemorySigner
from xsudo.at.modem import Modem
from xsudo.crypto import public_key_pem
from xsudo.ledger.store import Ledger
from xsudo.plans.build import build_plan, write_plan

STATIONS = 4
BOARDS = 16
DUPLICATE = "352656199999997"


def _port(state: Path, imei: str) -> str:
    return f"sim://?profile=locked&state={state}&imei={imei}"


def _prepare(port: str, pem: bytes) -> None:
    """Upload the plan key's public half to slot 0 (the board's state file keeps it)."""
    import xsudo.sim

    xsudo.sim.register_url_handler()
    with Modem.open(port) as modem:
        modem.xpmng_write(pem, 0)


def _ca_stored(port: str) -> bool:
    with Modem.open(port) as modem:
        return bool(modem.cmng_list(CA_TAG, 0))


def test_stations_share_one_ledger(ledger_url: str, tmp_path: Path) -> None:  # noqa: F811
    key = MemorySigner(name="factory")
    document, parsed = build_plan(write_manifest(tmp_path), key)
    plan = tmp_path / "plan.json"
    write_plan(plan, document)
    pub = tmp_path / "factory.pub"
    pub.write_text(public_key_pem(key.public_key()))
    ports: list[list[str]] = []
    for station in range(STATIONS):
        mine = []
        for board in range(BOARDS):
            imei = f"35265610{station:02d}{board:05d}"
            if station < 2 and board == 0:
                imei = DUPLICATE
            port = _port(tmp_path / f"s{station}b{board}.json", imei)
            _prepare(port, public_key_pem(key.public_key()).encode())
            mine.append(port)
        ports.append(mine)
    processes = []
    for station, mine in enumerate(ports):
        home = tmp_path / f"home{station}"
        env = {**os.environ, "XSUDO_STATION": f"station-{station}", "XSUDO_HOME": str(home)}
        args = [sys.executable, "-m", "xsudo", "apply", str(plan), "--trust", str(pub)]
        args += ["--ledger", ledger_url, "--json"]
        for port in mine:
            args += ["--port", port]
        processes.append(
            subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    outcomes: list[dict] = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert b"Traceback" not in err, err.decode()
        outcomes += [json.loads(line) for line in out.decode().splitlines()]
    assert len(outcomes) == STATIONS * BOARDS
    duplicates = [o for o in outcomes if o["imei"] == DUPLICATE]
    assert sorted(o["status"] for o in duplicates) == ["duplicate", "written"]
    others = [o for o in outcomes if o["imei"] != DUPLICATE]
    assert {o["status"] for o in others} == {"written"}, [o["error"] for o in others]
    flagged = next(o for o in duplicates if o["status"] == "duplicate")
    assert not _ca_stored(flagged["port"])  # not written
    assert _ca_stored(next(o for o in duplicates if o["status"] == "written")["port"])
    with Ledger.open(ledger_url, tmp_path) as ledger:
        records = ledger.list()
    by_imei: dict[str, int] = {}
    for record in records:
        by_imei[record.imei] = by_imei.get(record.imei, 0) + 1
        assert record.result == "ok"
        assert record.plan_hash == parsed.plan.plan_hash
    assert len(by_imei) == STATIONS * BOARDS - 1
    assert set(by_imei.values()) == {1}
