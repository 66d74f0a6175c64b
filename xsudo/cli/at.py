"""``xsudo at``: a raw AT console that explains the modem's errors.

One line (``xsudo at 'AT+CGMR'``), a console on a terminal (no LINE), or one command per
line from stdin (no LINE, stdin not a terminal). Contract:

* **Checked before sent.** A raw line must start with ``AT`` and be text the modem takes
  (printable ASCII, CR/LF only inside quotes, at most 4095 bytes); anything else is refused
  with exit 2 and nothing is sent. With ``--sign`` each input is a command body (without
  ``AT``), signed with ``--key`` (:func:`xsudo.signing.sign_command`, verified before it
  leaves) and sent as its ``AT%XSUDO`` line.
* **Through the library.** The port is opened with :func:`xsudo.connect` (as every device
  command does: ``--port``/``$XSUDO_PORT``, the audit log checked before the port opens,
  numeric error codes on while connected and put back after) and lines are sent with
  :meth:`xsudo.at.modem.Modem.send_line`, exactly as given.
* **Device text is untrusted.** Response lines are printed one per line with every control
  character escaped (:func:`xsudo.cli.output.emit`); URCs go to stderr the same way.
* **Errors explained.** An error answer is decoded for the command that got it (for an
  ``%XSUDO`` line, both meanings: :mod:`xsudo.explain`) with likely causes, fix and
  Nordic's page, on stderr.
* **Audited.** Every signature is recorded before its line is sent (event ``sign``), and
  every line that may change state is recorded after its answer (event ``at``: command
  names, SHA-256 and length of the line, the final result; never the line's content).
  Lines known to only read (:func:`changes_state`) are not recorded.
* **Exit codes.** 0 every line answered ``OK``; 1 the modem answered an error; 2 bad input
  (nothing sent); 3 device or transport failure. From stdin, the first line that fails
  stops the run with its code. The console goes on after an error and exits 0 (3 when the
  port is lost).
* **The console** keeps a readline history in ``<home>/at_history`` (mode 0600); a
  ``%CMNG`` write is left out of it (it may carry a key or PSK). ``exit``, ``quit`` or
  Ctrl-D leaves.

Module level imports click and the light option helpers only; the AT layer, key store and
rich load when the command runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from xsudo.cli.deviceopts import Connection, port_options
from xsudo.cli.keyopts import passphrase_file_option
from xsudo.cli.params import SLOT

if TYPE_CHECKING:
    from xsudo.at.results import AtResponse
    from xsudo.audit.log import AuditHead, AuditLog
    from xsudo.device import Device
    from xsudo.explain import Explanation
    from xsudo.signing import SignedCommand, Signer

_NO_ACCESS = 514

HISTORY_FILE = "at_history"
"""The console's history, in the xsudo home (mode 0600)."""

HISTORY_LENGTH = 1000
"""Most lines the console's history keeps."""

LEAVE_WORDS = ("exit", "quit")

READ_ONLY_EXEC = frozenset(
    {
        "AT",
        "+CGMR",
        "+CGMM",
        "+CGMI",
        "+CGSN",
        "+CIMI",
        "+CEREG",
        "+CESQ",
        "%XMODEMUUID",
        "%HWVERSION",
        "%DEVICEUUID",
        "%SHORTSWVER",
        "%ATTESTTOKEN",
    }
)
"""Commands that only read when sent bare (no ``=``): they are not audited."""

_READ_ONLY_SET = {
    "%CMNG": re.compile(rb"=\s*[12]\s*(?:,|$)"),  # list, read
    "%XPMNG": re.compile(rb"=\s*2\s*(?:,|$)"),  # read
    "+CGSN": re.compile(rb"=\s*[0-3]\s*$"),
    "%CERTEXPIRY": re.compile(rb"=.*$"),
}
"""Set forms that only read, by command."""


def changes_state(line: bytes) -> bool:
    """Whether ``line`` (``AT`` included) may change the modem's state, so it is audited.

    False only for what is known to read: a read (``?``) or test (``=?``) form, a bare
    command of :data:`READ_ONLY_EXEC`, ``%CMNG`` list/read, ``%XPMNG`` read. Anything else,
    including several commands on one line and every ``%XSUDO`` line, counts as a change.
    """
    from xsudo.command import command_name, find_unquoted

    if find_unquoted(line, 0x3B) >= 0:
        return True
    name = command_name(line)
    rest = line[2 + len(name) :].strip() if name != "AT" else line[2:].strip()
    if rest in (b"?", b"=?"):
        return False
    if not rest:
        return name not in READ_ONLY_EXEC
    pattern = _READ_ONLY_SET.get(name)
    return pattern is None or pattern.match(rest) is None


