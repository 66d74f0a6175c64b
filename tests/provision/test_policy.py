"""The auth decision as a table: every mode x key x slot answer x firmware support.

The expected column is written out by hand from the documented rule (docs/security.md);
the test fails if ``decide_auth`` or ``classify_slot`` disagree with any row.
"""

from __future__ import annotations

import itertools

import pytest

from tests.verify.support import LocalSigner, load_test_key
from xsudo.cli.hints import cli_text
from xsudo.crypto import generate_private_key, public_key_pem
from xsudo.errors import BadInputError, CmeError
from xsudo.provision.policy import (
    AuthenticationRequired,
    AuthFacts,
    AuthSettings,
    SlotKeyMismatch,
    classify_slot,
    decide_auth,
)

SIGNER = LocalSigner(load_test_key("test-key-1"), "factory")
OURS = public_key_pem(SIGNER.public_key()).encode()
THEIRS = public_key_pem(generate_private_key().public_key()).encode()

# (slot kind, xsudo support) -> decision for auto and for required, with a key given.
# "plain"/"xsudo" or the error type.
RULE = {
    ("match", "yes"): ("xsudo", "xsudo"),
    ("match", "no"): ("xsudo", "xsudo"),
    ("match", "unknown"): ("xsudo", "xsudo"),
    ("other", "yes"): (SlotKeyMismatch, SlotKeyMismatch),
    ("other", "no"): (SlotKeyMismatch, SlotKeyMismatch),
    ("other", "unknown"): (SlotKeyMismatch, SlotKeyMismatch),
    ("empty", "yes"): ("plain", AuthenticationRequired),
    ("empty", "no"): ("plain", AuthenticationRequired),
    ("empty", "unknown"): ("plain", AuthenticationRequired),
    ("hidden", "yes"): ("xsudo", "xsudo"),
    ("hidden", "no"): ("xsudo", "xsudo"),
    ("hidden", "unknown"): ("xsudo", "xsudo"),
    ("unsupported", "yes"): ("xsudo", "xsudo"),
    ("unsupported", "no"): ("plain", AuthenticationRequired),
    ("unsupported", "unknown"): ("plain", AuthenticationRequired),
    ("ambiguous", "yes"): ("xsudo", "xsudo"),
    ("ambiguous", "no"): ("xsudo", "xsudo"),
    ("ambiguous", "unknown"): ("xsudo", "xsudo"),
}


@pytest.mark.parametrize(("slot", "support"), list(RULE))
@pytest.mark.parametrize("mode", ["auto", "required"])
def test_with_a_key(mode: str, slot: str, support: str) -> None:
    wanted = RULE[(slot, support)][0 if mode == "auto" else 1]
    settings = AuthSettings(mode, SIGNER, 3)  # type: ignore[arg-type]
    facts = AuthFacts(slot, "ab" * 32 if slot == "other" else None, support)  # type: ignore[arg-type]
    if isinstance(wanted, str):
        plan = decide_auth(settings, facts)
        assert plan.method == wanted
        assert plan.reason  # every plan says why
    else:
        with pytest.raises(wanted) as info:
            decide_auth(settings, facts)
        assert "slot 3" in str(info.value) or "firmware" in str(info.value)


def test_a_different_key_names_the_fix() -> None:
    with pytest.raises(SlotKeyMismatch) as info:
        decide_auth(AuthSettings("auto", SIGNER, 0), AuthFacts("other", "cd" * 32))
    text = cli_text(info.value)
    assert "--replace" in text and "--auth never" in text and "cdcdcdcd" in text


def test_without_a_key() -> None:
    assert decide_auth(AuthSettings("auto", None), None).method == "plain"
    with pytest.raises(BadInputError):
        decide_auth(AuthSettings("required", None), None)


@pytest.mark.parametrize("slot", sorted({kind for kind, _ in RULE}))
def test_never_is_plain_whatever_the_slot(slot: str) -> None:
    facts = AuthFacts(slot)  # type: ignore[arg-type]
    assert decide_auth(AuthSettings("never", SIGNER), facts).method == "plain"


def _error(kind: str, code: int) -> CmeError:
    return CmeError("%XPMNG", code, kind)


@pytest.mark.parametrize(
    ("pem", "error", "numeric", "kind"),
    [
        (OURS, None, True, "match"),
        (OURS, None, False, "match"),
        (THEIRS, None, True, "other"),
        (b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", None, True, "other"),
        (None, None, True, "empty"),
        (None, _error("CME", 513), True, "empty"),
        (None, _error("CME", 513), False, "empty"),
        (None, _error("CME", 514), True, "hidden"),
        (None, _error("ERROR", 0), True, "unsupported"),
        (None, _error("ERROR", 0), False, "ambiguous"),
        (None, _error("CME", 0), True, "ambiguous"),
        (None, _error("CME", 50), True, "ambiguous"),
        (None, _error("CME", 520), True, "ambiguous"),
        (None, _error("CMS", 513), True, "ambiguous"),
    ],
)
def test_classify_slot(pem: bytes | None, error: CmeError | None, numeric: bool, kind: str) -> None:
    assert classify_slot(pem, error, SIGNER, numeric)[0] == kind


def test_no_fact_makes_plain_from_a_key_in_the_slot() -> None:
    """Exhaustive: whatever the facts, a slot showing a key never yields plain."""
    for mode, support, numeric in itertools.product(
        ("auto", "required"), ("yes", "no", "unknown"), (True, False)
    ):
        for slot in ("match", "other", "hidden", "ambiguous"):
            facts = AuthFacts(slot, None, support, numeric)  # type: ignore[arg-type]
            try:
                plan = decide_auth(AuthSettings(mode, SIGNER), facts)  # type: ignore[arg-type]
            except (SlotKeyMismatch, AuthenticationRequired):
                continue
            assert plan.method == "xsudo"
