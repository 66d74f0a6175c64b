"""``xsudo apply`` against a broken link and a lying device: every outcome it reports is
the truth about the board, and nothing goes out as a traceback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plans.conftest import CA_TAG, ca_pem
from tests.plans.test_apply import apply, station  # noqa: F401
from tests.support.boards import Result, xsudo  # noqa: F401
from xsudo.sim import load_nvm

Run = Callable[..., Result]


def prepared_board(xsudo: Run, tmp_path: Path, name: str) -> tuple[Path, str]:  # noqa: F811
    """A ``locked`` board kept in a state file, its slot 0 holding ``factory``."""
    state = tmp_path / f"{name}.json"
    base = f"sim://?profile=locked&imei=352656100000033&state={state}"
    upload = xsudo("device", "upload-key", "--port", base, "--key", "factory")
    assert upload.code == 0, upload.err
    return state, base


@pytest.mark.parametrize("kind", ["drop", "garbage", "unplug", "reset-after"])
@pytest.mark.parametrize("position", range(1, 16))
def test_a_fault_anywhere_never_reports_what_did_not_happen(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    kind: str,
    position: int,
) -> None:
    state, base = prepared_board(xsudo, tmp_path, f"{kind}-{position}")
    port = f"{base}&fault={kind}:{position}"
    done = apply(xsudo, station["plan"], station["pub"], port, extra=("--timeout", "1"))
    assert done.code in (0, 1), done.err
    (line,) = [json.loads(text) for text in done.out.splitlines()]
    stored = load_nvm(state)
    assert stored is not None
    held = stored.credentials.get((CA_TAG, 0))
    if line["status"] == "written":
        assert done.code == 0
        assert (
            held is not None
            and hashlib.sha256(held).hexdigest() == hashlib.sha256(ca_pem().encode()).hexdigest()
        )
    else:
        assert line["status"] == "failed" and done.code == 1
        assert line["error"] and "\n" not in line["error"]


def test_the_sweep_reaches_both_sides_of_the_write(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The positions above cover the write: a reply dropped first fails the board, one
    dropped late (after the write was verified) does not."""
    statuses = []
    for position in (1, 15):
        _, base = prepared_board(xsudo, tmp_path, f"edge-{position}")
        port = f"{base}&fault=drop:{position}"
        done = apply(xsudo, station["plan"], station["pub"], port, extra=("--timeout", "1"))
        statuses.append(json.loads(done.out)["status"])
    assert statuses == ["failed", "written"]


@pytest.mark.parametrize(
    ("option", "expected"),
    [("imei=12345", "IMEI"), ("imei=3526561000000339999", "IMEI")],
)
def test_a_device_with_a_lying_identity_gets_nothing(
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    option: str,
    expected: str,
) -> None:
    state = tmp_path / "liar.json"
    port = f"sim://?profile=locked&{option}&state={state}"
    done = apply(xsudo, station["plan"], station["pub"], port)
    assert done.code == 1, done.err
    (line,) = [json.loads(text) for text in done.out.splitlines()]
    assert line["status"] == "failed" and expected in line["error"]
    stored = load_nvm(state)
    assert stored is None or (CA_TAG, 0) not in stored.credentials
