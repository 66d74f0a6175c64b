"""Checking signed lines lives in ``xsudo.diagnose``; the audit log in ``xsudo.audit``."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

import xsudo.audit
import xsudo.diagnose
from tests.verify.support import REPO


def test_diagnose_exports_the_line_checker_and_its_vocabulary() -> None:
    assert set(xsudo.diagnose.__all__) == {
        "CODES",
        "WARNING_CODES",
        "ScanResult",
        "Verdict",
        "scan_capture",
        "verify_line",
    }
    assert xsudo.diagnose.verify_line.__module__ == "xsudo.diagnose.line"
    assert set(xsudo.diagnose.CODES) >= xsudo.diagnose.WARNING_CODES


@pytest.mark.parametrize(
    "name", ["verify_line", "Verdict", "CODES", "WARNING_CODES", "scan_capture", "ScanResult"]
)
def test_the_audit_package_does_not_check_lines(name: str) -> None:
    assert not hasattr(xsudo.audit, name)


@pytest.mark.parametrize("module", ["verify", "diagnosis", "variants"])
def test_no_line_checking_module_is_left_in_audit(module: str) -> None:
    assert importlib.util.find_spec(f"xsudo.audit.{module}") is None


def test_checking_a_line_does_not_load_the_audit_log() -> None:
    code = "import sys, xsudo.diagnose; print(sorted(m for m in sys.modules if 'audit' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
