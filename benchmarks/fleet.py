"""Fleet provisioning throughput: the whole ``xsudo provision`` process over simulated boards.

Usage (from the repository root)::

    python benchmarks/fleet.py [--devices 1,4,16,64] [--modes plain,signed] [--repeat 3]
                               [--json] [--check]

Each board is an in-process ``sim://`` port (its own state file, 115200-baud pacing in both
directions). Each device gets a CA certificate, its own client certificate and its client
key (``{imei}`` files). Two runs:

* **plain**: profile ``nrf91x1-2.0``, manifest ``auth = "never"``: plain ``%CMNG`` writes;
* **signed**: profile ``locked`` (every write must be ``%XSUDO``), manifest
  ``auth = "required"`` with a key of the ``file`` store (PKCS#12, PBKDF2 600,000 rounds),
  its passphrase from ``XSUDO_KEY_PASSPHRASE``; the key's public half is in slot 0 of
  every board.

Every timed run is one ``python -m xsudo provision MANIFEST --port ... --report FILE`` child
process, started fresh, with a fresh ``XSUDO_HOME`` audit log (audit on: every record
fsynced) and fresh boards (the state files are reset before each run, untimed). Per fleet
size it reports the median wall time over ``--repeat`` runs, boards per minute, the speed-up
over the 1-board run of the same mode (``N * t1 / tN``), and the CPU time of the child
(user + sys from ``getrusage(RUSAGE_CHILDREN)``) divided by the number of boards. Goal
lines: 64 boards at >= 3,000 boards per minute and >= 40x the 1-board throughput.
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


def port_url(root: Path, mode: str, index: int, imei: str) -> str:
    return (
        f"sim://?profile={PROFILE[mode]}&baud={BAUD}&imei={imei}"
        f"&state={root}/board{index}.json"
    )


class Bench:
    """One mode's files, key store and boards under a temporary directory."""

    def __init__(self, root: Path, mode: str, max_size: int) -> None:
        self.root = root
        self.mode = mode
        self.home = root / "home"
        self.imeis = imeis_for(max_size)
        self.manifest = make_files(root, self.imeis, mode)
        self.env = {**os.environ, "XSUDO_HOME": str(self.home)}
        self.env.pop("XSUDO_PORT", None)
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
        self.ports = [port_url(root, mode, i, imei) for i, imei in enumerate(self.imeis)]

    def reset(self, count: int) -> None:
        """Fresh boards and a fresh audit log (untimed)."""
        for index in range(count):
            shutil.copyfile(self.templates / f"board{index}.json", self.root / f"board{index}.json")
        for name in ("audit.jsonl", "audit.jsonl.checkpoints"):
            (self.home / name).unlink(missing_ok=True)

    def run(self, count: int) -> tuple[float, float]:
        """Wall seconds and CPU seconds (user + sys) of one ``xsudo provision`` process."""
        self.reset(count)
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
        if done.returncode != 0:
            raise SystemExit(
                f"{self.mode} x{count}: xsudo provision exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        lines = report.read_text().splitlines()
        if len(lines) != count or not all(json.loads(line)["ok"] for line in lines):
            raise SystemExit(f"{self.mode} x{count}: a device was not provisioned")
        audit = (self.home / "audit.jsonl").read_bytes().count(b"\n")
        expected = count * 3 * (2 if self.mode == "signed" else 1)  # sign + write per cred
        if audit != expected:
            raise SystemExit(f"{self.mode} x{count}: {audit} audit records, {expected} expected")
        return wall, cpu


def measure(mode: str, sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="xsudo-fleet-") as tmp:
        bench = Bench(Path(tmp), mode, max(sizes))
        bench.run(1)  # warm-up: file caches, .pyc
        results: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
        for _ in range(repeat):  # interleaved, so drift hits every size alike
            for size in sizes:
                results[size].append(bench.run(size))
    single = statistics.median(wall for wall, _ in results[1]) if 1 in results else None
    rows = []
    for size in sizes:
        wall = statistics.median(w for w, _ in results[size])
        cpu = statistics.median(c for _, c in results[size])
        rows.append(
            {
                "mode": mode,
                "boards": size,
                "wall_s": round(wall, 3),
                "boards_per_minute": round(size * 60 / wall, 1),
                "speedup_vs_one": round(single * size / wall, 2) if single else None,
                "cpu_s": round(cpu, 3),
                "cpu_ms_per_board": round(cpu * 1000 / size, 1),
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
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.devices.split(",")} | {1})
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not set(modes) <= set(MODES) or args.repeat < 1:
        parser.error(f"--modes takes {', '.join(MODES)}; --repeat at least 1")
    rows = [row for mode in modes for row in measure(mode, sizes, args.repeat)]
    verdicts = goals(rows)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        for text, met in verdicts:
            print(json.dumps({"goal": text, "met": met}))
    else:
        print(
            f"xsudo provision (whole process, audit on), CA + client cert + client key per "
            f"board, sim:// at {BAUD} baud, {os.cpu_count()} CPUs, median of {args.repeat}"
        )
        print(f"{'mode':<7} {'boards':>6} {'wall s':>7} {'boards/min':>10} {'speed-up':>9} "
              f"{'CPU ms/board':>12}")
        for row in rows:
            speedup = f"{row['speedup_vs_one']:.2f}x" if row["speedup_vs_one"] else "-"
            print(
                f"{row['mode']:<7} {row['boards']:>6} {row['wall_s']:>7.2f} "
                f"{row['boards_per_minute']:>10.1f} {speedup:>9} {row['cpu_ms_per_board']:>12.1f}"
            )
        for text, met in verdicts:
            print(f"{'met   ' if met else 'MISSED'} {text}")
    return 1 if args.check and not all(met for _, met in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
