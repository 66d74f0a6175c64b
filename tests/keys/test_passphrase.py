"""Where passphrases come from, in which order, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from xsudo.errors import BadInputError
from xsudo.keys import IMPORT_PASSPHRASE_ENV, PassphraseSource


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
    path.write_bytes(content)
    assert PassphraseSource(path, interactive=False).get("passphrase") == expected


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p"
    path.write_bytes(content)
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
        "or pass --passphrase-file FILE (the passphrase on its first line)"
    )


def test_import_source_uses_its_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "store secret")
    source = PassphraseSource(
        interactive=False, env_var=IMPORT_PASSPHRASE_ENV, file_option="--source-passphrase-file"
    )
    with pytest.raises(BadInputError, match=r"XSUDO_IMPORT_PASSPHRASE.*--source-passphrase-file"):
        source.get("passphrase of the key file")
    monkeypatch.setenv(IMPORT_PASSPHRASE_ENV, "import secret")
    assert source.get("passphrase of the key file") == b"import secret"


def test_without_a_terminal_nothing_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError("prompted without a terminal")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    assert not PassphraseSource().can_prompt()  # pytest's stdin is not a terminal
    with pytest.raises(BadInputError, match="no terminal"):
        PassphraseSource().get("passphrase")
