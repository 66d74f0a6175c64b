"""The onboarding CSV is replaced atomically (xsudo.atomic.write_atomic), mode 0600."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from xsudo.provision.onboarding import OnboardingRow, append_rows, existing_ids

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_csv_is_private_and_replaced_not_rewritten(work: Path) -> None:
    path = work / "onboard.csv"
    append_rows(path, [OnboardingRow("dev-1", PEM)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = work / "before.csv"
    os.link(path, before)
    append_rows(path, [OnboardingRow("dev-2", PEM)])
    assert existing_ids(path) == {"dev-1", "dev-2"}
    assert existing_ids(before) == {"dev-1"}  # the old file was replaced, not rewritten
    assert sorted(p.name for p in work.iterdir()) == ["before.csv", "onboard.csv"]


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_write_keeps_the_old_csv_and_raises_os_error(
    work: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = work / "onboard.csv"
    append_rows(path, [OnboardingRow("dev-1", PEM)])
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="No space left"):
        append_rows(path, [OnboardingRow("dev-2", PEM)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in work.iterdir()) == ["onboard.csv"]


def test_crlf_in_fields_is_written_as_is(work: Path) -> None:
    path = work / "onboard.csv"
    append_rows(path, [OnboardingRow("dev-1", PEM.replace("\n", "\r\n"))])
    assert b"\r\n" in path.read_bytes()
