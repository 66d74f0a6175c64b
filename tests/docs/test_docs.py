"""The documentation site builds with ``mkdocs build --strict`` and covers what exists.

The site is built once per test session into a temporary directory (strict mode turns every
warning, including a broken link or anchor, into a failure). The checks then compare the
built pages with the code itself, walked here independently of the site's generator: every
command and option of the click tree, every ``xsudo verify`` diagnosis code, every modem
error code the toolkit decodes for ``%CMNG``/``%XSUDO``/``%XPMNG``, every simulator option.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import click

from xsudo.cli.app import cli
from xsudo.diagnose.diagnosis import CODES
from xsudo.sim.options import OPTION_FIELDS

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "mkdocs.yml"
TOOLKIT_CME_CODES = (513, 514, 515, 518, 519, 520, 527, 528)
PAGES = (
    "index.html",
    "quickstart/index.html",
    "concepts/signing/index.html",
    "concepts/content/index.html",
    "concepts/auth-policy/index.html",
    "concepts/audit-log/index.html",
    "how-to/fleet/index.html",
    "how-to/keys/index.html",
    "how-to/openssl/index.html",
    "how-to/check-fleet/index.html",
    "how-to/simulator/index.html",
    "troubleshooting/modem-errors/index.html",
    "troubleshooting/verify-diagnoses/index.html",
    "troubleshooting/ports/index.html",
    "reference/cli/index.html",
    "reference/manifest/index.html",
    "reference/json/index.html",
    "reference/exit-codes/index.html",
    "reference/simulator-options/index.html",
    "reference/python-api/index.html",
    "security/index.html",
)
API_OBJECTS = (
    "xsudo.api.connect",
    "xsudo.api.open_key",
    "xsudo.device.Device",
    "xsudo.signing.sign_command",
    "xsudo.diagnose.verify_line",
    "xsudo.keys.KeyStore",
    "xsudo.at.Modem",
    "xsudo.provision.writer.CredentialWriter",
    "xsudo.content.preflight.preflight",
    "xsudo.sim.Modem",
    "xsudo.sim.SimOptions",
)


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page's article: tags removed, entities decoded, runs of
    whitespace collapsed to one space."""
    raw = (site / page).read_text(encoding="utf-8")
    start, end = raw.find("<article"), raw.find("</article>")
    assert start != -1 and end != -1, f"{page} has no article"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw[start:end])).split())


def commands(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    """Every command of the CLI with its full path, walked with click's own API."""
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from commands(sub, (*path, name), ctx)


def cli_sections(site: Path) -> dict[str, str]:
    """The CLI reference split into sections by heading id (``xsudo-cred-write``)."""
    raw = (site / "reference/cli/index.html").read_text(encoding="utf-8")
    heading = re.compile(r'<h[2-6] id="(xsudo[a-z0-9-]*)"')
    marks = [(m.group(1), m.start()) for m in heading.finditer(raw)]
    ends = [start for _, start in marks[1:]] + [len(raw)]
    return {
        anchor: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw[start:end])).split())
        for (anchor, start), end in zip(marks, ends, strict=True)
    }


def test_every_page_is_built(site: Path) -> None:
    missing = [page for page in PAGES if not (site / page).is_file()]
    assert missing == []


def test_every_command_and_option_is_in_the_cli_reference(site: Path) -> None:
    sections = cli_sections(site)
    all_commands = list(commands(cli, ("xsudo",)))
    assert len(all_commands) > 20  # the walk found the real tree
    for path, command, ctx in all_commands:
        anchor = "-".join(path)
        assert anchor in sections, f"{' '.join(path)} has no section in the CLI reference"
        text = sections[anchor]
        assert " ".join(path) in text
        for param in command.get_params(ctx):
            names = param.opts + param.secondary_opts
            if isinstance(param, click.Argument):
                names = [_metavar(param, ctx)]
            for name in names:
                assert name in text, f"{' '.join(path)}: {name} is not in its section"


def test_cli_reference_shows_help_text_literally(site: Path) -> None:
    sign = cli_sections(site)["xsudo-sign"]
    # sign's help holds <data_len> and "<base64 signature>": HTML-looking text must survive.
    assert 'AT%XSUDO=<data_len>,"<base64 signature>"[,<slot>];<body>' in sign


def test_every_diagnosis_code_is_explained(site: Path) -> None:
    text = page_text(site, "troubleshooting/verify-diagnoses/index.html")
    missing = [code for code in CODES if code not in text]
    assert missing == []


def test_every_toolkit_cme_code_is_explained(site: Path) -> None:
    text = page_text(site, "troubleshooting/modem-errors/index.html")
    for code in TOOLKIT_CME_CODES:
        assert re.search(rf"\b{code}\b", text), f"CME {code} is not on the modem errors page"
    assert "Plain ERROR" in text


def test_every_simulator_option_is_listed(site: Path) -> None:
    text = page_text(site, "reference/simulator-options/index.html")
    for field in OPTION_FIELDS:
        assert f"--{field.name.replace('_', '-')}" in text


def test_python_api_entry_points_are_rendered(site: Path) -> None:
    raw = (site / "reference/python-api/index.html").read_text(encoding="utf-8")
    missing = [name for name in API_OBJECTS if f'id="{name}"' not in raw]
    assert missing == []


def _metavar(param: click.Parameter, ctx: click.Context) -> str:
    """``make_metavar`` takes the context from click 8.2 on (the declared floor is 8.1)."""
    try:
        return param.make_metavar(ctx)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return param.make_metavar()  # type: ignore[call-arg, unused-ignore]
