"""Checking captured ``AT%XSUDO`` lines: ``xsudo verify --scan`` against an openssl loop.

Usage: ``python benchmarks/verify.py [--lines N] [--repeat R] [--json] [--check]`` from the
repository root.

Setup (not timed): a P-256 key, and ``--lines`` (default 1,000) signed lines made with
xsudo's ``sign_command``: a mix of short commands (``%CMNG=1``, deletes, ``%KEYGEN``) and
``%CMNG`` writes of a PEM certificate that spans 15 lines inside its quotes (one in three
lines). They are written as a terminal capture (a ``> `` prompt before each line, ``OK``
after it, CRLF line ends). For the openssl loop the same lines are split, as a script would,
into a body file (the bytes after ``;``) and a DER signature file each.

Timed:

* **xsudo verify --scan**: one ``xsudo verify --scan CAPTURE --public-key PUB --json``
  process, start-up included (median of ``--repeat`` runs, default 5). Every line must come
  back valid.
* **openssl loop**: one ``openssl dgst -sha256 -verify PUB -signature SIG BODY`` process per
  line, as a user would script it (run once: it is the slow side). Every line must print
  ``Verified OK``.
* **scan_capture (library)**: the same capture checked in-process (median of runs), and
  per line: ``verify_line`` on one valid line against one bare ECDSA verification
  (``verify_digest`` of a precomputed digest), to show what a valid line costs over the
  verification itself.

Goals (issue 11): the scan process takes at most 0.5 s for 1,000 lines and is at least 10x
faster than the openssl loop. ``--check`` exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from xsudo.crypto import (
    PrivateKey,
    PublicKey,
    generate_private_key,
    public_key_pem,
    sign_digest_deterministic,
    verify_digest,
)
from xsudo.diagnose import scan_capture, verify_line
from xsudo.encoding import encode_der
from xsudo.signing import sign_command

SCAN_GOAL_SECONDS = 0.5
SPEEDUP_GOAL = 10.0
PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    + ("MIIBszCCAVmgAwIBAgIUXsudoBenchmarkCertificateContentAAAAAAAAAAAA\n" * 13)
    + "-----END CERTIFICATE-----\n"
)


class KeySigner:
    """An in-memory signer (benchmark setup only)."""

    name = "bench"

    def __init__(self, key: PrivateKey) -> None:
        self.key = key

    def public_key(self) -> PublicKey:
        return self.key.public_key()

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        return sign_digest_deterministic(self.key, digest)


def body_for(index: int) -> bytes:
    """The command of line ``index``: one in three a PEM write, the rest short commands."""
    tag = 16842753 + index
    kind = index % 3
    if kind == 0:
        return f'%CMNG=0,{tag},0,"{PEM}"'.encode("ascii")
    if kind == 1:
        return f"%CMNG=3,{tag},0".encode("ascii")
    return f"%KEYGEN={tag},2,0".encode("ascii")


def make_capture(signer: KeySigner, count: int, tmp: Path) -> tuple[Path, list[tuple[Path, Path]]]:
    """Sign ``count`` lines; write the capture and, per line, a body and a signature file."""
    capture = bytearray(b"uart log, 115200 8N1\r\n")
    pairs: list[tuple[Path, Path]] = []
    split = tmp / "split"
    split.mkdir()
    for index in range(count):
        signed = sign_command(body_for(index), signer)
        capture += b"> " + signed.line.encode("ascii") + b"\r\nOK\r\n"
        body_file, sig_file = split / f"{index}.body", split / f"{index}.sig"
        body_file.write_bytes(signed.body)
        sig_file.write_bytes(encode_der(signed.r, signed.s))
        pairs.append((body_file, sig_file))
    path = tmp / "capture.log"
    path.write_bytes(bytes(capture))
    return path, pairs


def time_scan(capture: Path, pub: Path, count: int, repeat: int) -> float:
    """Median wall time of one ``xsudo verify --scan`` process; checks every line is valid."""
    xsudo = shutil.which("xsudo") or str(Path(sys.executable).parent / "xsudo")
    argv = [xsudo, "verify", "--scan", str(capture), "--public-key", str(pub), "--json"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        results = [json.loads(line) for line in done.stdout.splitlines()]
        if done.returncode != 0 or len(results) != count or not all(r["valid"] for r in results):
            raise SystemExit(f"xsudo verify --scan failed: {done.stderr.decode()[:300]}")
    return statistics.median(times)


def time_openssl(pairs: list[tuple[Path, Path]], pub: Path) -> float:
    """Wall time of one ``openssl dgst -verify`` process per line; checks each verifies."""
    openssl = shutil.which("openssl")
    assert openssl is not None
    start = time.perf_counter()
    for body, sig in pairs:
        done = subprocess.run(
            [openssl, "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(body)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0 or b"Verified OK" not in done.stdout:
            raise SystemExit(f"openssl did not verify {body.name}: {done.stderr.decode()[:200]}")
    return time.perf_counter() - start


def time_library(capture: bytes, public_key: PublicKey, count: int, repeat: int) -> float:
    """Median in-process time of ``scan_capture`` over the whole capture."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        results = list(scan_capture(capture, public_key))
        times.append(time.perf_counter() - start)
        assert len(results) == count and all(r.valid for r in results)
    return statistics.median(times)


