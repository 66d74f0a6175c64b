"""The keyring store uses only backends known to encrypt at rest (others need an explicit
opt-in naming them), refuses backends that lose, expose or prompt, and checks every write."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, ClassVar

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, chainer, fail, null
from keyring.errors import KeyringLocked
from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

from tests.conftest import MEMORY_KEYRING
from tests.keys.conftest import FAST_ROUNDS, sha256
from tests.keys.test_cli import assert_one_line_error, run
from tests.support import memory_keyring
from tests.support.memory_keyring import MemoryKeyring
from xsudo.errors import InsecureStoreError, KeyStoreError
from xsudo.keys import (
    FileKeyBackend,
    KeyringKeyBackend,
    KeyStore,
    PassphraseSource,
    assess_backend,
)
from xsudo.keys.keyring_store import ALLOW_ENV, ENCRYPTING_BACKENDS, backend_label


class PromptingKeyring(EncryptedKeyring):
    """keyrings.alt's EncryptedKeyring (prompts via getpass); must not even be touched."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        KeyringBackend.__init__(self)  # skip the pycryptodome import; never used here

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("a prompting backend was used without a terminal")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("a prompting backend was used without a terminal")


class DroppingKeyring(KeyringBackend):
    """Accepts writes and forgets them (what a broken or null-like backend does)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


class TruncatingKeyring(MemoryKeyring):
    """Keeps a shortened value (a backend with a length limit)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password[:100])


class LockedKeyring(MemoryKeyring):
    """A keychain that is locked for writing."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"locked; the value was {password}")


class RaisingPriority(KeyringBackend):
    """A backend whose priority raises, as keyring's docs say unsuitable backends do."""

    class _Raise:
        def __get__(self, obj: object, owner: type) -> float:
            raise RuntimeError("no D-Bus session")

    priority: ClassVar[Any] = _Raise()

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("unusable backend used")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("unusable backend used")


class ZeroPriority(MemoryKeyring):
    priority = 0  # type: ignore[assignment]


def chain_of(*backends: KeyringBackend) -> KeyringBackend:
    class Chain(chainer.ChainerBackend):
        pass

    Chain.backends = list(backends)  # type: ignore[misc]
    return Chain()


def store_with(home: Path, backend: KeyringBackend, *, interactive: bool = False) -> KeyStore:
    source = PassphraseSource(interactive=False)
    return KeyStore(
        home,
        source,
        backends={
            "keyring": KeyringKeyBackend(backend=backend, interactive=interactive),
            "file": FileKeyBackend(home / "keys", source, kdf_rounds=FAST_ROUNDS),
        },
    )


def label_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def allow(monkeypatch: pytest.MonkeyPatch, *classes: type) -> None:
    """Opt in ``classes`` (besides the memory keyring) through XSUDO_KEYRING_ALLOW."""
    monkeypatch.setenv(ALLOW_ENV, ",".join([MEMORY_KEYRING, *map(label_of, classes)]))


REFUSED = [
    pytest.param(lambda: fail.Keyring(), "no OS keychain", (), id="fail"),
    pytest.param(lambda: null.Keyring(), "discards every secret", (), id="null"),
    pytest.param(lambda: PlaintextKeyring(), "base64-encoded in a plain file", (), id="plaintext"),
    pytest.param(lambda: chain_of(), "no usable backend to chain", (), id="empty-chainer"),
    pytest.param(
        lambda: chain_of(PlaintextKeyring(), MemoryKeyring()), "plain file", (), id="chainer-weak"
    ),
    pytest.param(
        lambda: DroppingKeyring(),
        "DroppingKeyring is not a keyring backend known to encrypt at rest",
        (),
        id="not-allowed",
    ),
    pytest.param(
        lambda: RaisingPriority(),
        "not usable here.*no D-Bus session",
        (RaisingPriority,),
        id="raises",
    ),
    pytest.param(
        lambda: ZeroPriority(),
        r"reports itself unusable \(priority 0\)",
        (ZeroPriority,),
        id="prio0",
    ),
    pytest.param(
        lambda: PromptingKeyring(), "would prompt", (PromptingKeyring,), id="prompting-no-tty"
    ),
]


