"""save_nvm through xsudo.atomic.write_atomic: mode, the two error messages, fsyncs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from xsudo.sim import Nvm, StateFileError, load_nvm, save_nvm


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_state_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "board.json"
    old = os.umask(0)
    try:
        save_nvm(path, Nvm.fresh())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().endswith(b"}\n") and b"\r" not in path.read_bytes()


def test_missing_directory_says_the_state_cannot_be_written_there(tmp_path: Path) -> None:
    directory = tmp_path / "missing"
    with pytest.raises(StateFileError) as caught:
        save_nvm(directory / "board.json", Nvm.fresh())
    assert str(caught.value).startswith(f"cannot write simulator state in {directory}: ")
    assert caught.value.hint is None


def test_failed_save_says_the_previous_file_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "board.json"
    nvm = Nvm.fresh()
    save_nvm(path, nvm)

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(StateFileError) as caught:
        save_nvm(path, Nvm.fresh())
    monkeypatch.undo()
    assert caught.value.message == f"cannot save simulator state to {path}: No space left on device"
    assert caught.value.hint == "the previous state file is unchanged"
    loaded = load_nvm(path)
    assert loaded is not None and loaded.credentials == nvm.credentials
