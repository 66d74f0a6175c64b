"""Plans with entries signed at the station (``xsudo plan --station-signs``): building,
reading (every hostile variant of an ``issue`` entry), the station's signers, and
``apply_to_port`` on simulated ``locked`` boards over a real pty and over ``sim://``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plans.conftest import CA_TAG, NOW, write_manifest
from tests.support.boards import board, snapshot  # noqa: F401  (fixture)
from tests.support.signers import MemorySigner
from xsudo.audit.log import AuditLog
from xsudo.ca import cert_pem, make_ca_with_signer
from xsudo.crypto import public_key_pem, verify_digest
from xsudo.encoding import decode_any
from xsudo.errors import BadInputError
from xsudo.ledger.store import Ledger
from xsudo.plans.apply import LEDGER_STATION_AUTH, apply_to_port
from xsudo.plans.build import NeedsStationSigning, build_plan, write_plan
from xsudo.plans.issue import StationSigners, open_station_signers
from xsudo.plans.jws import b64url_decode, new_document
from xsudo.plans.model import PlanError, VerifiedPlan, canonical_json
from xsudo.plans.verify import load_and_verify, parse_plan
from xsudo.sim import PtyServer

ISSUE_TAG = 7
_ISSUE_FIELDS = {"action", "attributes", "ca_key", "ca_pem", "ca_sha256", "cn_from", "days"}
_ISSUE_FIELDS |= {"replace", "tag", "type"}
Board = Callable[..., PtyServer]


@dataclass
class Setup:
    manifest: Path
    line: MemorySigner
    ca: MemorySigner
    ca_cert: x509.Certificate


def issue_manifest(directory: Path, ca_key: str = "labca", extra: str = "") -> Setup:
    """A manifest: two files (ca-cert, psk-id) and an ``issue`` at :data:`ISSUE_TAG` by a
    CA whose key is ``ca`` (in memory)."""
    ca = MemorySigner(name=ca_key)
    ca_cert = make_ca_with_signer(ca, "Station test CA", days=30)
    (directory / "labca.pem").write_bytes(cert_pem(ca_cert))
    issue = (
        f'\n[[credential]]\ntag = {ISSUE_TAG}\ntype = "client-cert"\n'
        f'issue = {{ ca = "labca.pem", ca_key = "{ca_key}", days = 30, cn_from = "imei" }}\n'
    )
    manifest = write_manifest(directory, issue + extra)
    return Setup(manifest, MemorySigner(name="factory"), ca, ca_cert)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return issue_manifest(tmp_path)


def made(setup: Setup, tmp_path: Path, now: datetime = NOW) -> Path:
    document, _ = build_plan(setup.manifest, setup.line, now=now, station_signs=True)
    plan = tmp_path / "plan.json"
    write_plan(plan, document, replace=True)
    return plan


def payload_of(plan: Path) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(json.loads(plan.read_text())["payload"], "payload")))


def resigned(payload: dict[str, Any], key: MemorySigner) -> bytes:
    return new_document(canonical_json(payload), key).to_bytes()


# -- building and reading -----------------------------------------------------------------


def test_without_the_opt_in_the_refusal_says_the_station_could_sign_it(setup: Setup) -> None:
    with pytest.raises(NeedsStationSigning) as refused:
        build_plan(setup.manifest, setup.line, now=NOW)
    assert "issues a certificate" in refused.value.message
    assert "let the station sign it" in (refused.value.hint or "")


def test_an_issue_entry_is_carried_with_its_parameters_and_no_line(
    setup: Setup, tmp_path: Path
) -> None:
    plan = load_and_verify(made(setup, tmp_path), [setup.line.public_key()], now=NOW)
    assert [(e.action, e.signed_at) for e in plan.entries] == [
        ("write", "plan"),
        ("write", "plan"),
        ("issue", "station"),
    ]
    (entry,) = plan.station_signed
    assert entry.line == "" and entry.sha256 is None and entry.type == 1
    assert entry.issue is not None
    der = setup.ca_cert.public_bytes(serialization.Encoding.DER)
    assert entry.issue.ca_sha256 == hashlib.sha256(der).hexdigest()
    assert entry.issue.ca_pem == cert_pem(setup.ca_cert).decode()
    assert (entry.issue.ca_key, entry.issue.days, entry.issue.cn_from) == ("labca", 30, "imei")


def test_the_entry_keeps_its_place_in_manifest_order(tmp_path: Path) -> None:
    setup = issue_manifest(
        tmp_path, extra='\n[[credential]]\ntag = 9\ntype = "psk-id"\nfile = "psk-id.txt"\n'
    )
    plan = load_and_verify(made(setup, tmp_path), [setup.line.public_key()], now=NOW)
    assert [(e.tag, e.action) for e in plan.entries] == [
        (CA_TAG, "write"),
        (CA_TAG + 1, "write"),
        (ISSUE_TAG, "issue"),
        (9, "write"),
    ]


def test_a_ca_file_that_is_no_ca_is_refused_at_plan_time(tmp_path: Path) -> None:
    setup = issue_manifest(tmp_path)
    (tmp_path / "labca.pem").write_text("not a certificate")
    with pytest.raises(PlanError, match="not a PEM or DER"):
        made(setup, tmp_path)
    (tmp_path / "labca.pem").unlink()
    with pytest.raises(PlanError, match=r"labca\.pem"):
        made(setup, tmp_path)


def _issue_entry(payload: dict[str, Any]) -> dict[str, Any]:
    return dict(next(e for e in payload["entries"] if e["action"] == "issue"))


def _other_cert_pem() -> str:
    return cert_pem(make_ca_with_signer(MemorySigner(), "Other CA")).decode()


def _leaf_pem() -> str:
    """A self-signed P-256 certificate that is not a CA."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert_pem(cert).decode()