def check_line(text: str) -> bytes:
    """A raw line as the bytes to send: it must start with ``AT`` and be sendable text
    (:func:`xsudo.command.check_command_text`, at most 4095 bytes). Raises
    :class:`~xsudo.errors.BadInputError` (nothing sent)."""
    from xsudo.command import check_command_text, check_line_length
    from xsudo.errors import BadInputError

    if text[:2].upper() != "AT":
        raise BadInputError(
            f"{text[:40]!r} is not an AT command; nothing was sent",
            "AT lines start with AT (AT+CGMR, AT%CMNG=1); to sign a command body use --sign",
        )
    data = check_command_text(text, what="AT line")
    check_line_length(data, what="AT line")
    return data


@dataclass(frozen=True)
class Prepared:
    """A line ready to send: its bytes, and the signature when it was signed here."""

    line: bytes
    signed: SignedCommand | None = None


@dataclass
class AtConsole:
    """Sends lines to one connected device and prints the answers (the module contract).

    ``signer`` set: every input is a body to sign (``--sign``). :meth:`handle` returns the
    exit code of one input and raises only for a lost port.
    """

    device: Device
    signer: Signer | None = None
    slot: int | None = None
    as_json: bool = False
    head: AuditHead | None = None
    """The audit head after the last line recorded (``None``: not recorded)."""

    @property
    def audit(self) -> AuditLog | None:
        return self.device.session.audit

    def prepare(self, text: str) -> Prepared:
        """The bytes to send for one input (signed and recorded first with ``--sign``)."""
        return prepare(text, self.signer, self.slot, self.audit, self.device.session.imei)

    def handle(self, text: str) -> int:
        """Send one input, print the answer; return 0, 1, 2 or 3. A lost port
        (:class:`~xsudo.errors.DeviceDisconnected`, :class:`~xsudo.errors.PortError`)
        is raised."""
        from xsudo.cli import print_error
        from xsudo.errors import DeviceDisconnected, PortError, XsudoError

        try:
            prepared = self.prepare(text)
            response = self.send(prepared)
        except (DeviceDisconnected, PortError):
            raise
        except XsudoError as exc:
            print_error(exc)
            return exc.exit_code
        return self.show(prepared, response)

    def send(self, prepared: Prepared) -> AtResponse:
        """Send the line; record it in the audit log when it may change state (also when
        the exchange fails, as ``failed: <error>``)."""
        result = "unknown"
        self.head = None
        try:
            response = self.device.modem.send_line(prepared.line, check=False)
            result = response.final
            return response
        except BaseException as exc:
            result = f"failed: {type(exc).__name__}"
            raise
        finally:
            self.head = self._record(prepared, result)

    def _record(self, prepared: Prepared, result: str) -> AuditHead | None:
        from xsudo.audit.log import AuditHead
        from xsudo.command import command_name

        log = self.audit
        if log is None or not (prepared.signed or changes_state(prepared.line)):
            return None
        signed = prepared.signed
        record = log.append(
            "at",
            device_imei=self.device.session.imei,
            command=command_name(prepared.line),
            wrapped_command=wrapped_name(prepared.line),
            line_sha256=hashlib.sha256(prepared.line).hexdigest(),
            line_bytes=len(prepared.line),
            key_fingerprint=signed.key_fingerprint if signed else None,
            result=result,
        )
        return AuditHead.of(record)

    def show(self, prepared: Prepared, response: AtResponse) -> int:
        """Print the answer (stdout) and, for an error, its explanation (stderr)."""
        from xsudo.cli.output import emit, emit_json, note

        explanation = _explain(prepared.line, response)
        if self.as_json:
            emit_json(_json(prepared, response, explanation, self.head))
        else:
            for urc in response.urcs:
                note(f"urc: {_text(urc)}")
            for line in response.lines:
                emit(_text(line))
            emit(response.final)
            if explanation is not None:
                from xsudo.cli.explain import explanation_lines

                for text in explanation_lines(explanation):
                    note(text)
                if prepared.signed is None and explanation.code == _NO_ACCESS:
                    note(
                        "to send a restricted command signed: xsudo at --sign --key NAME "
                        "'<the command without AT>' (its key uploaded with xsudo device "
                        "upload-key)"
                    )
            elif not response.ok:
                from xsudo.explain import DOC_RESPONSES

                note(
                    f"{response.final}: no meaning in xsudo's catalog for this answer; see "
                    f"Nordic's AT command reference ({DOC_RESPONSES})"
                )
        return 0 if response.ok else 1


