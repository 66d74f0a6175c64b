"""Rules S19-S23: the simulator verifies %XSUDO lines made with Nordic's OpenSSL recipe.

The lines come from tests/vectors/openssl-recipe.json (made with the openssl CLI, not with
this project's signer). Extra signatures for edge cases are made here with the vector's
private key through ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.sim import Modem, SimOptions

from .conftest import load_vectors

CASES: list[dict[str, Any]] = load_vectors("openssl-recipe.json")["cases"]
WITH_LINE = [c for c in CASES if c["xsudo_line"] is not None]
TRAILING_NEWLINE = [c for c in CASES if c["xsudo_line"] is None]
OK = b"OK\r\n"
AUTH_FAILED = b"+CME ERROR: 520\r\n"
CMEE1 = b"AT+CMEE=1"


def case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["name"] == name)


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [f"{c['id']}-{c['name']}" for c in cases]


def upload(modem: Modem, pem: str, slot: int | None = None) -> None:
    tail = b"" if slot is None else b",%d" % slot
    assert modem.handle(CMEE1) == OK
    assert modem.handle(b'AT%XPMNG=0,"' + pem.encode("ascii") + b'"' + tail) == OK


def line(data_len: int, signature_b64: str, body: bytes, slot: int | None = None) -> bytes:
    tail = b"" if slot is None else b",%d" % slot
    return b'AT%%XSUDO=%d,"%s"%s;' % (data_len, signature_b64.encode("ascii"), tail) + body


def sign(vector: dict[str, Any], body: bytes) -> str:
    key = serialization.load_pem_private_key(vector["private_key_pem"].encode("ascii"), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def twin(modem: Modem) -> Modem:
    """A second modem with the same NVM and CMEE (to run the inner command directly)."""
    other = Modem(modem.options, copy.deepcopy(modem.nvm))
    other.volatile.cmee = modem.volatile.cmee
    return other


KEYGEN_REPLY = re.compile(rb'%KEYGEN: "[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"\r\nOK\r\n')


@pytest.mark.parametrize("profile", ["nrf91x1-2.0", "nrf9160-1.3", "nrf9151-2.0"])
@pytest.mark.parametrize("vector", WITH_LINE, ids=ids(WITH_LINE))
def test_recipe_lines_are_accepted_and_run_the_inner_command(
    vector: dict[str, Any], profile: str
) -> None:
    modem = Modem(SimOptions(profile=profile))
    upload(modem, vector["public_key_pem"])
    direct = twin(modem)
    answer = modem.handle(vector["xsudo_line"].encode("ascii"))
    assert answer != AUTH_FAILED
    inner = b"AT" + vector["command_intended"].encode("ascii")
    if vector["command_intended"].startswith("%KEYGEN"):
        assert KEYGEN_REPLY.fullmatch(answer)
        assert (16842753, 2) in modem.nvm.credentials
        return
    assert answer == direct.handle(inner)
    assert modem.nvm.credentials == direct.nvm.credentials


@pytest.mark.parametrize(
    "vector",
    [c for c in WITH_LINE if c["command_intended"].startswith("%CMNG=0")],
    ids=ids([c for c in WITH_LINE if c["command_intended"].startswith("%CMNG=0")]),
)
def test_recipe_writes_store_the_exact_bytes_between_the_quotes(vector: dict[str, Any]) -> None:
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    upload(modem, vector["public_key_pem"])
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == OK
    command = vector["command_intended"].encode("ascii")
    tag, type_ = (int(x) for x in command.split(b",")[1:3])
    content = command[command.index(b'"') + 1 : command.rindex(b'"')]
    assert modem.nvm.credentials[(tag, type_)] == content


def test_cr_only_pem_through_xsudo_still_gets_527_on_91x1() -> None:
    vector = case("cmng-ec-root-cr-only")
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == b"+CME ERROR: 527\r\n"


@pytest.mark.parametrize("vector", TRAILING_NEWLINE, ids=ids(TRAILING_NEWLINE))
def test_trailing_newline_signatures_fail_with_520(vector: dict[str, Any]) -> None:
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    sent = line(
        vector["intended_len"], vector["sig_der_b64"], vector["command_intended"].encode("ascii")
    )
    assert modem.handle(sent) == AUTH_FAILED
    assert modem.nvm.credentials == twin(modem).nvm.credentials


@pytest.mark.parametrize("vector", WITH_LINE, ids=ids(WITH_LINE))
def test_raw_signatures_are_refused_by_default_and_accepted_on_request(
    vector: dict[str, Any],
) -> None:
    body = vector["command_intended"].encode("ascii")
    raw_line = line(vector["intended_len"], vector["sig_raw_rs_b64"], body)
    strict = Modem()
    upload(strict, vector["public_key_pem"])
    assert strict.handle(raw_line) == AUTH_FAILED
    lenient = Modem(SimOptions(accept_raw_signatures=True))
    upload(lenient, vector["public_key_pem"])
    der = Modem(SimOptions(accept_raw_signatures=True), copy.deepcopy(lenient.nvm))
    der.volatile.cmee = 1
    raw_answer = lenient.handle(raw_line)
    der_answer = der.handle(vector["xsudo_line"].encode("ascii"))
    if body.startswith(b"%KEYGEN"):
        assert KEYGEN_REPLY.fullmatch(raw_answer)
    else:
        assert raw_answer == der_answer != AUTH_FAILED
        assert lenient.nvm.credentials == der.nvm.credentials


def test_wrapped_base64_as_printed_by_coreutils_fails_with_520() -> None:
    vector = case("doc-example-printf")
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    upload(modem, vector["public_key_pem"])
    wrapped = vector["sig_der_b64_as_printed_by_base64"]
    body = vector["command_intended"].encode("ascii")
    assert "\n" in wrapped.rstrip("\n")
    assert modem.handle(line(35, wrapped, body)) == AUTH_FAILED
    assert modem.handle(line(35, wrapped.rstrip("\n"), body)) == AUTH_FAILED
    assert modem.handle(line(35, vector["sig_der_b64"], body)) == OK


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.rstrip("="),
        lambda s: s.replace("+", "-").replace("/", "_"),
        lambda s: " " + s,
        lambda s: s[:-4],
        lambda s: "",
    ],
    ids=["unpadded", "base64url", "leading-space", "truncated", "empty"],
)
def test_non_standard_base64_fails_with_520(mangle: Any) -> None:
    vector = case("cmng-ec-root-lf")
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    signature = vector["sig_der_b64"]
    body = vector["command_intended"].encode("ascii")
    assert mangle(signature) != signature
    assert modem.handle(line(len(body), mangle(signature), body)) == AUTH_FAILED
    assert modem.handle(line(len(body), signature, body)) == OK


def test_ber_signature_fails_with_520() -> None:
    vector = case("short-list")
    der = base64.b64decode(vector["sig_der_b64"])
    ber = bytes([0x30, 0x81, der[1]]) + der[2:]
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    assert modem.handle(line(7, base64.b64encode(ber).decode(), b"%CMNG=1")) == AUTH_FAILED


def test_signature_by_another_key_fails_with_520() -> None:
    mine, other = case("doc-example-printf"), case("short-delete")
    assert mine["key_id"] != other["key_id"]
    modem = Modem()
    upload(modem, other["public_key_pem"])
    assert modem.handle(mine["xsudo_line"].encode("ascii")) == AUTH_FAILED


def test_characters_after_data_len_are_ignored() -> None:
    vector = case("short-list")
    modem = Modem(SimOptions(seed_reserved=False))
    upload(modem, vector["public_key_pem"])
    modem.handle(b'AT%CMNG=0,3,4,"three"')
    full = modem.handle(b"AT%CMNG=1")
    assert full.count(b"%CMNG:") == 2
    extended = vector["xsudo_line"].encode("ascii") + b",3,4"
    assert modem.handle(extended) == full


def test_data_len_longer_than_the_command_is_50() -> None:
    vector = case("short-list")
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    assert modem.handle(line(8, vector["sig_der_b64"], b"%CMNG=1")) == b"+CME ERROR: 50\r\n"


@pytest.mark.parametrize(
    "bad",
    [
        b'AT%XSUDO=7,"c2lnbmF0dXJl"',
        b'AT%XSUDO=x,"c2lnbmF0dXJl";%CMNG=1',
        b'AT%XSUDO=0,"c2lnbmF0dXJl";%CMNG=1',
        b"AT%XSUDO=7,c2lnbmF0dXJl;%CMNG=1",
        b'AT%XSUDO=7,"c2lnbmF0dXJl",10;%CMNG=1',
        b"AT%XSUDO=7;%CMNG=1",
    ],
    ids=["no-semicolon", "data-len-text", "data-len-0", "unquoted", "slot-10", "no-signature"],
)
def test_malformed_xsudo_is_50(bad: bytes) -> None:
    modem = Modem()
    upload(modem, case("short-list")["public_key_pem"])
    assert modem.handle(bad) == b"+CME ERROR: 50\r\n"


def test_no_key_in_slot_is_513() -> None:
    modem = Modem()
    modem.handle(CMEE1)
    assert modem.handle(case("short-list")["xsudo_line"].encode("ascii")) == b"+CME ERROR: 513\r\n"


def test_slot_selection() -> None:
    vector_a, vector_b = case("doc-example-printf"), case("short-delete")
    modem = Modem(SimOptions(profile="nrf9160-1.3"))
    upload(modem, vector_b["public_key_pem"], 0)
    modem.handle(b'AT%XPMNG=0,"' + vector_a["public_key_pem"].encode("ascii") + b'",3')
    body = vector_a["command_intended"].encode("ascii")
    signature = vector_a["sig_der_b64"]
    assert modem.handle(line(35, signature, body)) == AUTH_FAILED
    assert modem.handle(line(35, signature, body, slot=0)) == AUTH_FAILED
    assert modem.handle(line(35, signature, body, slot=5)) == b"+CME ERROR: 513\r\n"
    assert modem.handle(line(35, signature, body, slot=3)) == OK
    assert modem.nvm.credentials[(1, 0)] == b"TEST ROOT CERTIFICATE"


def test_inner_errors_pass_through_unchanged() -> None:
    vector = case("short-delete")
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == b"+CME ERROR: 513\r\n"
    modem.handle(b"AT+CFUN=1")
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == b"+CME ERROR: 518\r\n"
    modem.handle(b"AT+CMEE=0")
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == b"ERROR\r\n"


def test_multiline_pem_signed_with_its_line_breaks() -> None:
    vector = case("cmng-ec-root-lf")
    body = vector["command_intended"].encode("ascii")
    assert b"\n" in body
    modem = Modem()
    upload(modem, vector["public_key_pem"])
    converted = body.replace(b"\n", b"\r\n")
    assert modem.handle(line(len(converted), vector["sig_der_b64"], converted)) == AUTH_FAILED
    assert modem.handle(line(len(body), vector["sig_der_b64"], body)) == OK


# -- rule S24 through XSUDO: the locked profile -------------------------------------------------


def test_locked_profile_needs_xsudo_for_writes() -> None:
    vector = case("cmng-psk-identity")
    body = vector["command_intended"].encode("ascii")
    modem = Modem(SimOptions(profile="locked"))
    upload(modem, vector["public_key_pem"])
    assert modem.handle(b"AT" + body) == b"+CME ERROR: 514\r\n"
    assert (16842753, 4) not in modem.nvm.credentials
    assert modem.handle(vector["xsudo_line"].encode("ascii")) == OK
    assert modem.nvm.credentials[(16842753, 4)] == b"nrf91-device-0001"
    delete = b"%CMNG=3,16842753,4"
    assert modem.handle(b"AT" + delete) == b"+CME ERROR: 514\r\n"
    assert modem.handle(line(len(delete), sign(vector, delete), delete)) == OK
    assert (16842753, 4) not in modem.nvm.credentials


def test_locked_profile_keygen_through_xsudo() -> None:
    vector = case("short-keygen")
    modem = Modem(SimOptions(profile="locked"))
    upload(modem, vector["public_key_pem"])
    assert modem.handle(b"AT%KEYGEN=16842753,2,0") == b"+CME ERROR: 514\r\n"
    assert KEYGEN_REPLY.fullmatch(modem.handle(vector["xsudo_line"].encode("ascii")))


def test_locked_profile_bad_signature_is_520_not_514() -> None:
    vector = case("cmng-psk-identity")
    modem = Modem(SimOptions(profile="locked"))
    upload(modem, vector["public_key_pem"])
    body = vector["command_intended"].encode("ascii")
    assert modem.handle(line(len(body), case("short-list")["sig_der_b64"], body)) == AUTH_FAILED