def _rsa_root_pem() -> str:
    from tests.plans.conftest import ca_pem

    return ca_pem()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e, s: {**e, "type": 2}, "client certificate"),
        (lambda e, s: {**e, "type": True}, "client certificate"),
        (lambda e, s: {**e, "tag": -1}, "sec_tag"),
        (lambda e, s: {**e, "tag": 4294967295}, "out of range|reserved"),
        (lambda e, s: {**e, "replace": 1}, "replace"),
        (lambda e, s: {**e, "ca_key": "../etc"}, "key name"),
        (lambda e, s: {**e, "ca_key": 5}, "key name"),
        (lambda e, s: {**e, "days": 0}, "days"),
        (lambda e, s: {**e, "days": True}, "days"),
        (lambda e, s: {**e, "days": 10**9}, "days"),
        (lambda e, s: {**e, "cn_from": "mac"}, "cn_from"),
        (lambda e, s: {**e, "attributes": "CN=x"}, "set CN"),
        (lambda e, s: {**e, "attributes": 'O="x"'}, "NAME=value"),
        (lambda e, s: {**e, "attributes": ["O=x"]}, "attributes"),
        (lambda e, s: {**e, "ca_sha256": "0" * 64}, "does not hash"),
        (lambda e, s: {**e, "ca_sha256": "ZZ"}, "64 hex"),
        (lambda e, s: {**e, "ca_pem": e["ca_pem"].replace("\n", "\r\n")}, "canonical"),
        (lambda e, s: {**e, "ca_pem": e["ca_pem"] + _other_cert_pem()}, "canonical"),
        (lambda e, s: {**e, "ca_pem": "-----BEGIN CERTIFICATE-----\n"}, "not a PEM"),
        (lambda e, s: {**e, "ca_pem": "é"}, "PEM text"),
        (lambda e, s: {**e, "ca_pem": _rsa_root_pem()}, "P-256"),
        (lambda e, s: {**e, "ca_pem": _leaf_pem()}, "not a CA"),
        (lambda e, s: {**e, "line": "AT%XSUDO"}, "exactly"),
        (lambda e, s: {k: v for k, v in e.items() if k != "days"}, "exactly"),
    ],
)
def test_hostile_issue_entries_are_refused(
    setup: Setup,
    tmp_path: Path,
    change: Callable[[dict[str, Any], Setup], dict[str, Any]],
    reason: str,
) -> None:
    payload = payload_of(made(setup, tmp_path))
    entries = [change(e, setup) if e["action"] == "issue" else e for e in payload["entries"]]
    data = resigned({**payload, "entries": entries}, setup.line)
    with pytest.raises(PlanError, match=reason):
        parse_plan(data)


