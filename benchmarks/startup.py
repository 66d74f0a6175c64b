#!/usr/bin/env python3
"""Cold start of ``xsudo ... --help`` against ``nrfcredstore --help``, in the same run.

Each command is a whole new process, started the way a user starts it (the console script
next to this interpreter), with bytecode already cached (a warm-up round, not counted, fills a
private cache directory, as an installed package has it). The commands run in turn, round
after round, so a slow moment of the machine hits every row alike. Reported: the median and
the fastest wall time of each command, the modules it loaded, and its ratio to the median of
``nrfcredstore --help``.

Usage (repository root, the project's environment, nrfcredstore 2.1.0 installed)::

    python benchmarks/startup.py [--repeat N] [--json] [--check]

``--check`` exits 1 when ``xsudo --help`` or ``xsudo verify --help`` takes more than
:data:`GOAL` times nrfcredstore's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

GOAL = 0.5
"""``xsudo --help`` and ``xsudo verify --help`` at most this times ``nrfcredstore --help``."""

BASELINE = ("nrfcredstore", "--help")
COMMANDS: tuple[tuple[str, ...], ...] = (
    BASELINE,
    ("xsudo", "--help"),
    ("xsudo", "verify", "--help"),
    ("xsudo", "cred", "--help"),
    ("xsudo", "cred", "write", "--help"),
    ("xsudo", "key", "generate", "--help"),
    ("xsudo", "provision", "--help"),
    ("xsudo", "sim", "--help"),
)
GOAL_ROWS = (("xsudo", "--help"), ("xsudo", "verify", "--help"))


def script(name: str) -> str:
    """The console script ``name`` of this environment (next to the interpreter)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed in this environment")
    return found


def run_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-300:]!r}")
    return wall


def module_count(argv: list[str], env: dict[str, str]) -> int:
    """How many modules the command loads (``python -X importtime``, one untimed run)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return (
        sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1
    )  # the header


def measure(repeat: int, env: dict[str, str]) -> list[dict[str, Any]]:
    argvs = {cmd: [script(cmd[0]), *cmd[1:]] for cmd in COMMANDS}
    times: dict[tuple[str, ...], list[float]] = {cmd: [] for cmd in COMMANDS}
    for round_ in range(repeat + 1):  # round 0 fills the bytecode cache: not counted
        for cmd in COMMANDS:
            wall = run_once(argvs[cmd], env)
            if round_:
                times[cmd].append(wall)
    base = statistics.median(times[BASELINE])
    rows = []
    for cmd in COMMANDS:
        median = statistics.median(times[cmd])
        rows.append(
            {
                "command": " ".join(cmd),
                "median_ms": round(median * 1000, 1),
                "min_ms": round(min(times[cmd]) * 1000, 1),
                "modules": module_count(argvs[cmd], env),
                "ratio": round(median / base, 2),
                "goal": GOAL if cmd in GOAL_ROWS else None,
            }
        )
    return rows


def child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="counted runs per command")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="xsudo-startup-"))
    try:
        rows = measure(args.repeat, child_env(cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    missed = [r for r in rows if r["goal"] is not None and r["ratio"] > r["goal"]]
    if args.json:
        print(json.dumps({"repeat": args.repeat, "goal": GOAL, "rows": rows}, indent=2))
    else:
        print(f"cold start, whole process, bytecode cached; median of {args.repeat} runs")
        print(f"{'command':<32} {'median ms':>9} {'min ms':>7} {'modules':>7} {'x nrfcs':>7}")
        for row in rows:
            mark = "" if row["goal"] is None else f"  (goal <= {row['goal']})"
            print(
                f"{row['command']:<32} {row['median_ms']:>9.1f} {row['min_ms']:>7.1f} "
                f"{row['modules']:>7} {row['ratio']:>7.2f}{mark}"
            )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
