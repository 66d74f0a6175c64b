"""The fleet manifest (TOML): which credentials every device gets, and how to authenticate.

```toml
[defaults]                 # optional
auth = "auto"              # auto | required | never
key = "factory"            # key name in the store
slot = 0                   # XPMNG slot (0-9)
replace = false            # overwrite different content already stored

[[credential]]             # one table per credential, written in order
tag = 16842753
type = "ca-cert"           # ca-cert, client-cert, client-key, psk, psk-id, public-key (or 0-5)
file = "certs/ca.pem"      # relative to the manifest; may contain {imei}
replace = true             # optional, per credential
```

:func:`load_manifest` checks the structure; :func:`prepare_device` loads and validates
every file for one device (after ``{imei}`` is filled in) without touching it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xsudo.content import XSUDO_MAX_OVERHEAD, CredType, Preflight, parse_cred_type, preflight
from xsudo.errors import BadInputError
from xsudo.provision.policy import AUTH_MODES, AuthMode

_DEFAULT_KEYS = {"auth", "key", "slot", "replace"}
_CREDENTIAL_KEYS = {"tag", "type", "file", "replace"}


class ManifestError(BadInputError):
    """A manifest that cannot be used (exit 2); the message names the file and the entry."""


@dataclass(frozen=True)
class CredentialSpec:
    """One ``[[credential]]`` entry."""

    index: int
    tag: int
    cred_type: CredType
    file: str
    replace: bool


@dataclass(frozen=True)
class Manifest:
    path: Path
    auth: AuthMode
    key: str | None
    slot: int | None
    credentials: tuple[CredentialSpec, ...]
    unknown_keys: tuple[str, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_manifest(path: Path) -> Manifest:
    """Parse and check ``path``; raises :class:`ManifestError` naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} is not valid TOML: {exc}") from None
    defaults = _table(data.get("defaults", {}), f"{path}: [defaults]")
    entries = data.get("credential", [])
    if not isinstance(entries, list) or not entries:
        raise ManifestError(
            f"{path} lists no credentials", "add [[credential]] tables with tag, type and file"
        )
    replace_default = _bool(defaults.get("replace", False), f"{path}: [defaults] replace")
    credentials = tuple(
        _credential(entry, index, path, replace_default)
        for index, entry in enumerate(entries, start=1)
    )
    unknown = sorted(set(data) - {"defaults", "credential"}) + sorted(
        f"defaults.{k}" for k in set(defaults) - _DEFAULT_KEYS
    )
    unknown += [
        f"credential[{i}].{k}"
        for i, entry in enumerate(entries, start=1)
        if isinstance(entry, dict)
        for k in sorted(set(entry) - _CREDENTIAL_KEYS)
    ]
    return Manifest(
        path=path,
        auth=_auth(defaults.get("auth", "auto"), path),
        key=_optional_str(defaults.get("key"), f"{path}: [defaults] key"),
        slot=_slot(defaults.get("slot"), path),
        credentials=credentials,
        unknown_keys=tuple(unknown),
    )


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be a table")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ManifestError(f"{where} must be true or false")
    return value


def _optional_str(value: Any, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ManifestError(f"{where} must be a non-empty string")
    return value


def _auth(value: Any, path: Path) -> AuthMode:
    for mode in AUTH_MODES:
        if value == mode:
            return mode
    raise ManifestError(f"{path}: [defaults] auth must be one of {', '.join(AUTH_MODES)}")


def _slot(value: Any, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ManifestError(f"{path}: [defaults] slot must be 0-9")
    return value


def _credential(entry: Any, index: int, path: Path, replace: bool) -> CredentialSpec:
    where = f"{path}: [[credential]] #{index}"
    table = _table(entry, where)
    for name in ("tag", "type", "file"):
        if name not in table:
            raise ManifestError(f"{where} has no '{name}'", "each credential needs tag, type, file")
    tag = table["tag"]
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise ManifestError(f"{where}: tag must be an integer")
    try:
        cred_type = parse_cred_type(table["type"])
    except BadInputError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    file = _optional_str(table["file"], f"{where} file")
    assert file is not None
    return CredentialSpec(
        index, tag, cred_type, file, _bool(table.get("replace", replace), f"{where} replace")
    )


@dataclass(frozen=True)
class PreparedCredential:
    """A credential ready for one device: the spec, the resolved file and its preflight."""

    spec: CredentialSpec
    path: Path
    item: Preflight


def resolve_file(manifest: Manifest, spec: CredentialSpec, imei: str | None) -> Path:
    """The file for ``spec`` on the device with ``imei`` (``{imei}`` filled in)."""
    if "{imei}" in spec.file and not imei:
        raise ManifestError(
            f"{manifest.path}: [[credential]] #{spec.index} file uses {{imei}}, but the device "
            "reported no IMEI"
        )
    name = spec.file.replace("{imei}", imei or "")
    if "{" in name or "}" in name:
        raise ManifestError(
            f"{manifest.path}: [[credential]] #{spec.index} file {spec.file!r} has a "
            "placeholder other than {imei}"
        )
    path = Path(name)
    return path if path.is_absolute() else manifest.base_dir / path


def prepare_device(
    manifest: Manifest, imei: str | None, *, signing: bool
) -> list[PreparedCredential]:
    """Load and validate every credential file for the device ``imei`` (no device I/O).

    A client key is checked against the client certificate of the same tag, when the
    manifest has one.
    """
    raws = {spec.index: _read(manifest, spec, imei) for spec in manifest.credentials}
    certs = {
        spec.tag: raws[spec.index][1]
        for spec in manifest.credentials
        if spec.cred_type is CredType.CLIENT_CERT
    }
    prepared = []
    for spec in manifest.credentials:
        path, raw = raws[spec.index]
        cert = certs.get(spec.tag) if spec.cred_type is CredType.CLIENT_KEY else None
        try:
            item = preflight(
                raw,
                spec.cred_type,
                spec.tag,
                client_cert=cert,
                extra_overhead=XSUDO_MAX_OVERHEAD if signing else 0,
            )
        except BadInputError as exc:
            raise ManifestError(
                f"credential #{spec.index} ({path}) for IMEI {imei}: {exc}"
            ) from None
        prepared.append(PreparedCredential(spec, path, item))
    return prepared


def _read(manifest: Manifest, spec: CredentialSpec, imei: str | None) -> tuple[Path, bytes]:
    path = resolve_file(manifest, spec, imei)
    try:
        return path, path.read_bytes()
    except OSError as exc:
        raise ManifestError(
            f"credential #{spec.index} for IMEI {imei}: cannot read {path}: {exc.strerror or exc}"
        ) from None
