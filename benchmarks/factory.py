"""Factory throughput: stations applying a signed plan over simulated boards, one PostgreSQL ledger.

Usage (from the repository root, Linux with Debian's ``postgresql`` package)::

    python benchmarks/factory.py [--boards 8,16] [--stations 2] [--inprocess 8] [--json]

Setup (untimed): a throwaway PostgreSQL cluster started as ``.ci/postgres.sh`` starts it
(unix socket only, ``fsync=off``), restarted once with ``pg_stat_statements`` preloaded; a
``file``-store key ``factory`` in a temporary ``XSUDO_HOME``; a manifest with two fleet-wide
credentials (a CA certificate and a PSK identity, like ``tests/plans``); the plan made by
``xsudo plan fleet.toml --key factory`` and the public key by ``xsudo key export``; and
for every board a simulated nRF91 (profile ``locked``: every write must be ``%XSUDO``)
whose slot 0 holds the plan's key, served on a pty at 115200 baud (pacing in both
directions) by a board-host process of its own. Every scenario gets its own database,
already migrated, and boards with IMEIs no other scenario used.

Timed, each as the whole process a user runs (bytecode cached by an untimed warm-up):

* ``apply xN``: ``xsudo apply plan.json --port ... (N) --trust factory.pub --ledger URL --json``;
* ``station xN``: ``xsudo station --plan plan.json --trust factory.pub --ledger URL --port ...
  (N) --json`` (default ``--workers 8``);
* ``K stations xN``: K such station processes at once, each with its own ``--station-id``
  and N boards of its own, one database.

Every board must come back ``written`` (checked from the JSON lines). Per scenario: wall
time, boards per minute, and the database's view of the run (read from a second session
on the ``postgres`` database once the run's backends have exited and flushed their
statistics): transactions committed and rows inserted/updated (``pg_stat_database``),
statement calls and server execution time (``pg_stat_statements``, BEGIN/COMMIT included),
WAL bytes (``pg_current_wal_lsn`` difference) and the bytes of the rows stored
(``pg_column_size`` of every row of the ledger's tables). The cost of one board is
the sum over every timed run divided by the boards (each process's start, its ledger open
and schema check, included).

``--inprocess N`` also runs ``xsudo apply`` over N boards inside this process (through the
CLI's ``main``), with SQLAlchemy event listeners on every engine: statements executed by the
ledger, their client-side time (send, server, answer: one round trip each over the unix
socket), transactions begun, and the bytes of SQL text and parameters sent (an estimate of
what goes to the server; the driver's protocol framing is not counted). The pool's
pre-ping does not go through these events; ``pg_stat_statements`` counts it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from xsudo.at.modem import Modem
from xsudo.keys import KeyStore, PassphraseSource
from xsudo.sim import register_url_handler

register_url_handler()  # the boards' flash is prepared through sim:// in this process

REPO = Path(__file__).resolve().parents[1]
BAUD = 115200
KEY_NAME = "factory"
PASSPHRASE = "factory benchmark passphrase"
CA_TAG = 16842753
PSK_ID_TAG = 16842754
STAT_DEADLINE = 30.0  # seconds for a finished run's backends to exit and flush statistics

BOARD_HOST = f"""
import json, shutil, sys
from xsudo.sim import PtyServer, SimOptions
servers = []
for line in sys.stdin:
    for server in servers:
        server.close()
    servers = []
    for imei, state, template in json.loads(line):
        shutil.copyfile(template, state)
        server = PtyServer(SimOptions(profile="locked", imei=imei, state=state, baud={BAUD}))
        server.start()
        servers.append(server)
    print(json.dumps([server.path for server in servers]), flush=True)
for server in servers:
    server.close()
