"""The CLI run in-process, exactly as the console script runs it (one helper for all tests)."""

from __future__ import annotations

import pytest

from xsudo.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``xsudo ARGS`` in-process; return the exit code, stdout and stderr."""
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - main always exits
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, fragment: str, exit_code: int = 2) -> None:
    """An expected error: the exit code, nothing on stdout, one ``error:`` line on stderr."""
    assert code == exit_code, (out, err)
    assert out == ""
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert fragment in err, err
    assert "Traceback" not in err
