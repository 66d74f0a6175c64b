"""The story ``xsudo demo`` tells, step by step, on one simulated board.

It is the forum thread most users arrive with, replayed on the simulator:

1. the board, and a throwaway P-256 key whose public half goes to slot 0 (``%XPMNG``);
2. a certificate typed with literal ``\\n`` and sent as typed: nRF91x1 firmware from 2.0.2
   answers ``+CME ERROR: 527`` (nRF9160 firmware stores it and lists a SHA no file has);
   ``xsudo`` repairs the content and the write goes through;
3. a line signed the way Nordic's OpenSSL recipe is usually mistyped (the command file made
   with ``echo``, so its trailing newline is signed): ``+CME ERROR: 520``, and
   ``xsudo verify`` names the cause (``trailing-lf-signed``);
4. xsudo's own signed writes, then the proof: the SHA-256 of each canonical file (what
   ``sha256sum`` prints) equals the SHA the modem lists; last, the audit log verifies.

Every step reacts to what the modem answered, never to the profile's name, so the same code
runs on every simulator profile. Modem text is shown through :func:`printable`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from xsudo.at import commands
from xsudo.at.modem import Modem
from xsudo.at.results import AtResponse
from xsudo.atomic import write_atomic
from xsudo.audit.log import AuditLog
from xsudo.ca import cert_pem
from xsudo.cli.output import printable
from xsudo.command import command_name, xsudo_line_for_checked_body
from xsudo.content import CredType, Preflight, preflight
from xsudo.crypto import fingerprint
from xsudo.diagnose import verify_line
from xsudo.encoding import b64encode, encode
from xsudo.errors import XsudoError
from xsudo.keys import KeyStore
from xsudo.labpki import issue_client_cert, make_ca, new_ec_key, private_key_pem
from xsudo.provision.keyslots import upload_key
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter
from xsudo.signing import Signer, sign_command

CA_TAG = 16842753
CLIENT_TAG = 16842754
KEY_NAME = "demo"
LINE_FILE = "line.txt"
"""The mistyped line of step 4, kept in the demo's home."""
SHOWN = 80
"""Characters of a long line the demo prints before ``...``."""


@dataclass
class Story:
    """What one run of the demo works with, and what it has written so far."""

    console: Console
    modem: Modem
    store: KeyStore
    audit: AuditLog
    files_dir: Path
    written: dict[str, Preflight] = field(default_factory=dict)
    """File name -> the canonical content written to the modem (for the SHA step)."""


def step(console: Console, number: int, title: str) -> None:
    """A numbered heading."""
    console.print(f"\n[bold cyan]{number}.[/] [bold]{title}[/]", highlight=False)


def ok(console: Console, text: str) -> None:
    """A line that reports success (``text`` is printed without markup)."""
    console.print("   [green]✓[/] ", end="", highlight=False)
    console.print(text, highlight=False, markup=False)


def info(console: Console, text: str) -> None:
    """An indented plain line (no markup)."""
    console.print(f"   {text}", highlight=False, markup=False)


def shorten(line: bytes, *, signed: bool = False) -> str:
    """The start of a long line as printable text, with its length when cut.

    A ``signed`` (``%XSUDO``) line keeps the start of its signature and of the command
    after ``;``.
    A line break byte shows as ``\\x0a``, the two characters ``\\n`` as they are. Private
    key content is never shown, not even its armour: it becomes ``"<private key>"``.
    """
    text = printable(line.decode("latin-1"))
    secret = text.find('"-----BEGIN ')
    hidden = secret >= 0 and "PRIVATE KEY-----" in text[secret : secret + 48]
    if hidden:
        text = f'{text[: secret + 1]}<private key>"'
    elif len(text) <= SHOWN:
        return text
    head, quote_semicolon, body = text.partition('";')
    if signed and quote_semicolon:
        prefix, _, signature = head.partition(',"')
        text = f'{prefix},"{signature[:12]}...";{body}'
    if hidden:
        return f"{text} ({len(line)} bytes)"
    cut = text[:SHOWN]
    escape = cut.rfind("\\x")
    if escape > SHOWN - 4:  # never half an escape
        cut = cut[:escape]
    return f"{cut}... ({len(line)} bytes)"


