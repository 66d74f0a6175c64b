"""``xsudo demo``: the main job, end to end, on the built-in simulator.

No board and no setup: a temporary home, the ``locked`` simulator profile in-process (a
future firmware whose ``%CMNG`` writes require ``%XSUDO``), a new key, its upload, a plain
write refused with 514, a CA certificate and a client certificate and key written with
XSUDO and verified by SHA, and the audit log verified.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
from pathlib import Path

import click
from rich.console import Console

from xsudo.at.modem import Modem
from xsudo.audit.log import AuditLog
from xsudo.ca import cert_pem
from xsudo.cli.output import stdout_console
from xsudo.content import CredType, preflight
from xsudo.errors import XsudoError
from xsudo.keys import KeyStore, PassphraseSource
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem
from xsudo.provision.keyslots import upload_key
from xsudo.provision.policy import AuthenticationRequired, AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter

CA_TAG = 16842753
CLIENT_TAG = 16842754
KEY_NAME = "demo"


class _InMemoryPassphrase(PassphraseSource):
    """A random passphrase that lives only in this process (for the throwaway demo key)."""

    def __init__(self) -> None:
        super().__init__(interactive=False)
        self._secret = secrets.token_urlsafe(24).encode("ascii")

    def get(self, purpose: str, *, confirm: bool = False) -> bytes:
        return self._secret


def _step(console: Console, number: int, title: str) -> None:
    console.print(f"\n[bold cyan]{number}.[/] [bold]{title}[/]")


def _ok(console: Console, text: str) -> None:
    console.print(f"   [green]✓[/] {text}", highlight=False)


def _info(console: Console, text: str) -> None:
    console.print(f"   {text}", highlight=False, markup=False)


@click.command()
@click.option("--keep", is_flag=True, help="Keep the home and the simulator state to explore.")
@click.option(
    "--profile",
    default="locked",
    show_default=True,
    help="Simulator profile (locked, nrf91x1-2.0, nrf9160-1.3, nrf9151-ntn).",
)
def demo(keep: bool, profile: str) -> None:
    """Run the whole provisioning job on the built-in simulator (no board needed)."""
    console = stdout_console()
    home = Path(tempfile.mkdtemp(prefix="xsudo-demo-"))
    try:
        _run(console, home, profile, keep)
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def _run(console: Console, home: Path, profile: str, keep: bool) -> None:
    state = home / "board.json"
    port = f"sim://?profile={profile}&state={state}"
    passphrase = PassphraseSource() if keep else _InMemoryPassphrase()
    store = KeyStore(home, passphrase)
    audit = AuditLog.in_home(home)
    console.print(f"[bold]xsudo demo[/] on the simulator: {port}", highlight=False)

    with Modem.open(port) as modem:
        _step(console, 1, "The board")
        identity = modem.identity()
        _info(console, f"{identity.model}, firmware {identity.mfw}, IMEI {identity.imei}")
        if profile == "locked":
            _info(console, "profile 'locked': a future firmware where %CMNG writes need XSUDO")

        _step(console, 2, "A P-256 signing key, kept encrypted")
        record = store.generate(KEY_NAME, store="file")
        _ok(
            console,
            f"key '{KEY_NAME}' in the encrypted file store, fingerprint "
            f"{record.fingerprint[:16]}...",
        )

        session = DeviceSession(modem, AuthSettings("never"), audit, identity)
        _step(console, 3, "Upload its public key with AT%XPMNG, read it back")
        upload = upload_key(
            session,
            KEY_NAME,
            store.public_key(KEY_NAME),
            0,
            replace=False,
            signer_for=lambda _fp: None,
        )
        _ok(console, f"slot {upload.slot} holds {KEY_NAME} (fingerprints match)")

        ca_key = new_ec_key()
        ca_cert = make_ca(ca_key, "xsudo demo CA")
        client_key = new_ec_key()
        client_cert = issue_client_cert(
            ca_key, ca_cert, client_key.public_key(), f"nrf-{identity.imei}"
        )
        files = {
            (CA_TAG, CredType.CA_CERT): cert_pem(ca_cert),
            (CLIENT_TAG, CredType.CLIENT_CERT): cert_pem(client_cert),
            (CLIENT_TAG, CredType.CLIENT_KEY): private_key_pem(client_key),
        }

        _step(console, 4, "A plain AT%CMNG write (no signature)")
        plain = CredentialWriter(session)
        ca_item = preflight(files[(CA_TAG, CredType.CA_CERT)], CredType.CA_CERT, CA_TAG)
        try:
            plain.write(ca_item)
            _info(console, "accepted: this firmware does not require authentication")
        except AuthenticationRequired:
            _ok(console, "refused with +CME ERROR: 514, as the firmware demands")

        _step(console, 5, "Write a CA certificate, a client certificate and its key with XSUDO")
        signed = DeviceSession(
            modem, AuthSettings("required", store.signer(KEY_NAME), None), audit, identity
        )
        writer = CredentialWriter(signed)
        for (tag, kind), raw in files.items():
            result = writer.write(preflight(raw, kind, tag))
            line = signed.last_signed.line if signed.last_signed else ""
            _ok(console, f"{result.action} tag {tag} {kind.label} via {result.auth}")
            _info(console, f'  {line[: line.index(";") + 1]}%CMNG=0,{tag},{int(kind)},"..."')

        _step(console, 6, "List the modem's SHAs and compare with sha256sum of each file")
        listed = {(e.tag, e.type): e.sha for e in modem.cmng_list()}
        for (tag, kind), raw in files.items():
            expected = hashlib.sha256(raw).hexdigest().upper()
            if listed.get((tag, int(kind))) != expected:
                raise XsudoError(f"the modem lists a different SHA for tag {tag} {kind.label}")
            _ok(console, f"tag {tag} {kind.label:<12} {expected[:32]}... matches")

    _step(console, 7, "The audit log")
    report = audit.verify()
    if not report.ok:
        raise XsudoError(f"the audit log does not verify: {report.reason}")
    _ok(console, f"{report.count} records, hash chain intact")
    _finish(console, home, port, keep)


def _finish(console: Console, home: Path, port: str, keep: bool) -> None:
    console.print(
        "\n[bold green]Done.[/] The credentials were written with XSUDO and proven by SHA.",
        highlight=False,
    )
    if keep:
        console.print(
            f"\nKept for exploring:\n  export XSUDO_HOME={home}\n"
            f"  export XSUDO_PORT='{port}'\n"
            "  xsudo cred list; xsudo device info --key demo; xsudo audit show",
            highlight=False,
            markup=False,
        )
