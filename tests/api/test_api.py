"""The public Python API, as a script uses it: ``import xsudo`` and nothing else.

Boards are in-process simulators (``sim://``), keys live in a temporary home (file store),
and the audit log is read back as a file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import xsudo
from tests.support.cli import run_cli
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key, public_key_pem
from xsudo.labpki import make_ca

PEM = cert_pem(make_ca(generate_private_key(), "API test CA"))
TAG = 16842753


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "correct-horse-battery")
    where = tmp_path / "home"
    assert (
        run_cli(capsys, "--home", str(where), "key", "generate", "factory", "--store", "file")[0]
        == 0
    )
    return where


def records(home: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]


def test_the_documented_example_runs_and_records_the_imei(home: Path) -> None:
    key = xsudo.open_key("factory", home=home)
    with xsudo.connect("sim://?profile=locked", key=key, auth="required", home=home) as dev:
        imei = dev.identity.imei
        assert dev.upload_key(slot=0).action == "uploaded"
        r = dev.write_credential(tag=TAG, type="ca-cert", content=PEM)
        assert (r.action, r.auth) == ("written", "xsudo")
        assert r.sha256 is not None and r.audit_head is not None
        assert [(c.tag, c.type, c.sha256) for c in dev.list_credentials(tag=TAG)] == [
            (TAG, 0, r.sha256)
        ]
        assert dev.delete_credential(tag=TAG, type="ca-cert").action == "deleted"
    assert imei is not None and len(imei) == 15
    logged = records(home)
    assert [rec["event"] for rec in logged] == ["upload-key", "sign", "write", "sign", "delete"]
    assert {rec["device_imei"] for rec in logged} == {imei}
    assert r.audit_head == {"seq": logged[2]["seq"], "hash": logged[2]["hash"]}
    line = xsudo.sign(b"%CMNG=3,16842753,0", key, encoding="der", slot=None)
    verdict = xsudo.verify(line.line, key.public_key())
    assert verdict.valid and line.xsudo.data_len == 18


def test_a_damaged_log_stops_connect_before_the_port_opens(home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "audit.jsonl").write_bytes(b'{"seq": 1, "hash": "ab')
    with pytest.raises(xsudo.BadInputError) as info:
        xsudo.connect("sim://?profile=locked", home=home)
    assert info.value.exit_code == 2 and info.value.remedy is not None
    assert info.value.remedy.action == "audit-verify"


def test_xsudo_port_is_the_default(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSUDO_PORT", "sim://?profile=nrf9160-1.3")
    with xsudo.connect(home=home, audit=False) as dev:
        assert dev.identity.family == "nrf9160"


def test_auto_with_another_key_in_the_slot_is_an_error(home: Path) -> None:
    other = public_key_pem(generate_private_key().public_key()).encode()
    with xsudo.connect("sim://api-other?profile=nrf91x1-2.0", key="factory", home=home) as dev:
        dev.upload_key(slot=0, public_key=xsudo_key(other), name="someone")
        with pytest.raises(xsudo.OperationFailed) as info:
            dev.write_credential(TAG, xsudo.CredentialType.CA_CERT, PEM)
        assert "different public key" in str(info.value)
        assert dev.list_credentials(tag=TAG) == []


def xsudo_key(pem: bytes) -> Any:
    from xsudo.crypto import load_public_key

    return load_public_key(pem)


def test_delete_all_keeps_reserved_entries_and_slot_keys(home: Path) -> None:
    with xsudo.connect("sim://?profile=nrf91x1-2.0", key="factory", home=home) as dev:
        dev.upload_key()
        dev.write_credential(7, "ca-cert", PEM)
        dev.write_credential(8, "psk", b"00112233")
        bulk = dev.delete_all()
        assert sorted((r.tag, r.action) for r in bulk.deleted) == [(7, "deleted"), (8, "deleted")]
        kept = {(c.tag, c.type) for c, _ in bulk.kept}
        assert (0, 5) in kept and any(tag > 2**31 for tag, _ in kept)
        assert bulk.error is None and bulk.to_json()["audit_head"] is not None


def test_check_and_info(home: Path) -> None:
    with xsudo.connect("sim://?profile=locked", key="factory", home=home) as dev:
        dev.upload_key()
        dev.write_credential(7, "ca-cert", PEM)
        assert (
            dev.check_credential(7, "ca-cert", PEM.replace(b"\n", b"\r\n")).convention
            == "canonical"
        )
        info = dev.info()
        assert info.probe is not None and info.probe.works
        assert [s.local_key for s in info.slots or ()] == ["factory"]


def test_connect_closes_the_port_when_the_imei_read_fails(home: Path) -> None:
    # Commands at connect: AT+CMEE? (the sync probe), AT+CMEE=1, AT+CGSN (the third stalls).
    with pytest.raises(xsudo.DeviceError):
        xsudo.connect("sim://?profile=nrf91x1-2.0&fault=stall:3", home=home, timeout=0.2)


def test_the_surface() -> None:
    assert set(xsudo.__all__) == {"__version__", *xsudo._EXPORTS}
    for name in xsudo.__all__:
        value = getattr(xsudo, name)
        if name != "__version__":
            assert value.__doc__, f"xsudo.{name} has no docstring"
    assert str(xsudo.AuthPolicy.REQUIRED) == "required"


def test_import_xsudo_is_light() -> None:
    code = (
        "import sys, xsudo; "
        "heavy = [m for m in ('click', 'rich', 'serial', 'cryptography', 'keyring', 'xsudo.sim') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