@pytest.mark.parametrize(("make", "reason", "opted_in"), REFUSED)
def test_refused_backends(
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Any,
    reason: str,
    opted_in: tuple[type, ...],
) -> None:
    allow(monkeypatch, *opted_in)
    backend = make()
    verdict = assess_backend(backend, can_prompt=False)
    assert not verdict.usable
    assert re.search(reason, verdict.reason), verdict.reason
    store = store_with(isolated_env, backend)
    with pytest.raises(InsecureStoreError, match="keyring store cannot be used") as caught:
        store.generate("k", "keyring")
    assert caught.value.exit_code == 2
    assert store.list() == []
    name, why = store.default_store()
    assert name == "file"
    assert "the keyring store is unusable" in why


def test_allowlist_names_real_backend_classes() -> None:
    """Every allowlisted name is exactly the module.Class of a backend keyring ships."""
    for name in ENCRYPTING_BACKENDS:
        module, cls = name.rsplit(".", 1)
        assert label_of(getattr(importlib.import_module(module), cls)) == name


def test_known_encrypting_backend_needs_no_opt_in() -> None:
    # As if a Secret Service were on D-Bus (its priority would raise here without one);
    # monkeypatch cannot do this: it reads the old value first, which raises.
    descriptor = SecretService.Keyring.__dict__["priority"]
    SecretService.Keyring.priority = 5  # type: ignore[assignment]
    try:
        backend = SecretService.Keyring()
        verdict = assess_backend(backend, can_prompt=False, allowed=())
    finally:
        SecretService.Keyring.priority = descriptor
    assert verdict.usable, verdict.reason
    assert verdict.reason == "OS keychain backend keyring.backends.SecretService.Keyring"
    assert verdict.backend is backend


