"""No core dumps from a process that may hold a key, passphrase, PIN or PSK.

The real effect is checked in fresh subprocesses (the pytest process itself is never
hardened: tests/conftest.py records the calls instead). Each subprocess first raises its
soft core limit to its hard limit and checks it is dumpable, so the "after" state is the
command's doing.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from xsudo.cli import main

LINUX = sys.platform.startswith("linux")
DEADLINE = 60

PROBE = """
import ctypes, json, resource, sys
libc = ctypes.CDLL(None)

def state():
    return {"core": list(resource.getrlimit(resource.RLIMIT_CORE)),
            "dumpable": libc.prctl(3, 0, 0, 0, 0) if sys.platform.startswith("linux") else None}

soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
report = {"before": state()}
"""

LIBRARY_PROBE = (
    PROBE
    + """
from xsudo.hardening import disable_core_dumps
first, second = disable_core_dumps(), disable_core_dumps()
report.update(after=state(), first=first.__dict__, second=second.__dict__)
print(json.dumps(report))
"""
)

CLI_PROBE = (
    PROBE
    + """
from xsudo.cli import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    report["exit"] = exc.code
report["after"] = state()
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="core limits are POSIX")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def run_probe(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def assert_hardened(report: dict[str, object]) -> None:
    before, after = report["before"], report["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert after["core"] == [0, 0]
    if LINUX:
        assert before["dumpable"] == 1  # a fresh process is dumpable ...
        assert after["dumpable"] == 0  # ... until xsudo says otherwise


def test_disable_core_dumps_in_a_fresh_process() -> None:
    result = run_probe(LIBRARY_PROBE)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert_hardened(report)
    expected = {"core_limit_zero": True, "not_dumpable": True if LINUX else None}
    assert report["first"] == expected
    assert report["second"] == expected  # idempotent


@pytest.mark.parametrize(
    "argv",
    [("key", "list", "--json"), ("verify", "--public-key", "/nonexistent", "AT")],
    ids=["key-list", "failing-verify"],
)
def test_every_cli_command_disables_core_dumps(tmp_path: Path, argv: tuple[str, ...]) -> None:
    """The real entry point (xsudo.cli.main) in a fresh process: after any command, even
    one that fails on its input, the process has no core limit and is not dumpable."""
    out = tmp_path / "report.json"
    result = run_probe(CLI_PROBE, str(out), *argv)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["exit"] in (0, 2), result.stderr
    assert_hardened(report)


@pytest.mark.skipif(not LINUX, reason="reads /proc/<pid>/limits")
def test_running_console_program_has_no_core_limit(tmp_path: Path) -> None:
    """``python -m xsudo sim --pty`` while it serves: its /proc limits show a zero core
    limit, soft and hard (the pytest process that started it has a non-zero hard limit)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "sim", "--pty"],
        env=env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], DEADLINE)
        assert ready, "the simulator printed no port"
        assert process.stdout.readline().startswith(b"/dev/")
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=DEADLINE)
    (line,) = [row for row in limits.splitlines() if row.startswith("Max core file size")]
    assert line.split()[4:6] == ["0", "0"], line


def test_the_root_group_calls_it_in_process(
    core_dump_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A command that opens no key store and fails on its input still gets it first."""
    with pytest.raises(SystemExit) as caught:
        main(["verify", "--public-key", "/nonexistent", "AT"])
    assert caught.value.code == 2
    assert core_dump_calls == ["disable_core_dumps"]
    capsys.readouterr()


def test_opening_the_key_store_calls_it(core_dump_calls: list[str], tmp_path: Path) -> None:
    from xsudo.keys import KeyStore

    KeyStore(tmp_path)
    assert core_dump_calls == ["disable_core_dumps"]
