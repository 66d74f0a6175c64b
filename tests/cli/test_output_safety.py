"""Device text on a terminal: no control characters, escape sequences, bidi overrides, rich
markup or emoji codes get through emit/note/warn/cell or the CLI's error printer."""

from __future__ import annotations

from collections.abc import Sequence

import click
import pytest
from rich.console import Console
from rich.table import Table

from tests.at.fakedevice import FakeDevice
from xsudo.cli import main
from xsudo.cli.output import cell, emit, emit_block, note, printable, warn
from xsudo.errors import DeviceError

HOSTILE = "x\x1b]0;title\x07\x1b[2J\r\nfake: line\u202eevil\t[bold red]y[/]:warning:"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return int(caught.value.code or 0), out, err


def assert_no_controls(text: str) -> None:
    body = text[:-1] if text.endswith("\n") else text
    assert body.isprintable(), repr(text)
    assert "\n" not in body


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b", "\\x1b"),
        ("\x07", "\\x07"),
        ("\r", "\\x0d"),
        ("\n", "\\x0a"),
        ("\t", "\\x09"),
        ("\x7f", "\\x7f"),
        ("\x9b", "\\x9b"),  # C1 CSI
        ("\u202e", "\\u202e"),  # right-to-left override
        ("\u200b", "\\u200b"),  # zero-width space
        ("\u2028", "\\u2028"),  # line separator
        ("\U000e0041", "\\U000e0041"),  # tag character
    ],
)
def test_printable_escapes(raw: str, shown: str) -> None:
    assert printable(f"a{raw}b") == f"a{shown}b"


def test_printable_keeps_printable_text() -> None:
    text = "nRF9161 LACA A0A caf\u00e9 [bold]x[/bold] C:\\path 100%"
    assert printable(text) == text


def test_printable_keep_newlines() -> None:
    assert printable("a\nb\x1b\r", keep_newlines=True) == "a\nb\\x1b\\x0d"


def test_cell_shows_markup_literally() -> None:
    table = Table("value")
    table.add_row(cell("[bold]x[/bold]"))
    table.add_row(cell(None))
    table.add_row(cell(HOSTILE))
    console = Console(record=True, width=300, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "[bold]x[/bold]" in text
    assert "[bold red]y[/]:warning:" in text
    assert "\\x1b]0;title\\x07" in text and "\x1b" not in text
    assert cell(None).plain == "-"
    assert cell(7).plain == "7"


def test_emit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    emit(f"model: {HOSTILE}")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert_no_controls(out)
    assert "\\x0d\\x0afake: line\\u202eevil\\x09" in out


def test_emit_block_keeps_lines_only(capsys: pytest.CaptureFixture[str]) -> None:
    emit_block("-----BEGIN X-----\nAAAA\x1b[2J\n-----END X-----")
    out = capsys.readouterr().out
    assert out == "-----BEGIN X-----\nAAAA\\x1b[2J\n-----END X-----\n"


@pytest.mark.parametrize("printer", [note, warn])
def test_note_and_warn_escape_and_show_markup_literally(
    capsys: pytest.CaptureFixture[str], printer: object
) -> None:
    printer(f"device says {HOSTILE}")  # type: ignore[operator]
    err = capsys.readouterr().err
    assert_no_controls(err)
    assert "[bold red]y[/]:warning:" in err  # neither markup nor an emoji
    assert "\\x1b]0;title\\x07\\x1b[2J\\x0d\\x0afake: line\\u202eevil" in err


def test_error_printer_escapes_device_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    @click.command()
    def boom() -> None:
        raise DeviceError(f"the device said {HOSTILE}", "check the port")

    monkeypatch.setattr("xsudo.cli.app.cli", boom)
    code, out, err = run(capsys)
    assert (code, out) == (3, "")
    assert_no_controls(err)
    assert err.startswith("error: the device said x\\x1b]0;title\\x07")
    assert err.rstrip("\n").endswith("; check the port")


def _hostile_modem(line: bytes) -> Sequence[bytes]:
    """A modem whose firmware version is a terminal escape with markup."""
    replies = {
        b"AT+CMEE?": b"+CMEE: 1\r\nOK\r\n",
        b"AT+CFUN?": b"+CFUN: 4\r\nOK\r\n",
        b"AT": b"OK\r\n",
        b"AT+CGMR": b'"mfw\x1b]0;pwn\x07[bold]x[/]"\r\nOK\r\n',
    }
    return (replies.get(line, b"ERROR\r\n"),)


def test_device_info_refuses_hostile_identity_in_one_clean_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeDevice(transport="pty", responder=_hostile_modem) as device:
        code, out, err = run(capsys, "device", "info", "--port", device.url, "--timeout", "3")
    assert (code, out) == (3, "")
    assert_no_controls(err)
    assert "firmware version" in err
    assert "\\x1b]0;pwn\\x07[bold]x[/]" in err


@pytest.mark.parametrize(
    ("ok", "total", "expected"),
    [(1, 1, "1 board"), (3, 3, "3 boards"), (2, 3, "2 of 3 boards"), (0, 1, "0 of 1 board")],
)
def test_share_counts_in_the_right_number(ok: int, total: int, expected: str) -> None:
    from xsudo.cli.output import counted, share

    assert share(ok, total, "board") == expected
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(2, "entry", "entries") == "2 entries"