"""
"""The board host: one line of JSON in (IMEI, state file, template), one line out (the pty
paths of fresh boards serving those states)."""


def shell(script: str, *args: str) -> str:
    """Run ``script`` in bash with ``.ci/postgres.sh`` sourced; its stdout, or exit."""
    done = subprocess.run(
        ["bash", "-c", f"source {REPO}/.ci/postgres.sh\n{script}", "bash", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"postgres: {done.stderr.strip()[-2000:]}")
    return done.stdout


class Cluster:
    """The throwaway PostgreSQL cluster, with ``pg_stat_statements`` when it can be loaded."""

    def __init__(self, parent: Path) -> None:
        self.dir = parent / "pg"
        os.chmod(parent, 0o755)  # the server runs as nobody when we are root
        self.url = shell('pg_start "$1" && printf %s "$XSUDO_TEST_POSTGRES_URL"', str(self.dir))
        self.admin = create_engine(
            self.url.replace("postgresql://", "postgresql+psycopg://").replace(
                "/xsudo_test?", "/postgres?"
            ),
            isolation_level="AUTOCOMMIT",
        )
        self.statements = self._enable_statements()

    def _enable_statements(self) -> bool:
        with self.admin.connect() as db:
            db.execute(text("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
        self.admin.dispose()
        shell(
            'bin="$(pg_bin)" && pg_as "$1" "$bin/pg_ctl" -D "$1/data" -w -m fast restart '
            ">/dev/null",
            str(self.dir),
        )
        try:
            with self.admin.connect() as db:
                db.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        except Exception as error:  # a cluster without the module still runs
            print(f"pg_stat_statements unavailable ({error}); no statement counts", file=sys.stderr)
            return False
        return True

    def database(self, name: str) -> str:
        """Create database ``name``; return its ledger URL."""
        with self.admin.connect() as db:
            db.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url.replace("/xsudo_test?", f"/{name}?")

    def snapshot(self, name: str, with_rows: bool) -> dict[str, float]:
        """The database's counters once no session is connected to it, and with ``with_rows``
        its rows per table (the last snapshot of a database: reading them is a session)."""
        deadline = time.monotonic() + STAT_DEADLINE
        with self.admin.connect() as db:
            while db.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": name}
            ).scalar_one():
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name}: sessions still open after {STAT_DEADLINE} s")
                time.sleep(0.05)
            db.execute(text("SELECT pg_stat_force_next_flush()"))
            db.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = db.execute(
                text(
                    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted,"
                    " tup_returned, tup_fetched, oid FROM pg_stat_database d"
                    " JOIN pg_database p ON p.datname = d.datname WHERE d.datname = :d"
                ),
                {"d": name},
            ).one()
            values = {
                "db_bytes": float(
                    db.execute(text("SELECT pg_database_size(:d)"), {"d": name}).scalar_one()
                ),
                "commits": float(row[0]),
                "rollbacks": float(row[1]),
                "inserted": float(row[2]),
                "updated": float(row[3]),
                "deleted": float(row[4]),
                "wal": float(
                    db.execute(
                        text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
                    ).scalar_one()
                ),
            }
            if self.statements:
                calls, ms = db.execute(
                    text(
                        "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0)"
                        " FROM pg_stat_statements WHERE dbid = :oid"
                    ),
                    {"oid": row[7]},
                ).one()
                values["calls"] = float(calls)
                values["exec_ms"] = float(ms)
        # Read last: this session's own transactions would count in the next snapshot.
        rows = self._rows(name) if with_rows else {}
        return {**values, **rows}

    def _rows(self, name: str) -> dict[str, float]:
        """Rows and their bytes (``pg_column_size``) in each of the database's public tables:
        ``rows:TABLE`` and ``row_bytes`` (all tables)."""
        engine = create_engine(self.database_url(name), isolation_level="AUTOCOMMIT")
        values = {"row_bytes": 0.0}
        try:
            with engine.connect() as db:
                tables = db.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version' ORDER BY tablename"
                    )
                ).scalars()
                for table in list(tables):
                    count, size = db.execute(
                        text(
                            "SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0)"
                            f' FROM "{table}" t'
                        )
                    ).one()
                    values[f"rows:{table}"] = float(count)
                    values["row_bytes"] += float(size)
        finally:
            engine.dispose()
        return values

    def database_url(self, name: str) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://").replace(
            "/xsudo_test?", f"/{name}?"
        )

    def sessions(self, name: str) -> int:
        """How many sessions are connected to database ``name`` now."""
        with self.admin.connect() as db:
            count: int = db.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": name}
            ).scalar_one()
        return count

    def close(self) -> None:
        self.admin.dispose()


class BoardHost:
    """Simulated boards on ptys, served by a process of their own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOARD_HOST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def serve(self, boards: list[tuple[str, str, str]]) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(boards) + "\n")
        self.process.stdin.flush()
        paths: list[str] = json.loads(self.process.stdout.readline())
        return paths

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