def test_the_client_key_of_an_issued_tag_cannot_be_changed_too(
    setup: Setup, tmp_path: Path
) -> None:
    payload = payload_of(made(setup, tmp_path))
    issue = _issue_entry(payload)
    twice = {**payload, "entries": [*payload["entries"], {**issue}]}
    with pytest.raises(PlanError, match="twice"):
        parse_plan(resigned(twice, setup.line))
    from xsudo.at import commands
    from xsudo.signing import sign_command

    delete = commands.cmng_delete(ISSUE_TAG, 2).body()
    line = sign_command(delete, setup.line, slot=0).line
    key_delete = {
        "action": "delete",
        "line": line,
        "replace": False,
        "sha256": None,
        "tag": ISSUE_TAG,
        "type": 2,
    }
    both = {**payload, "entries": [*payload["entries"], key_delete]}
    with pytest.raises(PlanError, match="client key"):
        parse_plan(resigned(both, setup.line))


def test_a_changed_parameter_breaks_the_plan_signature(setup: Setup, tmp_path: Path) -> None:
    """The parameters are covered by the plan signature like the lines."""
    plan = made(setup, tmp_path)
    document = json.loads(plan.read_text())
    payload = payload_of(plan)
    entries = [{**e, "days": 3650} if e["action"] == "issue" else e for e in payload["entries"]]
    from xsudo.plans.jws import b64url

    document["payload"] = b64url(canonical_json({**payload, "entries": entries}))
    plan.write_text(json.dumps(document))
    with pytest.raises(PlanError, match="changed after it was signed"):
        load_and_verify(plan, [setup.line.public_key()], now=NOW)


# -- the station's signers ----------------------------------------------------------------


def verified(setup: Setup, tmp_path: Path) -> VerifiedPlan:
    return load_and_verify(made(setup, tmp_path, datetime.now(UTC)), [setup.line.public_key()])


def test_station_signers_must_fit_the_plan(setup: Setup, tmp_path: Path) -> None:
    plan = verified(setup, tmp_path)
    ok = open_station_signers(plan, setup.line, lambda name: setup.ca)
    ok.check(plan)
    with pytest.raises(PlanError, match="not the plan's line key"):
        open_station_signers(plan, MemorySigner(name="other"), lambda name: setup.ca)
    with pytest.raises(PlanError, match="is not the public key of"):
        open_station_signers(plan, setup.line, lambda name: MemorySigner(name=name))

    def missing(name: str) -> MemorySigner:
        raise BadInputError(f"no key named {name!r}")

    with pytest.raises(PlanError, match="no key named 'labca'"):
        open_station_signers(plan, setup.line, missing)
    with pytest.raises(PlanError, match="not the plan's line key"):
        StationSigners(MemorySigner(), ok.authorities).check(plan)
    with pytest.raises(PlanError, match="was not opened"):
        StationSigners(setup.line).check(plan)


def test_apply_refuses_before_any_io_without_fitting_signers(setup: Setup, tmp_path: Path) -> None:
    plan = verified(setup, tmp_path)
    never = "/nonexistent/port"  # opening it would be a board failure, not an exception
    with pytest.raises(PlanError, match="no station key"):
        apply_to_port(plan, never, ledger=None, audit=None, station="s")
    with pytest.raises(PlanError, match="not the plan's line key"):
        apply_to_port(
            plan, never, ledger=None, audit=None, station="s", signers=StationSigners(setup.ca)
        )


# -- on a board -----------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(None, tmp_path / "ledger-home")
    try:
        yield opened
    finally:
        opened.close()


def locked(board: Board, line: MemorySigner, imei: str) -> PtyServer:  # noqa: F811
    server = board("locked", imei=imei)
    server.board.modem.nvm.credentials[(0, 5)] = public_key_pem(line.public_key()).encode()
    return server


def check_issued(server: PtyServer, setup: Setup, imei: str) -> x509.Certificate:
    """The board holds a client key at the tag and a certificate for it, issued by the CA,
    with CN = IMEI."""
    stored = snapshot(server)
    assert (ISSUE_TAG, 2) in stored
    cert = x509.load_pem_x509_certificate(stored[(ISSUE_TAG, 1)])
    assert cert.issuer == setup.ca_cert.subject
    assert cert.subject.rfc4514_string() == f"CN={imei}"
    digest = hashlib.sha256(cert.tbs_certificate_bytes).digest()
    _, r, s = decode_any(cert.signature)
    assert verify_digest(setup.ca.public_key(), digest, r, s)
    return cert


