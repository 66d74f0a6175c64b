"""``xsudo demo`` tells the forum story on every simulator profile, and ``--keep`` leaves a
home that works without a prompt."""

from __future__ import annotations

import re
import stat
import tempfile
from pathlib import Path

import pytest

from tests.support.boards import Result
from xsudo.sim.profiles import PROFILES

SHA_MATCH = re.compile(r"sha256sum ([0-9a-f]{24})\.\.\.  modem ([0-9A-F]{24})\.\.\.  match")


@pytest.fixture
def demo_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's temporary homes go here instead of the system temp directory."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_demo_tells_the_story_on_every_profile(xsudo, demo_tmp: Path, profile: str) -> None:
    result: Result = xsudo("demo", "--profile", profile)
    assert result.code == 0, result.err
    out = result.out
    traits = PROFILES[profile].resolved()
    assert PROFILES[profile].mfw in out
    if traits.restricted:  # plain %CMNG=0 refused first, then the same body signed
        assert "modem:  +CME ERROR: 514" in out
    if traits.validate_content:
        assert "modem:  +CME ERROR: 527" in out
    else:  # nRF9160 firmware stores it: the demo says so and names the newer firmware's 527
        assert "modem:  OK" in out and "answers 527" in out
    assert "replaced literal \\n" in out
    assert "modem:  +CME ERROR: 520" in out
    assert "invalid: trailing-lf-signed" in out
    matches = SHA_MATCH.findall(out)
    assert len(matches) == 3
    assert all(local.upper() == listed for local, listed in matches)
    assert out.count("via xsudo") == 3
    assert "hash chain intact" in out
    assert list(demo_tmp.iterdir()) == []  # the home is gone without --keep


def test_default_profile_is_the_nrf9151(xsudo, demo_tmp: Path) -> None:
    result = xsudo("demo")
    assert result.code == 0, result.err
    assert "sim://?profile=nrf9151-2.0" in result.out
    assert PROFILES["nrf9151-2.0"].mfw in result.out
    assert str(demo_tmp) not in result.out  # no temporary path unless --keep


def test_unknown_profile_is_a_usage_error(xsudo, demo_tmp: Path) -> None:
    result = xsudo("demo", "--profile", "nrf9999")
    assert result.code == 2
    assert "nrf9151-2.0" in result.err  # the choices are listed


def test_keep_leaves_a_home_usable_without_a_prompt(
    xsudo, demo_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = xsudo("demo", "--keep")
    assert result.code == 0, result.err
    home = Path(re.search(r"export XSUDO_HOME=(\S+)", result.out).group(1))
    port = re.search(r"export XSUDO_PORT='([^']+)'", result.out).group(1)
    passphrase = Path(re.search(r"--passphrase-file (\S+)", result.out).group(1))
    assert home.parent == demo_tmp and passphrase.parent == home
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    names = sorted(p.name for p in (home / "files").iterdir())
    assert names == ["ca.pem", "client.crt", "client.key"]

    monkeypatch.setenv("XSUDO_HOME", str(home))
    monkeypatch.setenv("XSUDO_PORT", port)
    listed = xsudo("cred", "list")
    assert listed.code == 0, listed.err
    assert "16842754" in listed.out
    signed = xsudo("sign", "--key", "demo", "--passphrase-file", str(passphrase), "%CMNG=1")
    assert signed.code == 0, signed.err
    assert signed.out.startswith("AT%XSUDO=7,")
    verified = xsudo("verify", "--key", "demo", "--file", str(home / "line.txt"))
    assert verified.code == 1  # the mistyped line of the story, diagnosed again
    assert verified.out.strip() == "invalid: trailing-lf-signed"
    audit = xsudo("audit", "verify")
    assert audit.code == 0, audit.err


def test_a_sha_mismatch_fails_the_demo(
    xsudo, demo_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xsudo.cli import demo_story

    real = demo_story._listed_sha

    def tampered(modem, tag, kind):  # type: ignore[no-untyped-def]
        sha = real(modem, tag, kind)
        return sha if kind != demo_story.CredType.CLIENT_KEY else "0" * 64

    monkeypatch.setattr(demo_story, "_listed_sha", tampered)
    result = xsudo("demo")
    assert result.code == 1
    assert "client.key" in result.err and "sha256sum says" in result.err
    assert "Done." not in result.out
    assert list(demo_tmp.iterdir()) == []  # cleaned up on failure too


def test_the_demo_never_prints_private_key_content(xsudo, demo_tmp: Path) -> None:
    """The client key's signed line is shown without its content, armour included."""
    result: Result = xsudo("demo")
    assert result.code == 0, result.err
    assert "PRIVATE KEY" not in result.out + result.err
    assert '%CMNG=0,16842754,2,"<private key>" (' in result.out