def prepare(
    text: str,
    signer: Signer | None,
    slot: int | None,
    audit: AuditLog | None,
    imei: str | None = None,
) -> Prepared:
    """One input as the line to send: a raw line checked (:func:`check_line`), or with a
    ``signer`` a body signed into its ``AT%XSUDO`` line and the signature recorded in
    ``audit`` first (log checked before signing). Warns about literal ``\\n`` in quotes."""
    from xsudo.cli.output import note, warn
    from xsudo.command import has_literal_newline_escape, strip_at_prefix

    if signer is None:
        line = check_line(text)
        payload = line
    else:
        body, removed = strip_at_prefix(text)
        if removed:
            note(f"removed the leading {text[:2]!r}: XSUDO signs the command without it")
        payload = body.encode("utf-8", "surrogateescape")
    if has_literal_newline_escape(payload):
        warn(
            "the quoted content holds the two characters \\n, which the modem stores as they "
            "are; a PEM needs real line breaks (use xsudo cred write for credentials)"
        )
    if signer is None:
        return Prepared(payload)
    from xsudo.signing import sign_command

    if audit is not None:
        audit.check_appendable()
    signed = sign_command(payload, signer, slot=slot)
    if audit is not None:
        audit.append("sign", **signed.audit_fields(), device_imei=imei, result="signed")
    return Prepared(signed.xsudo.render(), signed)


def wrapped_name(line: bytes) -> str | None:
    """The wrapped command's name on an ``AT%XSUDO`` line (``None`` on any other line)."""
    from xsudo.at.results import xsudo_inner
    from xsudo.command import command_name

    inner = xsudo_inner(line)
    return None if inner is None else command_name(inner)


def _text(raw: bytes) -> str:
    """Device bytes as text: ASCII, anything else as ``\\xNN`` (then escaped on output)."""
    return raw.decode("ascii", "backslashreplace")


def _explain(line: bytes, response: AtResponse) -> Explanation | None:
    """The explanation of an error answer (``None`` for ``OK``, a ``+CMS ERROR`` or a code
    the catalog does not know)."""
    from xsudo.errors import BadInputError
    from xsudo.explain import explain

    result = response.result
    if response.ok or result is None or result.kind not in ("ERROR", "CME"):
        return None
    try:
        return explain(result.code, line.decode("ascii", "replace"))
    except BadInputError:
        return None


def _json(
    prepared: Prepared,
    response: AtResponse,
    explanation: Explanation | None,
    head: AuditHead | None,
) -> dict[str, Any]:
    from xsudo.cli.explain import explanation_json
    from xsudo.command import command_name

    signed = prepared.signed
    result = response.result
    return {
        "command": command_name(prepared.line),
        "wrapped_command": wrapped_name(prepared.line),
        "line_sha256": hashlib.sha256(prepared.line).hexdigest(),
        "signed": signed is not None,
        "signature": None
        if signed is None
        else {
            "data_len": signed.xsudo.data_len,
            "slot": signed.xsudo.slot,
            "sha256": signed.sha256,
            "encoding": signed.encoding,
            "key_name": signed.key_name,
            "key_fingerprint": signed.key_fingerprint,
        },
        "lines": [_text(line) for line in response.lines],
        "urcs": [_text(urc) for urc in response.urcs],
        "final": response.final,
        "ok": response.ok,
        "error": None
        if response.ok
        else {
            "kind": result.kind if result else "ERROR",
            "code": result.code if result else 0,
            "explanation": explanation_json(explanation) if explanation else None,
        },
        "audit_head": head.to_json() if head is not None else None,
    }


# -- reading inputs ------------------------------------------------------------------------

Reader = Callable[[], "str | None"]
"""Returns the next input line, or ``None`` at the end."""


def run_lines(read: Reader, handle: Callable[[str], int], *, stop_on_error: bool) -> int:
    """Feed every input from ``read`` to ``handle`` until the end, ``exit`` or ``quit``.

    Blank lines and lines starting with ``#`` are skipped; a line's trailing CR/LF is not
    part of it. With ``stop_on_error`` the first failing input ends the run with its code
    (stdin); otherwise the run goes on and returns 0 (the console).
    """
    while True:
        text = read()
        if text is None:
            return 0
        text = text.rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if text.strip().lower() in LEAVE_WORDS:
            return 0
        code = handle(text)
        if code and stop_on_error:
            return code


def stdin_reader(stream: Any = None) -> Reader:
    """Lines from ``stream`` (default stdin)."""

    def read() -> str | None:
        line = (stream or sys.stdin).readline()
        return line if line else None

    return read


def console_reader(
    prompt: str,
    history: Path | None,
    ask: Callable[[str], str] | None = None,
) -> Reader:
    """Lines typed at ``prompt`` (``ask``, default :func:`input`, with readline editing when
    available), ``None`` on Ctrl-D; Ctrl-C abandons the line typed. The history is loaded
    from and added to ``history``."""
    readline = _readline(history)

    def read() -> str | None:
        try:
            text = ask(prompt) if ask is not None else input(prompt)
        except EOFError:
            click.echo("", err=True)
            return None
        except KeyboardInterrupt:
            click.echo("", err=True)
            return ""
        if readline is not None and _secret_line(text):
            _forget_last(readline)
        if readline is not None and history is not None:
            _save_history(readline, history)
        return text

    return read


