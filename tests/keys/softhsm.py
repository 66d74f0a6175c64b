"""SoftHSM2 tokens for tests: a private token directory per test, and direct token access.

Each test gets its own ``softhsm2.conf`` (``directories.tokendir`` in the test's temp dir,
exported as ``SOFTHSM2_CONF``); tokens are made by the real ``softhsm2-util --init-token``.
SoftHSM2 reads its configuration and token list in ``C_Initialize``, so after a token is made
the module is re-initialised in this process (:meth:`SoftHsm.refresh`).

Inspection and tampering (:meth:`SoftHsm.session`) use python-pkcs11 directly, not xsudo's
code, so tests see the token as any other PKCS#11 client would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xsudo.keys import close_sessions

MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
SO_PIN = "so-pin-8731"
USER_PIN = "user-pin-2468"
TOKEN_LABEL = "xsudo-test"


def find_module() -> str | None:
    """The SoftHSM2 PKCS#11 module on this machine, if installed."""
    return next((path for path in MODULE_PATHS if Path(path).is_file()), None)


def require_module() -> str:
    """The module path, or skip the test saying how to install SoftHSM2."""
    module = find_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip(
            "SoftHSM2 is not installed (no /usr/lib/softhsm/libsofthsm2.so or softhsm2-util); "
            "install it with: apt-get install -y softhsm2"
        )
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        pytest.fail("python-pkcs11 is missing: pip install -e '.[test]' installs it (hsm extra)")
    return module


@dataclass
class SoftHsm:
    """A SoftHSM2 token directory of one test."""

    module: str
    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "softhsm2.conf"

    def init_token(self, label: str = TOKEN_LABEL, pin: str = USER_PIN) -> str:
        """Initialise a new token with ``softhsm2-util``; return its serial number."""
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
                "--pin",
                pin,
            ],
            check=True,
            capture_output=True,
        )
        self.refresh()
        return str(self.lib().get_token(token_label=label).serial.decode("ascii")).strip()

    def lib(self) -> Any:
        import pkcs11

        return pkcs11.lib(self.module)

    def refresh(self) -> None:
        """Close xsudo's sessions and re-initialise the module (new tokens become visible)."""
        close_sessions()
        self.lib().reinitialize()

    @contextmanager
    def session(self, label: str = TOKEN_LABEL, *, rw: bool = False) -> Iterator[Any]:
        """A logged-in python-pkcs11 session on token ``label``."""
        import pkcs11

        token = self.lib().get_token(token_label=label)
        try:
            session = token.open(rw=rw, user_pin=USER_PIN)
        except pkcs11.UserAlreadyLoggedIn:  # xsudo holds a logged-in session in this process
            session = token.open(rw=rw)  # shares that login; closing it does not log out
        try:
            yield session
        finally:
            session.close()

    def private_labels(self, label: str = TOKEN_LABEL) -> list[str]:
        import pkcs11

        with self.session(label) as session:
            query = {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY}
            return sorted(str(o[pkcs11.Attribute.LABEL]) for o in session.get_objects(query))

    @contextmanager
    def objects(self, key_label: str, label: str = TOKEN_LABEL) -> Iterator[dict[str, Any]]:
        """The objects labelled ``key_label`` by class (``private``, ``public``), readable
        inside the ``with`` block."""
        import pkcs11

        found: dict[str, Any] = {}
        with self.session(label) as session:
            for obj in session.get_objects({pkcs11.Attribute.LABEL: key_label}):
                kind = obj[pkcs11.Attribute.CLASS]
                name = {
                    pkcs11.ObjectClass.PRIVATE_KEY: "private",
                    pkcs11.ObjectClass.PUBLIC_KEY: "public",
                }.get(kind, str(kind))
                assert name not in found, f"two {name} objects labelled {key_label!r}"
                found[name] = obj
            yield found

    def make_pair(
        self,
        key_label: str,
        *,
        key_type: str = "EC",
        curve: str = "secp256r1",
        key_id: bytes = b"\x42\x01",
        label: str = TOKEN_LABEL,
    ) -> bytes:
        """Generate a key pair in the token as another tool would; return the public key's
        SubjectPublicKeyInfo DER (built by python-pkcs11/asn1crypto, not xsudo)."""
        import pkcs11
        from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
        from pkcs11.util.rsa import encode_rsa_public_key

        with self.session(label, rw=True) as session:
            if key_type == "RSA":
                public, _private = session.generate_keypair(
                    pkcs11.KeyType.RSA, 1024, store=True, label=key_label, id=key_id
                )
                return bytes(encode_rsa_public_key(public))
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(curve)},
                local=True,
            )
            public, _private = params.generate_keypair(store=True, label=key_label, id=key_id)
            return bytes(encode_ec_public_key(public))

    def swap(self, a: str, b: str, label: str = TOKEN_LABEL) -> None:
        """Put pair ``b`` where pair ``a`` is (same label and CKA_ID); pair ``a`` is destroyed."""
        import pkcs11

        attr = pkcs11.Attribute
        with self.session(label, rw=True) as session:
            a_objects = list(session.get_objects({attr.LABEL: a}))
            a_id = a_objects[0][attr.ID]
            for obj in a_objects:
                obj.destroy()
            for obj in list(session.get_objects({attr.LABEL: b})):
                obj[attr.ID] = a_id
                obj[attr.LABEL] = a


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsm]:
    """An empty SoftHSM2 token directory (no token yet: call ``init_token``)."""
    module = require_module()
    directory = tmp_path / "softhsm"
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    hsm = SoftHsm(module, directory)
    hsm.conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.conf))
    yield hsm
    close_sessions()