def test_apply_issues_at_the_station_on_a_pty_board(
    setup: Setup,
    tmp_path: Path,
    board: Board,  # noqa: F811
    ledger: Ledger,
) -> None:
    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    imei = "352656100000071"
    server = locked(board, setup.line, imei)
    server.board.modem.volatile.cfun = 1
    audit = AuditLog(tmp_path / "audit.jsonl")
    steps: list[tuple[int, int, str]] = []
    outcome = apply_to_port(
        plan,
        server.path,
        ledger=ledger,
        audit=audit,
        station="line-1",
        signers=signers,
        progress=lambda *step: steps.append(step),
    )
    assert outcome.status == "written", outcome.error
    assert steps == [
        (0, 3, "checking"),
        (1, 3, "ca-cert"),
        (2, 3, "psk-id"),
        (3, 3, "client-cert (issue)"),
        (3, 3, "done"),
    ]
    assert outcome.to_json()["progress"] == {"done": 3, "total": 3}
    cert = check_issued(server, setup, imei)
    assert int(server.board.modem.volatile.cfun) == 1  # the previous mode is back
    results = outcome.results
    assert [(r["signed_at"], r["action"], r["auth"]) for r in results] == [
        ("plan", "written", "xsudo"),
        ("plan", "written", "xsudo"),
        ("station", "written", "xsudo"),
    ]
    assert results[2]["auth_reason"] == "signed at the station"
    cert_sha = hashlib.sha256(cert_pem(cert)).hexdigest().upper()
    assert results[2]["sha"] == cert_sha
    assert results[2]["issued"]["subject"] == f"CN={imei}"
    records = list(audit.records())
    signed = [r for r in records if r["event"] == "sign"]
    assert [r["command"] for r in signed] == ["%KEYGEN", "%CMNG"]
    assert {r["key_name"] for r in signed} == {"factory"}
    (issue,) = [r for r in records if r["event"] == "plan-issue"]
    assert issue["signed_at"] == "station" and issue["plan_hash"] == plan.plan_hash
    assert issue["sha"] == cert_sha and issue["ca_key_name"] == "labca"
    assert [r["signed_at"] for r in records if r["event"] == "write" and "plan_hash" in r] == [
        "plan",
        "plan",
    ]
    assert audit.verify().ok
    (record,) = ledger.list(imei=imei)
    assert [(c.type, c.auth) for c in record.credentials] == [
        ("ca-cert", "xsudo"),
        ("psk-id", "xsudo"),
        ("client-cert", LEDGER_STATION_AUTH),
    ]
    assert record.credentials[2].certificate_pem is not None
    assert record.credentials[2].sha == cert_sha
    before = snapshot(server)
    again = apply_to_port(
        plan, server.path, ledger=ledger, audit=audit, station="line-1", signers=signers
    )
    assert again.status == "unchanged", again.error
    assert snapshot(server) == before


def test_a_second_board_with_the_same_imei_is_a_duplicate(
    setup: Setup,
    tmp_path: Path,
    board: Board,  # noqa: F811
    ledger: Ledger,
) -> None:
    """The ledger records the issued certificate: a board with that IMEI which does not
    hold it (a clone holding another certificate, or a wiped board) gets nothing."""
    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    imei = "352656100000075"
    first = locked(board, setup.line, imei)
    done = apply_to_port(plan, first.path, ledger=ledger, audit=None, station="a", signers=signers)
    assert done.status == "written", done.error
    clone = locked(board, setup.line, imei)
    for where, content in snapshot(first).items():
        if where != (ISSUE_TAG, 1):
            clone.board.modem.nvm.credentials[where] = content
    clone.board.modem.nvm.credentials[(ISSUE_TAG, 1)] = cert_pem(setup.ca_cert)
    before = snapshot(clone)
    again = apply_to_port(plan, clone.path, ledger=ledger, audit=None, station="b", signers=signers)
    assert again.status == "duplicate" and "does not hold its content" in (again.error or "")
    assert snapshot(clone) == before


