"""A manifest's last steps (expiry check, production done) and its TLS decrypt tag rule:
manifest parsing, and :func:`xsudo.provision.postchecks.finish_device` on simulated boards."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xsudo.at.modem import Modem
from xsudo.audit.log import AuditLog
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.provision.expiry import CertExpiryUnsupported
from xsudo.provision.manifest import Finish, ManifestError, check_decrypt_tags, load_manifest
from xsudo.provision.policy import AuthSettings
from xsudo.provision.postchecks import ExpiryCheckFailed, finish_device
from xsudo.provision.session import DeviceSession
from xsudo.sim import PtyServer

Board = Callable[..., PtyServer]
CREDENTIAL = '[[credential]]\ntag = {tag}\ntype = "ca-cert"\nfile = "ca.pem"\n'


def manifest(tmp_path: Path, text: str, tag: int = 100) -> Path:
    (tmp_path / "ca.pem").write_bytes(cert_pem(make_ca(generate_private_key(), "CA")))
    path = tmp_path / "fleet.toml"
    path.write_text(text + CREDENTIAL.format(tag=tag))
    return path


def test_checks_and_finish_are_read(tmp_path: Path) -> None:
    loaded = load_manifest(
        manifest(tmp_path, "[checks]\nexpiry_within_days = 30\n[finish]\nproduction_done = true\n")
    )
    assert loaded.finish == Finish(30, True)
    assert loaded.unknown_keys == ()
    plain = load_manifest(manifest(tmp_path, ""))
    assert plain.finish.empty and not plain.allow_decrypt_tags


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[checks]\nexpiry_within_days = -1\n", "expiry_within_days"),
        ('[checks]\nexpiry_within_days = "30"\n', "expiry_within_days"),
        ("[checks]\nexpiry_within_days = true\n", "expiry_within_days"),
        ('[finish]\nproduction_done = "yes"\n', "production_done"),
        ("[defaults]\nallow_decrypt_tags = 1\n", "allow_decrypt_tags"),
        ("checks = 3\n", "[checks] must be a table"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_manifest(manifest(tmp_path, text))


def test_unknown_keys_in_the_new_tables_are_named(tmp_path: Path) -> None:
    loaded = load_manifest(manifest(tmp_path, "[checks]\nexpiry = 3\n[finish]\ndone = true\n"))
    assert loaded.unknown_keys == ("checks.expiry", "finish.done")


def test_decrypt_tags_need_an_opt_in_only_when_auth_is_required(tmp_path: Path) -> None:
    tag = 2147483648 + 19
    with pytest.raises(ManifestError, match="allow_decrypt_tags"):
        load_manifest(manifest(tmp_path, '[defaults]\nauth = "required"\n', tag))
    auto = load_manifest(manifest(tmp_path, "", tag))
    assert [spec.tag for spec in auto.decrypt_tag_entries] == [tag]
    with pytest.raises(ManifestError, match="TLS decrypt"):
        check_decrypt_tags(auto, "required")  # what --auth required does to the same file
    check_decrypt_tags(auto, "auto")
    opted = load_manifest(
        manifest(tmp_path, '[defaults]\nauth = "required"\nallow_decrypt_tags = true\n', tag)
    )
    check_decrypt_tags(opted, "required")
    beyond = load_manifest(manifest(tmp_path, '[defaults]\nauth = "required"\n', tag + 1))
    assert beyond.decrypt_tag_entries == ()  # not a decrypt tag: refused later, when written


Opened = tuple[DeviceSession, PtyServer]


@pytest.fixture
def session(board: Board, tmp_path: Path) -> Iterator[Callable[..., Opened]]:
    """``session(profile, **options)``: a board on a pty and a session with an audit log."""
    modems: list[Modem] = []

    def open_session(profile: str = "nrf91x1-2.0", **options: object) -> Opened:
        server = board(profile, **options)
        modem = Modem.open(server.path, cmd_type="at", timeout=5)
        modems.append(modem)
        audit = AuditLog(tmp_path / "audit.jsonl")
        return DeviceSession(modem, AuthSettings("never"), audit), server

    yield open_session
    for modem in modems:
        modem.close()


def _store_ca(server: PtyServer, days: int) -> None:
    pem = cert_pem(make_ca(generate_private_key(), "CA", days=days))
    server.board.modem.nvm.credentials[(100, 0)] = pem


def _done(server: PtyServer) -> bool:
    return bool(server.board.modem.nvm.production_done)


def test_expiry_then_production_done(session: Callable[..., Opened]) -> None:
    opened, server = session()
    _store_ca(server, 365)
    records = finish_device(opened, Finish(30, True))
    assert [r["step"] for r in records] == ["expiry", "production-done"]
    assert records[0]["ok"] is True and records[0]["certificates"][0]["tag"] == 100
    assert records[1]["imei"] == "352656100367872"
    assert _done(server)


def test_a_failed_expiry_check_stops_before_production_done(
    session: Callable[..., Opened],
) -> None:
    opened, server = session()
    _store_ca(server, 20)
    with pytest.raises(ExpiryCheckFailed) as caught:
        finish_device(opened, Finish(30, True))
    assert "tag 100 ca-cert expires in" in caught.value.message
    assert caught.value.exit_code == 1
    assert caught.value.outcome is not None and caught.value.outcome["ok"] is False
    assert not _done(server)
    now = datetime.datetime.now(datetime.UTC)
    assert finish_device(opened, Finish(10, False), now=now)[0]["ok"] is True


def test_firmware_without_certexpiry_stops_the_finish(
    session: Callable[..., Opened],
) -> None:
    opened, server = session(certexpiry=False)
    _store_ca(server, 365)
    with pytest.raises(CertExpiryUnsupported):
        finish_device(opened, Finish(30, True))
    assert not _done(server)


def test_nothing_asked_runs_nothing(session: Callable[..., Opened]) -> None:
    opened, server = session()
    assert finish_device(opened, Finish()) == []
    assert not _done(server)


def test_the_library_fleet_run_refuses_decrypt_tags_when_its_own_mode_is_required(
    tmp_path: Path,
) -> None:
    """``xsudo.api.provision(manifest, auth="required")`` on a manifest that says ``auto``: the
    run's mode decides, and the refusal comes before any port is opened (the port named here
    does not exist, so opening it would be a different error)."""
    from xsudo.api import provision

    path = manifest(tmp_path, "", 2147483648)
    with pytest.raises(ManifestError, match="TLS decrypt"):
        provision(path, [str(tmp_path / "no-such-port")], auth="required", home=tmp_path)