def reply_of(response: AtResponse) -> str:
    """The modem's final result code, safe to print."""
    return printable(response.final)


def run_story(story: Story) -> None:
    """Steps 1-7 (the module contract). Raises :class:`XsudoError` if the story breaks."""
    console, modem = story.console, story.modem
    step(console, 1, "The board")
    identity = modem.identity()
    info(console, f"{identity.model}, firmware {identity.mfw}, IMEI {identity.imei}")

    step(console, 2, "A P-256 signing key, its public half uploaded with AT%XPMNG")
    record = story.store.generate(KEY_NAME, store="file")
    ok(
        console,
        f"key '{KEY_NAME}' (encrypted file store), fingerprint {record.fingerprint[:16]}...",
    )
    session = DeviceSession(modem, AuthSettings("never"), story.audit, identity)
    public_key = story.store.public_key(KEY_NAME)
    upload = upload_key(session, KEY_NAME, public_key, 0, replace=False, signer_for=lambda _: None)
    ok(console, f"slot {upload.slot} holds '{KEY_NAME}' (read back, fingerprints match)")

    signer = story.store.signer(KEY_NAME)
    signed = DeviceSession(modem, AuthSettings("auto", signer, None), story.audit, identity)
    writer = CredentialWriter(signed)
    ca_key = new_ec_key()
    ca_cert = make_ca(ca_key, "xsudo demo CA")
    client_key = new_ec_key()
    client_cert = issue_client_cert(
        ca_key, ca_cert, client_key.public_key(), f"nrf-{identity.imei}"
    )

    step(console, 3, "A CA certificate typed with literal \\n, sent as typed")
    _literal_newlines(story, writer, signer, cert_pem(ca_cert))

    client_item = preflight(cert_pem(client_cert), CredType.CLIENT_CERT, CLIENT_TAG)
    step(console, 4, "A line signed with Nordic's OpenSSL recipe, cmd.txt made with echo")
    _recipe_mistyped(story, signer, client_item)

    step(console, 5, "xsudo signs the client certificate and its key")
    key_item = preflight(private_key_pem(client_key), CredType.CLIENT_KEY, CLIENT_TAG)
    for name, item in (("client.crt", client_item), ("client.key", key_item)):
        _write(story, writer, name, item)
        last = signed.last_signed
        if last is not None:
            info(console, f"  {shorten(last.xsudo.render(), signed=True)}")

    step(console, 6, "sha256sum of each canonical file against the SHA the modem lists")
    _compare_shas(story)

    step(console, 7, "The audit log")
    report = story.audit.verify()
    if not report.ok:
        raise XsudoError(f"the audit log does not verify: {report.reason}")
    ok(console, f"{report.count} records, hash chain intact")


def _literal_newlines(story: Story, writer: CredentialWriter, signer: Signer, pem: bytes) -> None:
    """Step 3: the PEM as a terminal user types it, sent raw; then the repaired write."""
    console = story.console
    typed = pem.rstrip(b"\n").replace(b"\n", b"\\n")
    body = commands.cmng_write(CA_TAG, int(CredType.CA_CERT), typed).body()
    line = b"AT" + body
    info(console, f"sent:   {shorten(line)}")
    response = story.modem.send_line(line, check=False)
    info(console, f"modem:  {reply_of(response)}")
    if (
        response.result is not None
        and response.result.kind == "CME"
        and response.result.code == 514
    ):
        info(console, "        this firmware wants %XSUDO for %CMNG writes; the same body, signed:")
        signed = sign_command(body, signer)
        story.audit.append("sign", **signed.audit_fields(), result="signed")
        line = signed.xsudo.render()
        info(console, f"sent:   {shorten(line, signed=True)}")
        response = story.modem.send_line(line, check=False)
        info(console, f"modem:  {reply_of(response)}")
    if response.final == "+CME ERROR: 527":
        info(console, "        527: not a valid certificate. The modem takes \\n as the two")
        info(
            console, "        characters '\\' and 'n': the PEM has no line breaks. Nothing stored."
        )
    elif response.ok:
        listed = _listed_sha(story.modem, CA_TAG, CredType.CA_CERT)
        info(console, "        this firmware stores content unchecked: it now lists")
        info(console, f"        SHA {listed[:16]}..., which is no certificate's SHA; the TLS")
        info(console, "        handshake fails later. nRF91x1 firmware from 2.0.2 answers 527.")
    item = preflight(typed, CredType.CA_CERT, CA_TAG)
    for repair in item.repairs:
        ok(console, f"xsudo repaired it: {repair.message}")
    _write(story, writer, "ca.pem", item)