@dataclass
class Factory:
    """The key, plan, public key and board templates under one temporary directory."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    pem: bytes = b""
    next_imei: int = 0

    def prepare(self) -> None:
        home = self.root / "home"
        self.env = {**os.environ, "XSUDO_HOME": str(home), "XSUDO_KEY_PASSPHRASE": PASSPHRASE}
        for name in ("XSUDO_PORT", "XSUDO_LEDGER", "XSUDO_STATION", "PYTHONDONTWRITEBYTECODE"):
            self.env.pop(name, None)
        self.env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        os.environ["XSUDO_KEY_PASSPHRASE"] = PASSPHRASE
        try:
            record = KeyStore(home, PassphraseSource(interactive=False)).generate(KEY_NAME, "file")
        finally:
            del os.environ["XSUDO_KEY_PASSPHRASE"]
        self.pem = record.public_key_pem.encode("ascii")
        vectors = json.loads((REPO / "tests/vectors/modem-observed.json").read_text())
        (self.root / "ca.pem").write_text(str(vectors["cases"][0]["content"]))
        (self.root / "psk-id.txt").write_text("factory-device\n")
        (self.root / "fleet.toml").write_text(
            "[defaults]\nslot = 0\n\n"
            f'[[credential]]\ntag = {CA_TAG}\ntype = "ca-cert"\nfile = "ca.pem"\n\n'
            f'[[credential]]\ntag = {PSK_ID_TAG}\ntype = "psk-id"\nfile = "psk-id.txt"\n'
        )
        self.xsudo("plan", str(self.root / "fleet.toml"), "--key", KEY_NAME, "-o", str(self.plan))
        self.xsudo("key", "export", KEY_NAME, "-o", str(self.trust))
        (self.root / "templates").mkdir()
        (self.root / "boards").mkdir()

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def trust(self) -> Path:
        return self.root / "factory.pub"

    def xsudo(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "xsudo", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"xsudo {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
        return done

    def boards(self, count: int) -> list[tuple[str, str, str]]:
        """``count`` factory-fresh boards with new IMEIs, the plan key in slot 0."""
        boards = []
        for _ in range(count):
            index = self.next_imei
            self.next_imei += 1
            imei = f"35265610{index:07d}"
            template = self.root / "templates" / f"{imei}.json"
            port = f"sim://?profile=locked&baud=0&imei={imei}&state={template}"
            with Modem.open(port) as modem:
                modem.xpmng_write(self.pem, 0)
            boards.append((imei, str(self.root / "boards" / f"{imei}.json"), str(template)))
        return boards


def check_lines(label: str, stdout: str, count: int) -> list[float]:
    """Check that ``count`` boards were ``written``; return each board's seconds (its JSON
    line's ``started`` to ``ended``: slot check, ledger claim, writes, read-backs, record)."""
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    statuses = [line["status"] for line in lines]
    if statuses != ["written"] * count:
        raise SystemExit(f"{label}: expected {count} boards written, got {statuses}")
    return [
        (
            datetime.fromisoformat(line["ended"]) - datetime.fromisoformat(line["started"])
        ).total_seconds()
        for line in lines
    ]


