"""``xsudo sign`` warns about literal ``\\n`` with a fix that fits where the body came from."""

from __future__ import annotations

from pathlib import Path

from tests.support.boards import Result

BODY = '%CMNG=0,1,0,"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"'


def _key(xsudo, tmp_path: Path) -> Path:
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text("correct horse battery staple\n")
    passphrase.chmod(0o600)
    made = xsudo("key", "generate", "w", "--store", "file", "--passphrase-file", str(passphrase))
    assert made.code == 0, made.err
    return passphrase


def test_argument_body_is_told_to_use_a_body_file(xsudo, tmp_path: Path) -> None:
    passphrase = _key(xsudo, tmp_path)
    result: Result = xsudo("sign", "--key", "w", "--passphrase-file", str(passphrase), BODY)
    assert result.code == 0, result.err
    assert "two characters \\n" in result.err
    assert "--body-file" in result.err


def test_body_file_is_told_to_fix_the_file(xsudo, tmp_path: Path) -> None:
    passphrase = _key(xsudo, tmp_path)
    body = tmp_path / "cmd.txt"
    body.write_text(BODY)
    result = xsudo(
        "sign", "--key", "w", "--passphrase-file", str(passphrase), "--body-file", str(body)
    )
    assert result.code == 0, result.err
    assert "two characters \\n" in result.err
    assert "cmd.txt" in result.err
    assert "--body-file" not in result.err  # it was used: telling to use it is no fix
    assert "in the file" in result.err


def test_real_line_breaks_give_no_warning(xsudo, tmp_path: Path) -> None:
    passphrase = _key(xsudo, tmp_path)
    body = tmp_path / "cmd.txt"
    body.write_text(BODY.replace("\\n", "\n"))
    result = xsudo(
        "sign", "--key", "w", "--passphrase-file", str(passphrase), "--body-file", str(body)
    )
    assert result.code == 0, result.err
    assert "two characters" not in result.err