def _recipe_mistyped(story: Story, signer: Signer, item: Preflight) -> None:
    """Step 4: the signature covers the command plus the LF ``echo`` adds; 520, diagnosed."""
    console = story.console
    body = commands.cmng_write(item.tag, int(item.cred_type), item.content).body()
    digest = hashlib.sha256(body + b"\n").digest()  # what `openssl sha256 -binary cmd.txt` hashed
    r, s = signer.sign_digest(digest)
    story.audit.append(  # every signature made with the key is recorded, this one too
        "sign",
        key_name=signer.name,
        key_fingerprint=fingerprint(signer.public_key()),
        command=command_name(body),
        data_len=len(body),
        signed_sha256=digest.hex(),
        encoding="der",
        slot=None,
        result="signed",
    )
    line = xsudo_line_for_checked_body(body, b64encode(encode("der", r, s)), None).render()
    info(console, "echo '<command>' > cmd.txt; openssl sha256 -binary cmd.txt > dgst;")
    info(console, "openssl pkeyutl -sign -inkey demo.pem -in dgst -out sig.der")
    info(console, f"sent:   {shorten(line, signed=True)}")
    response = story.modem.send_line(line, check=False)
    info(console, f"modem:  {reply_of(response)}")
    write_atomic(story.files_dir.parent / LINE_FILE, line, durable=False)  # for --keep
    verdict = verify_line(line, signer.public_key())
    if verdict.valid:
        raise XsudoError("the mistyped line verifies offline; the demo expected it not to")
    info(console, "        520: the signature does not verify over what the modem hashes.")
    ok(console, f"xsudo verify --key {KEY_NAME} --file {LINE_FILE} names the cause:")
    info(console, f"  invalid: {', '.join(verdict.diagnosis)}")
    info(console, f"  {verdict.message}")
    for fix in verdict.fixes:
        info(console, f"  fix: {fix}")


def _write(story: Story, writer: CredentialWriter, name: str, item: Preflight) -> None:
    """One write through xsudo's writer; the canonical file is kept for the SHA step."""
    result = writer.write(item, replace=True)
    if not result.ok:
        raise result.refusal()
    write_atomic(story.files_dir / name, item.content, durable=False)
    story.written[name] = item
    ok(
        story.console,
        f"{result.action} tag {item.tag} {item.cred_type.label} from {name} via "
        f"{result.auth} ({result.auth_reason})",
    )


def _compare_shas(story: Story) -> None:
    """Step 6: sha256 of each file written (lower case, as sha256sum) against the list."""
    for name, item in story.written.items():
        local = hashlib.sha256((story.files_dir / name).read_bytes()).hexdigest()
        listed = _listed_sha(story.modem, item.tag, item.cred_type)
        if listed != local.upper():
            raise XsudoError(f"the modem lists SHA {listed} for {name}, sha256sum says {local}")
        ok(story.console, f"{name:<10}  sha256sum {local[:24]}...  modem {listed[:24]}...  match")


def _listed_sha(modem: Modem, tag: int, kind: CredType) -> str:
    """The SHA the modem lists for ``(tag, kind)`` (upper case), ``""`` when none."""
    for entry in modem.cmng_list(tag, int(kind)):
        if entry.type == int(kind) and entry.sha:
            return printable(entry.sha.upper())
    return ""
