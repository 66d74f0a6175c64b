"""The root ``xsudo`` group and the table of every command.

Commands are loaded lazily (:mod:`xsudo.cli.lazy`): the table below names, for each command,
the module it lives in and the first paragraph of its help, so ``xsudo --help`` and
``xsudo GROUP --help`` import no command module, and ``xsudo COMMAND ...`` imports only that
command's. The groups (``audit``, ``ca``, ``cred``, ``device``, ``key``) are defined here: they
have no options and no code of their own. ``tests/cli/test_startup_imports.py`` checks the
table against the real commands (names, help, no command left out) and what ``--help`` may
import.

A new command: write it in its module as a plain ``@click.command()`` and add one line to
its group's table here, with its help's first paragraph.

``sim://`` ports: neither this module nor the AT layer imports the simulator. Every port the
command line opens is opened by the library (:func:`xsudo.api.connect` for one device,
:func:`xsudo.api.provision` for a fleet), which loads the simulator and registers the scheme
only for a ``sim://`` URL; ``xsudo demo`` imports the simulator itself. So ``xsudo --help``
and commands that open no port load neither pyserial nor the simulator.
"""

from __future__ import annotations

from pathlib import Path

import click

from xsudo import __version__
from xsudo.cli.lazy import LazyCommand, LazyGroup


def _command(target: str, summary: str) -> LazyCommand:
    return LazyCommand(f"xsudo.cli.{target}", summary)


audit = LazyGroup(
    "audit",
    help="Check and show the audit log of signatures and device writes.",
    commands={
        "checkpoint": _command(
            "audit:checkpoint",
            "Sign the head of the log (FILE, default: the home's audit.jsonl) with a key of "
            "any store, append it as a checkpoint record, and copy it to FILE.checkpoints.",
        ),
        "show": _command("audit:show", "List the records."),
        "verify": _command(
            "audit:verify",
            "Check the hash chain of FILE (default: the home's audit.jsonl), the expected "
            "head and every signed checkpoint; exit 1 if anything fails.",
        ),
    },
)

ca = LazyGroup(
    "ca",
    help="Test and lab certificate authorities (not for production PKI).",
    commands={
        "create": _command(
            "ca:create",
            "Create a lab CA: a new P-256 key NAME in the key store and a self-signed CA "
            "certificate for it.",
        ),
    },
)

cred = LazyGroup(
    "cred",
    help="List, write, delete and check credentials (AT%CMNG).",
    commands={
        "check": _command(
            "cred:check",
            "Does the modem hold FILE at TAG/TYPE? Compares SHAs (read-only) and names the "
            "writer convention that matches: canonical, stripped (trailing newline removed), "
            "crlf, ...",
        ),
        "delete": _command(
            "cred:delete",
            "Delete one credential (--tag and --type), or all of them (--all [--tag T]).",
        ),
        "expiry": _command(
            "cred:expiry",
            "Serial, validity and days left of every certificate on the modem (AT%CERTEXPIRY, "
            "read-only).",
        ),
        "issue": _command(
            "keygen:issue",
            "Generate a key on the modem, sign its CSR with a CA key from the key store, and "
            "write the certificate as the tag's client certificate (verified by SHA, audited).",
        ),
        "keygen": _command(
            "keygen:keygen",
            "Generate a client key on the modem (AT%KEYGEN) and check the CSR it returns.",
        ),
        "list": _command(
            "cred:list_",
            "List stored credentials with their SHA-256 (read-only: CFUN is not changed).",
        ),
        "write": _command(
            "cred:write", "Write FILE as a credential, normalised, validated and verified by SHA."
        ),
    },
)

device = LazyGroup(
    "device",
    help="Inspect a modem and manage its XSUDO public keys (AT%XPMNG).",
    commands={
        "attest": _command(
            "attest:attest",
            "Read the device attestation token (AT%ATTESTTOKEN) and check it (read-only).",
        ),
        "info": _command(
            "device:info",
            "Identity, CFUN, XPMNG slots and whether authenticated access works (read-only).",
        ),
        "probe": _command(
            "probe:probe",
            "Find out what this board's firmware does and write it as a simulator profile.",
        ),
        "production-done": _command(
            "device:production_done",
            "Mark customer production as done (AT%XPRODDONE). IRREVERSIBLE: the modem then "
            "refuses older modem firmware.",
        ),
        "upload-key": _command(
            "device:upload_key_command",
            "Upload a key's public half to an XPMNG slot, then read it back and compare.",
        ),
    },
)

