"""Store ``command``: an external program signs (Vault Transit, a cloud KMS, a signing server).

xsudo never sees the private key. A key is registered with its public key and a command
(``xsudo key import-command NAME --command 'CMD ARGS...' --public-key FILE``); the command
line is split once with :func:`shlex.split` and kept as an argv list in the metadata (it must
hold no secret: pass tokens through the environment, which the command inherits).

Signing contract (the same as Nordic's b0 bootloader signing hook):

* xsudo writes the 32-byte SHA-256 digest of the signed bytes to ``digest.bin`` in a fresh
  private temp directory (directory 0700, file 0600), runs ``CMD ARGS... <digest-file>`` with
  no shell, no standard input and the environment minus xsudo's own secrets
  (``XSUDO_KEY_PASSPHRASE``, ``XSUDO_IMPORT_PASSPHRASE``, ``XSUDO_PKCS11_PIN``), then removes
  the directory.
* The command prints the signature of that digest (ECDSA P-256, the digest taken as the
  SHA-256 hash; ``openssl pkeyutl -sign -inkey KEY -in FILE`` does exactly this) on standard
  output, in one of: binary DER ``ECDSA-Sig-Value``; binary raw ``r||s`` (exactly 64 bytes);
  or one line of standard padded Base64 of either (one trailing LF or CRLF allowed). Strict:
  anything else, including DER with trailing bytes or wrapped Base64, is refused.
* It exits 0. A non-zero exit is an error quoting the first line of its standard error (the
  digest is never shown). A command running longer than the timeout (30 s by default, kept in
  the metadata) is killed with its whole process group.
* Every signature is verified against the registered public key before it is returned.

ECDSA from an external signer is usually not deterministic, so lines differ per run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xsudo.atomic import write_atomic
from xsudo.crypto import PrivateKey, PublicKey, load_public_key, verify_digest
from xsudo.encoding import SignatureFormatError, b64decode_strict, decode_any, decode_der
from xsudo.errors import BadInputError, KeyStoreError, Remedy
from xsudo.keys.local_signer import DIGEST_SIZE
from xsudo.keys.passphrase import IMPORT_PASSPHRASE_ENV, KEY_PASSPHRASE_ENV
from xsudo.keys.pkcs11_link import PKCS11_PIN_ENV
from xsudo.keys.records import KeyRecord

STORE_NAME = "command"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0
MAX_OUTPUT_BYTES = 4096
HIDDEN_ENV = (KEY_PASSPHRASE_ENV, IMPORT_PASSPHRASE_ENV, PKCS11_PIN_ENV)
DIGEST_FILE = "digest.bin"


class SignerCommandError(KeyStoreError):
    """The external signer command failed, hung, or returned no valid signature."""


@dataclass(frozen=True)
class SignerCommand:
    """The argv prefix of an external signer and how long it may take."""

    argv: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def parse(cls, command: str, timeout: float = DEFAULT_TIMEOUT) -> SignerCommand:
        """Split ``command`` like a POSIX shell would (quotes, backslashes), but run no shell."""
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise BadInputError(
                f"cannot split the signer command: {exc}", "check its quotes"
            ) from None
        if not argv:
            raise BadInputError("the signer command is empty", "give the program to run")
        return cls(argv, check_timeout(timeout))

    @classmethod
    def of(cls, record: KeyRecord) -> SignerCommand:
        """The command registered for ``record`` (its metadata ``argv`` and ``timeout``)."""
        try:
            argv = json.loads(record.details.get("argv", ""))
            timeout = float(record.details.get("timeout", str(DEFAULT_TIMEOUT)))
        except ValueError:
            argv, timeout = None, math.nan
        if (
            not isinstance(argv, list)
            or not argv
            or not all(isinstance(a, str) for a in argv)
            or not 0 < timeout <= MAX_TIMEOUT
        ):
            raise KeyStoreError(
                f"the metadata of key {record.name!r} does not hold a valid signer command",
                "restore it from a backup, or delete the key and register it again",
                remedy=Remedy("reregister-key", {"key": record.name, "store": STORE_NAME}),
            )
        return cls(tuple(argv), timeout)

    def details(self) -> dict[str, str]:
        """The metadata fields for this command (no secrets: see the module docstring)."""
        return {
            "argv": json.dumps(list(self.argv)),
            "command": shlex.join(self.argv),
            "timeout": f"{self.timeout:g}",
            "input": "sha256-digest-file",
        }

    def require_runnable(self) -> None:
        """Refuse a program that cannot be found or run now (at registration)."""
        program = self.argv[0]
        if shutil.which(program) is None:
            where = "is not executable" if os.path.exists(program) else "was not found"
            raise BadInputError(
                f"the signer program {program!r} {where}",
                "give its full path, or check that it is installed and executable",
            )


def check_timeout(timeout: float) -> float:
    if not 0 < timeout <= MAX_TIMEOUT:
        raise BadInputError(
            f"a signer timeout of {timeout:g} s is out of range",
            f"use more than 0 and at most {MAX_TIMEOUT:g} seconds",
        )
    return timeout


class CommandKeyBackend:
    """External signer commands. Holds no secrets; cannot generate or import private keys."""

    @property
    def name(self) -> str:
        return STORE_NAME

    def available(self) -> tuple[bool, str]:
        return True, "external signer commands (each registered with its public key)"

    def generate(self, key_name: str) -> tuple[PublicKey, dict[str, str]]:
        raise KeyStoreError(
            "the command store cannot generate keys: the external signer owns its key",
            "create the key in the signer, then register its command and public key "
            "(KeyStore.register_existing)",
            remedy=Remedy("register-command-key", {"key": key_name}),
        )

    def store(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        raise KeyStoreError(
            "the command store keeps no private keys",
            "import the key into the external signer, then register its command and public "
            "key (KeyStore.register_existing)",
            remedy=Remedy("register-command-key", {"key": key_name}),
        )

    def describe(self, command: SignerCommand) -> dict[str, str]:
        """The metadata details for ``command`` (registration)."""
        command.require_runnable()
        return command.details()

    def signer(self, record: KeyRecord) -> CommandSigner:
        return CommandSigner(
            record.name,
            load_public_key(record.public_key_pem.encode("ascii")),
            SignerCommand.of(record),
        )

    def delete(self, record: KeyRecord) -> None:
        """Nothing to remove: the external signer's key is not xsudo's."""


class CommandSigner:
    """Signs digests by running an external command (see the module contract)."""

    def __init__(self, name: str, public_key: PublicKey, command: SignerCommand) -> None:
        self._name = name
        self._public_key = public_key
        self.command = command

    @property
    def name(self) -> str:
        return self._name

    def public_key(self) -> PublicKey:
        return self._public_key

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Run the command over ``digest``; return its verified ``(r, s)``."""
        if len(digest) != DIGEST_SIZE:
            raise BadInputError(
                f"a SHA-256 digest is {DIGEST_SIZE} bytes, got {len(digest)}",
                "hash the message with SHA-256 first",
            )
        output = run_signer(self.command, digest)
        try:
            r, s = parse_signature_output(output)
        except SignatureFormatError as exc:
            raise SignerCommandError(
                f"the signer command of key {self.name!r} printed no signature xsudo accepts "
                f"({exc})",
                "it must print binary DER, binary 64-byte r||s, or one line of Base64 of either",
            ) from None
        if not verify_digest(self._public_key, digest, r, s):
            raise SignerCommandError(
                "the signer command returned a signature that does not verify against the "
                f"registered public key (key {self.name!r})",
                "the signer uses a different key than the one registered; check its key, or "
                "register the right public key",
            )
        return r, s


