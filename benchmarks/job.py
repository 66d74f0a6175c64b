#!/usr/bin/env python3
"""The whole provisioning job, as a user runs it, against an independent simulator process.

The job: write a CA certificate, a client certificate and a client key to one sec_tag, then
list the credentials. The modem is ``xsudo sim --pty --baud 115200`` in its own process (a
fresh board for every run), which paces every byte like a 115200-baud UART. Each tool runs
as the user would run it, one whole process per step, in the same run, alternating:

* ``xsudo, 4 processes``: three ``xsudo cred write`` processes and one ``xsudo cred list``;
* ``xsudo, 2 processes``: one ``xsudo provision fleet.toml`` writing the three, then
  ``xsudo cred list``;
* ``nrfcredstore``: Nordic's nrfcredstore CLI, three ``write`` processes and one ``list``.
  Its CLI finds ports only by USB enumeration, which cannot see a pty, so only that lookup
  (``comms.select_device``) is replaced; everything else is its own code.

Between the tool and the simulator sits a byte relay (a pty pair in this process) that
counts every byte in both directions and records the command lines, for every tool alike.

The **tool-neutral wire floor** is the wire time of exactly the bytes the job needs: the
three ``AT%CMNG=0`` writes and one ``AT%CMNG=1`` list, each command plus its response, as
sent and answered on a fresh board by a minimal client through the same relay, at
10 bits per byte / 115200 baud.

Usage (repository root, the project's environment, nrfcredstore 2.1.0 installed)::

    python benchmarks/job.py [--repeat N] [--cfun 0|1] [--signed] [--log] [--json]

``--signed`` adds the signed variant (a file-store key, its passphrase from the environment,
the public key uploaded to slot 0 before the clock starts, every write an ``%XSUDO`` line).
``--log`` prints every command line of one run of each variant. ``--check`` exits 1 when a
goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xsudo.ca import cert_pem  # noqa: E402
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem  # noqa: E402

BAUD = 115200
BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit
TAG = 16842753  # nRF Cloud's sec_tag
FILES = (
    ("ca-cert", "ROOT_CA_CERT", 0, "ca.pem"),
    ("client-cert", "CLIENT_CERT", 1, "client.crt"),
    ("client-key", "CLIENT_KEY", 2, "client.key"),
)
PASSPHRASE = "benchmark-passphrase"
KEY_NAME = "bench"

GOAL_FLOOR = 2.0  # whole CLI job / tool-neutral wire floor
GOAL_NRFCREDSTORE = 0.1  # whole CLI job / nrfcredstore's
GOAL_BYTES = 1.2  # bytes on the wire / the floor's

NRFCREDSTORE_SHIM = """
import sys
from types import SimpleNamespace
from nrfcredstore import cli, comms
comms.select_device = lambda rtt, serial, port, list_all: (SimpleNamespace(device=port), None)
cli.run(["nrfcredstore", *sys.argv[1:]])
"""
"""nrfcredstore's own CLI with only its USB port lookup replaced (it cannot see a pty)."""


# -- the relay: counts and records every byte between a tool and the simulator ---------------


@dataclass
class Traffic:
    up: int = 0
    down: int = 0
    lines: list[bytes] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.up + self.down


