"""The root ``xsudo`` group and the registration of every command group."""

from __future__ import annotations

from pathlib import Path

import click

from xsudo import __version__, hardening
from xsudo.cli.context import AppContext
from xsudo.paths import resolve_home
from xsudo.sim import register_url_handler

# sim:// ports: the AT layer never imports the simulator, so the application registers its
# pyserial URL handler where it is assembled (idempotent; importing xsudo.sim already did).
register_url_handler()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    # Every command may come to hold a key, passphrase, PIN or PSK: no core dumps, ever.
    hardening.disable_core_dumps()
    ctx.obj = AppContext(home=resolve_home(home))


# Command registration: one line per command module.
from xsudo.cli.attest import attest  # noqa: E402
from xsudo.cli.audit import audit  # noqa: E402
from xsudo.cli.ca import ca  # noqa: E402
from xsudo.cli.cred import cred  # noqa: E402
from xsudo.cli.demo import demo  # noqa: E402
from xsudo.cli.device import device  # noqa: E402
from xsudo.cli.key import key  # noqa: E402
from xsudo.cli.keygen import issue, keygen  # noqa: E402
from xsudo.cli.ports import ports  # noqa: E402
from xsudo.cli.provision import provision  # noqa: E402
from xsudo.cli.sign import sign  # noqa: E402
from xsudo.cli.sim import sim  # noqa: E402
from xsudo.cli.verify import verify  # noqa: E402

cli.add_command(audit)
cli.add_command(ca)
cli.add_command(cred)
cli.add_command(demo)
cli.add_command(device)
cli.add_command(key)
cli.add_command(ports)
cli.add_command(provision)
cli.add_command(sign)
cli.add_command(verify)
cli.add_command(sim)
cred.add_command(keygen)
cred.add_command(issue)
device.add_command(attest)
