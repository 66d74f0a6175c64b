"""The Python API page runs as written: each ``python`` block is executed in order, in one
namespace, in a directory set up as the page says, and prints exactly the ``text`` block
that follows it."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from tests.support.cli import run_cli

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "reference" / "python-api.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str | None]]:
    """``(code, expected output or None)`` for each python block, in page order."""
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    out: list[tuple[str, str | None]] = []
    for index, (kind, body) in enumerate(blocks):
        if kind == "python":
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            out.append((body, after[1] if after and after[0] == "text" else None))
    return out


def test_the_page_has_examples() -> None:
    assert len(examples()) >= 4


def test_the_examples_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "correct-horse-battery")
    observed = json.loads((REPO / "tests" / "vectors" / "modem-observed.json").read_text())
    Path("ca.pem").write_text(observed["cases"][0]["content"])
    code, _, err = run_cli(
        capsys, "--home", "home", "key", "generate", "factory", "--store", "file"
    )
    assert code == 0, err
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    for number, (source, expected) in enumerate(examples(), start=1):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(source, f"python-api.md example {number}", "exec"), namespace)
        if expected is not None:
            assert printed.getvalue() == expected, f"example {number}"