key = LazyGroup(
    "key",
    help="Manage EC P-256 signing keys (OS keychain, encrypted file, PKCS#11 token, or an "
    "external signer command).",
    commands={
        "delete": _command("key:delete", "Delete key NAME (its private key cannot be recovered)."),
        "export": _command(
            "key:export", "Print the public key of NAME as PEM (what AT%XPMNG takes)."
        ),
        "generate": _command("key:generate", "Create a new P-256 key called NAME."),
        "import": _command("key:import_", "Import the P-256 private key in FILE as NAME."),
        "import-command": _command(
            "key:import_command",
            "Register an external signer command (Vault Transit, a cloud KMS, ...) as key NAME.",
        ),
        "import-pkcs11": _command(
            "key:import_pkcs11",
            "Use a P-256 key pair that is already in a PKCS#11 token as NAME.",
        ),
        "list": _command("key:list_", "List the keys (name, store, created, fingerprint)."),
        "show": _command(
            "key:show",
            "Show key NAME: store, fingerprint (SHA-256 of the public key DER), creation time.",
        ),
    },
)

ledger = LazyGroup(
    "ledger",
    help="Read the provisioning ledger (SQLite in the home, or PostgreSQL for many stations).",
    commands={
        "export": _command(
            "ledger:export", "Export the ledger's runs as csv, jsonl or nrfcloud rows."
        ),
        "list": _command(
            "ledger:list_", "List the device runs in the ledger, oldest first (one line each)."
        ),
        "release": _command(
            "ledger:release",
            "Give back the claim held on IMEI by a run that stopped without its record.",
        ),
        "show": _command(
            "ledger:show",
            "Show everything the ledger knows of IMEI: runs (newest first) with their "
            "credentials, the device UUID, flags and a claim held now; exit 1 unless a run "
            "ended ok.",
        ),
    },
)


class _PlanGroup(LazyGroup):
    """``xsudo plan MANIFEST ...`` is ``xsudo plan create MANIFEST ...``: a first argument
    that is not a subcommand (nor an option) goes to ``create``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "create", self.get_command(ctx, "create"), args
        return super().resolve_command(ctx, args)


plan = _PlanGroup(
    "plan",
    help="Pre-signed plans: create one from a manifest (xsudo plan MANIFEST -o PLAN), "
    "approve it, show it.",
    commands={
        "approve": _command(
            "plan:approve",
            "Add a signature by --key to PLAN (the payload stays byte for byte the same).",
        ),
        "create": _command(
            "plan:create",
            "Create a plan: every %CMNG write of MANIFEST, signed ahead as AT%XSUDO lines, in a "
            "signed JWS file.",
        ),
        "show": _command(
            "plan:show",
            "Show what PLAN writes, who signed it, when it expires, and whether it verifies.",
        ),
    },
)

COMMANDS: dict[str, click.Command | LazyCommand] = {
    "at": _command(
        "at:at",
        "Send one AT LINE to the modem and print its answer, with an error explained for that "
        "command; without LINE, a console (or one line per command from stdin).",
    ),
    "apply": _command(
        "apply:apply",
        "Write PLAN's pre-signed lines to every --port, up to --workers at once; no key store.",
    ),
    "audit": audit,
    "ca": ca,
    "cred": cred,
    "demo": _command(
        "demo:demo",
        "Replay the usual first day with AT%CMNG and AT%XSUDO on the simulator (no board needed).",
    ),
    "device": device,
    "explain": _command(
        "explain:explain",
        "Explain modem error CODE: its meaning, likely causes and fix for each command (offline).",
    ),
    "key": key,
    "ledger": ledger,
    "plan": plan,
    "ports": _command(
        "ports:ports", "List serial ports; mark Nordic kits and the port --port auto would use."
    ),
    "provision": _command(
        "provision:provision",
        "Write the MANIFEST's credentials to every --port, one worker per port.",
    ),
    "sign": _command("sign:sign", "Sign a command BODY (without AT) and print its AT%XSUDO line."),
    "sim": _command("sim:sim", "Run a simulated nRF91 modem until interrupted."),
    "station": _command(
        "station:station",
        "Apply a signed plan to each --port once, or (--watch) to every nRF91 kit plugged in "
        "until stopped.",
    ),
    "verify": _command(
        "verify:verify", "Verify an AT%XSUDO LINE offline and diagnose why it fails."
    ),
}
"""Every command of ``xsudo``: a group above, or where a command lives and its help's first
paragraph."""


@click.group(
    cls=LazyGroup,
    commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="xsudo")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for key metadata, key files and logs (default: $XSUDO_HOME, "
    "else the platform's user data directory).",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """Authenticated credential provisioning for Nordic nRF91 modems (AT%XSUDO)."""
    from xsudo import hardening
    from xsudo.cli.context import AppContext

    # Every command may come to hold a key, passphrase, PIN or PSK: no core dumps, ever.
    hardening.disable_core_dumps()
    ctx.obj = AppContext(home)
