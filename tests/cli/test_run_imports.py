"""What a device command loads when it runs: only what its work needs.

``cred list`` reads SHA lines: no X.509/PKCS#12 parsers, no key stores, no keychain. A plain
``provision`` (no key, no ``issue`` entries, output to a pipe) validates certificates (X.509
loads) but never loads the keychain, the key-generation and token decoders, the CA code, or
the terminal renderer. Each runs in a fresh interpreter against ``xsudo sim --pty`` in its
own process (so the simulator's modules are not counted), through a real pty. Nothing is
timed here; ``benchmarks/job.py`` measures the whole job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.at.ptysim import PtySim
from tests.cli.test_startup_imports import loaded_by
from xsudo.ca import cert_pem
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem


@pytest.fixture
def board() -> Iterator[str]:
    sim = PtySim("--profile", "nrf91x1-2.0")
    try:
        yield sim.path
    finally:
        sim.stop()


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


NO_KEYS = (
    "keyring",
    "xsudo.keys",
    "cryptography.hazmat.primitives.serialization.pkcs12",
    "asn1crypto.pkcs12",
)
NO_ISSUING = ("xsudo.provision.keygen", "xsudo.tokens.cose", "xsudo.tokens.csr", "xsudo.ca")


def test_cred_list_loads_no_parsers_and_no_key_store(board: str, tmp_path: Path) -> None:
    modules = loaded_by(["cred", "list", "--port", board], tmp_path)
    assert present(modules, (*NO_KEYS, *NO_ISSUING, "cryptography.x509")) == []
    assert "xsudo.at.modem" in modules  # it did talk to the board


def test_plain_provision_loads_no_key_store_issuing_or_renderer(board: str, tmp_path: Path) -> None:
    ca_key, key = new_ec_key(), new_ec_key()
    ca = make_ca(ca_key, "import test CA")
    (tmp_path / "ca.pem").write_bytes(cert_pem(ca))
    client = issue_client_cert(ca_key, ca, key.public_key(), "import test device")
    (tmp_path / "client.crt").write_bytes(cert_pem(client))
    (tmp_path / "client.key").write_bytes(private_key_pem(key))
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(
        '[defaults]\nauth = "auto"\n'
        '[[credential]]\ntag = 77\ntype = "ca-cert"\nfile = "ca.pem"\n'
        '[[credential]]\ntag = 77\ntype = "client-cert"\nfile = "client.crt"\n'
        '[[credential]]\ntag = 77\ntype = "client-key"\nfile = "client.key"\n'
    )
    modules = loaded_by(["provision", str(manifest), "--port", board], tmp_path)
    assert present(modules, (*NO_KEYS, *NO_ISSUING, "rich")) == []
    assert "cryptography.x509" in modules  # the certificates were validated
