"""Modem against the simulator, through sim:// and through `xsudo sim --pty` (a real pty).

Key material and certificates come from the openssl CLI, and signatures for the %XSUDO test
follow Nordic's documented openssl recipe, so nothing here is produced by xsudo's own crypto.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("xsudo.sim")

from xsudo.at import AtChannel, Modem, SignedCommandError, commands
from xsudo.command import AtCommand, build_xsudo_line
from xsudo.errors import CmeError

from .ptysim import PtySim

REPO = Path(__file__).resolve().parents[2]


def openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


@dataclass(frozen=True)
class Material:
    cert: bytes
    priv: Path
    pub: bytes


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    work = tmp_path_factory.mktemp("openssl")
    key, cert = work / "key.pem", work / "cert.pem"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=xsudo test",
        "-days",
        "2",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    )
    priv = work / "priv.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(priv))
    pub = openssl("ec", "-in", str(priv), "-pubout")
    return Material(cert.read_bytes(), priv, pub)


@pytest.fixture(params=["sim-url", "sim-pty"])
def port(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sim-url":
        from xsudo.sim import forget_boards

        yield f"sim://integration-{id(request)}"
        forget_boards()
        return
    sim = PtySim()
    try:
        yield sim.path
    finally:
        sim.stop()


@pytest.fixture
def modem(port: str) -> Iterator[Modem]:
    with Modem.open(port, timeout=5) as opened:
        yield opened


def test_identity(modem: Modem) -> None:
    identity = modem.identity()
    assert identity.imei == "352656100367872"
    assert identity.mfw.startswith("mfw_nrf91x1_")
    assert identity.family == "nrf91x1"
    assert identity.model is not None and identity.model.startswith("nRF91")
    assert identity.uuid


def test_cfun_get_and_set(modem: Modem) -> None:
    assert modem.cfun() == 0
    modem.set_cfun(4)
    assert modem.cfun() == 4
    modem.set_cfun(1)
    assert modem.cfun() == 1
    with pytest.raises(CmeError) as caught:
        pem = b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
        modem.command(commands.cmng_write(7, 0, pem))
    assert (caught.value.command, caught.value.code) == ("%CMNG", 518)
    modem.set_cfun(4)


def test_cmng_round_trip_of_a_multiline_pem(modem: Modem, material: Material) -> None:
    cert = material.cert
    assert cert.count(b"\n") > 5
    modem.set_cfun(4)
    modem.command(commands.cmng_write(16842753, 0, cert))
    listed = modem.cmng_list(16842753)
    assert [(e.tag, e.type, e.sha) for e in listed] == [
        (16842753, 0, hashlib.sha256(cert).hexdigest().upper())
    ]
    assert any(entry.reserved for entry in modem.cmng_list())
    read = modem.cmng_read(16842753, 0)
    assert read.content == cert
    assert read.sha == listed[0].sha
    modem.cmng_delete(16842753, 0)
    assert modem.cmng_list(16842753, 0) == []
    with pytest.raises(CmeError) as caught:
        modem.cmng_read(16842753, 0)
    assert (caught.value.command, caught.value.code) == ("%CMNG", 513)


def test_xpmng_write_and_read_with_slot(modem: Modem, material: Material) -> None:
    pub = material.pub
    modem.set_cfun(4)
    assert modem.xpmng_read(3) is None
    modem.xpmng_write(pub, 3)
    assert modem.xpmng_read(3) == pub
    assert modem.xpmng_read(4) is None
    with pytest.raises(CmeError) as caught:
        modem.xpmng_write(pub, 3)
    assert (caught.value.command, caught.value.code) == ("%XPMNG", 520)
    assert "already exists" in caught.value.meaning


def test_signed_line_per_the_openssl_recipe(modem: Modem, material: Material) -> None:
    modem.set_cfun(4)
    modem.xpmng_write(material.pub, 2)
    body = AtCommand.set("%CMNG", 0, 77, 0, material.cert.decode()).body()
    digest = hashlib.sha256(body).digest()
    signature = openssl("pkeyutl", "-sign", "-inkey", str(material.priv), data=digest)
    line = build_xsudo_line(body, base64.b64encode(signature).decode(), 2).render()
    assert modem.send_line(line).ok
    assert modem.cmng_list(77, 0)[0].sha == hashlib.sha256(material.cert).hexdigest().upper()
    tampered = line.replace(b"%CMNG=0,77,", b"%CMNG=0,78,")
    with pytest.raises(SignedCommandError) as caught:
        modem.send_line(tampered)
    assert (caught.value.command, caught.value.inner_command, caught.value.code) == (
        "%XSUDO",
        "%CMNG",
        520,
    )


def test_numeric_errors_restored_on_close(port: str) -> None:
    with Modem.open(port, timeout=5) as modem:
        assert modem.channel.command(b"AT+CMEE?").lines == [b"+CMEE: 1"]
    with AtChannel.open(port, timeout=5) as channel:
        assert channel.command(b"AT+CMEE?").lines == [b"+CMEE: 0"]
