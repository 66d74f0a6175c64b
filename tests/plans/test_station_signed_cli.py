"""``xsudo plan --station-signs``, ``plan show``, ``apply --key`` and ``station --key`` end
to end: keys in the (in-memory) key store or behind an external command, simulated
``locked`` boards over real ptys and ``sim://``; every refusal before a port is opened."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.plans.conftest import write_manifest
from tests.support.boards import Result, board, snapshot, xsudo  # noqa: F401  (fixtures)
from xsudo.sim import PtyServer, load_nvm

Run = Callable[..., Result]
Board = Callable[..., PtyServer]
TAG = 7
ISSUE = (
    f'\n[[credential]]\ntag = {TAG}\ntype = "client-cert"\n'
    'issue = {{ ca = "{ca}", ca_key = "{key}", days = 30, cn_from = "imei" }}\n'
)


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def keys_and_manifest(xsudo: Run, tmp_path: Path, ca_key: str = "labca") -> Path:  # noqa: F811
    """``factory`` (the line key) and the lab CA ``labca`` in the key store, ``factory.pub``
    and ``labca.pem`` beside a manifest with two files and an issue entry."""
    assert xsudo("key", "generate", "factory").code == 0
    (tmp_path / "factory.pub").write_text(xsudo("key", "export", "factory").out)
    ca_file = str(tmp_path / "labca.pem")
    made = xsudo("ca", "create", "labca", "--store", "keyring", "--cn", "Lab", "-o", ca_file)
    assert made.code == 0, made.err
    return write_manifest(tmp_path, ISSUE.format(ca="labca.pem", key=ca_key))


def make_plan(xsudo: Run, manifest: Path, *extra: str) -> Path:  # noqa: F811
    plan = manifest.parent / "plan.json"
    done = xsudo("plan", str(manifest), "--key", "factory", "-o", str(plan), *extra)
    assert done.code == 0, done.err
    return plan


def locked_board(board: Board, xsudo: Run, imei: str, key: str = "factory") -> PtyServer:  # noqa: F811
    server = board("locked", imei=imei)
    done = xsudo("device", "upload-key", "--port", server.path, "--key", key)
    assert done.code == 0, done.err
    return server


def apply(xsudo: Run, plan: Path, *args: str) -> Result:  # noqa: F811
    pub = plan.parent / "factory.pub"
    return xsudo("apply", str(plan), "--trust", str(pub), "--json", *args)


def test_plan_refuses_without_the_opt_in_and_names_it(xsudo: Run, tmp_path: Path) -> None:  # noqa: F811
    manifest = keys_and_manifest(xsudo, tmp_path)
    done = xsudo("plan", str(manifest), "--key", "factory", "-o", str(tmp_path / "p.json"))
    assert done.code == 2 and done.out == ""
    assert "issues a certificate" in done.err and "--station-signs" in done.err
    assert done.err.count("\n") == 1
    assert not (tmp_path / "p.json").exists()


def test_plan_show_lists_entries_signed_at_the_station(xsudo: Run, tmp_path: Path) -> None:  # noqa: F811
    manifest = keys_and_manifest(xsudo, tmp_path)
    plan = manifest.parent / "plan.json"
    done = xsudo("plan", str(manifest), "--key", "factory", "--station-signs", "-o", str(plan))
    assert done.code == 0, done.err
    assert "3 entries (1 signed at the station)" in done.err
    shown = xsudo("plan", "show", str(plan))
    assert shown.code == 0, shown.err
    line = next(x for x in shown.out.splitlines() if "issue" in x)
    assert line.startswith(f"  issue {TAG}/client-cert, signed at the station: CA sha256 ")
    assert "CA key labca, 30 days, CN from imei" in line
    summary = xsudo("plan", "show", str(plan), "--json").json()
    entry = summary["entries"][2]
    assert entry["signed_at"] == "station" and "ca_pem" not in entry
    assert [e["signed_at"] for e in summary["entries"][:2]] == ["plan", "plan"]
    ca = x509.load_pem_x509_certificate((tmp_path / "labca.pem").read_bytes())
    der = ca.public_bytes(serialization.Encoding.DER)
    assert entry["ca_sha256"] == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("case", ["no key", "wrong key", "unknown CA key", "key not needed"])
def test_apply_refuses_before_any_port(
    xsudo: Run,  # noqa: F811
    board: Board,  # noqa: F811
    tmp_path: Path,
    case: str,
) -> None:
    manifest = keys_and_manifest(xsudo, tmp_path, "nokey" if case == "unknown CA key" else "labca")
    if case == "key not needed":
        manifest.write_text(manifest.read_text().split("\n[[credential]]\ntag = 7")[0])
    plan = make_plan(xsudo, manifest, *(() if case == "key not needed" else ("--station-signs",)))
    server = locked_board(board, xsudo, "352656100000081")
    before = snapshot(server)
    assert xsudo("key", "generate", "other").code == 0
    key = {"no key": (), "wrong key": ("--key", "other")}.get(case, ("--key", "factory"))
    done = apply(xsudo, plan, "--port", server.path, *key)
    assert done.code == 2, done.err
    assert done.out == "" and done.err.startswith("error: ")
    fragment = {
        "no key": "no station key was given",
        "wrong key": "is not the plan's line key",
        "unknown CA key": "the CA key 'nokey'",
        "key not needed": "needs no key",
    }[case]
    assert fragment in done.err
    assert snapshot(server) == before


def test_apply_and_station_sign_at_the_station(
    xsudo: Run,  # noqa: F811
    board: Board,  # noqa: F811
    tmp_path: Path,
) -> None:
    manifest = keys_and_manifest(xsudo, tmp_path)
    plan = make_plan(xsudo, manifest, "--station-signs")
    imei = "352656100000082"
    server = locked_board(board, xsudo, imei)
    done = apply(xsudo, plan, "--port", server.path, "--key", "factory")
    assert done.code == 0, done.err
    line = done.json()
    assert line["status"] == "written" and line["progress"] == {"done": 3, "total": 3}
    assert [r["signed_at"] for r in line["results"]] == ["plan", "plan", "station"]
    cert_file = tmp_path / "client.pem"
    cert_file.write_bytes(snapshot(server)[(TAG, 1)])
    ca_file = str(tmp_path / "labca.pem")
    verdict = openssl("verify", "-purpose", "sslclient", "-CAfile", ca_file, str(cert_file))
    assert verdict.returncode == 0 and verdict.stdout.strip().endswith("OK"), verdict.stderr
    shown = xsudo("ledger", "show", imei, "--json")
    assert shown.code == 0, shown.err
    credentials = shown.json()["records"][0]["credentials"]
    assert [c["auth"] for c in credentials] == ["xsudo", "xsudo", "xsudo-station"]
    # the station over sim:// (its own port handling), then the same board again: unchanged
    state = tmp_path / "sim-board.json"
    url = f"sim://?profile=locked&state={state}&imei=352656100000083"
    assert xsudo("device", "upload-key", "--port", url, "--key", "factory").code == 0
    args = ["station", "--plan", str(plan), "--trust", str(tmp_path / "factory.pub")]
    ran = xsudo(*args, "--key", "factory", "--port", url, "--port", server.path, "--json")
    assert ran.code == 0, ran.err
    events = {e["port"]: e for e in map(json.loads, ran.out.splitlines())}
    assert events[url]["status"] == "written" and events[server.path]["status"] == "unchanged"
    assert events[url]["progress"] == {"done": 3, "total": 3}
    nvm = load_nvm(state)
    assert nvm is not None and (TAG, 2) in nvm.credentials
    cert = x509.load_pem_x509_certificate(nvm.credentials[(TAG, 1)])
    assert cert.subject.rfc4514_string() == "CN=352656100000083"
    refused = xsudo(*args, "--port", url, "--json")
    assert refused.code == 2 and "no station key" in refused.err and refused.out == ""


def test_keys_behind_an_external_command(
    xsudo: Run,  # noqa: F811
    board: Board,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The line key and the CA key are both reached only through `openssl pkeyutl`."""
    for name in ("line", "ca"):
        key = tmp_path / f"{name}.key"
        public = str(tmp_path / f"{name}.pub")
        generated = openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
        assert generated.returncode == 0, generated.stderr
        assert openssl("pkey", "-in", str(key), "-pubout", "-out", public).returncode == 0
    made = openssl(
        "req", "-x509", "-new", "-key", str(tmp_path / "ca.key"), "-subj", "/CN=external CA",
        "-days", "5", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(tmp_path / "extca.pem"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    for name, key in (("factory", "line"), ("extca", "ca")):
        registered = xsudo(
            "key", "import-command", name, "--public-key", str(tmp_path / f"{key}.pub"),
            "--command", f"openssl pkeyutl -sign -inkey {tmp_path / f'{key}.key'} -in",
        )  # fmt: skip
        assert registered.code == 0, registered.err
    (tmp_path / "factory.pub").write_text((tmp_path / "line.pub").read_text())
    manifest = write_manifest(tmp_path, ISSUE.format(ca="extca.pem", key="extca"))
    plan = make_plan(xsudo, manifest, "--station-signs")
    imei = "352656100000084"
    server = locked_board(board, xsudo, imei)
    done = apply(xsudo, plan, "--port", server.path, "--key", "factory")
    assert done.code == 0, done.err
    cert = x509.load_pem_x509_certificate(snapshot(server)[(TAG, 1)])
    assert cert.issuer.rfc4514_string() == "CN=external CA"
    assert cert.subject.rfc4514_string() == f"CN={imei}"
