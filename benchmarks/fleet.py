"""Fleet provisioning throughput: the whole ``xsudo provision`` process over simulated boards.

Usage (from the repository root)::

    python benchmarks/fleet.py [--devices 1,4,16,64] [--modes plain,signed] [--repeat 3]
                               [--transport pty|sim] [--boards-dir DIR] [--json] [--check]

Each board is a simulated nRF91 (its own state file, 115200-baud pacing in both directions).
Each device gets a CA certificate, its own client certificate and its client key
(``{imei}`` files). Two transports:

* ``pty`` (default): the boards are served on ptys by a process of their own (one
  :class:`xsudo.sim.PtyServer` per board), and xsudo opens ``/dev/pts/N`` with pyserial as
  it would open ``/dev/ttyACM0``. The measured process runs xsudo only; the board host's CPU
  time is reported beside it. Both processes share this machine's cores, as the host and
  the simulator must.
* ``sim``: in-process ``sim://`` ports. The boards then run inside the measured process, so
  their work (framing, command handling, signature checks, saving their NVM) is in its wall
  and CPU time, under the same interpreter lock as xsudo.

The boards' state files (their flash) live in a RAM-backed directory (``/dev/shm`` when it
exists, ``--boards-dir`` otherwise), so a simulated flash write does not cost a real disk
flush; the audit log (``XSUDO_HOME``) is on the ordinary temporary directory, so its fsyncs
are real. Two runs:

* **plain**: profile ``nrf91x1-2.0``, manifest ``auth = "never"``: plain ``%CMNG`` writes;
* **signed**: profile ``locked`` (every write must be ``%XSUDO``), manifest
  ``auth = "required"`` with a key of the ``file`` store (PKCS#12, PBKDF2 600,000 rounds),
  its passphrase from ``XSUDO_KEY_PASSPHRASE``; the key's public half is in slot 0 of
  every board.

Every timed run is one ``python -m xsudo provision MANIFEST --port ... --report FILE`` child
process, started fresh (its bytecode cached by an untimed warm-up run, as for an installed
xsudo), with a fresh ``XSUDO_HOME`` audit log (audit on: every record fsynced) and fresh
boards (the state files are reset before each run, untimed). Per fleet
size it reports the median wall time over ``--repeat`` runs, boards per minute, the speed-up
over the 1-board run of the same mode (``N * t1 / tN``), the CPU time of the child
(user + sys from ``getrusage(RUSAGE_CHILDREN)``) divided by the number of boards, the CPU
time each board adds (``(cpu_N - cpu_1) / (N - 1)``: start-up, imports and the key's unlock
left out) and, for ``pty``, the board host's CPU time per board (from ``/proc``, Linux).
Goal lines: 64 boards at >= 3,000 boards per minute and >= 40x the 1-board throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from xsudo.at.modem import Modem
from xsudo.ca import cert_pem
from xsudo.keys import KeyStore, PassphraseSource
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem
from xsudo.ledger.recording import open_ledger
from xsudo.sim import register_url_handler

register_url_handler()  # setting up the boards opens sim:// ports in this process

BAUD = 115200
KEY_NAME = "bench"
PASSPHRASE = "fleet benchmark passphrase"
MODES = ("plain", "signed")
PROFILE = {"plain": "nrf91x1-2.0", "signed": "locked"}
AUTH = {"plain": "never", "signed": "required"}
GOAL_PER_MINUTE = 3000.0
GOAL_SPEEDUP = 40.0
GOAL_SIZE = 64


def imeis_for(count: int) -> list[str]:
    return [f"35265610{index:07d}" for index in range(count)]


def make_files(root: Path, imeis: list[str], mode: str) -> Path:
    """Certificates for every IMEI and the manifest that names them."""
    ca_key = new_ec_key()
    ca = make_ca(ca_key, "bench CA")
    (root / "ca.pem").write_bytes(cert_pem(ca))
    for imei in imeis:
        key = new_ec_key()
        (root / f"{imei}.crt").write_bytes(
            cert_pem(issue_client_cert(ca_key, ca, key.public_key(), imei))
        )
        (root / f"{imei}.key").write_bytes(private_key_pem(key))
    key_line = f'key = "{KEY_NAME}"\n' if mode == "signed" else ""
    manifest = root / "fleet.toml"
    manifest.write_text(
        f'[defaults]\nauth = "{AUTH[mode]}"\n{key_line}'
        '[[credential]]\ntag = 100\ntype = "ca-cert"\nfile = "ca.pem"\n'
        '[[credential]]\ntag = 100\ntype = "client-cert"\nfile = "{imei}.crt"\n'
        '[[credential]]\ntag = 100\ntype = "client-key"\nfile = "{imei}.key"\n'
    )
    return manifest


BOARD_HOST = """
import json, shutil, sys
from xsudo.sim import PtyServer, SimOptions
servers = []
for line in sys.stdin:
    for server in servers:
        server.close()
    servers = []
    for profile, imei, state, template, baud in json.loads(line):
        shutil.copyfile(template, state)
        server = PtyServer(SimOptions(profile=profile, imei=imei, state=state, baud=baud))
        server.start()
        servers.append(server)
    print(json.dumps([server.path for server in servers]), flush=True)
