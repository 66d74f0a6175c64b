"""A manifest's ``{imei}`` template never leads outside the manifest's directory.

A board that answered ``+CGSN`` with ``../../../secret/hostkey`` once made ``provision``
read a host file through ``file = "certs/{imei}.key"``. Whatever the modem layer accepts as
an IMEI, the template expansion itself refuses a filled-in path that is absolute, has a
``..`` component, or resolves (symlinks followed) outside the manifest's directory.
Untemplated paths are used as written, as before. Every file the manifest names, and the
manifest itself, is read only when it is a regular file of bounded size.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.provision.manifest import (
    ManifestError,
    load_manifest,
    prepare_device,
    resolve_file,
)

pytestmark = pytest.mark.timeout(30)

GOOD_IMEI = "352656100367872"


@pytest.fixture
def pem() -> bytes:
    return cert_pem(make_ca(generate_private_key(), "some CA"))


@pytest.fixture
def fleet(tmp_path: Path, pem: bytes) -> Path:
    """``fleet/`` (the manifest's directory, with ``certs/<GOOD_IMEI>.pem``) next to
    ``secret/hostkey.pem``, a valid PEM the manifest must never reach by template."""
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "hostkey.pem").write_bytes(pem)
    (tmp_path / "fleet" / "certs").mkdir(parents=True)
    (tmp_path / "fleet" / "certs" / f"{GOOD_IMEI}.pem").write_bytes(pem)
    return tmp_path / "fleet"


def manifest_with(directory: Path, file: str) -> Path:
    path = directory / "fleet.toml"
    path.write_text(f'[[credential]]\ntag = 100\ntype = "ca-cert"\nfile = {file!r}\n')
    return path


def refused(manifest: Path, imei: str, why: str) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        prepare_device(load_manifest(manifest), imei, signing=False)
    message = str(caught.value)
    assert f"{manifest}: [[credential]] #1 file " in message
    assert why in message, message
    assert "\n" not in message
    assert caught.value.exit_code == 2
    return caught.value


def test_good_imei_still_resolves_inside(fleet: Path, pem: bytes) -> None:
    manifest = load_manifest(manifest_with(fleet, "certs/{imei}.pem"))
    (prepared,) = prepare_device(manifest, GOOD_IMEI, signing=False)
    assert prepared.path == fleet / "certs" / f"{GOOD_IMEI}.pem"


@pytest.mark.parametrize(
    "imei",
    ["../../secret/hostkey", "x/../../../secret/hostkey", "..\\..\\secret\\hostkey"],
    ids=["dotdot", "dotdot-after-name", "windows-separators"],
)
def test_imei_with_dotdot_is_refused(fleet: Path, imei: str) -> None:
    error = refused(manifest_with(fleet, "certs/{imei}.pem"), imei, "has a '..' component")
    assert f"for IMEI {imei!r}" in str(error)


def test_absolute_path_from_the_template_is_refused(fleet: Path, tmp_path: Path) -> None:
    imei = str(tmp_path / "secret" / "hostkey")
    refused(manifest_with(fleet, "{imei}.pem"), imei, "it is an absolute path")
    refused(manifest_with(fleet, "{imei}"), "C:\\secret\\hostkey.pem", "it is an absolute path")


def test_dotdot_in_the_template_itself_is_refused(fleet: Path) -> None:
    refused(manifest_with(fleet, "../secret/{imei}.pem"), "hostkey", "has a '..' component")


def test_symlinked_directory_leading_outside_is_refused(fleet: Path, tmp_path: Path) -> None:
    (fleet / "linked").symlink_to(tmp_path / "secret", target_is_directory=True)
    refused(
        manifest_with(fleet, "linked/{imei}.pem"),
        "hostkey",
        "it resolves outside the manifest's directory",
    )


def test_symlinked_file_leading_outside_is_refused(fleet: Path, tmp_path: Path) -> None:
    (fleet / "certs" / "999.pem").symlink_to(tmp_path / "secret" / "hostkey.pem")
    refused(manifest_with(fleet, "certs/{imei}.pem"), "999", "resolves outside")


def test_symlink_inside_the_directory_is_fine(fleet: Path) -> None:
    (fleet / "certs" / "111.pem").symlink_to(fleet / "certs" / f"{GOOD_IMEI}.pem")
    manifest = load_manifest(manifest_with(fleet, "certs/{imei}.pem"))
    (prepared,) = prepare_device(manifest, "111", signing=False)
    assert prepared.item is not None


def test_control_characters_in_the_imei_stay_on_one_line(fleet: Path) -> None:
    error = refused(manifest_with(fleet, "certs/{imei}.pem"), "../\n../x\x1b[2J", "'..'")
    assert "\\n" in str(error) and "\x1b" not in str(error)


def test_resolve_file_refuses_before_anything_is_read(fleet: Path) -> None:
    manifest = load_manifest(manifest_with(fleet, "certs/{imei}.pem"))
    with pytest.raises(ManifestError, match=r"has a '\.\.' component"):
        resolve_file(manifest, manifest.credentials[0], "../../secret/hostkey")


@pytest.mark.parametrize(
    "file", ["../secret/hostkey.pem", "ABSOLUTE"], ids=["relative-up", "absolute"]
)
def test_untemplated_paths_keep_todays_behaviour(fleet: Path, tmp_path: Path, file: str) -> None:
    if file == "ABSOLUTE":
        file = str(tmp_path / "secret" / "hostkey.pem")
    manifest = load_manifest(manifest_with(fleet, file))
    (prepared,) = prepare_device(manifest, GOOD_IMEI, signing=False)
    assert prepared.item is not None


# -- the manifest and its files are capped regular files --------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")
def test_manifest_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fleet.toml"
    os.mkfifo(fifo)
    for path, why in ((fifo, "is a FIFO"), (Path("/dev/zero"), "is a character device")):
        with pytest.raises(ManifestError, match=why) as caught:
            load_manifest(path)
        assert f"the manifest {path}" in str(caught.value)
        assert caught.value.exit_code == 2


def test_oversized_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    with path.open("wb") as handle:
        handle.truncate(1024 * 1024 + 1)
    with pytest.raises(ManifestError, match="is larger than 1048576 bytes"):
        load_manifest(path)


def test_deeply_nested_manifest_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("x = " + "[" * 100_000)
    with pytest.raises(ManifestError, match="is not valid TOML") as caught:
        load_manifest(path)
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_credential_file_that_is_a_fifo_is_refused(fleet: Path) -> None:
    os.mkfifo(fleet / "certs" / "222.pem")
    manifest = load_manifest(manifest_with(fleet, "certs/{imei}.pem"))
    with pytest.raises(ManifestError) as caught:
        prepare_device(manifest, "222", signing=False)
    assert str(caught.value).startswith("credential #1 for IMEI 222: the file ")
    assert "is a FIFO" in str(caught.value)


def test_oversized_credential_file_is_refused(fleet: Path) -> None:
    with (fleet / "certs" / "333.pem").open("wb") as handle:
        handle.truncate(256 * 1024 + 1)
    manifest = load_manifest(manifest_with(fleet, "certs/{imei}.pem"))
    with pytest.raises(ManifestError, match="is larger than 262144 bytes"):
        prepare_device(manifest, "333", signing=False)
