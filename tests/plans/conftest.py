"""Fixtures for plan tests: a fleet-wide manifest with two files, and signing keys held in
memory (no key store)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.signers import MemorySigner
from xsudo.plans.build import build_plan, write_plan

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
NOW = datetime(2026, 12, 6, 6, 0, 0, tzinfo=UTC)
CA_TAG = 16842753
PSK_ID_TAG = 16842754


@dataclass
class PlanFiles:
    manifest: Path
    plan: Path
    line_key: MemorySigner
    ca_sha: str


def ca_pem() -> str:
    case = json.loads((VECTORS / "modem-observed.json").read_text())["cases"][0]
    return str(case["content"])


def write_manifest(directory: Path, extra: str = "") -> Path:
    (directory / "ca.pem").write_text(ca_pem())
    (directory / "psk-id.txt").write_text("factory-device\n")
    manifest = directory / "fleet.toml"
    manifest.write_text(
        "[defaults]\nslot = 0\n\n"
        f'[[credential]]\ntag = {CA_TAG}\ntype = "ca-cert"\nfile = "ca.pem"\n\n'
        f'[[credential]]\ntag = {PSK_ID_TAG}\ntype = "psk-id"\nfile = "psk-id.txt"\n' + extra
    )
    return manifest


@pytest.fixture
def line_key() -> MemorySigner:
    return MemorySigner(name="factory")


@pytest.fixture
def plan_files(tmp_path: Path, line_key: MemorySigner) -> PlanFiles:
    manifest = write_manifest(tmp_path)
    document, parsed = build_plan(manifest, line_key, now=NOW)
    plan = tmp_path / "plan.json"
    write_plan(plan, document)
    return PlanFiles(manifest, plan, line_key, parsed.plan.entries[0].sha256 or "")
