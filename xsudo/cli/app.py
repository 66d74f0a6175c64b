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
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import click

from xsudo import __version__
from xsudo.cli.lazy import LazyCommand, LazyGroup

if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec


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

COMMANDS: dict[str, click.Command | LazyCommand] = {
    "audit": audit,
    "ca": ca,
    "cred": cred,
    "demo": _command(
        "demo:demo", "Run the whole provisioning job on the built-in simulator (no board needed)."
    ),
    "device": device,
    "key": key,
    "ports": _command(
        "ports:ports", "List serial ports; mark Nordic kits and the port --port auto would use."
    ),
    "provision": _command(
        "provision:provision",
        "Write the MANIFEST's credentials to every --port, one worker per port.",
    ),
    "sign": _command("sign:sign", "Sign a command BODY (without AT) and print its AT%XSUDO line."),
    "sim": _command("sim:sim", "Run a simulated nRF91 modem until interrupted."),
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


# sim:// ports. The AT layer never imports the simulator, so the program that may open a
# sim:// port teaches pyserial the scheme: the library's connect() for its own ports, and
# this module for everything the command line runs. Registering is one string on pyserial's
# list (the simulator loads only when such a port opens); it happens when pyserial is loaded,
# so ``xsudo --help`` and commands that open no port load neither pyserial nor the simulator.

SIM_URL_HANDLER = "xsudo.sim.urlhandler"
""":data:`xsudo.sim.URL_HANDLER_PACKAGE`, named here so as not to import the simulator."""


def _register_sim_url_handler(serial: ModuleType) -> None:
    packages: list[str] = serial.protocol_handler_packages
    if SIM_URL_HANDLER not in packages:
        packages.append(SIM_URL_HANDLER)


class _AfterImport:
    """A one-shot import hook (a :data:`sys.meta_path` finder): once module ``name`` has been
    imported by the usual finders and loaders, call ``then(module)``."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = cast("Loader", _ThenLoader(spec.loader, self.then))
        return spec


class _ThenLoader:
    """``loader``, calling ``then(module)`` once it has executed the module."""

    def __init__(self, loader: Any, then: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._then(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def after_import(name: str, then: Callable[[ModuleType], None]) -> None:
    """``then(module)`` now if module ``name`` is loaded, else right after it is imported."""
    module = sys.modules.get(name)
    if module is not None:
        then(module)
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, then))


after_import("serial", _register_sim_url_handler)
