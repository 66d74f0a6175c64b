"""``xsudo key`` end to end: in-process through ``xsudo.cli.main`` (as the console script
runs it), as a real subprocess, and on a real pseudo-terminal for the prompts."""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.keys.conftest import (
    IMPORT_PASSPHRASE,
    OpensslKey,
    openssl,
    openssl_fingerprint,
    sha256,
    write_secret,
)
from tests.support import memory_keyring
from tests.support.cli import run_cli as run
from xsudo.keys import KeyStore, PassphraseSource

PYTHON = sys.executable


def assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err


def test_generate_list_show_export_delete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "key", "generate", "dev1")
    assert code == 0
    assert "using the keyring store: keyring backend tests.support.memory_keyring" in err
    assert "allowed by XSUDO_KEYRING_ALLOW" in err
    assert "fingerprint:" in out
    code, out, err = run(capsys, "key", "show", "dev1", "--json")
    shown = json.loads(out)
    assert (code, shown["name"], shown["store"]) == (0, "dev1", "keyring")
    code, out, _ = run(capsys, "key", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "STORE", "CREATED", "FINGERPRINT"]
    assert out.splitlines()[1].split()[::3] == ["dev1", shown["fingerprint"]]
    code, out, _ = run(capsys, "key", "list", "--json")
    assert [r["name"] for r in json.loads(out)] == ["dev1"]
    code, pem, _ = run(capsys, "key", "export", "dev1")
    assert (code, pem) == (0, shown["public_key_pem"])
    target = tmp_path / "dev1.pub.pem"
    code, out, err = run(capsys, "key", "export", "dev1", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text() == pem
    assert openssl_fingerprint(target, public=True) == shown["fingerprint"]
    code, out, err = run(capsys, "key", "delete", "dev1")
    assert_one_line_error(code, out, err, "pass --yes")
    code, out, err = run(capsys, "key", "delete", "dev1", "--yes")
    assert code == 0
    assert memory_keyring.entries() == {}
    code, out, err = run(capsys, "key", "list", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_import_encrypted_key(
    capsys: pytest.CaptureFixture[str],
    openssl_key: OpensslKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = str(openssl_key.encrypted["enc_pkcs8_pem"])
    code, out, err = run(capsys, "key", "import", "imp", source)
    assert_one_line_error(code, out, err, "XSUDO_IMPORT_PASSPHRASE")
    wrong = tmp_path / "wrong"
    write_secret(wrong, "nope\n")
    code, out, err = run(
        capsys, "key", "import", "imp", source, "--source-passphrase-file", str(wrong)
    )
    assert_one_line_error(code, out, err, "wrong passphrase for the key file")
    right = tmp_path / "right"
    write_secret(right, IMPORT_PASSPHRASE + "\n")
    code, out, err = run(
        capsys, "key", "import", "imp", source, "--source-passphrase-file", str(right), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["fingerprint"] == openssl_key.fingerprint
    monkeypatch.setenv("XSUDO_IMPORT_PASSPHRASE", IMPORT_PASSPHRASE)
    code, out, err = run(capsys, "key", "import", "imp2", source, "--store", "keyring")
    assert code == 0, err
    assert "using the" not in err  # the store was named, nothing to explain


def test_import_from_stdin(
    capsys: pytest.CaptureFixture[str],
    openssl_key: OpensslKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = openssl_key.formats["sec1_der"].read_bytes()

    class Stdin:
        buffer = __import__("io").BytesIO(data)

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Stdin())
    code, out, err = run(capsys, "key", "import", "piped", "-", "--json")
    assert code == 0, err
    assert json.loads(out)["fingerprint"] == openssl_key.fingerprint


def test_no_secret_in_any_output(
    capsys: pytest.CaptureFixture[str], openssl_key: OpensslKey
) -> None:
    seen = []
    for args in (
        ("key", "import", "s", str(openssl_key.formats["pkcs8_pem"]), "--json"),
        ("key", "show", "s"),
        ("key", "show", "s", "--json"),
        ("key", "list"),
        ("key", "list", "--json"),
        ("key", "export", "s"),
        ("key", "import", "s", str(openssl_key.formats["pkcs8_pem"])),
        ("key", "delete", "s", "--yes"),
    ):
        _code, out, err = run(capsys, *args)
        seen.append(out + err)
    text = "".join(seen)
    for marker in openssl_key.secret_markers():
        assert marker not in text


@pytest.mark.parametrize("label", ["secp384r1", "secp256k1", "RSA", "Ed25519"])
def test_non_p256_keys_are_refused(
    capsys: pytest.CaptureFixture[str], foreign_keys: dict[str, Path], label: str
) -> None:
    code, out, err = run(capsys, "key", "import", "x", str(foreign_keys[label]))
    assert_one_line_error(code, out, err, label)
    assert "P-256" in err
    assert run(capsys, "key", "list", "--json")[1] == "[]\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("key", "show", "missing"), "no key named 'missing'"),
        (("key", "export", "missing"), "no key named 'missing'"),
        (("key", "delete", "missing", "--yes"), "no key named 'missing'"),
        (("key", "generate", "../evil"), "invalid key name"),
        (("key", "show", "a b"), "invalid key name"),
        (("key", "import", "k", "/nonexistent/key.pem"), "cannot read the key file"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], fragment: str
) -> None:
    assert_one_line_error(*run(capsys, *args), fragment)


def test_garbage_and_empty_key_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(os.urandom(200))
    assert_one_line_error(*run(capsys, "key", "import", "g", str(garbage)), "not a PEM or DER")
    fake_pem = tmp_path / "fake.pem"
    fake_pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert_one_line_error(*run(capsys, "key", "import", "g", str(fake_pem)), "not a PEM or DER")
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    assert_one_line_error(*run(capsys, "key", "import", "g", str(empty)), "is empty")


def test_duplicate_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "key", "generate", "d")[0] == 0
    assert_one_line_error(*run(capsys, "key", "generate", "d"), "xsudo key delete d")


def test_file_store_with_passphrase_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One real-default file key through the CLI: generate, then a wrong passphrase at sign."""
    secret = tmp_path / "pass"
    write_secret(secret, "cli file pass\n")
    args = ("key", "generate", "f", "--store", "file", "--passphrase-file", str(secret))
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "kdf_rounds:  600000" in out
    assert "cli file pass" not in out + err
    wrong = tmp_path / "wrong"
    write_secret(wrong, "not it\n")
    code, out, err = run(capsys, "sign", "--key", "f", "--passphrase-file", str(wrong), "%CMNG=1")
    assert_one_line_error(code, out, err, "wrong passphrase for key 'f'")


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XSUDO_")}
    env.update({"XSUDO_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}, **extra)
    return env


def xsudo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "xsudo", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_console_script_falls_back_to_the_file_store(tmp_path: Path) -> None:
    """The real program on a box with no keychain: file store chosen and explained, the file
    written with the real KDF parameters, and a signature openssl verifies."""
    home = tmp_path / "xh"
    env = subprocess_env(
        home,
        XSUDO_KEY_PASSPHRASE="subprocess pass",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    refused = xsudo(env, "key", "generate", "k", "--store", "keyring")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: the keyring store cannot be used: keyring found")
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr

    made = xsudo(env, "key", "generate", "k", "--json")
    assert made.returncode == 0, made.stderr
    assert "using the file store" in made.stderr
    assert "keyring store is unusable: keyring found no OS keychain" in made.stderr
    record = json.loads(made.stdout)
    p12 = home / "keys" / "k.p12"
    assert oct(p12.stat().st_mode & 0o777) == "0o600"
    info = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            str(p12),
            "-passin",
            "env:XSUDO_KEY_PASSPHRASE",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert "PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" in info

    exported = xsudo(env, "key", "export", "k")
    pub = tmp_path / "k.pub.pem"
    pub.write_text(exported.stdout)
    assert openssl_fingerprint(pub, public=True) == record["fingerprint"]

    signed = xsudo(env, "sign", "--key", "k", "--json", "%CMNG=1")
    assert signed.returncode == 0, signed.stderr
    sig = json.loads(signed.stdout)
    (tmp_path / "sig.der").write_bytes(bytes.fromhex(sig["signature_der_hex"]))
    (tmp_path / "digest").write_bytes(sha256(b"%CMNG=1"))
    out = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pub),
        "-in",
        str(tmp_path / "digest"),
        "-sigfile",
        str(tmp_path / "sig.der"),
    )
    assert b"Signature Verified Successfully" in out

    os.chmod(p12, 0o644)
    loose = xsudo(env, "sign", "--key", "k", "%CMNG=1")
    assert loose.returncode == 2
    assert f"chmod 600 {p12}" in loose.stderr and "Traceback" not in loose.stderr


def run_in_pty(
    args: list[str], env: dict[str, str], dialogue: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """Run ``args`` with a pseudo-terminal as its controlling terminal and stdio; answer each
    expected prompt; return the exit code and everything it printed."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO_ROOT,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    deadline = time.monotonic() + 60
    seen = b""
    try:
        for expected, reply in dialogue:
            while expected not in seen:
                chunk = _read(master, deadline)
                assert chunk, f"ended before {expected!r}; got {seen!r}"
                seen += chunk
            os.write(master, reply)
        while chunk := _read(master, deadline):
            seen += chunk
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _read(fd: int, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    assert remaining > 0, "timed out waiting for the program"
    ready, _, _ = select.select([fd], [], [], remaining)
    assert ready, "timed out waiting for the program"
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the program closed the terminal
        return b""


def test_prompts_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "xh"
    env = subprocess_env(home, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    base = [PYTHON, "-m", "xsudo", "key"]
    code, seen = run_in_pty(
        [*base, "generate", "t", "--store", "file"],
        env,
        [(b"New passphrase for key 't': ", b"typed one\n"), (b"Repeat the", b"typed two\n")],
    )
    assert code == 2 and b"the passphrases do not match" in seen
    code, seen = run_in_pty(
        [*base, "generate", "t", "--store", "file"],
        env,
        [(b"New passphrase for key 't': ", b"typed pass\n"), (b"Repeat the", b"typed pass\n")],
    )
    assert code == 0, seen
    assert b"typed pass" not in seen  # no echo
    opened = KeyStore(home, PassphraseSource(interactive=False))
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "typed pass")
    assert opened.signer("t").sign_digest(sha256(b"m"))
    code, seen = run_in_pty([*base, "delete", "t"], env, [(b"[y/N]: ", b"n\n")])
    assert code == 1 and b"aborted" in seen
    assert opened.list()
    code, seen = run_in_pty([*base, "delete", "t"], env, [(b"[y/N]: ", b"y\n")])
    assert code == 0 and b"deleted key t" in seen
    assert opened.list() == []