def run_scenario(
    factory: Factory, host: BoardHost, cluster: Cluster, name: str, stations: int, count: int
) -> dict[str, Any]:
    """``stations`` station processes (0: one ``xsudo apply``) of ``count`` boards each."""
    db = name.replace(" ", "_")
    url = cluster.database(db)
    with contextlib.closing(_open_ledger(url, factory)):
        pass  # migrate now, so the run measures provisioning, not the schema's creation
    before = cluster.snapshot(db, with_rows=False)
    ports = host.serve(factory.boards(max(stations, 1) * count))
    commands = []
    for index in range(max(stations, 1)):
        mine = ports[index * count : (index + 1) * count]
        port_args = [arg for port in mine for arg in ("--port", port)]
        if stations == 0:
            command = ["apply", str(factory.plan), *port_args]
        else:
            command = [
                "station",
                "--plan",
                str(factory.plan),
                "--station-id",
                f"line-{index + 1}",
                *port_args,
            ]
        commands.append(
            [
                sys.executable,
                "-m",
                "xsudo",
                *command,
                "--trust",
                str(factory.trust),
                "--ledger",
                url,
                "--json",
            ]
        )
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            c, env=factory.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    peak = [0]
    sampling = threading.Event()

    def sample() -> None:  # the most sessions the run held at once, every 20 ms
        while not sampling.wait(0.02):
            peak[0] = max(peak[0], cluster.sessions(db))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        outputs = [p.communicate() for p in processes]
    finally:
        sampling.set()
        sampler.join()
    wall = time.perf_counter() - start
    board_seconds: list[float] = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"{name}: exited {process.returncode}: {err[-2000:]}")
        board_seconds += check_lines(name, out, count)
    after = cluster.snapshot(db, with_rows=True)
    boards = max(stations, 1) * count
    delta = {key: after[key] - before.get(key, 0.0) for key in after}  # tables empty before
    return {
        "scenario": name,
        "processes": max(stations, 1),
        "boards": boards,
        "wall_s": wall,
        "boards_per_min": boards * 60 / wall,
        "boards_per_min_per_station": count * 60 / wall,
        "board_s_median": statistics.median(board_seconds),
        "board_s_max": max(board_seconds),
        "peak_sessions": peak[0],
        "db": delta,
    }


def _open_ledger(url: str, factory: Factory) -> Any:
    from xsudo.ledger.recording import open_ledger

    return open_ledger(url, factory.root / "home")


@dataclass
class Listener:
    """Counts what the ledger's engines send, from SQLAlchemy's engine events."""

    statements: int = 0
    seconds: float = 0.0
    sent_bytes: int = 0
    begins: int = 0
    commits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def attach(self) -> None:
        event.listen(Engine, "before_cursor_execute", self.before)
        event.listen(Engine, "after_cursor_execute", self.after)
        event.listen(Engine, "begin", self.begin)
        event.listen(Engine, "commit", self.commit)

    def detach(self) -> None:
        event.remove(Engine, "before_cursor_execute", self.before)
        event.remove(Engine, "after_cursor_execute", self.after)
        event.remove(Engine, "begin", self.begin)
        event.remove(Engine, "commit", self.commit)

    def before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        size = len(statement.encode()) + len(repr(parameters).encode())
        with self.lock:
            self.sent_bytes += size
        self.local.start = time.perf_counter()

    def after(self, *_: Any) -> None:
        elapsed = time.perf_counter() - self.local.start
        with self.lock:
            self.statements += 1
            self.seconds += elapsed

    def begin(self, _conn: Any) -> None:
        with self.lock:
            self.begins += 1

    def commit(self, _conn: Any) -> None:
        with self.lock:
            self.commits += 1


def run_inprocess(
    factory: Factory, host: BoardHost, cluster: Cluster, count: int
) -> dict[str, Any]:
    """``xsudo apply`` over ``count`` boards in this process, with the listeners attached."""
    from xsudo.cli import main as xsudo_main

    url = cluster.database("inprocess")
    with contextlib.closing(_open_ledger(url, factory)):
        pass
    ports = host.serve(factory.boards(count))
    args = ["apply", str(factory.plan), "--trust", str(factory.trust), "--ledger", url, "--json"]
    args += [arg for port in ports for arg in ("--port", port)]
    listener = Listener()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(factory.env)
    os.environ.pop("XSUDO_KEY_PASSPHRASE", None)
    out = io.StringIO()
    listener.attach()
    try:
        with contextlib.redirect_stdout(out):
            try:
                xsudo_main(args)
            except SystemExit as exit_:
                if exit_.code not in (0, None):
                    raise SystemExit(f"in-process apply exited {exit_.code}") from None
    finally:
        listener.detach()
        os.environ.clear()
        os.environ.update(saved)
    check_lines("in-process apply", out.getvalue(), count)
    return {
        "boards": count,
        "statements": listener.statements,
        "statement_ms": listener.seconds * 1000,
        "transactions": listener.begins,
        "commits": listener.commits,
        "sent_bytes": listener.sent_bytes,
    }