def _readline(history: Path | None) -> Any:
    """The readline module with the history loaded (``None`` without readline)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    readline.set_history_length(HISTORY_LENGTH)
    if history is not None and history.is_file():
        with contextlib.suppress(OSError):
            readline.read_history_file(str(history))
    return readline


def _check_before_connecting(line: str, signs: bool) -> None:
    """Refuse a LINE (or BODY) the modem cannot take before the port opens, and warn when
    it puts a private key or PSK on the command line."""
    from xsudo.cli.output import warn
    from xsudo.command import check_body, strip_at_prefix

    if signs:
        check_body(strip_at_prefix(line)[0].encode("utf-8", "surrogateescape"))
    else:
        check_line(line)
    if _SECRET_WRITE.search(line):
        warn(
            "this %CMNG write puts a private key or PSK on the command line, where other "
            "users (ps) and your shell history can see it; type it in the console or pipe "
            "it on stdin instead"
        )


_SECRET_WRITE = re.compile(r"%CMNG\s*=\s*0\s*,\s*\d+\s*,\s*[23]\s*,", re.IGNORECASE)
"""A ``%CMNG`` write of a private key (type 2) or a PSK (type 3)."""


def _secret_line(text: str) -> bool:
    """A ``%CMNG`` write (signed or not): its content may be a key or PSK."""
    return re.search(r"%CMNG\s*=\s*0\b", text, re.IGNORECASE) is not None


def _forget_last(readline: Any) -> None:
    length = readline.get_current_history_length()
    if length:
        readline.remove_history_item(length - 1)


def _save_history(readline: Any, history: Path) -> None:
    """Write the history with mode 0600 (created so, and narrowed if it was wider)."""
    import os

    try:
        fd = os.open(history, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(history, 0o600)
        readline.write_history_file(str(history))
    except OSError:
        pass


# -- the command ---------------------------------------------------------------------------


@click.command()
@port_options
@click.option(
    "--sign",
    "sign_lines",
    is_flag=True,
    help="Each input is a command BODY (without AT): sign it with --key and send its "
    "AT%XSUDO line.",
)
@click.option(
    "--key",
    "key_name",
    envvar="XSUDO_KEY",
    default=None,
    help="Signing key for --sign (default: $XSUDO_KEY).",
)
@click.option("--slot", type=SLOT, default=None, help="XPMNG key slot for --sign (default 0).")
@passphrase_file_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per line sent, on stdout."
)
@click.argument("line", required=False)
def at(
    connection: Connection,
    sign_lines: bool,
    key_name: str | None,
    slot: int | None,
    passphrase_file: Path | None,
    as_json: bool,
    line: str | None,
) -> None:
    """Send one AT LINE to the modem and print its answer, with an error explained for that
    command; without LINE, a console (or one line per command from stdin).

    An error answer is decoded for the command that got it, with likely causes, the fix and
    Nordic's documentation (as xsudo explain does). With --sign, LINE is a command body
    signed with --key and sent as AT%XSUDO. Lines that may change the modem are recorded in
    the audit log. Without LINE on a terminal: a console with history (exit or Ctrl-D
    leaves); with stdin not a terminal: one command per line, stopping at the first that
    fails. Exit 0 OK, 1 the modem answered an error, 2 bad input, 3 device failure.
    """
    from xsudo.cli.context import app_context
    from xsudo.cli.deviceopts import AuthRequest, auth_settings, open_device
    from xsudo.errors import BadInputError, Remedy

    if sign_lines and not key_name:
        raise BadInputError(
            "--sign needs a signing key", "give --key NAME", remedy=Remedy("give-key")
        )
    given = click.get_current_context().get_parameter_source("key_name")
    if not sign_lines and (slot is not None or given == click.core.ParameterSource.COMMANDLINE):
        raise BadInputError("--key and --slot are for --sign", "add --sign, or drop them")
    if line is not None:
        _check_before_connecting(line, sign_lines)
    signer = None
    if sign_lines:
        signer = auth_settings(AuthRequest("required", key_name, slot), passphrase_file).signer
    with open_device(connection) as device:
        console = AtConsole(device, signer, slot, as_json)
        if line is not None:
            code = console.handle(line)
        elif sys.stdin.isatty():
            history = app_context().ensure_home() / HISTORY_FILE
            prompt = "sign> " if signer is not None else "AT> "
            code = run_lines(console_reader(prompt, history), console.handle, stop_on_error=False)
        else:
            code = run_lines(stdin_reader(), console.handle, stop_on_error=True)
    if code:
        sys.exit(code)
