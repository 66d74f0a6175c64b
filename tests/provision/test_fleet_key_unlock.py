"""A file-store key is unlocked (its PBKDF2 run) once per process and key, never per credential
or per board: counted over a multi-board, multi-credential ``xsudo provision`` that signs every
write with one key and issues certificates with that key and a second one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.support.boards import Result
from xsudo import api
from xsudo.at.modem import Modem
from xsudo.ca import cert_pem
from xsudo.keys import FileKeyBackend, KeyStore, PassphraseSource
from xsudo.keys.file_store import forget_unlocked_keys
from xsudo.labpki import make_ca, new_ec_key, private_key_pem
from xsudo.sim import register_url_handler

PASSPHRASE = "fleet unlock test passphrase"
IMEIS = ["352656100000201", "352656100000202", "352656100000203"]
MANIFEST = """
[defaults]
auth = "required"
key = "fleet"
[[credential]]
tag = 100
type = "ca-cert"
file = "ca-other.pem"
[[credential]]
tag = 100
type = "client-cert"
issue = { ca = "ca-other.pem", ca_key = "otherca", days = 30, cn_from = "imei" }
replace = true
[[credential]]
tag = 101
type = "ca-cert"
file = "ca-fleet.pem"
[[credential]]
tag = 101
type = "client-cert"
issue = { ca = "ca-fleet.pem", ca_key = "fleet", days = 30, cn_from = "imei" }
replace = true
"""
CREDENTIALS = 4


@pytest.fixture
def kdf_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every PKCS#12 decryption (the PBKDF2 unlock of a key file), counted from now on."""
    forget_unlocked_keys()
    calls: list[int] = []
    real = pkcs12.load_key_and_certificates

    def counting(data: bytes, password: bytes | None, *args: Any) -> Any:
        calls.append(len(data))
        return real(data, password, *args)

    monkeypatch.setattr(pkcs12, "load_key_and_certificates", counting)
    return calls


@pytest.fixture
def fleet(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two file-store keys (``fleet`` signs and is a CA, ``otherca`` is a CA), their CA
    certificates, the manifest, and one ``locked`` board per IMEI with ``fleet`` in slot 0.
    Returns the boards' ``sim://`` URLs."""
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", PASSPHRASE)
    source = PassphraseSource(interactive=False)
    fast = FileKeyBackend(isolated_env / "keys", source, kdf_rounds=1000)  # a fast test key
    store = KeyStore(isolated_env, source, backends={"file": fast})
    for name, ca_file in (("fleet", "ca-fleet.pem"), ("otherca", "ca-other.pem")):
        key = new_ec_key()
        store.import_key(name, private_key_pem(key), "file")
        (tmp_path / ca_file).write_bytes(cert_pem(make_ca(key, f"{name} CA")))
    (tmp_path / "fleet.toml").write_text(MANIFEST)
    register_url_handler()
    slot0 = store.get("fleet").public_key_pem.encode("ascii")
    ports = []
    for index, imei in enumerate(IMEIS):
        port = f"sim://?profile=locked&imei={imei}&state={tmp_path}/board{index}.json"
        with Modem.open(port) as modem:
            modem.xpmng_write(slot0, 0)
        ports.append(port)
    return ports


def provision(xsudo: Callable[..., Result], tmp_path: Path, ports: list[str]) -> list[Any]:
    report = tmp_path / "report.jsonl"
    args = ["provision", str(tmp_path / "fleet.toml"), "--report", str(report)]
    for port in ports:
        args += ["--port", port]
    result = xsudo(*args)
    assert result.code == 0, result.err
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_one_unlock_per_key_for_a_whole_fleet(
    xsudo: Callable[..., Result], tmp_path: Path, fleet: list[str], kdf_calls: list[int]
) -> None:
    lines = provision(xsudo, tmp_path, fleet)
    assert [line["ok"] for line in lines] == [True] * len(IMEIS)
    assert all(len(line["results"]) == CREDENTIALS for line in lines)
    signed = [r for line in lines for r in line["results"] if r.get("auth") == "xsudo"]
    assert len(signed) >= len(IMEIS) * CREDENTIALS  # every write went through the key
    assert len(kdf_calls) == 2  # two keys: "fleet" (signer and CA) and "otherca"

    # The same process provisioning again (new keys and certificates: replace = true), through
    # the library and a new key store: the keys are already unlocked.
    again = api.provision(tmp_path / "fleet.toml", fleet, store=api.key_store())
    assert all(report.ok for report in again), [r.error for r in again]
    assert len(kdf_calls) == 2


def test_a_wrong_passphrase_is_refused_even_after_an_unlock(
    xsudo: Callable[..., Result],
    tmp_path: Path,
    fleet: list[str],
    kdf_calls: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.open_key("fleet")
    assert len(kdf_calls) == 1
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "not the passphrase")
    result = xsudo("provision", str(tmp_path / "fleet.toml"), "--port", fleet[0])
    assert result.code == 2 and "wrong passphrase for key 'fleet'" in result.err
    assert len(kdf_calls) == 2  # the wrong passphrase was tried, not waved through