def per_board(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The database's cost of one board, over every timed run: the sum of the counters over
    the sum of the boards (each process's own start, such as its ledger open and schema
    check, spread over its boards: an upper bound for longer runs)."""
    boards = sum(r["boards"] for r in rows)
    return {key: sum(r["db"][key] for r in rows) / boards for key in rows[0]["db"]}


def report(
    rows: list[dict[str, Any]],
    pooled: dict[str, float],
    inproc: dict[str, Any] | None,
    statements: bool,
) -> None:
    print(
        f"{'scenario':<18}{'procs':>6}{'boards':>7}{'wall s':>8}{'board s':>12}"
        f"{'boards/min':>11}{'/station':>9}   per board: {'commits':>7}{'calls':>6}"
        f"{'exec ms':>8}{'WAL B':>7}{'sessions':>9}"
    )
    for r in rows:
        d = {key: value / r["boards"] for key, value in r["db"].items()}
        calls = f"{d['calls']:.1f}" if statements else "-"
        exec_ms = f"{d['exec_ms']:.2f}" if statements else "-"
        board_s = f"{r['board_s_median']:.2f}/{r['board_s_max']:.2f}"
        print(
            f"{r['scenario']:<18}{r['processes']:>6}{r['boards']:>7}{r['wall_s']:>8.2f}"
            f"{board_s:>12}{r['boards_per_min']:>11.1f}{r['boards_per_min_per_station']:>9.1f}"
            f"{'':>14}{d['commits']:>7.1f}{calls:>6}{exec_ms:>8}{d['wal']:>7.0f}"
            f"{r['peak_sessions']:>9}"
        )
    m = pooled
    line = (
        f"per board (all runs): {m['commits']:.1f} commits, {m['inserted']:.1f} rows inserted, "
        f"{m['updated']:.1f} updated, {m['deleted']:.1f} deleted, "
        f"{m['row_bytes']:.0f} bytes of rows stored ({m['db_bytes']:.0f} of database with "
        f"indexes and pages), {m['wal']:.0f} WAL bytes"
    )
    if statements:
        line += f", {m['calls']:.1f} statements, {m['exec_ms']:.2f} ms server execution"
    print(line)
    tables = sorted(key for key in m if key.startswith("rows:"))
    print("rows per board: " + ", ".join(f"{key[5:]} {m[key]:.2f}" for key in tables))
    if inproc is not None:
        n = inproc["boards"]
        print(
            f"in-process apply x{n} (client side, whole run incl. one ledger open): "
            f"{inproc['statements'] / n:.1f} statements/board, "
            f"{inproc['statement_ms'] / n:.2f} ms statement time/board, "
            f"{inproc['transactions'] / n:.1f} transactions/board, "
            f"{inproc['sent_bytes'] / n:.0f} bytes SQL+parameters/board"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--boards", default="8,16", help="boards per single-station run")
    parser.add_argument("--stations", type=int, default=2, help="stations run at once (0: none)")
    parser.add_argument("--station-boards", type=int, default=8, help="boards per parallel station")
    parser.add_argument("--inprocess", type=int, default=8, help="boards of the in-process run")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    sizes = [int(s) for s in options.boards.split(",")]
    root = Path(tempfile.mkdtemp(prefix="xsudo-factory-"))
    cluster: Cluster | None = None
    host: BoardHost | None = None
    try:
        cluster = Cluster(root)
        factory = Factory(root / "work")
        factory.root.mkdir()
        factory.prepare()
        host = BoardHost()
        run_scenario(factory, host, cluster, "warmup", 0, 1)  # fills the bytecode cache
        rows = [run_scenario(factory, host, cluster, f"apply x{n}", 0, n) for n in sizes]
        rows += [run_scenario(factory, host, cluster, f"station x{n}", 1, n) for n in sizes]
        if options.stations > 1:
            rows.append(
                run_scenario(
                    factory,
                    host,
                    cluster,
                    f"{options.stations} stations x{options.station_boards}",
                    options.stations,
                    options.station_boards,
                )
            )
        inproc = (
            run_inprocess(factory, host, cluster, options.inprocess) if options.inprocess else None
        )
        pooled = per_board(rows)
        if options.json:
            print(json.dumps({"rows": rows, "per_board": pooled, "inprocess": inproc}, indent=2))
        else:
            report(rows, pooled, inproc, cluster.statements)
    finally:
        if host is not None:
            host.close()
        if cluster is not None:
            cluster.close()
        shell('pg_stop "$1"', str(root / "pg"))  # also after a failed start
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