class Relay:
    """A pty the tool opens, relayed byte for byte to the simulator's pty."""

    def __init__(self, target: str) -> None:
        self._sim = os.open(target, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self._sim)
        self._master, self._slave = os.openpty()  # the slave stays open: no hang-up
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._traffic = Traffic()
        self._pending = b""
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def take(self) -> Traffic:
        """The traffic since the last call (and start counting afresh)."""
        with self._lock:
            taken, self._traffic = self._traffic, Traffic()
            if self._pending:
                taken.lines.append(self._pending)
                self._pending = b""
            return taken

    def _run(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self._master, self._sim], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    continue
                if not data:
                    continue
                if fd == self._master:
                    os.write(self._sim, data)
                    self._count_up(data)
                else:
                    os.write(self._master, data)
                    with self._lock:
                        self._traffic.down += len(data)

    def _count_up(self, data: bytes) -> None:
        with self._lock:
            self._traffic.up += len(data)
            self._pending += data
            *complete, self._pending = self._pending.split(b"\r\n")
            self._traffic.lines += [line for line in complete if line]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for fd in (self._master, self._slave, self._sim):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def simulator(env: dict[str, str]) -> Iterator[Relay]:
    """A fresh ``xsudo sim --pty --baud 115200`` process behind a relay."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "sim", "--pty", "--baud", str(BAUD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=env,
    )
    relay = None
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().decode().strip()
        if not path:
            raise RuntimeError("xsudo sim --pty printed no path")
        relay = Relay(path)
        yield relay
    finally:
        if relay is not None:
            relay.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


# -- raw exchanges (set-up before the clock, and the floor) ----------------------------------


def exchange(port: Any, line: bytes) -> bytes:
    """Send ``line`` + CRLF and read to the final result code (a minimal client)."""
    port.write(line + b"\r\n")
    answer = b""
    while True:
        answer += port.read(1) + port.read(port.in_waiting)
        lines = answer.split(b"\r\n")
        if any(x in (b"OK", b"ERROR") or x.startswith(b"+CME ERROR") for x in lines[:-1]):
            return answer


def raw_session(relay: Relay, lines: Sequence[bytes]) -> list[bytes]:
    import serial

    with serial.Serial(relay.path, BAUD, timeout=5) as port:
        return [exchange(port, line) for line in lines]


def job_lines(files: Path) -> list[bytes]:
    """Exactly the job: three writes and one list, the content as xsudo normalises it."""
    from xsudo.at import commands
    from xsudo.content import parse_cred_type, preflight

    lines = []
    for label, _, _, name in FILES:
        item = preflight((files / name).read_bytes(), parse_cred_type(label), TAG)
        lines.append(commands.cmng_write(TAG, int(item.cred_type), item.content).line())
    return [*lines, commands.cmng_list().line()]


# -- the job's inputs ------------------------------------------------------------------------


def make_files(root: Path) -> Path:
    """Amazon Root CA 1 (what an AWS IoT device trusts), and a client certificate and key
    from a throwaway EC CA; plus the manifest ``xsudo provision`` reads."""
    vectors = json.loads((REPO / "tests/vectors/modem-observed.json").read_text())
    (root / "ca.pem").write_text(vectors["cases"][0]["content"])
    ca_key, key = new_ec_key(), new_ec_key()
    ca = make_ca(ca_key, "benchmark CA")
    client = issue_client_cert(ca_key, ca, key.public_key(), "benchmark device")
    (root / "client.crt").write_bytes(cert_pem(client))
    (root / "client.key").write_bytes(private_key_pem(key))
    (root / "fleet.toml").write_text(
        '[defaults]\nauth = "auto"\n'
        + "".join(
            f'[[credential]]\ntag = {TAG}\ntype = "{label}"\nfile = "{name}"\n'
            for label, _, _, name in FILES
        )
    )
    return root


# -- the variants ----------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    traffic: Traffic
    processes: int


@dataclass
class Variant:
    name: str
    steps: Callable[[str], list[list[str]]]
    signed: bool = False
    runs: list[Run] = field(default_factory=list)


def xsudo_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "xsudo", *args]


def key_args(signed: bool) -> list[str]:
    return ["--key", KEY_NAME] if signed else []


def xsudo_steps(files: Path, signed: bool) -> Callable[[str], list[list[str]]]:
    def steps(port: str) -> list[list[str]]:
        writes = [
            xsudo_cmd(
                "cred",
                "write",
                "--port",
                port,
                "--tag",
                str(TAG),
                "--type",
                label,
                *key_args(signed),
                str(files / name),
            )
            for label, _, _, name in FILES
        ]
        return [*writes, xsudo_cmd("cred", "list", "--port", port)]

    return steps


def provision_steps(files: Path, signed: bool) -> Callable[[str], list[list[str]]]:
    def steps(port: str) -> list[list[str]]:
        return [
            xsudo_cmd("provision", str(files / "fleet.toml"), "--port", port, *key_args(signed)),
            xsudo_cmd("cred", "list", "--port", port),
        ]

    return steps


def nrfcredstore_steps(files: Path) -> Callable[[str], list[list[str]]]:
    def steps(port: str) -> list[list[str]]:
        shim = [sys.executable, "-c", NRFCREDSTORE_SHIM, port]
        writes = [[*shim, "write", str(TAG), kind, str(files / name)] for _, kind, _, name in FILES]
        return [*writes, [*shim, "list"]]

    return steps


def run_variant(variant: Variant, env: dict[str, str], home: Path, cfun: int) -> Run:
    """One run on a fresh board: set-up (untimed, not counted), then the job's processes."""
    with simulator(env) as relay:
        if variant.signed:
            upload_key(relay, home)
        raw_session(relay, [b"AT+CFUN=%d" % cfun])
        relay.take()
        run_env = dict(env, XSUDO_HOME=str(home))
        start = time.perf_counter()
        steps = variant.steps(relay.path)
        for argv in steps:
            done = subprocess.run(argv, env=run_env, cwd=REPO, capture_output=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(
                    f"{variant.name}: {argv[2:5]} exited {done.returncode}: "
                    f"{done.stdout.decode()[-400:]}{done.stderr.decode()[-400:]}"
                )
        wall = time.perf_counter() - start
        time.sleep(0.05)  # let the relay pass the last bytes
        return Run(wall, relay.take(), len(steps))


def upload_key(relay: Relay, home: Path) -> None:
    """Put the benchmark key's public half into slot 0 (before the clock starts)."""
    from xsudo.api import key_store
    from xsudo.at import Modem
    from xsudo.crypto import public_key_pem

    pem = public_key_pem(key_store(home).signer(KEY_NAME).public_key()).encode("ascii")
    with Modem.open(relay.path, baud=BAUD, timeout=10) as modem:
        modem.xpmng_write(pem, 0)


def floor_run(env: dict[str, str], files: Path) -> Traffic:
    """The tool-neutral floor: exactly the job's four exchanges on a fresh board."""
    with simulator(env) as relay:
        relay.take()
        raw_session(relay, job_lines(files))
        time.sleep(0.05)
        return relay.take()


def child_env(cache: Path) -> dict[str, str]:
    """The environment of every tool process: bytecode cached (as an installed package has
    it) in a private directory, so the tree is not touched."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("XSUDO_PORT", None)
    env.update(PYTHONPYCACHEPREFIX=str(cache), XSUDO_KEY_PASSPHRASE=PASSPHRASE)
    env.setdefault("PYTHONPATH", str(REPO))
    return env


def make_home(template: Path, env: dict[str, str]) -> None:
    """A home as a station has it after its first day: the signing key, and the ledger
    (created and migrated once, here, outside the clock: ``xsudo ledger list`` opens it)."""
    for command in (
        ("key", "generate", KEY_NAME, "--store", "file"),
        ("ledger", "list"),
    ):
        subprocess.run(
            xsudo_cmd("--home", str(template), *command),
            env=env,
            cwd=REPO,
            capture_output=True,
            check=True,
        )


def unlock_seconds(home: Path, env: dict[str, str]) -> float:
    """One PBKDF2 unlock of the file-store key, in a fresh process (median of 3)."""
    code = (
        f"import time, xsudo.api as a; s = a.key_store({str(home)!r}).signer({KEY_NAME!r}); "
        "t = time.perf_counter(); s.unlock(); print(time.perf_counter() - t)"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(3)
    ]
    return statistics.median(times)


# -- reporting -------------------------------------------------------------------------------


PROCESS_COSTS = {
    "python_start": "pass",
    "cred_write_imports": "import xsudo.cli.app, xsudo.cli.cred, xsudo.api",
}
"""What every ``xsudo cred write`` process pays before it sends a byte: the interpreter's
start, and the imports of the command and the library (same environment, bytecode cached)."""


def process_costs(env: dict[str, str], runs: int = 7) -> dict[str, float]:
    """The median wall time of each :data:`PROCESS_COSTS` snippet in a fresh process."""
    costs = {}
    for name, code in PROCESS_COSTS.items():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True)
            times.append(time.perf_counter() - start)
        costs[name] = statistics.median(times)
    return costs


def median_run(runs: list[Run]) -> Run:
    middle = statistics.median_low([r.wall for r in runs])
    return next(r for r in runs if r.wall == middle)


def show(line: bytes) -> str:
    text = line.decode("ascii", "replace")
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} bytes)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="counted runs per variant")
    parser.add_argument(
        "--cfun",
        type=int,
        choices=(0, 1),
        default=1,
        help="the board's mode before the job (1: online, the default)",
    )
    parser.add_argument("--signed", action="store_true", help="also the signed variants")
    parser.add_argument("--log", action="store_true", help="print each variant's command lines")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xsudo-job-"))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    files = make_files(work)
    env = child_env(work / "pycache")
    template = work / "home-template"
    make_home(template, env)
    variants = [
        Variant("xsudo, 4 processes", xsudo_steps(files, False)),
        Variant("xsudo, 2 processes", provision_steps(files, False)),
        Variant("nrfcredstore 2.1.0", nrfcredstore_steps(files)),
    ]
    if args.signed:
        variants += [
            Variant("xsudo signed, 4 processes", xsudo_steps(files, True), signed=True),
            Variant("xsudo signed, 2 processes", provision_steps(files, True), signed=True),
        ]
    floor = floor_run(env, files)
    floor_seconds = floor.total * BITS_PER_BYTE / BAUD
    for round_ in range(args.repeat + 1):  # round 0 warms the bytecode cache: not counted
        for index, variant in enumerate(variants):
            home = work / f"home-{round_}-{index}"
            shutil.copytree(template, home)
            run = run_variant(variant, env, home, args.cfun)
            if round_:
                variant.runs.append(run)
    unlock = unlock_seconds(template, env) if args.signed else None
    costs = process_costs(env)

    nrf = median_run(variants[2].runs)
    rows = []
    for variant in variants:
        run = median_run(variant.runs)
        rows.append(
            {
                "tool": variant.name,
                "processes": run.processes,
                "wall_ms": round(run.wall * 1000, 1),
                "wall_ms_min": round(min(r.wall for r in variant.runs) * 1000, 1),
                "wall_ms_max": round(max(r.wall for r in variant.runs) * 1000, 1),
                "bytes": run.traffic.total,
                "wire_ms": round(run.traffic.total * BITS_PER_BYTE / BAUD * 1000, 1),
                "bytes_up": run.traffic.up,
                "bytes_down": run.traffic.down,
                "commands": len(run.traffic.lines),
                "ratio_to_floor": round(run.wall / floor_seconds, 2),
                "bytes_to_floor": round(run.traffic.total / floor.total, 2),
                "ratio_to_nrfcredstore": round(run.wall / nrf.wall, 3),
                "lines": [show(line) for line in run.traffic.lines],
            }
        )
    goals = [
        (what, row["tool"], row[key], goal)
        for row in rows[:2]  # the two unsigned xsudo variants
        for what, key, goal in (
            ("whole CLI job / wire floor", "ratio_to_floor", GOAL_FLOOR),
            ("whole CLI job / nrfcredstore", "ratio_to_nrfcredstore", GOAL_NRFCREDSTORE),
            ("bytes on the wire / floor bytes", "bytes_to_floor", GOAL_BYTES),
        )
    ]
    report: dict[str, Any] = {
        "baud": BAUD,
        "repeat": args.repeat,
        "cfun_before": args.cfun,
        "floor": {
            "bytes": floor.total,
            "ms": round(floor_seconds * 1000, 1),
            "lines": [show(line) for line in floor.lines],
        },
        "file_unlock_ms": round(unlock * 1000, 1) if unlock is not None else None,
        "process_ms": {name: round(value * 1000, 1) for name, value in costs.items()},
        "rows": rows,
        "goals": [
            {"what": what, "variant": tool, "value": value, "goal": goal, "met": value <= goal}
            for what, tool, value, goal in goals
        ],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report, args.log)
    return 1 if args.check and not all(g["met"] for g in report["goals"]) else 0


def print_table(report: dict[str, Any], log: bool) -> None:
    floor = report["floor"]
    print(
        f"job: write CA cert, client cert, client key to sec_tag {TAG}, then list; "
        f"xsudo sim --pty at {report['baud']} baud, board at CFUN={report['cfun_before']}; "
        f"median of {report['repeat']} runs (min-max)"
    )
    print(
        f"{'tool':<28} {'procs':>5} {'wall ms':>8} {'(min-max)':>15} {'bytes':>6} "
        f"{'wire ms':>7} {'cmds':>4} {'x floor':>7} {'bytes x':>7} {'x nrfcs':>7}"
    )
    print(
        f"{'wire floor (3 writes + list)':<28} {'-':>5} {floor['ms']:>8.1f} {'':>15} "
        f"{floor['bytes']:>6} {floor['ms']:>7.1f} {4:>4} {1:>7.2f} {1:>7.2f} {'':>7}"
    )
    for row in report["rows"]:
        spread = f"({row['wall_ms_min']:.0f}-{row['wall_ms_max']:.0f})"
        print(
            f"{row['tool']:<28} {row['processes']:>5} {row['wall_ms']:>8.1f} {spread:>15} "
            f"{row['bytes']:>6} {row['wire_ms']:>7.1f} {row['commands']:>4} "
            f"{row['ratio_to_floor']:>7.2f} "
            f"{row['bytes_to_floor']:>7.2f} {row['ratio_to_nrfcredstore']:>7.3f}"
        )
    costs = report["process_ms"]
    print(
        f"per process, before the first byte: python start {costs['python_start']:.1f} ms, "
        f"imports of cred write {costs['cred_write_imports']:.1f} ms (both including start)"
    )
    if report["file_unlock_ms"] is not None:
        print(f"file-store key unlock (PBKDF2), one process: {report['file_unlock_ms']:.1f} ms")
    for goal in report["goals"]:
        verdict = "met" if goal["met"] else "missed"
        print(
            f"goal: {goal['what']} ({goal['variant']}) <= {goal['goal']}: "
            f"{goal['value']:.3g} ({verdict})"
        )
    if log:
        print("\nfloor:", *floor["lines"], sep="\n  ")
        for row in report["rows"]:
            print(f"\n{row['tool']} (median run):", *row["lines"], sep="\n  ")


if __name__ == "__main__":
    raise SystemExit(main())
