"""Where passphrases come from, in which order, and what is refused."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.keys.conftest import write_secret
from xsudo.cli.hints import cli_text
from xsudo.errors import BadInputError, InsecureStoreError
from xsudo.keys import IMPORT_PASSPHRASE_ENV, PassphraseSource, pin_source


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"secret\n", b"secret"),
        (b"secret\r\n", b"secret"),
        (b"secret", b"secret"),
        (b"secret\n\n", b"secret\n"),
        (b" spaced out \n", b" spaced out "),
        ("gr\u00fc\u00dfe\n".encode(), "gr\u00fc\u00dfe".encode()),
    ],
)
def test_file_loses_exactly_one_line_end(tmp_path: Path, content: bytes, expected: bytes) -> None:
    path = tmp_path / "p"
    write_secret(path, content)
    assert PassphraseSource(path, interactive=False).get("passphrase") == expected


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p"
    write_secret(path, content)
    with pytest.raises(BadInputError, match="is empty"):
        PassphraseSource(path, interactive=False).get("passphrase")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read the passphrase file"):
        PassphraseSource(tmp_path / "nope", interactive=False).get("passphrase")


def test_env_then_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    source = PassphraseSource(interactive=False)
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "env secret")
    assert source.get("passphrase") == b"env secret"
    monkeypatch.delenv("XSUDO_KEY_PASSPHRASE")
    with pytest.raises(BadInputError) as caught:
        source.get("passphrase for key 'k'")
    assert str(caught.value) == (
        "no passphrase for key 'k' given and no terminal to ask on; set XSUDO_KEY_PASSPHRASE, "
        "or give passphrase_file (a file with the passphrase on its first line)"
    )
    assert cli_text(caught.value) == (  # the remedy in CLI words: what the CLI always said
        "no passphrase for key 'k' given and no terminal to ask on; set XSUDO_KEY_PASSPHRASE, "
        "or pass --passphrase-file FILE (the passphrase on its first line)"
    )


def test_import_source_uses_its_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "store secret")
    source = PassphraseSource(
        interactive=False, env_var=IMPORT_PASSPHRASE_ENV, file_param="source_passphrase_file"
    )
    with pytest.raises(
        BadInputError, match=r"XSUDO_IMPORT_PASSPHRASE.*source_passphrase_file"
    ) as caught:
        source.get("passphrase of the key file")
    assert "pass --source-passphrase-file FILE" in cli_text(caught.value)
    monkeypatch.setenv(IMPORT_PASSPHRASE_ENV, "import secret")
    assert source.get("passphrase of the key file") == b"import secret"


def test_without_a_terminal_nothing_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError("prompted without a terminal")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    assert not PassphraseSource().can_prompt()  # pytest's stdin is not a terminal
    with pytest.raises(BadInputError, match="no terminal"):
        PassphraseSource().get("passphrase")


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
@pytest.mark.parametrize(
    ("source", "what"),
    [
        (lambda path: PassphraseSource(path, interactive=False), "the passphrase file"),
        (lambda path: pin_source(path), "the PIN file"),
    ],
    ids=["passphrase", "pin"],
)
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_file_others_can_access_is_refused_like_a_key_file(
    tmp_path: Path, source: Callable[[Path], PassphraseSource], what: str, mode: int
) -> None:
    path = write_secret(tmp_path / "secret", "1234\n")
    path.chmod(mode)
    with pytest.raises(InsecureStoreError) as caught:
        source(path).get("secret")
    assert str(caught.value) == (
        f"{what} {path} is accessible by group or others (mode 0{mode:o}); "
        f"restrict it with: chmod 600 {path}"
    )
    assert caught.value.exit_code == 2
    path.chmod(0o600)
    assert source(path).get("secret") == b"1234"


@pytest.mark.timeout(30)
@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_fifo_and_device_and_oversized_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(BadInputError, match=r"the PIN file .* is a FIFO"):
        pin_source(fifo).get("PIN")
    with pytest.raises(BadInputError, match="the passphrase file /dev/zero is a character device"):
        PassphraseSource(Path("/dev/zero"), interactive=False).get("passphrase")
    big = write_secret(tmp_path / "big", b"p" * 4097)
    with pytest.raises(BadInputError, match="is larger than 4096 bytes"):
        PassphraseSource(big, interactive=False).get("passphrase")
    assert PassphraseSource(write_secret(big, b"p" * 4096), interactive=False).get("x") == (
        b"p" * 4096
    )