def test_a_progress_callback_that_raises_does_not_stop_the_board(
    setup: Setup,
    tmp_path: Path,
    board: Board,  # noqa: F811
) -> None:
    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    server = locked(board, setup.line, "352656100000076")

    def broken(number: int, total: int, label: str) -> None:
        raise RuntimeError("the display is gone")

    outcome = apply_to_port(
        plan, server.path, ledger=None, audit=None, station="s", signers=signers, progress=broken
    )
    assert outcome.status == "written", outcome.error
    check_issued(server, setup, "352656100000076")


def test_a_tag_that_holds_a_client_certificate_is_not_reissued(
    setup: Setup,
    tmp_path: Path,
    board: Board,  # noqa: F811
) -> None:
    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    server = locked(board, setup.line, "352656100000072")
    server.board.modem.nvm.credentials[(ISSUE_TAG, 1)] = cert_pem(setup.ca_cert)
    outcome = apply_to_port(
        plan, server.path, ledger=None, audit=None, station="s", signers=signers
    )
    assert outcome.status == "failed"
    assert "already holds a client certificate" in (outcome.error or "")
    assert (ISSUE_TAG, 2) not in snapshot(server)  # no key generated
    assert snapshot(server)[(ISSUE_TAG, 1)] == cert_pem(setup.ca_cert)


def test_a_slot_holding_another_key_gets_no_keygen(
    setup: Setup,
    tmp_path: Path,
    board: Board,  # noqa: F811
) -> None:
    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    server = locked(board, MemorySigner(), "352656100000073")
    before = snapshot(server)
    outcome = apply_to_port(
        plan, server.path, ledger=None, audit=None, station="s", signers=signers
    )
    assert outcome.status == "failed" and "nothing written" in (outcome.error or "")
    assert snapshot(server) == before


def test_apply_issues_at_the_station_over_sim_url(
    setup: Setup, tmp_path: Path, ledger: Ledger
) -> None:
    from xsudo.api import load_simulator
    from xsudo.sim.state import load_nvm

    plan = verified(setup, tmp_path)
    signers = open_station_signers(plan, setup.line, lambda name: setup.ca)
    state = tmp_path / "board.json"
    imei = "352656100000074"
    url = f"sim://?profile=locked&state={state}&imei={imei}"
    load_simulator(url)
    pem = public_key_pem(setup.line.public_key())
    from xsudo.at.modem import Modem

    with Modem.open(url) as modem:
        modem.xpmng_write(pem.encode(), 0)
    outcome = apply_to_port(plan, url, ledger=ledger, audit=None, station="s", signers=signers)
    assert outcome.status == "written", outcome.error
    nvm = load_nvm(state)
    assert nvm is not None and (ISSUE_TAG, 2) in nvm.credentials
    cert = x509.load_pem_x509_certificate(nvm.credentials[(ISSUE_TAG, 1)])
    assert cert.subject.rfc4514_string() == f"CN={imei}"


# -- fuzzing ----------------------------------------------------------------------------------

_FUZZ_KEY = MemorySigner(name="fuzz")


@pytest.fixture(scope="module")
def good_issue(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """A verified plan's payload and its issue entry."""
    directory: Path = tmp_path_factory.mktemp("issue-fuzz")
    setup = issue_manifest(directory)
    document, _ = build_plan(setup.manifest, _FUZZ_KEY, now=NOW, station_signs=True)
    payload = json.loads(b64url_decode(json.loads(document.to_bytes())["payload"], "payload"))
    return payload, _issue_entry(payload)


_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=30)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(sorted(_ISSUE_FIELDS)), value=_VALUES)
def test_any_changed_issue_field_is_refused_or_valid(
    good_issue: tuple[dict[str, Any], dict[str, Any]], field: str, value: object
) -> None:
    """A signed payload whose issue entry has one field replaced by any JSON scalar is
    refused with a one-line PlanError, or (the value was a valid one) read as such."""
    payload, entry = good_issue
    changed = {**entry, field: value}
    entries = [changed if e["action"] == "issue" else e for e in payload["entries"]]
    data = resigned({**payload, "entries": entries}, _FUZZ_KEY)
    try:
        plan = parse_plan(data).plan
    except PlanError as exc:
        assert "\n" not in exc.message
        return
    (issued,) = plan.station_signed
    assert issued.to_json() == changed
