"""Bad input of every kind through the whole CLI: one line, the documented exit code, no
traceback, nothing changed on the device.

Each row is a user's mistake or an attacker's file: special and oversized files, damaged
manifests, state files and audit logs, bad simulator options, out-of-range values, and
hostile boards. The count of rows and of tracebacks is printed (``pytest -s``).
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from xsudo.cli import main

TALLY: Counter[str] = Counter()
Setup = Callable[[Path], list[str]]


def _file(name: str, data: bytes, mode: int = 0o600) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        path.chmod(mode)
        return path

    return make


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo"
    os.mkfifo(path)
    return path


def _dir(tmp: Path) -> Path:
    path = tmp / "adir"
    path.mkdir()
    return path


BIG = b"A" * (17 * 1024 * 1024)
DEEP = b"[" * 200_000
HUGE_NUMBER = b'{"credentials": [[' + b"9" * 5000 + b', 0, "x"]]}'
SIM = "sim://?profile=nrf91x1-2.0"

FILES: dict[str, Callable[[Path], Path]] = {
    "dev-zero": lambda tmp: Path("/dev/zero"),
    "fifo": _fifo,
    "directory": _dir,
    "missing": lambda tmp: tmp / "nope.pem",
    "oversized": _file("big.pem", BIG),
    "binary": _file("bin.pem", bytes(range(256)) * 4),
    "empty": _file("empty.pem", b""),
    "nul-bytes": _file("nul.pem", b"-----BEGIN CERTIFICATE-----\x00\n"),
}

# (label, argv builder, acceptable exit codes)
ROWS: list[tuple[str, Setup, tuple[int, ...]]] = []


def _per_file(kind: str, make: Callable[[Path], Path]) -> list[tuple[str, Setup, tuple[int, ...]]]:
    """Every command that reads a file, given the bad file ``kind``."""
    cred = ["cred", "write", "--port", SIM, "--tag", "7", "--type", "ca-cert"]
    dry = ["cred", "write", "--dry-run", "--tag", "7", "--type", "psk"]
    generate = ["key", "generate", "x", "--store", "file", "--passphrase-file"]
    rows: list[tuple[str, Setup, tuple[int, ...]]] = [
        (f"cred write {kind}", lambda tmp: [*cred, str(make(tmp))], (2,)),
        (f"cred write --dry-run {kind}", lambda tmp: [*dry, str(make(tmp))], (2,)),
        (
            f"verify --file {kind}",
            lambda tmp: ["verify", "--key", "k", "--file", str(make(tmp))],
            (2,),
        ),
        (
            f"sign --body-file {kind}",
            lambda tmp: ["sign", "--key", "k", "--body-file", str(make(tmp))],
            (2,),
        ),
        (
            f"provision manifest {kind}",
            lambda tmp: ["provision", str(make(tmp)), "--port", SIM],
            (2,),
        ),
        (f"key import {kind}", lambda tmp: ["key", "import", "x", str(make(tmp))], (2,)),
        (
            f"audit verify {kind}",
            lambda tmp: ["audit", "verify", str(make(tmp))],
            (0,) if kind == "empty" else (1, 2),  # an empty log is an intact, empty chain
        ),
    ]
    if kind not in ("binary", "nul-bytes"):  # odd bytes are still a passphrase
        rows.append((f"passphrase file {kind}", lambda tmp: [*generate, str(make(tmp))], (2,)))
    if kind != "missing":  # a missing state file is a factory-new board, by design
        state = lambda tmp: ["cred", "list", "--port", f"sim://?state={make(tmp)}"]  # noqa: E731
        rows.append((f"sim state {kind}", state, (2, 3)))
    return rows


for kind, make in FILES.items():
    ROWS += _per_file(kind, make)


def _manifest(text: str) -> Setup:
    def build(tmp: Path) -> list[str]:
        (tmp / "ca.pem").write_text("not a cert")
        path = tmp / "fleet.toml"
        path.write_text(text)
        return ["provision", str(path), "--port", SIM]

    return build


MANIFESTS = {
    "not toml": "[[credential]\n",
    "no credentials": "[defaults]\nauth = 'auto'\n",
    "bad auth": "[defaults]\nauth = 'sometimes'\n[[credential]]\ntag=1\ntype='psk'\nfile='x'\n",
    "bad type": "[[credential]]\ntag = 1\ntype = 'certificate'\nfile = 'ca.pem'\n",
    "tag not a number": "[[credential]]\ntag = 'one'\ntype = 'ca-cert'\nfile = 'ca.pem'\n",
    "huge tag": "[[credential]]\ntag = 99999999999999999999\ntype = 'ca-cert'\nfile = 'x'\n",
    "template escapes": "[[credential]]\ntag=1\ntype='ca-cert'\nfile='../{imei}.pem'\n",
    "absolute template": "[[credential]]\ntag=1\ntype='ca-cert'\nfile='/etc/{imei}'\n",
    "unknown placeholder": "[[credential]]\ntag=1\ntype='ca-cert'\nfile='{uuid}.pem'\n",
    "bad content": "[[credential]]\ntag = 1\ntype = 'ca-cert'\nfile = 'ca.pem'\n",
    "deep nesting": "x = " + "[" * 5000 + "]" * 5000 + "\n",
}
ROWS += [(f"manifest: {name}", _manifest(text), (2,)) for name, text in MANIFESTS.items()]

SIM_URLS = {
    "unknown option": "sim://?colour=red",
    "bad fault": "sim://?fault=explode:1",
    "fault N 0": "sim://?fault=drop:0",
    "late without seconds": "sim://?fault=late:3",
    "bad profile": "sim://?profile=nrf9999",
    "imei not digits": "sim://?imei=../../etc",
    "huge baud": "sim://?baud=" + "9" * 5000,
}
ROWS += [
    (f"sim url: {name}", lambda tmp, u=url: ["cred", "list", "--port", u], (2, 3))
    for name, url in SIM_URLS.items()
]


def _state(data: bytes) -> Setup:
    def build(tmp: Path) -> list[str]:
        path = tmp / "state.json"
        path.write_bytes(data)
        return ["cred", "list", "--port", f"sim://?state={path}"]

    return build


STATES = {
    "huge number": HUGE_NUMBER,
    "deep nesting": DEEP,
    "not utf-8": b'{"credentials": "\xff\xfe"}',
    "not an object": b"[1, 2, 3]",
    "truncated": b'{"credentials": [',
}
ROWS += [(f"sim state: {name}", _state(data), (2, 3)) for name, data in STATES.items()]


def _audit(data: bytes) -> Setup:
    def build(tmp: Path) -> list[str]:
        home = Path(os.environ["XSUDO_HOME"])
        home.mkdir(mode=0o700, exist_ok=True)
        (home / "audit.jsonl").write_bytes(data)
        return ["cred", "write", "--port", SIM, "--auth", "never", "--tag", "7",
                "--type", "psk", str(_file("psk.txt", b"00112233")(tmp))]  # fmt: skip

    return build


AUDITS = {
    "cut last line": b'{"seq": 1, "hash": "ab',
    "duplicate keys": b'{"seq": 1, "seq": 2}\n',
    "nan": b'{"seq": NaN}\n',
    "deep": DEEP + b"\n",
    "bom": b"\xef\xbb\xbf{}\n",
    "crlf": b'{"seq": 1}\r\n',
    "huge line": b'{"x": "' + b"a" * 100_000 + b'"}\n',
}
ROWS += [(f"audit log: {name}", _audit(data), (2,)) for name, data in AUDITS.items()]

OPTIONS = {
    "tag out of range": ["cred", "delete", "--port", SIM, "--tag", "-1", "--type", "psk"],
    "tag too big": ["cred", "list", "--port", SIM, "--tag", "4294967296"],
    "slot 10": ["device", "upload-key", "--port", SIM, "--key", "k", "--slot", "10"],
    "unknown type": ["cred", "delete", "--port", SIM, "--tag", "1", "--type", "x", "--yes"],
    "no port": ["cred", "list"],
    "missing port": ["cred", "list", "--port", "/dev/ttyNOPE"],
    "unknown key": ["sign", "--key", "nobody", "+CGSN"],
    "body with quote": ["sign", "--key", "k", '%CMNG=0,1,0,"a"b"'],
    "non-ascii body": ["sign", "--key", "k", "+CGSN\u00e9"],
    "bad expect-head": ["audit", "verify", "--expect-head", "x:y"],
    "ca cn control": ["ca", "create", "lab", "--cn", "evil\x1b[2J"],
    "bad challenge": ["device", "attest", "--port", SIM, "--challenge", "zz"],
    "bad attributes": ["cred", "keygen", "--port", SIM, "--tag", "5", "--attributes", 'CN="x'],
}
ROWS += [
    (f"option: {name}", lambda tmp, a=args: list(a), (1, 2, 3)) for name, args in OPTIONS.items()
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str | None]:
    capsys.readouterr()
    crashed = None
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a traceback the user would have seen
        crashed = traceback.format_exc()
        code = -1
    return code, capsys.readouterr().err, crashed


@pytest.mark.parametrize(("label", "build", "codes"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(
    label: str,
    build: Setup,
    codes: tuple[int, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err, crashed = _run(build(tmp_path), capsys)
    TALLY["inputs"] += 1
    TALLY["tracebacks"] += crashed is not None
    assert crashed is None, crashed
    assert "Traceback" not in err
    assert code in codes, (code, err)
    message = [line for line in err.splitlines() if line.startswith(("error:", "Error:"))]
    if code in (0, 1) and not message:  # a verdict (audit verify: intact/broken), no error
        return
    assert len(message) == 1, err  # exactly one error line
    assert len(message[0]) < 1000


def test_the_tally_is_reported() -> None:
    print(f"\nbad inputs: {dict(TALLY)}")
    assert TALLY["tracebacks"] == 0
