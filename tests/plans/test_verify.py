"""Building, approving and verifying plans (no device): every refusal of load_and_verify,
and an independent JOSE library (joserfc) checking our JWS."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, KeySet

from tests.plans.conftest import CA_TAG, NOW, PlanFiles, write_manifest
from tests.support.signers import MemorySigner
from xsudo.at import commands
from xsudo.crypto import fingerprint, public_key_pem
from xsudo.plans.build import approve_plan, build_plan, write_plan
from xsudo.plans.jws import b64url, b64url_decode, new_document
from xsudo.plans.model import PlanError, canonical_json
from xsudo.plans.verify import load_and_verify, read_plan
from xsudo.signing import sign_command


def joserfc_keys(*signers: MemorySigner) -> KeySet:
    return KeySet(
        [
            ECKey.import_key(public_key_pem(s.public_key()), {"kid": fingerprint(s.public_key())})
            for s in signers
        ]
    )


def payload_of(plan: Path) -> dict:
    document = json.loads(plan.read_text())
    return json.loads(b64url_decode(document["payload"], "payload"))


def resign(plan: Path, payload: dict, signer: MemorySigner) -> None:
    """Write ``payload`` (canonical) as a new plan signed by ``signer``."""
    plan.unlink()
    write_plan(plan, new_document(canonical_json(payload), signer))


def test_round_trip(plan_files: PlanFiles) -> None:
    verified = load_and_verify(plan_files.plan, [plan_files.line_key.public_key()], now=NOW)
    assert verified.signers == (fingerprint(plan_files.line_key.public_key()),)
    assert verified.key_fingerprint == fingerprint(plan_files.line_key.public_key())
    assert [e.tag for e in verified.entries] == [CA_TAG, CA_TAG + 1]
    assert verified.not_after - verified.created == timedelta(days=7)
    manifest_bytes = plan_files.manifest.read_bytes()
    import hashlib

    assert verified.manifest_sha256 == hashlib.sha256(manifest_bytes).hexdigest()
    # each line is exactly what the writer would send, signed by the line key
    entry = verified.entries[1]
    body = commands.cmng_write(entry.tag, entry.type, b"factory-device").body()
    expected = sign_command(body, plan_files.line_key, slot=0).line
    assert entry.line == expected
    assert entry.sha256 == hashlib.sha256(b"factory-device").hexdigest()


def test_joserfc_verifies_our_plan(plan_files: PlanFiles) -> None:
    approver = MemorySigner(name="approver")
    approve_plan(plan_files.plan, approver, now=NOW)
    data = json.loads(plan_files.plan.read_text())
    checked = jws.deserialize_json(data, joserfc_keys(plan_files.line_key, approver))
    assert checked.payload == b64url_decode(data["payload"], "payload")
    assert [m.headers()["kid"] for m in checked.members] == [
        fingerprint(plan_files.line_key.public_key()),
        fingerprint(approver.public_key()),
    ]


def test_joserfc_refuses_a_tampered_plan(plan_files: PlanFiles) -> None:
    data = json.loads(plan_files.plan.read_text())
    payload = bytearray(b64url_decode(data["payload"], "payload"))
    payload[payload.index(b"factory-device")] ^= 0x01
    data["payload"] = b64url(bytes(payload))
    with pytest.raises(BadSignatureError):
        jws.deserialize_json(data, joserfc_keys(plan_files.line_key))


def test_a_changed_payload_byte_is_refused(plan_files: PlanFiles) -> None:
    data = json.loads(plan_files.plan.read_text())
    payload = b64url_decode(data["payload"], "payload")
    changed = payload.replace(b'"slot":0', b'"slot":1')
    assert changed != payload
    data["payload"] = b64url(changed)
    plan_files.plan.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="does not verify"):
        load_and_verify(plan_files.plan, [plan_files.line_key.public_key()], now=NOW)


def test_expired_and_future_plans_are_refused(plan_files: PlanFiles) -> None:
    trusted = [plan_files.line_key.public_key()]
    load_and_verify(plan_files.plan, trusted, now=NOW + timedelta(days=7, seconds=-1))
    with pytest.raises(PlanError, match="expired"):
        load_and_verify(plan_files.plan, trusted, now=NOW + timedelta(days=7))
    with pytest.raises(PlanError, match="future"):
        load_and_verify(plan_files.plan, trusted, now=NOW - timedelta(hours=1))


def test_approvals_must_come_from_distinct_trusted_keys(plan_files: PlanFiles) -> None:
    approver = MemorySigner(name="approver")
    stranger = MemorySigner(name="stranger")
    trusted = [plan_files.line_key.public_key(), approver.public_key()]
    with pytest.raises(PlanError, match="1 verified signature"):
        load_and_verify(plan_files.plan, trusted, approvals=2, now=NOW)
    before = json.loads(plan_files.plan.read_text())["payload"]
    approve_plan(plan_files.plan, stranger, now=NOW)  # not trusted: does not count
    with pytest.raises(PlanError, match="2 required"):
        load_and_verify(plan_files.plan, trusted, approvals=2, now=NOW)
    approve_plan(plan_files.plan, approver, now=NOW)
    verified = load_and_verify(plan_files.plan, trusted, approvals=2, now=NOW)
    assert set(verified.signers) == {fingerprint(k) for k in trusted}
    assert json.loads(plan_files.plan.read_text())["payload"] == before  # payload untouched
    with pytest.raises(PlanError, match="already signed"):
        approve_plan(plan_files.plan, approver, now=NOW)
    with pytest.raises(PlanError, match="0 verified"):
        load_and_verify(plan_files.plan, [MemorySigner().public_key()], now=NOW)


def test_a_line_whose_command_differs_from_its_entry_is_refused(plan_files: PlanFiles) -> None:
    """A plan re-signed by a trusted key still cannot carry a line for another command."""
    key = plan_files.line_key
    payload = payload_of(plan_files.plan)
    smuggled = [
        commands.cmng_write(CA_TAG + 7, 4, "other").body(),  # another tag
        commands.cmng_delete(CA_TAG + 1, 4).body(),  # a delete, entry says write
        b'%XPMNG=0,"x",3',  # not %CMNG at all
        commands.cmng_write(CA_TAG + 1, 4, "other").body(),  # content not the entry's SHA
    ]
    for body in smuggled:
        entries = [dict(e) for e in payload["entries"]]
        entries[1]["line"] = sign_command(body, key, slot=0).line
        resign(plan_files.plan, {**payload, "entries": entries}, key)
        with pytest.raises(PlanError, match=r"entry #2"):
            load_and_verify(plan_files.plan, [key.public_key()], now=NOW)


def test_a_line_signed_by_another_key_is_refused(plan_files: PlanFiles) -> None:
    key, other = plan_files.line_key, MemorySigner()
    payload = payload_of(plan_files.plan)
    entries = [dict(e) for e in payload["entries"]]
    body = commands.cmng_write(entries[1]["tag"], 4, "factory-device").body()
    entries[1]["line"] = sign_command(body, other, slot=0).line
    resign(plan_files.plan, {**payload, "entries": entries}, key)
    with pytest.raises(PlanError, match="does not verify against the plan's key"):
        load_and_verify(plan_files.plan, [key.public_key()], now=NOW)


def test_schema_and_canonical_form_are_enforced(plan_files: PlanFiles) -> None:
    key = plan_files.line_key
    payload = payload_of(plan_files.plan)
    for changed, message in [
        ({**payload, "extra": 1}, "fields"),
        ({**payload, "slot": 12}, "slot"),
        ({**payload, "not_after": "2027-12-06T06:00:00Z"}, "at most 90 days"),
        ({**payload, "key_fingerprint": "0" * 64}, "key_fingerprint"),
        ({**payload, "version": 2}, "version"),
    ]:
        resign(plan_files.plan, changed, key)
        with pytest.raises(PlanError, match=message):
            load_and_verify(plan_files.plan, [key.public_key()], now=NOW)
    plan_files.plan.unlink()
    spaced = json.dumps(payload, sort_keys=True).encode()  # not canonical (spaces)
    write_plan(plan_files.plan, new_document(spaced, key))
    with pytest.raises(PlanError, match="canonical"):
        load_and_verify(plan_files.plan, [key.public_key()], now=NOW)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ('\n[[credential]]\ntag = 5\ntype = "client-cert"\nfile = "{imei}.pem"\n', "per device"),
        (
            '\n[[credential]]\ntag = 6\ntype = "client-cert"\n'
            'issue = { ca = "ca.pem", ca_key = "labca" }\n',
            "issues a certificate",
        ),
        ("\n[finish]\nproduction_done = true\n", r"\[finish\]"),
    ],
)
def test_entries_that_cannot_be_presigned_are_refused(
    tmp_path: Path, line_key: MemorySigner, extra: str, reason: str
) -> None:
    manifest = write_manifest(tmp_path, extra)
    with pytest.raises(PlanError, match=reason):
        build_plan(manifest, line_key, now=NOW)


def test_bad_expiry_is_refused(tmp_path: Path, line_key: MemorySigner) -> None:
    with pytest.raises(PlanError, match="at most 90"):
        build_plan(write_manifest(tmp_path), line_key, validity=timedelta(days=91))


def test_read_plan_refuses_duplicate_keys_and_big_files(plan_files: PlanFiles) -> None:
    text = plan_files.plan.read_text()
    plan_files.plan.write_text('{"payload":"e30","payload"' + text[len('{"payload"') :])
    with pytest.raises(PlanError, match="twice"):
        read_plan(plan_files.plan)
    plan_files.plan.write_bytes(b" " * (5 * 1024 * 1024))
    with pytest.raises(PlanError):
        read_plan(plan_files.plan)


def test_approving_an_expired_or_changed_plan_is_refused(plan_files: PlanFiles) -> None:
    approver = MemorySigner(name="approver")
    before = plan_files.plan.read_bytes()
    with pytest.raises(PlanError, match="expired") as expired:
        approve_plan(plan_files.plan, approver, now=NOW + timedelta(days=7))
    assert expired.value.hint == "make a new plan"
    document = json.loads(before)
    signature = document["signatures"][0]
    raw = bytearray(b64url_decode(signature["signature"], "signature"))
    raw[5] ^= 1  # a flipped bit in the plan key's signature
    signature["signature"] = b64url(bytes(raw))
    plan_files.plan.write_text(json.dumps(document))
    changed = plan_files.plan.read_bytes()
    with pytest.raises(PlanError, match="does not verify") as bad:
        approve_plan(plan_files.plan, approver, now=NOW)
    assert "changed after it was signed" in (bad.value.hint or "")
    assert plan_files.plan.read_bytes() == changed  # nothing written


@pytest.mark.parametrize(
    ("where", "fragment"),
    [("header", "signature #1 header is not valid JSON"), ("payload", "payload is not")],
)
def test_a_flipped_byte_in_a_signed_part_says_the_plan_was_changed(
    plan_files: PlanFiles, where: str, fragment: str
) -> None:
    document = json.loads(plan_files.plan.read_text())
    if where == "header":
        part = document["signatures"][0]["protected"]
        data = bytearray(b64url_decode(part, "header"))
        data[2] = 0x01  # a control character inside a JSON string
        document["signatures"][0]["protected"] = b64url(bytes(data))
    else:
        data = bytearray(b64url_decode(document["payload"], "payload"))
        data[data.index(b'"', 2) - 1] = ord("\\")  # an invalid escape
        document["payload"] = b64url(bytes(data))
    plan_files.plan.write_text(json.dumps(document))
    with pytest.raises(PlanError) as refused:
        read_plan(plan_files.plan)
    assert fragment in refused.value.message
    assert refused.value.hint is not None and "changed after it was signed" in refused.value.hint
    assert "line 1 column" in refused.value.message  # the reason is not cut off


def test_a_manifest_given_as_the_plan_says_it_is_not_a_plan(plan_files: PlanFiles) -> None:
    with pytest.raises(PlanError) as refused:
        read_plan(plan_files.manifest)
    assert refused.value.message.startswith("this is not a plan file")
    assert refused.value.hint == "xsudo plan MANIFEST makes one"