def per_line_costs(signer: KeySigner, rounds: int = 2000) -> dict[str, float]:
    """Microseconds per valid PEM-write line: ``verify_line`` vs one bare verification."""
    signed = sign_command(body_for(0), signer)
    line = signed.line.encode("ascii")
    public_key = signer.public_key()
    digest = hashlib.sha256(signed.body).digest()
    assert verify_line(line, public_key).verifications == 1
    start = time.perf_counter()
    for _ in range(rounds):
        verify_digest(public_key, digest, signed.r, signed.s)
    bare = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        verify_line(line, public_key)
    full = (time.perf_counter() - start) / rounds
    return {"verify_digest_us": bare * 1e6, "verify_line_us": full * 1e6, "ratio": full / bare}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="lines in the capture (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the scan (median; 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if shutil.which("openssl") is None:
        print("the openssl CLI is not installed", file=sys.stderr)
        return 2
    signer = KeySigner(generate_private_key())
    with tempfile.TemporaryDirectory(prefix="xsudo-bench-verify-") as tmp_name:
        tmp = Path(tmp_name)
        pub = tmp / "pub.pem"
        pub.write_text(public_key_pem(signer.public_key()))
        capture, pairs = make_capture(signer, args.lines, tmp)
        scan_s = time_scan(capture, pub, args.lines, args.repeat)
        openssl_s = time_openssl(pairs, pub)
        library_s = time_library(capture.read_bytes(), signer.public_key(), args.lines, 5)
        capture_bytes = capture.stat().st_size
    costs = per_line_costs(signer)
    row: dict[str, Any] = {
        "lines": args.lines,
        "capture_bytes": capture_bytes,
        "scan_process_s": scan_s,
        "openssl_loop_s": openssl_s,
        "speedup": openssl_s / scan_s,
        "scan_library_s": library_s,
        **costs,
    }
    met = scan_s <= SCAN_GOAL_SECONDS and row["speedup"] >= SPEEDUP_GOAL
    row["goals_met"] = met
    if args.json:
        print(json.dumps(row, indent=2, sort_keys=True))
    else:
        show(row)
    return 1 if args.check and not met else 0


def show(row: dict[str, Any]) -> None:
    lines = row["lines"]
    print(f"{lines} lines, {row['capture_bytes']} bytes of capture")
    print(f"{'checker':<44}{'wall s':>9}{'ms/line':>9}")
    for name, key in (
        ("xsudo verify --scan (one process)", "scan_process_s"),
        ("openssl dgst -verify (one process a line)", "openssl_loop_s"),
        ("scan_capture (in-process)", "scan_library_s"),
    ):
        print(f"{name:<44}{row[key]:>9.3f}{1000 * row[key] / lines:>9.3f}")
    print(
        f"speed-up over openssl: {row['speedup']:.1f}x (goal >= {SPEEDUP_GOAL:.0f}x); "
        f"scan process {row['scan_process_s']:.3f} s (goal <= {SCAN_GOAL_SECONDS} s)"
    )
    print(
        f"one valid line: verify_line {row['verify_line_us']:.0f} us, bare ECDSA verify "
        f"{row['verify_digest_us']:.0f} us ({row['ratio']:.2f}x)"
    )
    print("goals met" if row["goals_met"] else "GOAL MISSED")


if __name__ == "__main__":
    sys.exit(main())
