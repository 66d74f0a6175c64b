"""``xsudo ledger list|show|export`` through the real entry point."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ledger.support import IMEI, OTHER_IMEI, certificate, entries, record
from tests.support.cli import assert_one_line_error, run_cli
from xsudo.ledger import Ledger
from xsudo.provision.onboarding import OnboardingRow, append_rows

Capture = pytest.CaptureFixture[str]


def _fill(url: str | None, home: Path) -> list[int]:
    """Two runs of IMEI at station-a (10 days ago, ok; 1 hour ago, failed) and one of
    OTHER_IMEI at station-b (1 hour ago, ok with a client certificate)."""
    now = datetime.now(UTC)
    with Ledger.open(url, home) as ledger:
        return [
            record(ledger, now - timedelta(days=10)),
            record(ledger, now - timedelta(hours=1), result="failed"),
            record(
                ledger,
                now - timedelta(hours=1),
                imei=OTHER_IMEI,
                station="station-b",
                device_uuid="uuid-2",
                credentials=entries(cert=certificate(OTHER_IMEI)),
            ),
        ]


def test_list_in_the_default_ledger(capsys: Capture, isolated_env: Path) -> None:
    code, out, err = run_cli(capsys, "ledger", "list")
    assert (code, err) == (0, "")
    assert "IMEI" in out and IMEI not in out
    ids = _fill(None, isolated_env)
    code, out, _ = run_cli(capsys, "ledger", "list")
    assert code == 0
    assert out.count(IMEI) == 2 and out.count(OTHER_IMEI) == 1
    code, out, _ = run_cli(capsys, "ledger", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == [ids[0], ids[1], ids[2]]
    code, out, _ = run_cli(capsys, "ledger", "list", "--json", "--since", "7d")
    assert sorted(r["id"] for r in json.loads(out)) == sorted(ids[1:])
    code, out, _ = run_cli(capsys, "ledger", "list", "--json", "--station", "station-b")
    assert [r["id"] for r in json.loads(out)] == [ids[2]]


def test_list_on_each_backend(capsys: Capture, ledger_url: str, tmp_path: Path) -> None:
    ids = _fill(ledger_url, tmp_path)
    code, out, err = run_cli(capsys, "ledger", "list", "--json", "--ledger", ledger_url)
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == ids


def test_the_environment_names_the_ledger(
    capsys: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere.sqlite"
    ids = _fill(str(path), tmp_path)
    monkeypatch.setenv("XSUDO_LEDGER", str(path))
    code, out, _ = run_cli(capsys, "ledger", "list", "--json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == ids


def test_show(capsys: Capture, isolated_env: Path) -> None:
    ids = _fill(None, isolated_env)
    code, out, err = run_cli(capsys, "ledger", "show", IMEI)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"IMEI {IMEI}, device UUID uuid-1"
    assert f"record {ids[1]}: failed at station station-a" in out
    assert "16842753/ca-cert: written, auth xsudo" in out
    code, out, _ = run_cli(capsys, "ledger", "show", IMEI, "--json")
    shown = json.loads(out)
    assert [r["id"] for r in shown["records"]] == [ids[1], ids[0]]
    assert shown["flags"] == [] and shown["claim"] is None


def test_show_of_an_unknown_imei_exits_1(capsys: Capture) -> None:
    code, out, err = run_cli(capsys, "ledger", "show", IMEI)
    assert_one_line_error(code, out, err, "no record of IMEI", exit_code=1)
    code, out, err = run_cli(capsys, "ledger", "show", "12ab")
    assert_one_line_error(code, out, err, "is not an IMEI", exit_code=2)


def test_show_exits_1_unless_a_run_ended_ok(capsys: Capture, isolated_env: Path) -> None:
    now = datetime.now(UTC)
    with Ledger.open(None, isolated_env) as ledger:
        record(ledger, now - timedelta(hours=1), result="failed")
        ledger.begin_device(OTHER_IMEI, None, "line-1", None)  # a claim, no record
    code, out, _ = run_cli(capsys, "ledger", "show", IMEI)
    assert code == 1 and "failed at station" in out  # printed, then "not provisioned"
    code, out, _ = run_cli(capsys, "ledger", "show", OTHER_IMEI)
    assert code == 1 and "claimed by station line-1" in out
    with Ledger.open(None, isolated_env) as ledger:
        record(ledger, now)
    assert run_cli(capsys, "ledger", "show", IMEI)[0] == 0


def test_show_says_what_an_entry_removed(capsys: Capture, isolated_env: Path) -> None:
    from xsudo.ledger import CredentialEntry

    removed = "C" * 64
    deleted = CredentialEntry(16842753, 0, "ca-cert", "deleted", None, removed, "plain")
    with Ledger.open(None, isolated_env) as ledger:
        record(ledger, datetime.now(UTC), credentials=[deleted])
    code, out, _ = run_cli(capsys, "ledger", "show", IMEI)
    assert code == 0
    assert f"  16842753/ca-cert: deleted, auth plain, sha -, was {removed}" in out.splitlines()


def test_release_gives_back_a_claim_left_behind_and_flags_it(
    capsys: Capture, ledger_url: str, tmp_path: Path
) -> None:
    with Ledger.open(ledger_url, tmp_path) as ledger:
        left = ledger.begin_device(IMEI, "uuid-1", "line-1", None)
    args = ["ledger", "release", IMEI, "--ledger", ledger_url, "--station", "supervisor"]
    code, out, err = run_cli(capsys, *args)
    assert_one_line_error(code, out, err, "--yes", exit_code=2)  # no terminal to ask
    with Ledger.open(ledger_url, tmp_path) as ledger:
        assert ledger.show(IMEI).claim == left  # nothing released without the --yes
    code, out, err = run_cli(capsys, *args, "--yes")
    assert code == 0, err
    assert out.strip().startswith(f"released the claim of station line-1 on IMEI {IMEI}")
    with Ledger.open(ledger_url, tmp_path) as ledger:
        history = ledger.show(IMEI)
        assert history.claim is None
        (flag,) = history.flags
        assert (flag.kind, flag.station) == ("released-claim", "supervisor")
        assert "line-1" in flag.detail
        ledger.begin_device(IMEI, "uuid-1", "line-2", None)  # the device can be claimed again
    code, out, err = run_cli(
        capsys, "ledger", "release", OTHER_IMEI, "--ledger", ledger_url, "--yes"
    )
    assert (code, out) == (0, "") and "no claim is held" in err


def test_device_text_is_escaped_on_the_terminal(capsys: Capture, isolated_env: Path) -> None:
    now = datetime.now(UTC)
    with Ledger.open(None, isolated_env) as ledger:
        ledger.record_device(
            imei=IMEI,
            station="station-a",
            result="ok",
            started_at=now,
            finished_at=now,
            model="evil\x1b[2J",
        )
    code, out, _ = run_cli(capsys, "ledger", "show", IMEI)
    assert code == 0
    assert "\x1b" not in out and "evil\\x1b[2J" in out


def test_export_formats(capsys: Capture, isolated_env: Path, tmp_path: Path) -> None:
    ids = _fill(None, isolated_env)
    code, out, _ = run_cli(capsys, "ledger", "export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["record_id"]) for r in rows] == [ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]]
    code, out, _ = run_cli(capsys, "ledger", "export", "--format", "jsonl", "--since", "2h")
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == sorted(ids[1:])
    target = tmp_path / "nrfcloud.csv"
    code, out, err = run_cli(
        capsys, "ledger", "export", "--format", "nrfcloud", "-o", str(target), "--tags", "lab"
    )
    assert (code, out) == (0, "")
    assert f"wrote {target}" in err
    assert target.stat().st_mode & 0o777 == 0o600
    with Ledger.open(None, isolated_env) as ledger:
        pem = ledger.show(OTHER_IMEI).records[0].credentials[1].certificate_pem
    assert pem is not None
    reference = tmp_path / "reference.csv"
    append_rows(reference, [OnboardingRow(OTHER_IMEI, pem, tags="lab")])
    assert target.read_bytes() == reference.read_bytes()


def test_export_refuses_bad_firmware_types(capsys: Capture) -> None:
    code, out, err = run_cli(capsys, "ledger", "export", "--format", "nrfcloud", "--fw-types", "X")
    assert_one_line_error(code, out, err, "unknown firmware type", exit_code=2)


@pytest.mark.parametrize(
    ("url", "fragment", "exit_code"),
    [
        ("mysql://root:hunter2@db/x", "does not support", 2),
        ("sqlite:///no/such/dir/ledger.db", "does not exist", 2),
        ("postgresql://root:hunter2@127.0.0.1:1/fleet", "cannot reach the ledger", 3),
    ],
)
def test_bad_or_unreachable_ledgers_give_one_line_and_no_password(
    capsys: Capture, url: str, fragment: str, exit_code: int
) -> None:
    code, out, err = run_cli(capsys, "ledger", "list", "--ledger", url)
    assert code == exit_code
    assert out == ""
    lines = err.splitlines()
    assert lines[-1].startswith("error: ") and fragment in lines[-1]
    assert all(line.startswith(("error: ", "warning: ")) for line in lines)
    assert "hunter2" not in err
    assert "Traceback" not in err


def test_a_bad_since_is_refused_before_the_ledger_opens(
    capsys: Capture, isolated_env: Path
) -> None:
    code, out, err = run_cli(capsys, "ledger", "list", "--since", "yesterday")
    assert_one_line_error(code, out, err, "neither a date nor a span", exit_code=2)
    assert not (isolated_env / "ledger.sqlite").exists()


def test_help_loads_no_database_code() -> None:
    script = (
        "import sys\n"
        "from xsudo.cli import main\n"
        "for args in (['--help'], ['ledger', '--help'], ['ledger', 'list', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = [m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout


def test_the_guides_python_example_runs(isolated_env: Path) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "ledger.md"
    text = page.read_text(encoding="utf-8")
    code = compile(text.split("```python\n", 1)[1].split("```\n", 1)[0], str(page), "exec")
    outputs = []
    for _ in range(2):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(code, {})
        outputs.append(output.getvalue())
    assert outputs == [
        "1 sha256:9f2c4e0b7d1a\n",
        "the CA certificate is there already: expect `unchanged`\n2 sha256:9f2c4e0b7d1a\n",
    ]
    assert (isolated_env / "ledger.sqlite").is_file()
