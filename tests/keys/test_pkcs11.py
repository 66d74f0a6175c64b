"""Store ``pkcs11`` against a real SoftHSM2 token: object attributes, existing pairs, foreign
curves, errors, sessions, the CLI, and a credential write to a simulated board.

Independent checks: EC parameters and points are compared with what the openssl CLI produces,
signatures are verified with ``openssl pkeyutl -verify``, pairs "made by another tool" are
generated with python-pkcs11 directly, and the simulator verifies ``%XSUDO`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.keys.conftest import (
    OpensslKey,
    fast_store,
    openssl,
    openssl_fingerprint,
    sha256,
    write_secret,
)
from tests.keys.softhsm import TOKEN_LABEL, USER_PIN, SoftHsm
from tests.keys.test_contract import verify_with_openssl
from tests.support.boards import Result, snapshot
from xsudo.errors import InsecureStoreError, KeyStoreError, UnsupportedKeyError
from xsudo.keys import (
    PKCS11_MODULE_ENV,
    PKCS11_PIN_ENV,
    KeyStore,
    PassphraseSource,
    Pkcs11Config,
    Pkcs11KeyBackend,
    Pkcs11Signer,
)
from xsudo.keys.pkcs11_attrs import (
    check_p256_ec_params,
    p256_ec_params,
    public_key_from_ec_point,
)
from xsudo.sim import PtyServer

Run = Callable[..., Result]
BODY = '%CMNG=0,7,0,"hello"'


@pytest.fixture
def token(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    """A fresh token ``xsudo-test``; module and PIN in the environment as a user would set."""
    softhsm.init_token(TOKEN_LABEL)
    monkeypatch.setenv(PKCS11_MODULE_ENV, softhsm.module)
    monkeypatch.setenv(PKCS11_PIN_ENV, USER_PIN)
    return softhsm


def token_store(home: Path, hsm: SoftHsm, **config: str) -> KeyStore:
    return fast_store(home, pkcs11=Pkcs11Config(module=hsm.module, **config))


def spki_der(public_pem: str, tmp: Path) -> bytes:
    """``openssl pkey -pubin -outform DER`` of a PEM public key."""
    path = tmp / "spki.pem"
    path.write_text(public_pem)
    return openssl("pkey", "-pubin", "-in", str(path), "-outform", "DER")


class CountingPins(PassphraseSource):
    """The PIN from memory, counting how often a login asked for it."""

    def __init__(self, pin: str = USER_PIN) -> None:
        super().__init__(interactive=False, env_var=PKCS11_PIN_ENV, file_param="pin_file")
        self.pin = pin
        self.asked = 0

    def get(self, purpose: str, *, confirm: bool = False) -> bytes:
        self.asked += 1
        return self.pin.encode()


# --- attribute parsing (no token needed) -------------------------------------------------------


def openssl_point(tmp_path: Path) -> bytes:
    """An uncompressed P-256 point (65 bytes) from an openssl key."""
    key = tmp_path / "k.pem"
    key.write_bytes(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    return openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")[-65:]


def test_ec_point_is_unwrapped_strictly(tmp_path: Path) -> None:
    point = openssl_point(tmp_path)
    public = public_key_from_ec_point(b"\x04\x41" + point, "key 'k'")
    assert (
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == point
    )
    compressed = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    refused = {
        "bare point": point,
        "BER long-form length": b"\x04\x81\x41" + point,
        "trailing byte": b"\x04\x41" + point + b"\x00",
        "compressed": b"\x04\x21" + compressed,
        "off the curve": b"\x04\x41" + off_curve,
        "bit string": b"\x03\x42\x00" + point,
        "empty": b"",
    }
    for why, value in refused.items():
        with pytest.raises(KeyStoreError, match="CKA_EC_POINT") as caught:
            public_key_from_ec_point(value, "key 'k'")
        assert caught.value.exit_code == 2, why


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-name", "secp384r1"], "curve secp384r1"),
        (["-name", "secp256k1"], "curve secp256k1"),
        (["-name", "prime256v1", "-param_enc", "explicit"], "explicit curve parameters"),
    ],
)
def test_ec_params_other_than_prime256v1_are_refused(args: list[str], named: str) -> None:
    assert check_p256_ec_params(p256_ec_params(), "k") is None
    assert p256_ec_params() == openssl("ecparam", "-name", "prime256v1", "-outform", "DER")
    with pytest.raises(UnsupportedKeyError, match=named):
        check_p256_ec_params(openssl("ecparam", *args, "-outform", "DER"), "key 'k'")
    with pytest.raises(UnsupportedKeyError, match="implicitCA"):
        check_p256_ec_params(b"\x05\x00", "key 'k'")  # NULL: implicitlyCA
    for junk in (b"\x02\x01\x01", b"", b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01"):
        with pytest.raises(UnsupportedKeyError, match=r"not X9\.62 ECParameters"):
            check_p256_ec_params(junk, "key 'k'")


# --- objects in the token -----------------------------------------------------------------


def test_generated_pair_lives_in_the_token_non_extractable(
    token: SoftHsm, isolated_env: Path, tmp_path: Path
) -> None:
    import pkcs11

    attr = pkcs11.Attribute
    record = token_store(isolated_env, token, token_label=TOKEN_LABEL).generate("hsm1", "pkcs11")
    details = record.details
    assert details["origin"] == "generated"
    assert details["key_label"] == "hsm1"
    assert details["token_label"] == TOKEN_LABEL
    assert details["module"] == token.module
    assert USER_PIN not in (isolated_env / "keys" / "hsm1.json").read_text()
    key_id = bytes.fromhex(details["key_id"])
    assert len(key_id) == 16
    expected_private = {
        attr.TOKEN: True,
        attr.PRIVATE: True,
        attr.SENSITIVE: True,
        attr.EXTRACTABLE: False,
        attr.ALWAYS_SENSITIVE: True,
        attr.NEVER_EXTRACTABLE: True,
        attr.LOCAL: True,
        attr.SIGN: True,
        attr.DERIVE: False,
        attr.ID: key_id,
    }
    p256_params = openssl("ecparam", "-name", "prime256v1", "-outform", "DER")
    point = spki_der(record.public_key_pem, tmp_path)[-65:]
    with token.objects("hsm1") as objects:
        private, public = objects["private"], objects["public"]
        assert {a: private[a] for a in expected_private} == expected_private
        with pytest.raises(pkcs11.AttributeSensitive):
            private[attr.VALUE]
        assert (public[attr.TOKEN], public[attr.ID]) == (True, key_id)
        # The curve and point, as openssl encodes them.
        assert bytes(public[attr.EC_PARAMS]) == p256_params
        assert bytes(public[attr.EC_POINT]) == b"\x04\x41" + point


def test_imported_pem_becomes_a_non_extractable_token_key(
    token: SoftHsm, isolated_env: Path, openssl_key: OpensslKey, tmp_path: Path
) -> None:
    import pkcs11

    attr = pkcs11.Attribute
    store = token_store(isolated_env, token)
    record = store.import_key("imp", openssl_key.formats["pkcs8_der"].read_bytes(), "pkcs11")
    assert record.fingerprint == openssl_key.fingerprint
    assert record.details["origin"] == "imported"
    with token.objects("imp") as objects:
        private = objects["private"]
        assert (private[attr.SENSITIVE], private[attr.EXTRACTABLE]) == (True, False)
        assert private[attr.ALWAYS_SENSITIVE] is False  # it existed outside the token
        with pytest.raises(pkcs11.AttributeSensitive):
            private[attr.VALUE]
    digest = sha256(b"imported")
    r, s = store.signer("imp").sign_digest(digest)
    der = utils.encode_dss_signature(r, s)
    assert verify_with_openssl(tmp_path, record.public_key_pem, digest, der)


def test_an_existing_pair_is_referenced_and_never_destroyed(
    token: SoftHsm, xsudo: Run, tmp_path: Path
) -> None:
    spki = token.make_pair("factory-key")
    done = xsudo("key", "import-pkcs11", "fk", "--key-label", "factory-key", "--json")
    assert done.code == 0, done.err
    record = done.json()
    assert record["fingerprint"] == hashlib.sha256(spki).hexdigest()
    assert record["store"] == "pkcs11"
    assert record["details"]["origin"] == "referenced"
    assert record["details"]["key_id"] == "4201"
    signed = xsudo("sign", "--key", "fk", BODY)
    assert signed.code == 0, signed.err
    assert xsudo("verify", "--key", "fk", signed.out.strip()).code == 0
    gone = xsudo("key", "delete", "fk", "--yes")
    assert gone.code == 0
    assert "forgot key fk" in gone.err and "not touched" in gone.err
    with token.objects("factory-key") as objects:
        assert set(objects) == {"private", "public"}


@pytest.mark.parametrize(
    ("kind", "curve", "named"),
    [("EC", "secp384r1", "secp384r1"), ("EC", "secp256k1", "secp256k1"), ("RSA", "", "RSA")],
)
def test_keys_that_are_not_p256_are_refused(
    token: SoftHsm, isolated_env: Path, kind: str, curve: str, named: str
) -> None:
    token.make_pair("foreign", key_type=kind, curve=curve or "secp256r1")
    backend = Pkcs11KeyBackend(
        Pkcs11Config(module=token.module, key_label="foreign"), CountingPins()
    )
    with pytest.raises(UnsupportedKeyError, match=named) as caught:
        backend.locate("foreign")
    assert caught.value.exit_code == 2
    assert "P-256" in str(caught.value)


def test_a_label_in_use_is_never_reused(token: SoftHsm, isolated_env: Path) -> None:
    token.make_pair("taken")
    store = token_store(isolated_env, token)
    with pytest.raises(KeyStoreError, match=r"already holds objects labelled 'taken'"):
        store.generate("taken", "pkcs11")
    assert store.list() == []
    assert token.private_labels() == ["taken"]


# --- signing ----------------------------------------------------------------------------------


def test_one_login_per_token_and_session_reuse(token: SoftHsm, isolated_env: Path) -> None:
    token_store(isolated_env, token).generate("s1", "pkcs11")
    token_store(isolated_env, token).generate("s2", "pkcs11")
    pins = CountingPins()
    config = Pkcs11Config(module=token.module)
    store = KeyStore(isolated_env, backends={"pkcs11": Pkcs11KeyBackend(config, pins)})
    first = store.signer("s1")
    second = store.signer("s2")
    assert isinstance(first, Pkcs11Signer) and isinstance(second, Pkcs11Signer)
    assert pins.asked == 0  # opening a signer does not log in
    public = first.public_key()
    for n in range(3):
        digest = sha256(b"%d" % n)
        r, s = first.sign_digest(digest)
        public.verify(
            utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        )
        second.sign_digest(digest)
    assert pins.asked == 1
    first.close()
    second.sign_digest(sha256(b"still logged in"))
    assert pins.asked == 1
    second.close()
    with store.signer("s1") as third:
        assert isinstance(third, Pkcs11Signer)
        third.sign_digest(sha256(b"new session"))
    assert pins.asked == 2


def test_signers_are_safe_to_share_between_threads(token: SoftHsm, isolated_env: Path) -> None:
    # Two keys on one token share its one session; four threads sign through two signers.
    store = token_store(isolated_env, token)
    store.generate("t1", "pkcs11")
    store.generate("t2", "pkcs11")
    signers = [store.signer("t1"), store.signer("t2")]
    start = threading.Barrier(4)
    signed: dict[int, list[tuple[bytes, tuple[int, int]]]] = {n: [] for n in range(4)}
    failures: list[BaseException] = []

    def work(n: int) -> None:
        start.wait()
        try:
            for i in range(100):
                digest = sha256(b"%d-%d" % (n, i))
                signed[n].append((digest, signers[n % 2].sign_digest(digest)))
        except BaseException as exc:  # collected and reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for n, results in signed.items():
        public = signers[n % 2].public_key()
        assert len(results) == 100
        for digest, (r, s) in results:
            public.verify(
                utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
            )


# --- errors -----------------------------------------------------------------------------------


def assert_one_line_error(result: Result, fragment: str, code: int = 2) -> None:
    assert result.code == code, (result.out, result.err)
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert result.err.count("\n") == 1, result.err
    assert fragment in result.err
    assert USER_PIN not in result.err


def test_errors_are_one_line_with_a_next_step(
    token: SoftHsm, xsudo: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert xsudo("key", "generate", "k", "--store", "pkcs11").code == 0
    wrong = tmp_path / "wrong-pin"
    write_secret(wrong, "0000\n")
    monkeypatch.delenv(PKCS11_PIN_ENV)
    assert_one_line_error(
        xsudo("sign", "--key", "k", "--pin-file", str(wrong), BODY),
        f"wrong PIN for PKCS#11 token '{TOKEN_LABEL}'; check the PIN",
    )
    assert_one_line_error(
        xsudo("sign", "--key", "k", BODY), "no PIN of PKCS#11 token 'xsudo-test' given"
    )
    monkeypatch.setenv(PKCS11_PIN_ENV, USER_PIN)
    serial = token.lib().get_token(token_label=TOKEN_LABEL).serial.decode().strip()
    assert_one_line_error(
        xsudo("key", "generate", "k2", "--store", "pkcs11", "--token-label", "nope"),
        f"no PKCS#11 token with label 'nope' in module {token.module} (found: "
        f"'{TOKEN_LABEL}' (serial {serial}))",
    )
    assert_one_line_error(
        xsudo("key", "import-pkcs11", "k3", "--key-label", "missing"),
        "has no private key labelled 'missing' (private keys found: 'k')",
    )
    assert_one_line_error(
        xsudo("key", "generate", "k4", "--store", "pkcs11", "--module", "/nonexistent/p11.so"),
        "the PKCS#11 module /nonexistent/p11.so does not exist",
    )
    not_a_library = tmp_path / "libnot.so"
    not_a_library.write_bytes(b"\x7fELF but not really")
    assert_one_line_error(
        xsudo("key", "generate", "k5", "--store", "pkcs11", "--module", str(not_a_library)),
        f"cannot load the PKCS#11 module {not_a_library}",
    )
    assert_one_line_error(
        xsudo("key", "generate", "k6", "--store", "file", "--token-label", TOKEN_LABEL),
        "--token-label only apply to the pkcs11 store; add --store pkcs11",
    )
    monkeypatch.delenv(PKCS11_MODULE_ENV)
    assert_one_line_error(
        xsudo("key", "generate", "k7", "--store", "pkcs11"),
        "no PKCS#11 module given (a module path or XSUDO_PKCS11_MODULE); "
        "pass --module PATH or set XSUDO_PKCS11_MODULE",
    )
    assert [r["name"] for r in xsudo("key", "list", "--json").json()] == ["k"]
    assert token.private_labels() == ["k"]


def test_a_pair_swapped_in_the_token_is_refused(token: SoftHsm, isolated_env: Path) -> None:
    store = token_store(isolated_env, token)
    store.generate("a", "pkcs11")
    store.generate("b", "pkcs11")
    token.swap("a", "b")
    with pytest.raises(KeyStoreError, match="does not match its registered public key") as caught:
        token_store(isolated_env, token).signer("a").sign_digest(sha256(b"m"))
    assert "pair 'a' on PKCS#11 token 'xsudo-test'" in str(caught.value)


def test_without_python_pkcs11_the_error_says_how_to_install(
    xsudo: Run, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)  # import pkcs11 -> ImportError
    backend = Pkcs11KeyBackend(Pkcs11Config(module="/usr/lib/softhsm/libsofthsm2.so"))
    usable, reason = backend.available()
    assert not usable and "xsudo[hsm]" in reason
    with pytest.raises(InsecureStoreError, match=r"xsudo\[hsm\]"):
        KeyStore(isolated_env, backends={"pkcs11": backend}).generate("x", "pkcs11")
    result = xsudo("key", "generate", "x", "--store", "pkcs11", "--module", "/m.so")
    assert_one_line_error(result, "python-pkcs11 is not installed (pip install 'xsudo[hsm]')")
    # A key registered earlier: show/export still work, signing says what to install.
    record = {
        "version": 1,
        "name": "old",
        "store": "pkcs11",
        "created": "2025-01-01T00:00:00Z",
        "details": {"module": "/m.so", "key_label": "old", "origin": "generated"},
    }
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record.update(public_key_pem=pem, fingerprint=hashlib.sha256(der).hexdigest())
    (isolated_env / "keys").mkdir(parents=True)
    (isolated_env / "keys" / "old.json").write_text(json.dumps(record))
    assert xsudo("key", "export", "old").out == pem
    assert_one_line_error(xsudo("sign", "--key", "old", BODY), "install the PKCS#11 support")


# --- the CLI, end to end ----------------------------------------------------------------------


def test_cli_generate_show_export_sign_verify(
    token: SoftHsm, xsudo: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PKCS11_PIN_ENV)
    monkeypatch.delenv(PKCS11_MODULE_ENV)
    pin_file = tmp_path / "pin"
    write_secret(pin_file, USER_PIN + "\n")
    made = xsudo(
        "key",
        "generate",
        "hsmkey",
        "--store",
        "pkcs11",
        "--module",
        token.module,
        "--token-label",
        TOKEN_LABEL,
        "--key-label",
        "xsudo signing key",
        "--pin-file",
        str(pin_file),
        "--json",
    )
    assert made.code == 0, made.err
    assert "not deterministic" in made.err
    record = made.json()
    assert record["details"]["key_label"] == "xsudo signing key"
    # show/export need neither the module option nor the PIN.
    shown = xsudo("key", "show", "hsmkey", "--json")
    assert shown.code == 0 and shown.json() == record
    exported = xsudo("key", "export", "hsmkey")
    pub = tmp_path / "hsmkey.pem"
    pub.write_text(exported.out)
    assert openssl_fingerprint(pub, public=True) == record["fingerprint"]
    lines = []
    for _ in range(2):
        signed = xsudo("sign", "--key", "hsmkey", "--pin-file", str(pin_file), BODY)
        assert signed.code == 0, signed.err
        lines.append(signed.out.strip())
        verdict = xsudo("verify", "--key", "hsmkey", lines[-1])
        assert (verdict.code, verdict.out) == (0, "valid\n")
    assert lines[0] != lines[1]  # token ECDSA is randomised; both lines verify
    for line in lines:
        signature_b64 = line.split('"')[1]  # AT%XSUDO=<len>,"<sig>";<body>
        assert line.endswith(";" + BODY)
        der = base64.b64decode(signature_b64, validate=True)
        digest = hashlib.sha256(BODY.encode()).digest()
        assert verify_with_openssl(tmp_path, exported.out, digest, der)
    tampered = lines[0].replace("hello", "hellO")
    assert xsudo("verify", "--key", "hsmkey", tampered).code == 1


def test_cred_write_to_a_board_authenticated_by_the_hsm_key(
    token: SoftHsm, xsudo: Run, board: Callable[..., PtyServer], tmp_path: Path
) -> None:
    from xsudo.ca import cert_pem
    from xsudo.crypto import generate_private_key
    from xsudo.labpki import make_ca

    server = board("locked")  # refuses plain %CMNG writes: only %XSUDO gets through
    assert xsudo("key", "generate", "hsmkey", "--store", "pkcs11").code == 0
    uploaded = xsudo("device", "upload-key", "--port", server.path, "--key", "hsmkey")
    assert uploaded.code == 0, uploaded.err
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert_pem(make_ca(generate_private_key(), "HSM test CA")))
    done = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "7",
        "--type",
        "ca-cert",
        "--auth",
        "required",
        "--key",
        "hsmkey",
        "--json",
        str(ca),
    )
    assert done.code == 0, done.err
    assert done.json()["auth"] == "xsudo"
    stored = snapshot(server)[(7, 0)]
    assert hashlib.sha256(stored).hexdigest().upper() == done.json()["sha"]
    assert stored == ca.read_bytes()


def test_pin_is_never_written_anywhere(
    token: SoftHsm, xsudo: Run, isolated_env: Path, tmp_path: Path
) -> None:
    assert xsudo("key", "generate", "quiet", "--store", "pkcs11").code == 0
    assert xsudo("sign", "--key", "quiet", BODY).code == 0
    for path in isolated_env.rglob("*"):
        if path.is_file():
            assert USER_PIN.encode() not in path.read_bytes(), path
    audit = list(isolated_env.rglob("*.jsonl"))
    assert audit, "the sign command wrote no audit log to check"
