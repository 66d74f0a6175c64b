"""Fleet provisioning throughput against simulated boards at 115200-baud wire emulation.

Usage: ``python benchmarks/fleet.py [--devices 1,4,16] [--json]`` from the repository root.

Each board is an in-process ``sim://`` port with its own state file (``locked`` profile, so
every write is an ``%XSUDO`` line), 115200-baud pacing in both directions, and the signing
key already uploaded. Each device gets a CA certificate, its own client certificate and its
client key (``{imei}`` files), through :func:`xsudo.provision.fleet.run_fleet`: the same
code ``xsudo provision`` runs. Reported per fleet size: wall time, devices per minute, and
the speed-up over provisioning the same number of devices one port at a time (the 1-device
time times N).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from xsudo.at.channel import ChannelOptions
from xsudo.at.modem import Modem
from xsudo.ca import cert_pem
from xsudo.crypto import PrivateKey, PublicKey, public_key_pem, sign_digest_deterministic
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem
from xsudo.provision.fleet import run_fleet
from xsudo.provision.manifest import load_manifest
from xsudo.provision.policy import AuthSettings
from xsudo.sim import register_url_handler

register_url_handler()  # the boards are sim:// ports

BAUD = 115200


class MemorySigner:
    """A throwaway signing key held in memory (benchmark only)."""

    name = "bench"

    def __init__(self, key: PrivateKey) -> None:
        self._key = key

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        return sign_digest_deterministic(self._key, digest)


def make_files(root: Path, imeis: list[str]) -> Path:
    """Certificates for every IMEI and the manifest that names them."""
    ca_key = new_ec_key()
    ca = make_ca(ca_key, "bench CA")
    (root / "ca.pem").write_bytes(cert_pem(ca))
    for imei in imeis:
        key = new_ec_key()
        (root / f"{imei}.crt").write_bytes(
            cert_pem(issue_client_cert(ca_key, ca, key.public_key(), imei))
        )
        (root / f"{imei}.key").write_bytes(private_key_pem(key))
    manifest = root / "fleet.toml"
    manifest.write_text(
        '[defaults]\nauth = "required"\n'
        '[[credential]]\ntag = 100\ntype = "ca-cert"\nfile = "ca.pem"\n'
        '[[credential]]\ntag = 100\ntype = "client-cert"\nfile = "{imei}.crt"\n'
        '[[credential]]\ntag = 100\ntype = "client-key"\nfile = "{imei}.key"\n'
    )
    return manifest


def boards(root: Path, imeis: list[str], signer: MemorySigner) -> list[str]:
    """One fresh board per IMEI with the signing key in slot 0; returns their ports."""
    pem = public_key_pem(signer.public_key()).encode("ascii")
    ports = []
    for index, imei in enumerate(imeis):
        port = f"sim://?profile=locked&baud={BAUD}&imei={imei}&state={root}/board{index}.json"
        with Modem.open(port) as modem:
            modem.xpmng_write(pem, 0)
        ports.append(port)
    return ports


def run_size(count: int, signer: MemorySigner) -> float:
    """Wall seconds to provision ``count`` fresh boards in parallel."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        imeis = [f"35265610{index:07d}" for index in range(count)]
        manifest = load_manifest(make_files(root, imeis))
        ports = boards(root, imeis, signer)
        settings = AuthSettings("required", signer, None)
        start = time.monotonic()
        reports = run_fleet(manifest, ports, settings, None, channel=ChannelOptions(baud=BAUD))
        elapsed = time.monotonic() - start
    failed = [r for r in reports if not r.ok]
    if failed:
        raise SystemExit(f"provisioning failed: {failed[0].error}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1,4,16", help="fleet sizes, comma-separated")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.devices.split(",")]
    signer = MemorySigner(new_ec_key())
    single = run_size(1, signer)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        seconds = single if size == 1 else run_size(size, signer)
        rows.append(
            {
                "devices": size,
                "wall_s": round(seconds, 3),
                "devices_per_minute": round(size * 60 / seconds, 1),
                "speedup_vs_one_port": round(single * size / seconds, 2),
            }
        )
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"fleet: CA + client cert + client key per device, %XSUDO, {BAUD} baud, sim://")
    print(f"{'devices':>7}  {'wall s':>7}  {'dev/min':>8}  {'speed-up':>8}")
    for row in rows:
        print(
            f"{row['devices']:>7}  {row['wall_s']:>7.2f}  {row['devices_per_minute']:>8.1f}  "
            f"{row['speedup_vs_one_port']:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
