"""Records are parsed strictly: whatever was done to a line, ``verify`` reports the record as
broken with a reason, ``show`` gives one error line (exit 2), ``verify`` one result line
(exit 1), and nothing raises a traceback. Most forgeries below keep a valid hash, so the old
lenient parser accepted them as intact."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audit.support import encode, fill, lines_of, rehashed
from tests.support.cli import assert_one_line_error
from tests.support.cli import run_cli as run
from xsudo.audit.log import (
    AuditLog,
    AuditLogError,
    RecordFormatError,
    parse_record,
    record_hash,
)
from xsudo.cli.hints import cli_text

Lines = list[bytes]


def edit_last(change: Callable[[dict[str, object]], dict[str, object]]) -> Callable[[Lines], Lines]:
    """Change the last record and recompute its hash, written as xsudo would."""

    def apply(lines: Lines) -> Lines:
        return [*lines[:-1], encode(rehashed(change(json.loads(lines[-1]))))]

    return apply


def raw_last(change: Callable[[bytes], bytes]) -> Callable[[Lines], Lines]:
    """Change the bytes of the last line."""
    return lambda lines: [*lines[:-1], change(lines[-1])]


def hashed_text(record: dict[str, object], *, ensure_ascii: bool = True) -> bytes:
    """A record with a valid hash (NaN and friends allowed, as Python's json writes them)."""
    return json.dumps(rehashed(record), sort_keys=True, ensure_ascii=ensure_ascii).encode() + b"\n"


def with_field(value: object) -> Callable[[Lines], Lines]:
    return raw_last(lambda line: hashed_text({**json.loads(line), "x": value}))


def duplicate_key(line: bytes) -> bytes:
    # JSON takes the last "result"; the forged first one was invisible to the old parser.
    return b'{"result": "forged", ' + line[1:]


def non_ascii(line: bytes) -> bytes:
    record = json.loads(line)
    return hashed_text({**record, "result": "sign\u00e9d"}, ensure_ascii=False)


def upper_hash(line: bytes) -> bytes:
    record = json.loads(line)
    return encode({**record, "hash": record["hash"].upper()})


CASES: dict[str, tuple[Callable[[Lines], Lines], int, str]] = {
    "duplicate key": (raw_last(duplicate_key), 3, "the key 'result' appears twice"),
    "NaN": (with_field(float("nan")), 3, "NaN is not a JSON value"),
    "Infinity": (with_field(float("inf")), 3, "Infinity is not a JSON value"),
    "-Infinity": (with_field(float("-inf")), 3, "-Infinity is not a JSON value"),
    "fraction": (edit_last(lambda r: {**r, "data_len": 1.5}), 3, "a fractional number"),
    "nested object": (with_field({"a": 1}), 3, "field 'x' holds a nested object"),
    "nested array": (with_field([1]), 3, "field 'x' holds a nested array"),
    "deeper nesting": (with_field([[[1]]]), 3, "nested 4 deep"),
    "recursion bomb": (raw_last(lambda _: b"[" * 60_000 + b"\n"), 3, "nested 60000 deep"),
    "BOM": (lambda lines: [b"\xef\xbb\xbf" + lines[0], *lines[1:]], 1, "byte order mark"),
    "CRLF": (lambda lines: [lines[0], lines[1][:-1] + b"\r\n", lines[2]], 2, "CRLF"),
    "non-UTF-8": (raw_last(lambda line: line.replace(b"signed", b"sig\xffned")), 3, "not UTF-8"),
    "non-ASCII": (raw_last(non_ascii), 3, "non-ASCII"),
    "non-object": (raw_last(lambda _: b"[1, 2]\n"), 3, "not a JSON object"),
    "not JSON": (raw_last(lambda _: b"{not json}\n"), 3, "not valid JSON"),
    "cut last line": (raw_last(lambda line: line[:-40]), 3, "cut short"),
    "no final newline": (raw_last(lambda line: line[:-1]), 3, "cut short"),
    "empty line": (lambda lines: [lines[0], b"\n", *lines[1:]], 2, "an empty line"),
    "seq is a bool": (
        lambda lines: [hashed_text({**json.loads(lines[0]), "seq": True})],
        1,
        "'seq' is missing or not an integer",
    ),
    "upper-case hash": (
        raw_last(upper_hash),
        3,
        "'hash' is missing or not 64 lower-case hex digits",
    ),
    "line too long": (with_field("a" * 70_000), 3, "longer than 65536 bytes"),
}


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 3)
    return log


def tamper(log: AuditLog, case: str) -> tuple[int, str]:
    change, first_bad, fragment = CASES[case]
    log.path.write_bytes(b"".join(change(lines_of(log.path))))
    return first_bad, fragment


@pytest.mark.parametrize("case", list(CASES))
def test_verify_reports_the_tampered_record(log: AuditLog, case: str) -> None:
    first_bad, fragment = tamper(log, case)
    report = log.verify()
    assert not report.ok
    assert report.first_bad == first_bad
    assert report.count == first_bad - 1
    assert fragment in report.reason


@pytest.mark.parametrize("case", list(CASES))
def test_records_raise_a_one_line_audit_log_error(log: AuditLog, case: str) -> None:
    _, fragment = tamper(log, case)
    with pytest.raises(AuditLogError) as raised:
        list(log.records())
    assert raised.value.exit_code == 2
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "xsudo audit verify" in cli_text(raised.value)


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_gives_one_line_and_the_exit_code(
    log: AuditLog, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first_bad, fragment = tamper(log, case)
    code, out, err = run(capsys, "audit", "show", str(log.path))
    assert_one_line_error(code, out, err, fragment)
    code, out, err = run(capsys, "audit", "show", "--json", str(log.path))
    assert_one_line_error(code, out, err, fragment)
    code, out, err = run(capsys, "audit", "verify", str(log.path))
    assert (code, err) == (1, "")
    assert out.count("\n") == 1 and out.startswith(f"broken at record {first_bad}: ")
    assert fragment in out
    code, out, err = run(capsys, "audit", "verify", "--json", str(log.path))
    result = json.loads(out)
    assert (code, err, result["ok"], result["first_bad_record"]) == (1, "", False, first_bad)


@pytest.mark.parametrize("case", [c for c, (_, bad, _) in CASES.items() if bad == 3])
def test_a_tampered_last_record_blocks_appending(log: AuditLog, case: str) -> None:
    _, fragment = tamper(log, case)
    before = log.path.read_bytes()
    for attempt in (log.check_appendable, lambda: log.append("write", result="written")):
        with pytest.raises(AuditLogError) as raised:
            attempt()
        assert fragment in str(raised.value)
    assert log.path.read_bytes() == before


def test_an_intact_log_parses_and_shows(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    assert [r["seq"] for r in log.records()] == [1, 2, 3]
    code, out, _ = run(capsys, "audit", "show", "--json", str(log.path))
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3]


def test_records_hold_only_what_strict_parsing_accepts(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(TypeError, match="'x' must be str, int, bool or None"):
        log.append("sign", x=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="set by the log itself"):
        log.append("sign", seq=7)
    with pytest.raises(ValueError, match="longer than"):
        log.append("sign", note="a" * 70_000)
    record = log.append("sign", note="caf\u00e9", flag=True, empty=None, count=-3)
    assert "empty" not in record
    assert log.verify().ok
    assert list(log.records()) == [record]
    assert record_hash(record) == record["hash"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode() + b"\n"))
def test_parse_record_only_ever_raises_record_format_error(line: bytes) -> None:
    try:
        record = parse_record(line)
    except RecordFormatError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert isinstance(record, dict)
