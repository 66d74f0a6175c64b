"""Hostile and garbled plan files: every one is refused with PlanError (exit 2), never a
traceback, and a changed plan never verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plans.conftest import NOW, write_manifest
from tests.support.signers import MemorySigner
from xsudo.crypto import public_key_pem
from xsudo.plans.build import build_plan
from xsudo.plans.jws import b64url, b64url_decode, new_document
from xsudo.plans.model import PlanError
from xsudo.plans.verify import parse_plan, verify_bytes

KEY = MemorySigner(name="fuzz")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    document, _ = build_plan(write_manifest(directory), KEY, now=NOW)
    return document.to_bytes()


def _refused_or_same(data: bytes, good: bytes) -> None:
    try:
        verified = verify_bytes(data, [KEY.public_key()], now=NOW)
    except PlanError as exc:
        assert "\n" not in exc.message
        return
    # only an unchanged payload may verify (the file may differ in JSON whitespace)
    original = json.loads(good)["payload"]
    assert json.loads(data)["payload"] == original
    assert verified.entries


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(min_value=0), value=st.integers(min_value=1, max_value=255))
def test_flipped_bytes_are_refused(good: bytes, index: int, value: int) -> None:
    data = bytearray(good)
    data[index % len(data)] ^= value
    _refused_or_same(bytes(data), good)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(min_value=0), value=st.integers(min_value=1, max_value=255))
def test_flipped_payload_bytes_are_refused(good: bytes, index: int, value: int) -> None:
    document = json.loads(good)
    payload = bytearray(b64url_decode(document["payload"], "payload"))
    payload[index % len(payload)] ^= value
    document["payload"] = b64url(bytes(payload))
    with pytest.raises(PlanError):
        verify_bytes(json.dumps(document).encode(), [KEY.public_key()], now=NOW)


@settings(max_examples=300, deadline=None)
@given(value=JSON)
def test_arbitrary_json_is_refused(value: object) -> None:
    with pytest.raises(PlanError):
        verify_bytes(json.dumps(value).encode(), [KEY.public_key()], now=NOW)


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_arbitrary_signed_payloads_are_refused(value: object) -> None:
    """A payload signed by a trusted key is still checked field by field."""
    payload = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    data = new_document(payload, KEY).to_bytes()
    with pytest.raises(PlanError):
        verify_bytes(data, [KEY.public_key()], now=NOW)
    with pytest.raises(PlanError):
        parse_plan(data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(PlanError):
        verify_bytes(data, [KEY.public_key()], now=NOW)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entry=st.dictionaries(
        st.sampled_from(["action", "line", "replace", "sha256", "tag", "type", "x"]),
        JSON,
        max_size=7,
    )
)
def test_hostile_entries_in_a_signed_payload_are_refused(good: bytes, entry: dict) -> None:
    payload = json.loads(b64url_decode(json.loads(good)["payload"], "payload"))
    payload["entries"] = [*payload["entries"], entry]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(PlanError):
        verify_bytes(new_document(text, KEY).to_bytes(), [KEY.public_key()], now=NOW)


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe", b"[]", b'{"payload":"","signatures":[]}', b"{" * 100000, b"null"],
    ids=["empty", "binary", "array", "no-signatures", "deep", "null"],
)
def test_the_cli_refuses_garbled_plans_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    from tests.support.cli import assert_one_line_error, run_cli

    plan = tmp_path / "plan.json"
    plan.write_bytes(content)
    pub = tmp_path / "k.pub"
    pub.write_text(public_key_pem(KEY.public_key()))
    code, out, err = run_cli(
        capsys, "apply", str(plan), "--trust", str(pub), "--port", "sim://?profile=locked"
    )
    assert_one_line_error(code, out, err, "plan")
    code, out, err = run_cli(capsys, "plan", "show", str(plan))
    assert_one_line_error(code, out, err, "plan")
