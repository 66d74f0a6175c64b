"""Input files are read only when they are regular files, and never beyond a cap.

``/dev/zero`` given as a credential once grew a process to 24 GB, and a FIFO hung it. Each
command here is run in-process through ``xsudo.cli.main`` (as the console script runs it)
and must refuse at once: exit 2, one ``error:`` line naming the file, no traceback.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli as run
from xsudo.crypto import generate_private_key, public_key_pem

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX"),
]

CREDENTIAL_CAP = 256 * 1024
SECRET_CAP = 4 * 1024
LINE_CAP = 16 * 1024 * 1024
KEY_CAP = 64 * 1024


def assert_refused(result: tuple[int, str, str], *fragments: str) -> None:
    code, out, err = result
    assert code == 2, (out, err)
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO nobody writes to: opening it for reading the usual way blocks forever."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path


def sparse(path: Path, size: int, mode: int = 0o600) -> Path:
    """A regular file of ``size`` bytes (sparse, so it costs no disk)."""
    with path.open("wb") as handle:
        handle.truncate(size)
    path.chmod(mode)
    return path


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    path = tmp_path / "pub.pem"
    path.write_bytes(public_key_pem(generate_private_key().public_key()).encode("ascii"))
    return path


def cred_write(capsys: pytest.CaptureFixture[str], file: Path) -> tuple[int, str, str]:
    return run(capsys, "cred", "write", "--dry-run", "--tag", "42", "--type", "ca-cert", str(file))


# -- cred write -------------------------------------------------------------------------------


def test_cred_write_refuses_dev_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cred_write(capsys, Path("/dev/zero")), "/dev/zero is a character device")


def test_cred_write_refuses_a_fifo(capsys: pytest.CaptureFixture[str], fifo: Path) -> None:
    assert_refused(cred_write(capsys, fifo), f"{fifo} is a FIFO", "not a regular file")


def test_cred_write_refuses_an_oversized_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    big = sparse(tmp_path / "big.pem", CREDENTIAL_CAP + 1)
    assert_refused(cred_write(capsys, big), f"{big} is larger than {CREDENTIAL_CAP} bytes")


def test_cred_write_follows_a_symlink_to_a_regular_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "psk.txt"
    target.write_bytes(b"00112233445566778899aabbccddeeff\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    code, out, err = run(
        capsys, "cred", "write", "--dry-run", "--tag", "42", "--type", "psk", str(link)
    )
    assert code == 0, err
    assert "plain line:" in out


# -- verify --file ----------------------------------------------------------------------------


def verify_file(capsys: pytest.CaptureFixture[str], key: Path, line: str) -> tuple[int, str, str]:
    return run(capsys, "verify", "--public-key", str(key), "--file", line)


def test_verify_refuses_dev_zero(capsys: pytest.CaptureFixture[str], public_key: Path) -> None:
    assert_refused(verify_file(capsys, public_key, "/dev/zero"), "line file /dev/zero")


def test_verify_refuses_a_fifo(
    capsys: pytest.CaptureFixture[str], public_key: Path, fifo: Path
) -> None:
    assert_refused(verify_file(capsys, public_key, str(fifo)), "is a FIFO")


def test_verify_refuses_an_oversized_file(
    capsys: pytest.CaptureFixture[str], public_key: Path, tmp_path: Path
) -> None:
    big = sparse(tmp_path / "capture.txt", LINE_CAP + 1)
    assert_refused(verify_file(capsys, public_key, str(big)), f"larger than {LINE_CAP} bytes")


def test_verify_refuses_oversized_stdin(
    capsys: pytest.CaptureFixture[str], public_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stdin:
        buffer = io.BytesIO(b"A" * (LINE_CAP + 1))

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert_refused(
        verify_file(capsys, public_key, "-"), f"the line on stdin is larger than {LINE_CAP}"
    )


def test_verify_refuses_a_special_public_key_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(
        run(capsys, "verify", "--public-key", "/dev/zero", "AT"),
        "public key file /dev/zero is a character device",
    )


# -- passphrase files -------------------------------------------------------------------------


def generate_with(capsys: pytest.CaptureFixture[str], secret: Path) -> tuple[int, str, str]:
    return run(capsys, "key", "generate", "k", "--store", "file", "--passphrase-file", str(secret))


def no_keys(capsys: pytest.CaptureFixture[str]) -> bool:
    return run(capsys, "key", "list", "--json")[1].strip() == "[]"


def test_passphrase_file_refuses_dev_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(
        generate_with(capsys, Path("/dev/zero")), "the passphrase file /dev/zero is a character"
    )
    assert no_keys(capsys)


def test_passphrase_file_refuses_a_fifo(capsys: pytest.CaptureFixture[str], fifo: Path) -> None:
    assert_refused(generate_with(capsys, fifo), f"the passphrase file {fifo} is a FIFO")
    assert no_keys(capsys)


def test_passphrase_file_refuses_an_oversized_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "pass"
    secret.write_bytes(b"p" * (SECRET_CAP + 1))
    secret.chmod(0o600)
    assert_refused(generate_with(capsys, secret), f"larger than {SECRET_CAP} bytes")
    assert no_keys(capsys)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602], ids=oct)
def test_passphrase_file_others_can_access_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: int
) -> None:
    secret = tmp_path / "pass"
    secret.write_text("a fine passphrase\n")
    secret.chmod(mode)
    assert_refused(
        generate_with(capsys, secret),
        f"the passphrase file {secret} is accessible by group or others (mode 0{mode:o})",
        f"restrict it with: chmod 600 {secret}",
    )
    assert "a fine passphrase" not in capsys.readouterr().err
    assert no_keys(capsys)


def test_passphrase_file_behind_a_symlink_is_judged_by_its_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = tmp_path / "pass"
    secret.write_text("a fine passphrase\n")
    secret.chmod(0o644)
    link = tmp_path / "link"
    link.symlink_to(secret)  # a symlink's own mode is 0777 and means nothing
    assert_refused(generate_with(capsys, link), "accessible by group or others (mode 0644)")
    secret.chmod(0o600)
    code, _out, err = generate_with(capsys, link)
    assert code == 0, err
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


# -- key import -------------------------------------------------------------------------------


def test_key_import_refuses_special_and_oversized_files(
    capsys: pytest.CaptureFixture[str], fifo: Path, tmp_path: Path
) -> None:
    assert_refused(run(capsys, "key", "import", "k", "/dev/zero"), "the key file /dev/zero is")
    assert_refused(run(capsys, "key", "import", "k", str(fifo)), "is a FIFO")
    big = sparse(tmp_path / "key.pem", KEY_CAP + 1)
    assert_refused(run(capsys, "key", "import", "k", str(big)), f"larger than {KEY_CAP} bytes")
    assert no_keys(capsys)
