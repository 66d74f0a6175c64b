"""``xsudo audit verify|show|checkpoint``: the hash-chained audit log and its anchors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from xsudo.cli.context import app_context
from xsudo.cli.hints import cli_words
from xsudo.cli.inputs import read_file
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import cell, emit, emit_json, json_option, note, stdout_console

if TYPE_CHECKING:
    from xsudo.audit.checkpoint import CheckpointResult
    from xsudo.audit.log import AuditHead, AuditLog, ChainReport
    from xsudo.crypto import PublicKey
    from xsudo.ledger import AuditHeadEntry

_FILE_ARGUMENT = click.argument(
    "file", type=click.Path(dir_okay=False, path_type=Path), required=False
)
_EXISTING_FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


def _log(path: Path | None) -> AuditLog:
    from xsudo.audit.log import AuditLog

    return AuditLog(path) if path else AuditLog.in_home(app_context().home)


@click.command()
@_FILE_ARGUMENT
@click.option(
    "--expect-head",
    "expect_head",
    metavar="N:HASH",
    default=None,
    help="Fail unless record N is in the log with this hash (an audit_head kept elsewhere): "
    "a log cut back before N, or rewritten, fails.",
)
@click.option(
    "--checkpoints",
    "checkpoint_files",
    type=_EXISTING_FILES,
    multiple=True,
    help="Also check the signed checkpoints in FILE (a copy of a .checkpoints sidecar). "
    "Repeatable. The sidecar next to the log is always checked.",
)
@click.option(
    "--trust",
    "trust_files",
    type=_EXISTING_FILES,
    multiple=True,
    help="Trust checkpoints signed by the public key in PUB.pem, besides the keys of the "
    "key store. Repeatable.",
)
@click.option(
    "--ledger",
    "ledger_url",
    metavar="URL",
    default=None,
    help="Also check the log against the audit head this station stored in the ledger "
    "(URL as for xsudo ledger; see --station): a log cut back before that head, or "
    "rewritten under it, fails.",
)
@click.option(
    "--station",
    default=None,
    help="The station whose stored head --ledger checks (default: $XSUDO_STATION, else the "
    "host name).",
)
@json_option
def verify(
    file: Path | None,
    expect_head: str | None,
    checkpoint_files: tuple[Path, ...],
    trust_files: tuple[Path, ...],
    ledger_url: str | None,
    station: str | None,
    as_json: bool,
) -> None:
    """Check the hash chain of FILE (default: the home's audit.jsonl), the expected head
    and every signed checkpoint; exit 1 if anything fails.

    With --ledger, also the newest audit head this station stored in the ledger (cred
    write and provision store one after each device): a log cut back before it, or
    rewritten under it, fails."""
    from xsudo.audit.checkpoint import check_checkpoints
    from xsudo.audit.log import AuditHead
    from xsudo.errors import BadInputError

    expected = AuditHead.parse(expect_head) if expect_head is not None else None
    if file is not None and not file.exists():
        raise BadInputError(f"no audit log at {file}")
    log = _log(file)
    stored, known = _stored_head(ledger_url, station) if ledger_url is not None else (None, [])
    report = log.verify()
    head_problem = report.anchor_problem(expected) if expected else ""
    ledger_problem = (
        _ledger_problem(report, stored, _station(station), known) if ledger_url is not None else ""
    )
    files = _checkpoint_files(log, checkpoint_files)
    results: list[CheckpointResult] = []
    if report.checkpoints or files:
        results = check_checkpoints(report, files, _trusted(trust_files))
    ok = report.ok and not head_problem and not ledger_problem and all(r.ok for r in results)
    if as_json:
        data = _verify_json(report, expected, head_problem, results, ok)
        if ledger_url is not None:
            data["ledger_head"] = _ledger_json(stored, station, ledger_problem)
        emit_json(data)
    else:
        _print_verify(report, expected, head_problem, results)
        if ledger_url is not None:
            _print_ledger(stored, station, ledger_problem)
    if not ok:
        raise click.exceptions.Exit(1)


def _station(station: str | None) -> str:
    from xsudo.ledger.recording import station_id

    return station or station_id()


def _stored_head(url: str, station: str | None) -> tuple[AuditHeadEntry | None, list[str]]:
    """The newest audit head ``station`` stored in the ledger at ``url`` (``None``: none),
    and the names of the stations the ledger holds heads of."""
    from xsudo.cli.ledger import open_ledger

    name = _station(station)
    with open_ledger(url) as ledger:
        heads = ledger.audit_heads()
    return next((h for h in heads if h.station == name), None), sorted(h.station for h in heads)


def _ledger_problem(
    report: ChainReport, stored: AuditHeadEntry | None, station: str, known: list[str]
) -> str:
    """Why the log does not hold the head stored in the ledger (``""``: it does, or both
    are empty). A log with records whose station stored no head fails: the station's name
    may be wrong, and a check that compared nothing must not pass."""
    from xsudo.audit.log import AuditHead

    if stored is None:
        if not report.count:
            return ""
        others = ", ".join(known) if known else "none"
        return (
            f"the ledger holds no audit head of station {station} (stations it holds heads "
            f"of: {others}); give the station's name with --station"
        )
    return report.anchor_problem(AuditHead(stored.seq, stored.hash), "the head in the ledger")


def _ledger_json(stored: AuditHeadEntry | None, station: str | None, problem: str) -> Any:
    return {
        "station": _station(station),
        "stored": None if stored is None else stored.to_json(),
        "ok": not problem,
        "reason": problem,
    }


def _print_ledger(stored: AuditHeadEntry | None, station: str | None, problem: str) -> None:
    name = _station(station)
    if stored is None:
        emit(f"ledger head of station {name}: " + (f"FAILED: {problem}" if problem else "none"))
        return
    emit(
        f"ledger head of station {name} (record {stored.seq}): "
        + (f"FAILED: {problem}" if problem else "found, same hash")
    )


@click.command()
@_FILE_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def show(file: Path | None, as_json: bool) -> None:
    """List the records."""
    records = list(_log(file).records())
    if as_json:
        for record in records:
            emit_json(record)
        return
    from rich.table import Table

    table = Table("#", "TIME", "EVENT", "DEVICE", "TAG/TYPE", "AUTH", "RESULT", box=None)
    for r in records:
        where = f"{r['tag']}/{r['type']}" if "tag" in r and "type" in r else r.get("slot", "")
        if r.get("event") == "checkpoint":
            where = f"anchors {r.get('anchor_seq')}"
        table.add_row(
            *map(
                cell,
                (
                    r.get("seq"),
                    str(r.get("time", ""))[:19],
                    r.get("event"),
                    r.get("device_imei", ""),
                    where,
                    r.get("auth", ""),
                    r.get("result", ""),
                ),
            )
        )
    stdout_console().print(table)


@click.command()
@click.option("--key", "key_name", required=True, help="Name of the signing key in the key store.")
@passphrase_file_option
@_FILE_ARGUMENT
@json_option
def checkpoint(
    key_name: str, passphrase_file: Path | None, file: Path | None, as_json: bool
) -> None:
    """Sign the head of the log (FILE, default: the home's audit.jsonl) with a key of any
    store, append it as a checkpoint record, and copy it to FILE.checkpoints.

    Keep that copy (or the printed head) off this machine: audit verify then detects a log
    cut back past the checkpoint, or rewritten under it.
    """
    from xsudo.audit.checkpoint import sidecar_path, write_checkpoint
    from xsudo.audit.log import AuditHead, AuditLog

    log = AuditLog(file) if file else AuditLog.in_home(app_context().ensure_home())
    log.check_appendable()
    signer = key_store(passphrase_file).signer(key_name)
    record = write_checkpoint(log, signer)
    head = AuditHead.of(record)
    sidecar = sidecar_path(log.path)
    if as_json:
        emit_json({"checkpoint": record, "sidecar": str(sidecar), "audit_head": head.to_json()})
        return
    emit(
        f"checkpoint: record {head.seq} anchors record {record['anchor_seq']} "
        f"({record['anchor_hash']}), signed with key {record['key_name']} "
        f"({record['key_fingerprint']})"
    )
    note(f"a copy is in {sidecar}; keep it, or the head {head}, off this machine")


def _trusted(trust_files: tuple[Path, ...]) -> dict[str, PublicKey]:
    """The public keys of the key store, and those of the ``--trust`` files."""
    from xsudo.audit.checkpoint import trusted_keys
    from xsudo.crypto import load_public_key

    records = key_store(None).list()
    keys = [load_public_key(record.public_key_pem.encode("ascii")) for record in records]
    keys += [load_public_key(read_file(path, "trusted public key")) for path in trust_files]
    return trusted_keys(keys)


def _checkpoint_files(log: AuditLog, given: tuple[Path, ...]) -> list[Path]:
    """The sidecar next to the log (if there is one) and the ``--checkpoints`` files, each
    once."""
    from xsudo.audit.checkpoint import sidecar_path

    files: dict[Path, Path] = {}
    for path in (sidecar_path(log.path), *given):
        if path.exists():
            files.setdefault(path.resolve(), path)
    return list(files.values())


def _verify_json(
    report: ChainReport,
    expected: AuditHead | None,
    head_problem: str,
    results: list[CheckpointResult],
    ok: bool,
) -> dict[str, Any]:
    return {
        **report.to_json(),
        "ok": ok,
        "chain_ok": report.ok,
        "expected_head": None
        if expected is None
        else {**expected.to_json(), "ok": not head_problem, "reason": head_problem},
        "checkpoints": [result.to_json() for result in results],
    }


def _print_verify(
    report: ChainReport,
    expected: AuditHead | None,
    head_problem: str,
    results: list[CheckpointResult],
) -> None:
    if report.ok:
        emit(f"ok: {report.count} records, chain intact, last hash {report.last_hash}")
    else:
        emit(
            f"broken at record {report.first_bad}: {report.reason} "
            f"({report.count} records before it are intact)"
        )
    if expected is not None:
        emit(
            f"expected head {expected.seq}: "
            + (f"FAILED: {head_problem}" if head_problem else "found, same hash")
        )
    for result in results:
        emit(f"checkpoint ({result.source}): " + _describe(result))


def _describe(result: CheckpointResult) -> str:
    found = result.checkpoint
    if not result.ok:
        next_step = cli_words(result.remedy) or result.hint
        return f"FAILED: {result.reason}" + (f"; {next_step}" if next_step else "")
    assert found is not None
    return (
        f"ok, anchors record {found.anchor.seq}, signed by key {found.key_name!r} "
        f"({found.key_fingerprint[:16]}...)"
    )