def run_signer(command: SignerCommand, digest: bytes) -> bytes:
    """Run ``command`` on a private temp file holding ``digest``; return its standard output."""
    with tempfile.TemporaryDirectory(prefix="xsudo-sign-") as tmp:
        os.chmod(tmp, 0o700)
        path = Path(tmp) / DIGEST_FILE
        _write_private(path, digest)
        return _run(command, [*command.argv, str(path)])


def _write_private(path: Path, data: bytes) -> None:
    """A new 0600 file in the private temp directory; a scratch file, so not fsynced."""
    write_atomic(path, data, mode=0o600, replace=False, durable=False)


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}


def _run(command: SignerCommand, argv: Sequence[str]) -> bytes:
    shown = shlex.join(command.argv)
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise SignerCommandError(
            f"cannot run the signer command {shown}: {exc.strerror or exc}",
            "check that the program exists and is executable",
        ) from None
    try:
        out, err = process.communicate(timeout=command.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise SignerCommandError(
            f"the signer command {shown} did not finish within {command.timeout:g} s "
            "and was stopped",
            "check that it can reach its key service without asking for input, or register "
            "the key again with a longer timeout",
            remedy=Remedy("raise-timeout", {"seconds": f"{command.timeout:g}"}),
        ) from None
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    if process.returncode != 0:
        raise SignerCommandError(
            f"the signer command {shown} failed ({_exit_reason(process.returncode)})"
            + (f": {_first_line(err)}" if _first_line(err) else ""),
            "run it by hand on a test digest file to see why",
        )
    return out


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - no process groups
            process.kill()


def _exit_reason(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def _first_line(err: bytes) -> str:
    for line in err.decode("utf-8", "replace").splitlines():
        text = "".join(c if c.isprintable() else "?" for c in line.strip())
        if text:
            return text[:200]
    return ""


def parse_signature_output(output: bytes) -> tuple[int, int]:
    """``(r, s)`` from a signer's standard output (formats: see the module contract)."""
    if not output:
        raise SignatureFormatError("it printed nothing")
    if len(output) > MAX_OUTPUT_BYTES:
        raise SignatureFormatError(f"it printed {len(output)} bytes")
    if output[0] == 0x30:
        with contextlib.suppress(SignatureFormatError):
            return decode_der(output)
    if len(output) == 64:
        _encoding, r, s = decode_any(output)
        return r, s
    text = output
    if text.endswith(b"\r\n"):
        text = text[:-2]
    elif text.endswith(b"\n"):
        text = text[:-1]
    try:
        decoded = b64decode_strict(text.decode("ascii"))
    except (UnicodeDecodeError, SignatureFormatError):
        raise SignatureFormatError(
            f"{len(output)} bytes starting 0x{output[:4].hex()} are neither DER, 64-byte raw "
            "r||s, nor one line of Base64"
        ) from None
    _encoding, r, s = decode_any(decoded)
    return r, s


__all__ = [
    "DEFAULT_TIMEOUT",
    "STORE_NAME",
    "CommandKeyBackend",
    "CommandSigner",
    "SignerCommand",
    "SignerCommandError",
    "parse_signature_output",
    "run_signer",
]
