"""``xsudo demo``: the forum story, end to end, on the built-in simulator.

No board and no setup: a temporary home, a simulated board in-process (``nrf9151-2.0`` by
default; ``--profile`` picks any built-in profile), and the story of
:mod:`xsudo.cli.demo_story`: a literal-``\\n`` certificate refused with 527 and repaired, a
mistyped OpenSSL signature refused with 520 and diagnosed, xsudo's signed writes proven by
SHA, and the audit log verified.

The demo key is kept in the encrypted file store under a random passphrase written to
``demo-passphrase.txt`` (mode 0600) in the demo's home; nothing asks for it. Without
``--keep`` the home, the passphrase and the board are deleted at the end.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.demo_story import KEY_NAME, LINE_FILE, Story, run_story
from xsudo.cli.output import stdout_console
from xsudo.sim.profiles import PROFILES

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_PROFILE = "nrf9151-2.0"
PASSPHRASE_FILE = "demo-passphrase.txt"
"""The demo key's passphrase, in the demo's home (random, mode 0600)."""


@click.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the home, the board's state and the files to explore (the key's passphrase "
    f"is in {PASSPHRASE_FILE} there).",
)
@click.option(
    "--profile",
    type=click.Choice(sorted(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Simulator profile (firmware) to run the story on.",
)
def demo(keep: bool, profile: str) -> None:
    """Replay the usual first day with AT%CMNG and AT%XSUDO on the simulator (no board needed).

    A certificate typed with literal \\n gets +CME ERROR: 527 and xsudo repairs it; a line
    signed with Nordic's OpenSSL recipe, its command file made with echo, gets +CME ERROR: 520
    and xsudo verify names the cause; xsudo's signed writes land and sha256sum of each file
    equals the SHA the modem lists.
    """
    console = stdout_console()
    home = Path(tempfile.mkdtemp(prefix="xsudo-demo-"))
    try:
        _run(console, home, profile, keep)
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def _run(console: Console, home: Path, profile: str, keep: bool) -> None:
    from xsudo.at.modem import Modem
    from xsudo.atomic import write_atomic
    from xsudo.audit.log import AuditLog
    from xsudo.keys import KeyStore, PassphraseSource

    passphrase_file = home / PASSPHRASE_FILE
    write_atomic(passphrase_file, secrets.token_urlsafe(24).encode("ascii"), durable=False)
    store = KeyStore(home, PassphraseSource(passphrase_file, interactive=False))
    files = home / "files"
    files.mkdir(mode=0o700)
    port = f"sim://?profile={profile}"
    console.print(
        f"[bold]xsudo demo[/] on a simulated board: {port} ({PROFILES[profile].description})",
        highlight=False,
    )
    state = f"{port}&state={home / 'board.json'}"
    with Modem.open(state) as modem:
        run_story(Story(console, modem, store, AuditLog.in_home(home), files))
    console.print(
        "\n[bold green]Done.[/] 527 and 520 explained; the credentials were written with "
        "XSUDO and proven by SHA.",
        highlight=False,
    )
    if keep:
        _kept(console, home, state, passphrase_file, files)


def _kept(console: Console, home: Path, port: str, passphrase_file: Path, files: Path) -> None:
    console.print(
        "\nKept for exploring (a throwaway key; its passphrase is in the file below):\n"
        f"  export XSUDO_HOME={home}\n"
        f"  export XSUDO_PORT='{port}'\n"
        f"  xsudo cred list; xsudo audit show; sha256sum {files}/*\n"
        f"  xsudo verify --key {KEY_NAME} --file {home / LINE_FILE}\n"
        f"  xsudo device info --key {KEY_NAME} --passphrase-file {passphrase_file}",
        highlight=False,
        markup=False,
    )