def test_unknown_backend_is_refused_with_the_opt_in_to_use(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a denylist: a backend nobody listed (here the in-memory one) is refused."""
    monkeypatch.delenv(ALLOW_ENV)
    verdict = assess_backend(MemoryKeyring(), can_prompt=False)
    assert not verdict.usable
    assert verdict.reason == (
        f"{MEMORY_KEYRING} is not a keyring backend known to encrypt at rest (to use it "
        f"anyway, set {ALLOW_ENV}={MEMORY_KEYRING})"
    )
    with pytest.raises(InsecureStoreError, match=f"set {ALLOW_ENV}={MEMORY_KEYRING}"):
        store_with(isolated_env, MemoryKeyring()).generate("k", "keyring")
    assert memory_keyring.entries() == {}


def test_cli_refuses_an_unknown_backend_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_ENV)
    code, out, err = run(capsys, "key", "generate", "k", "--store", "keyring")
    assert_one_line_error(code, out, err, f"set {ALLOW_ENV}={MEMORY_KEYRING}")
    assert "the keyring store cannot be used" in err
    assert memory_keyring.entries() == {}


def test_opt_in_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exact module.Class, comma-separated; no wildcard, no prefix, no subclass."""
    backend = MemoryKeyring()
    for value in ("tests.support.memory_keyring", "tests.support.memory_keyring.Memory"):
        monkeypatch.setenv(ALLOW_ENV, value)
        assert not assess_backend(backend, can_prompt=False).usable
    monkeypatch.setenv(ALLOW_ENV, f" keyring.backends.kwallet.DBusKeyring , {MEMORY_KEYRING} ")
    verdict = assess_backend(backend, can_prompt=False)
    assert verdict.usable, verdict.reason
    assert verdict.reason == f"keyring backend {MEMORY_KEYRING}, allowed by {ALLOW_ENV}"
    monkeypatch.setenv(ALLOW_ENV, "tests.support.memory_keyring.*")
    verdict = assess_backend(backend, can_prompt=False)
    assert not verdict.usable
    assert "is not a module.Class name (no wildcards)" in verdict.reason
    assert not assess_backend(ZeroPriority(), can_prompt=False, allowed=[MEMORY_KEYRING]).usable


def test_subclass_of_an_encrypting_backend_needs_the_opt_in() -> None:
    class Lookalike(SecretService.Keyring):
        priority = 5  # type: ignore[assignment]

    verdict = assess_backend(Lookalike(), can_prompt=False, allowed=())
    assert not verdict.usable
    assert "not a keyring backend known to encrypt at rest" in verdict.reason
    assert assess_backend(Lookalike(), can_prompt=False, allowed=[label_of(Lookalike)]).usable


@pytest.mark.parametrize(
    "make",
    [fail.Keyring, null.Keyring, PlaintextKeyring],
    ids=["fail", "null", "plaintext"],
)
def test_opt_in_cannot_enable_a_backend_that_never_protects(make: Any) -> None:
    backend = make()
    verdict = assess_backend(backend, can_prompt=True, allowed=[backend_label(backend)])
    assert not verdict.usable
    assert verdict.reason.endswith(f"; {ALLOW_ENV} cannot enable it"), verdict.reason


def test_plaintext_backend_wrote_nothing(isolated_env: Path) -> None:
    backend = PlaintextKeyring()
    with pytest.raises(InsecureStoreError):
        store_with(isolated_env, backend).generate("k", "keyring")
    assert not Path(backend.file_path).exists()


def test_prompting_backend_is_accepted_on_a_terminal() -> None:
    opted_in = [label_of(PromptingKeyring)]
    verdict = assess_backend(PromptingKeyring(), can_prompt=True, allowed=opted_in)
    assert verdict.usable, verdict.reason
    assert not assess_backend(PromptingKeyring(), can_prompt=True, allowed=()).usable


def test_chainer_resolves_to_its_best_backend(isolated_env: Path) -> None:
    verdict = assess_backend(chain_of(MemoryKeyring(), PlaintextKeyring()), can_prompt=False)
    assert verdict.usable
    assert isinstance(verdict.backend, MemoryKeyring)
    assert "first in keyring's chainer" in verdict.reason


def test_memory_keyring_from_the_environment_is_a_real_backend(isolated_env: Path) -> None:
    assert isinstance(keyring.get_keyring(), MemoryKeyring)
    store = KeyStore(isolated_env)
    name, reason = store.default_store()
    assert name == "keyring"
    assert "tests.support.memory_keyring.MemoryKeyring" in reason


@pytest.mark.parametrize("backend", [DroppingKeyring(), TruncatingKeyring()], ids=["drop", "cut"])
def test_read_back_mismatch_is_detected(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, backend: KeyringBackend
) -> None:
    allow(monkeypatch, type(backend))
    store = store_with(isolated_env, backend)
    with pytest.raises(InsecureStoreError, match="read-back mismatch") as caught:
        store.generate("k", "keyring")
    assert caught.value.exit_code == 2
    assert store.list() == []
    assert memory_keyring.entries() == {}  # the short value was removed again


def test_backend_errors_are_one_line_and_never_show_the_secret(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow(monkeypatch, LockedKeyring)
    store = store_with(isolated_env, LockedKeyring())
    with pytest.raises(KeyStoreError) as caught:
        store.generate("k", "keyring")
    message = str(caught.value)
    assert "KeyringLocked" in message
    assert "the value was" not in message
    assert "\n" not in message
    assert store.list() == []


def test_orphan_keychain_entry_is_not_overwritten(isolated_env: Path) -> None:
    memory_keyring.entries()[("xsudo", "k")] = "someone else's secret"
    store = store_with(isolated_env, MemoryKeyring())
    with pytest.raises(KeyStoreError, match="already holds an entry"):
        store.generate("k", "keyring")
    assert memory_keyring.entries()[("xsudo", "k")] == "someone else's secret"


def test_entry_removed_behind_our_back(isolated_env: Path) -> None:
    store = store_with(isolated_env, MemoryKeyring())
    store.generate("k", "keyring")
    memory_keyring.reset()
    with pytest.raises(KeyStoreError, match="keychain has no secret for key 'k'"):
        store.signer("k").sign_digest(sha256(b"m"))
    store.delete("k")  # still possible, the entry is simply gone
    assert store.list() == []


def test_garbage_keychain_entry(isolated_env: Path) -> None:
    store = store_with(isolated_env, MemoryKeyring())
    store.generate("k", "keyring")
    memory_keyring.entries()[("xsudo", "k")] = "not base64 !"
    with pytest.raises(KeyStoreError, match="is not an xsudo key"):
        store.signer("k").sign_digest(sha256(b"m"))