for server in servers:
    server.close()
"""
"""The ``pty`` transport's board host: a process serving fresh boards on ptys, one line of
JSON (the boards) in, one line (their pty paths) out."""


class BoardHost:
    """The simulated boards of the ``pty`` transport, in a process of their own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOARD_HOST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def serve(self, boards: list[tuple[str, str, str, str, int]]) -> list[str]:
        """Replace the boards being served by fresh ones; return their pty paths."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(boards) + "\n")
        self.process.stdin.flush()
        paths: list[str] = json.loads(self.process.stdout.readline())
        return paths

    def cpu(self) -> float | None:
        """User + sys seconds the board host has used so far; ``None`` without ``/proc``."""
        stat = Path(f"/proc/{self.process.pid}/stat")
        if not stat.exists():
            return None
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def port_url(root: Path, mode: str, index: int, imei: str) -> str:
    return f"sim://?profile={PROFILE[mode]}&baud={BAUD}&imei={imei}&state={root}/board{index}.json"


class Bench:
    """One mode's files, key store and boards under a temporary directory."""

    def __init__(
        self, root: Path, boards: Path, mode: str, max_size: int, transport: str = "sim"
    ) -> None:
        self.root = root
        self.boards = boards
        self.mode = mode
        self.host = BoardHost() if transport == "pty" else None
        self.home = root / "home"
        self.imeis = imeis_for(max_size)
        self.manifest = make_files(root, self.imeis, mode)
        self.env = {**os.environ, "XSUDO_HOME": str(self.home)}
        self.env.pop("XSUDO_PORT", None)
        # Start like an installed xsudo: bytecode cached (by the warm-up run, in a directory
        # of ours), not compiled from source by every run as PYTHONDONTWRITEBYTECODE forces.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        pem = None
        if mode == "signed":
            self.env["XSUDO_KEY_PASSPHRASE"] = PASSPHRASE
            store = KeyStore(self.home, PassphraseSource(interactive=False))
            os.environ["XSUDO_KEY_PASSPHRASE"] = PASSPHRASE
            try:
                record = store.generate(KEY_NAME, "file")
            finally:
                del os.environ["XSUDO_KEY_PASSPHRASE"]
            pem = record.public_key_pem.encode("ascii")
        self.templates = root / "templates"
        self.templates.mkdir()
        for index, imei in enumerate(self.imeis):  # one factory board per port, saved aside
            port = port_url(self.templates, mode, index, imei).replace(f"baud={BAUD}", "baud=0")
            with Modem.open(port) as modem:
                if pem is not None:
                    modem.xpmng_write(pem, 0)
                else:
                    modem.identity()
        self.ports = [port_url(boards, mode, i, imei) for i, imei in enumerate(self.imeis)]
        # The home's ledger as a station has it after its first day: made (and migrated) once,
        # untimed, and put back before every run with the audit log it agrees with (a ledger
        # holding heads of a deleted log would flag each run as a rewritten log).
        open_ledger(None, self.home).close()
        self.ledger_template = root / "ledger-template.sqlite"
        shutil.copyfile(self.home / "ledger.sqlite", self.ledger_template)

    def reset(self, count: int) -> None:
        """Fresh boards and a fresh audit log (untimed)."""
        if self.host is not None:
            boards = [
                (
                    PROFILE[self.mode],
                    imei,
                    str(self.boards / f"board{index}.json"),
                    str(self.templates / f"board{index}.json"),
                    BAUD,
                )
                for index, imei in enumerate(self.imeis[:count])
            ]
            self.ports[:count] = self.host.serve(boards)
        for index in range(count if self.host is None else 0):
            shutil.copyfile(
                self.templates / f"board{index}.json", self.boards / f"board{index}.json"
            )
        for name in ("audit.jsonl", "audit.jsonl.checkpoints", "ledger.sqlite-journal"):
            (self.home / name).unlink(missing_ok=True)
        shutil.copyfile(self.ledger_template, self.home / "ledger.sqlite")

    def run(self, count: int) -> tuple[float, float, float | None]:
        """Wall seconds and CPU seconds (user + sys) of one ``xsudo provision`` process, and
        the CPU seconds of the board host meanwhile (``None`` for ``sim://``)."""
        self.reset(count)
        host_before = self.host.cpu() if self.host is not None else None
        report = self.root / "report.jsonl"
        command = [sys.executable, "-m", "xsudo", "provision", str(self.manifest)]
        for port in self.ports[:count]:
            command += ["--port", port]
        command += ["--report", str(report)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, env=self.env, capture_output=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        host_after = self.host.cpu() if self.host is not None else None
        host_cpu = None if host_after is None or host_before is None else host_after - host_before
        if done.returncode != 0:
            raise SystemExit(
                f"{self.mode} x{count}: xsudo provision exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        if b"warning" in done.stderr:  # e.g. an audit head the ledger does not agree with
            raise SystemExit(f"{self.mode} x{count}: {done.stderr.decode(errors='replace')}")
        lines = report.read_text().splitlines()
        if len(lines) != count or not all(json.loads(line)["ok"] for line in lines):
            raise SystemExit(f"{self.mode} x{count}: a device was not provisioned")
        audit = (self.home / "audit.jsonl").read_bytes().count(b"\n")
        expected = count * 3 * (2 if self.mode == "signed" else 1)  # sign + write per cred
        if audit != expected:
            raise SystemExit(f"{self.mode} x{count}: {audit} audit records, {expected} expected")
        return wall, cpu, host_cpu

    def close(self) -> None:
        if self.host is not None:
            self.host.close()


def default_boards_dir() -> str | None:
    """``/dev/shm`` when it is a writable directory (RAM-backed on Linux), else ``None``."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def measure(
    mode: str, sizes: list[int], repeat: int, boards_dir: str | None, transport: str
) -> list[dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="xsudo-fleet-") as tmp,
        tempfile.TemporaryDirectory(prefix="xsudo-boards-", dir=boards_dir) as boards,
    ):
        bench = Bench(Path(tmp), Path(boards), mode, max(sizes), transport)
        try:
            bench.run(1)  # warm-up: file caches, bytecode
            results: dict[int, list[tuple[float, float, float | None]]] = {s: [] for s in sizes}
            for _ in range(repeat):  # interleaved, so drift hits every size alike
                for size in sizes:
                    results[size].append(bench.run(size))
        finally:
            bench.close()
    single = statistics.median(r[0] for r in results[1]) if 1 in results else None
    single_cpu = statistics.median(r[1] for r in results[1]) if 1 in results else None
    rows = []
    for size in sizes:
        wall = statistics.median(r[0] for r in results[size])
        cpu = statistics.median(r[1] for r in results[size])
        host = [r[2] for r in results[size] if r[2] is not None]
        rows.append(
            {
                "mode": mode,
                "transport": transport,
                "boards": size,
                "wall_s": round(wall, 3),
                "boards_per_minute": round(size * 60 / wall, 1),
                "speedup_vs_one": round(single * size / wall, 2) if single else None,
                "cpu_s": round(cpu, 3),
                "cpu_ms_per_board": round(cpu * 1000 / size, 1),
                "cpu_ms_per_extra_board": (
                    round((cpu - single_cpu) * 1000 / (size - 1), 1)
                    if single_cpu is not None and size > 1
                    else None
                ),
                "board_host_cpu_ms_per_board": (
                    round(statistics.median(host) * 1000 / size, 1) if host else None
                ),
                "runs": repeat,
            }
        )
    return rows


def goals(rows: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The goal lines for every mode that ran the goal size (and 1 board)."""
    lines = []
    for row in rows:
        if row["boards"] != GOAL_SIZE:
            continue
        rate, speedup = row["boards_per_minute"], row["speedup_vs_one"]
        lines.append(
            (
                f"{row['mode']}: {GOAL_SIZE} boards at {rate:.0f}/min "
                f"(goal >= {GOAL_PER_MINUTE:.0f})",
                rate >= GOAL_PER_MINUTE,
            )
        )
        if speedup is not None:
            lines.append(
                (
                    f"{row['mode']}: {GOAL_SIZE} boards {speedup:.1f}x the 1-board throughput "
                    f"(goal >= {GOAL_SPEEDUP:.0f}x)",
                    speedup >= GOAL_SPEEDUP,
                )
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1,4,16,64", help="fleet sizes, comma-separated")
    parser.add_argument("--modes", default="plain,signed", help="plain, signed or both")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median quoted)")
    parser.add_argument(
        "--boards-dir",
        default=default_boards_dir(),
        help="where the boards' state files go (default /dev/shm when writable, else the "
        "temporary directory)",
    )
    parser.add_argument(
        "--transport",
        choices=("pty", "sim"),
        default="pty",
        help="sim: sim:// boards inside the xsudo process; pty: boards on ptys, served by "
        "a process of their own",
    )
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.devices.split(",")} | {1})
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not set(modes) <= set(MODES) or args.repeat < 1:
        parser.error(f"--modes takes {', '.join(MODES)}; --repeat at least 1")
    rows = [
        row
        for mode in modes
        for row in measure(mode, sizes, args.repeat, args.boards_dir, args.transport)
    ]
    verdicts = goals(rows)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        for text, met in verdicts:
            print(json.dumps({"goal": text, "met": met}))
    else:
        print(
            f"xsudo provision (whole process, audit on), CA + client cert + client key per "
            f"board, {args.transport} boards at {BAUD} baud, {os.cpu_count()} CPUs, median of "
            f"{args.repeat}, board state in {args.boards_dir or tempfile.gettempdir()}"
        )
        print(
            f"{'mode':<7} {'boards':>6} {'wall s':>7} {'boards/min':>10} {'speed-up':>9} "
            f"{'CPU ms/board':>12} {'extra board':>11} {'boards ms':>9}"
        )
        for row in rows:
            speedup = f"{row['speedup_vs_one']:.2f}x" if row["speedup_vs_one"] else "-"
            extra = row["cpu_ms_per_extra_board"]
            marginal = "-" if extra is None else f"{extra:.1f}"
            host = row["board_host_cpu_ms_per_board"]
            boards_ms = "-" if host is None else f"{host:.1f}"
            print(
                f"{row['mode']:<7} {row['boards']:>6} {row['wall_s']:>7.2f} "
                f"{row['boards_per_minute']:>10.1f} {speedup:>9} {row['cpu_ms_per_board']:>12.1f} "
                f"{marginal:>11} {boards_ms:>9}"
            )
        for text, met in verdicts:
            print(f"{'met   ' if met else 'MISSED'} {text}")
    return 1 if args.check and not all(met for _, met in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
