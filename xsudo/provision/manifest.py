"""The fleet manifest (TOML): which credentials every device gets, and how to authenticate.

```toml
[defaults]                 # optional
auth = "auto"              # auto | required | never
key = "factory"            # key name in the store
slot = 0                   # XPMNG slot (0-9)
replace = false            # overwrite different content already stored
allow_decrypt_tags = false # allow nRF91x1 TLS decrypt test tags with auth = "required"

[checks]                   # optional, after every credential is written and verified
expiry_within_days = 30    # %CERTEXPIRY: fail the device if a certificate expires sooner

[finish]                   # optional, the very last step
production_done = false    # AT%XPRODDONE: IRREVERSIBLE (blocks modem firmware downgrade)

[[credential]]             # one table per credential, written in order
tag = 16842753
type = "ca-cert"           # ca-cert, client-cert, client-key, psk, psk-id, public-key (or 0-5)
file = "certs/ca.pem"      # relative to the manifest; may contain {imei}
replace = true             # optional, per credential

[[credential]]             # a key generated on the device, its certificate issued by a CA
tag = 16842753
type = "client-cert"       # issue is only for client-cert; no file, and no client-key entry
issue = { ca = "ca.pem", ca_key = "labca", days = 365, cn_from = "imei" }
                           # ca: CA certificate (relative to the manifest); ca_key: its key
                           # in the xsudo key store; optional days (365), cn_from (imei or
                           # uuid), attributes ("O=Acme")
```

:func:`load_manifest` checks the structure; :func:`open_authorities` loads every CA and
checks it against its key (before any device is touched); :func:`prepare_device` loads and
validates every file for one device (after ``{imei}`` is filled in) without touching it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from xsudo.content import (
    XSUDO_MAX_OVERHEAD,
    CredType,
    Preflight,
    is_decrypt_tag,
    parse_cred_type,
    preflight,
)
from xsudo.errors import BadInputError
from xsudo.fileio import CREDENTIAL_FILE_LIMIT, MANIFEST_LIMIT, read_input
from xsudo.limits import XPMNG_SLOTS
from xsudo.provision.policy import AUTH_MODES, AuthMode
from xsudo.provision.subject import CN_SOURCES, CnSource, check_attributes

if TYPE_CHECKING:  # issuing certificates loads only for a manifest with issue entries
    from xsudo.ca import CertificateAuthority
    from xsudo.signing import Signer

_DEFAULT_KEYS = {"auth", "key", "slot", "replace", "allow_decrypt_tags"}
_CHECKS_KEYS = {"expiry_within_days"}
_FINISH_KEYS = {"production_done"}
MAX_EXPIRY_DAYS = 36500
"""Largest ``expiry_within_days`` (a hundred years)."""
_CREDENTIAL_KEYS = {"tag", "type", "file", "replace", "issue"}
_ISSUE_KEYS = {"ca", "ca_key", "days", "cn_from", "attributes"}


class ManifestError(BadInputError):
    """A manifest that cannot be used (exit 2); the message names the file and the entry."""


@dataclass(frozen=True)
class IssueSpec:
    """An ``issue = {...}`` table: generate the key on the device, the CA signs its CSR."""

    ca: str
    ca_key: str
    days: int = 365
    cn_from: CnSource | None = None
    attributes: str | None = None


@dataclass(frozen=True)
class CredentialSpec:
    """One ``[[credential]]`` entry: ``file`` to write, or (client-cert only) ``issue``."""

    index: int
    tag: int
    cred_type: CredType
    file: str | None
    replace: bool
    issue: IssueSpec | None = None


@dataclass(frozen=True)
class Finish:
    """What runs on a device after every credential is written and verified, in order:
    the certificate expiry check (``[checks] expiry_within_days``), then ``%XPRODDONE``
    (``[finish] production_done``, only when everything before it succeeded)."""

    expiry_within_days: int | None = None
    production_done: bool = False

    @property
    def empty(self) -> bool:
        return self.expiry_within_days is None and not self.production_done


@dataclass(frozen=True)
class Manifest:
    path: Path
    auth: AuthMode
    key: str | None
    slot: int | None
    credentials: tuple[CredentialSpec, ...]
    unknown_keys: tuple[str, ...] = ()
    allow_decrypt_tags: bool = False
    """``[defaults] allow_decrypt_tags``: TLS decrypt test tags are allowed with auth
    ``required`` (any other auth mode allows them, with a warning)."""
    finish: Finish = Finish()

    @property
    def decrypt_tag_entries(self) -> tuple[CredentialSpec, ...]:
        """The entries that write an nRF91x1 TLS decrypt test tag (2147483648-2147483667)."""
        return tuple(spec for spec in self.credentials if is_decrypt_tag(spec.tag))

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_manifest(path: Path) -> Manifest:
    """Parse and check ``path``; raises :class:`ManifestError` naming what is wrong."""
    try:
        raw = read_input(path, "the manifest", limit=MANIFEST_LIMIT)
    except BadInputError as exc:
        raise ManifestError(exc.message, exc.hint) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} is not valid TOML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ManifestError(f"{path} is not valid TOML: nested too deeply") from None
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
    _check_issue_conflicts(path, credentials)
    checks = _table(data.get("checks", {}), f"{path}: [checks]")
    finish = _table(data.get("finish", {}), f"{path}: [finish]")
    unknown = sorted(set(data) - {"defaults", "credential", "checks", "finish"}) + sorted(
        f"defaults.{k}" for k in set(defaults) - _DEFAULT_KEYS
    )
    unknown += sorted(f"checks.{k}" for k in set(checks) - _CHECKS_KEYS)
    unknown += sorted(f"finish.{k}" for k in set(finish) - _FINISH_KEYS)
    unknown += [
        f"credential[{i}].{k}"
        for i, entry in enumerate(entries, start=1)
        if isinstance(entry, dict)
        for k in sorted(set(entry) - _CREDENTIAL_KEYS)
    ]
    manifest = Manifest(
        path=path,
        auth=_auth(defaults.get("auth", "auto"), path),
        key=_optional_str(defaults.get("key"), f"{path}: [defaults] key"),
        slot=_slot(defaults.get("slot"), path),
        credentials=credentials,
        unknown_keys=tuple(unknown),
        allow_decrypt_tags=_bool(
            defaults.get("allow_decrypt_tags", False), f"{path}: [defaults] allow_decrypt_tags"
        ),
        finish=Finish(
            _days(checks.get("expiry_within_days"), path),
            _bool(finish.get("production_done", False), f"{path}: [finish] production_done"),
        ),
    )
    check_decrypt_tags(manifest, manifest.auth)
    return manifest


def check_decrypt_tags(manifest: Manifest, auth: AuthMode) -> None:
    """Refuse TLS decrypt test tags in a fleet run with auth ``required`` unless the
    manifest opts in (``[defaults] allow_decrypt_tags = true``): :class:`ManifestError`.

    A fleet that insists on authenticated writes is a production fleet; credentials whose
    TLS traffic Nordic's tools can decrypt do not belong there by accident."""
    entries = manifest.decrypt_tag_entries
    if auth != "required" or not entries or manifest.allow_decrypt_tags:
        return
    first = entries[0]
    raise ManifestError(
        f"{manifest.path}: [[credential]] #{first.index} writes sec_tag {first.tag}, an "
        "nRF91x1 TLS decrypt test tag (Nordic's tools can decrypt its TLS traffic), in a "
        "fleet with auth 'required'",
        "use a sec_tag in 0-2147483647, or set allow_decrypt_tags = true in [defaults] if "
        "these are test credentials",
    )


def _days(value: Any, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXPIRY_DAYS:
        raise ManifestError(
            f"{path}: [checks] expiry_within_days must be a whole number of days, "
            f"0-{MAX_EXPIRY_DAYS}"
        )
    return value


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
    if isinstance(value, bool) or not isinstance(value, int) or value not in XPMNG_SLOTS:
        raise ManifestError(f"{path}: [defaults] slot must be 0-{XPMNG_SLOTS.stop - 1}")
    return value


def _credential(entry: Any, index: int, path: Path, replace: bool) -> CredentialSpec:
    where = f"{path}: [[credential]] #{index}"
    table = _table(entry, where)
    required = ("tag", "type") if "issue" in table else ("tag", "type", "file")
    for name in required:
        if name not in table:
            raise ManifestError(
                f"{where} has no '{name}'",
                "each credential needs tag, type and file (or issue, for a client-cert)",
            )
    tag = table["tag"]
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise ManifestError(f"{where}: tag must be an integer")
    try:
        cred_type = parse_cred_type(table["type"])
    except BadInputError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    issue = _issue(table["issue"], where, cred_type) if "issue" in table else None
    if issue is not None and "file" in table:
        raise ManifestError(f"{where} has both file and issue", "give one of them")
    file = None if issue is not None else _optional_str(table["file"], f"{where} file")
    return CredentialSpec(
        index,
        tag,
        cred_type,
        file,
        _bool(table.get("replace", replace), f"{where} replace"),
        issue,
    )


def _issue(value: Any, where: str, cred_type: CredType) -> IssueSpec:
    table = _table(value, f"{where} issue")
    if cred_type is not CredType.CLIENT_CERT:
        raise ManifestError(f"{where}: issue is only for type client-cert")
    unknown = sorted(set(table) - _ISSUE_KEYS)
    if unknown:
        raise ManifestError(
            f"{where}: issue has unknown key(s) {', '.join(unknown)}",
            f"use {', '.join(sorted(_ISSUE_KEYS))}",
        )
    for name in ("ca", "ca_key"):
        if name not in table:
            raise ManifestError(f"{where}: issue has no '{name}'")
    ca = _optional_str(table["ca"], f"{where} issue.ca")
    ca_key = _optional_str(table["ca_key"], f"{where} issue.ca_key")
    assert ca is not None and ca_key is not None
    days = table.get("days", 365)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ManifestError(f"{where}: issue.days must be a positive integer")
    cn_from = table.get("cn_from")
    source = next((s for s in CN_SOURCES if s == cn_from), None)
    if cn_from is not None and source is None:
        raise ManifestError(f"{where}: issue.cn_from must be one of {', '.join(CN_SOURCES)}")
    attributes = _optional_str(table.get("attributes"), f"{where} issue.attributes")
    try:
        check_attributes(attributes)
    except BadInputError as exc:
        raise ManifestError(f"{where}: issue.attributes: {exc.message}") from None
    return IssueSpec(ca, ca_key, days, source, attributes)


def _check_issue_conflicts(path: Path, credentials: tuple[CredentialSpec, ...]) -> None:
    """An issued tag gets its key on the device: no client-key file and no second issue."""
    issued: dict[int, int] = {}
    for spec in credentials:
        if spec.issue is not None:
            if spec.tag in issued:
                raise ManifestError(
                    f"{path}: [[credential]] #{spec.index} issues tag {spec.tag} again "
                    f"(#{issued[spec.tag]} already does)"
                )
            issued[spec.tag] = spec.index
    for spec in credentials:
        if spec.cred_type is CredType.CLIENT_KEY and spec.tag in issued:
            raise ManifestError(
                f"{path}: [[credential]] #{spec.index} writes a client key to tag {spec.tag}, "
                f"but #{issued[spec.tag]} generates that key on the device",
                "drop the client-key entry",
            )


@dataclass(frozen=True)
class PreparedCredential:
    """A credential ready for one device: the spec, the resolved file and its preflight;
    for an ``issue`` entry no file or preflight, but the checked CA."""

    spec: CredentialSpec
    path: Path | None
    item: Preflight | None
    authority: CertificateAuthority | None = None


def open_authorities(
    manifest: Manifest, signer_for: Callable[[str], Signer]
) -> dict[int, CertificateAuthority]:
    """Load every ``issue`` CA certificate and check it against its key (by entry index).

    ``signer_for(name)`` returns the key store's signer (it is unlocked here, so a
    passphrase problem stops the run before any device is touched).
    """
    opened: dict[tuple[Path, str], CertificateAuthority] = {}
    result: dict[int, CertificateAuthority] = {}
    for spec in manifest.credentials:
        if spec.issue is None:
            continue
        ca_path = Path(spec.issue.ca)
        ca_path = ca_path if ca_path.is_absolute() else manifest.base_dir / ca_path
        key = (ca_path, spec.issue.ca_key)
        if key not in opened:
            opened[key] = _open_authority(manifest, spec, ca_path, signer_for)
        result[spec.index] = opened[key]
    return result


def _open_authority(
    manifest: Manifest, spec: CredentialSpec, ca_path: Path, signer_for: Callable[[str], Signer]
) -> CertificateAuthority:
    assert spec.issue is not None
    where = f"{manifest.path}: [[credential]] #{spec.index} issue"
    try:
        data = read_input(ca_path, "the CA certificate", limit=CREDENTIAL_FILE_LIMIT)
    except BadInputError as exc:
        raise ManifestError(f"{where}: {exc.message}", exc.hint) from None
    from xsudo.ca import load_certificate, open_ca

    try:
        signer = signer_for(spec.issue.ca_key)
        authority = open_ca(load_certificate(data, f"CA certificate {ca_path}"), signer)
        unlock = getattr(signer, "unlock", None)
        if callable(unlock):
            unlock()
    except BadInputError as exc:
        raise ManifestError(f"{where}: {exc.message}", exc.hint, remedy=exc.remedy) from None
    return authority


def resolve_file(manifest: Manifest, spec: CredentialSpec, imei: str | None) -> Path:
    """The file for ``spec`` on the device with ``imei`` (``{imei}`` filled in).

    A templated path (one with ``{imei}``) must stay inside the manifest's directory once
    filled in: relative, no ``..`` component, and resolving (symlinks followed) inside
    :attr:`Manifest.base_dir`; otherwise :class:`ManifestError` naming the entry, whatever
    the device reported as its IMEI. Untemplated paths are used as written (relative to the
    manifest unless absolute).
    """
    assert spec.file is not None
    rest = spec.file.replace("{imei}", "")
    if "{" in rest or "}" in rest:
        raise ManifestError(
            f"{manifest.path}: [[credential]] #{spec.index} file {spec.file!r} has a "
            "placeholder other than {imei}"
        )
    if "{imei}" not in spec.file:
        path = Path(spec.file)
        return path if path.is_absolute() else manifest.base_dir / path
    if not imei:
        raise ManifestError(
            f"{manifest.path}: [[credential]] #{spec.index} file uses {{imei}}, but the device "
            "reported no IMEI"
        )
    return _contained(manifest, spec, spec.file.replace("{imei}", imei), imei)


def _contained(manifest: Manifest, spec: CredentialSpec, name: str, imei: str) -> Path:
    """``name`` under the manifest's directory, or :class:`ManifestError` if it leaves it."""
    why = _escape_reason(name)
    path = manifest.base_dir / name
    if why is None:
        try:
            inside = path.resolve().is_relative_to(manifest.base_dir.resolve())
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
            inside = False
        why = None if inside else "it resolves outside the manifest's directory"
    if why is not None:
        raise ManifestError(
            f"{manifest.path}: [[credential]] #{spec.index} file {spec.file!r} becomes "
            f"{name!r} for IMEI {imei!r}: {why}",
            "a templated path must stay inside the manifest's directory; check the device's "
            "IMEI and the entry",
        )
    return path


def _escape_reason(name: str) -> str | None:
    """Why the filled-in template ``name`` may leave its directory on any platform."""
    if "\0" in name:
        return "it contains a NUL byte"
    for flavour in (PurePosixPath(name), PureWindowsPath(name)):
        if flavour.anchor:
            return "it is an absolute path"
        if ".." in flavour.parts:
            return "it has a '..' component"
    return None


def _shown(text: str | None) -> str:
    """``text`` for a one-line message: as is when printable, else quoted and escaped."""
    return text if text is not None and text.isprintable() else repr(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def prepare_device(
    manifest: Manifest,
    imei: str | None,
    *,
    signing: bool,
    authorities: dict[int, CertificateAuthority] | None = None,
) -> list[PreparedCredential]:
    """Load and validate every credential file for the device ``imei`` (no device I/O).

    A client key is checked against the client certificate of the same tag, when the
    manifest has one. ``issue`` entries take their CA from ``authorities``
    (:func:`open_authorities`).
    """
    raws = {
        spec.index: _read(manifest, spec, imei)
        for spec in manifest.credentials
        if spec.issue is None
    }
    certs = {
        spec.tag: raws[spec.index][1]
        for spec in manifest.credentials
        if spec.cred_type is CredType.CLIENT_CERT and spec.issue is None
    }
    prepared = []
    for spec in manifest.credentials:
        if spec.issue is not None:
            authority = (authorities or {}).get(spec.index)
            if authority is None:
                raise ManifestError(
                    f"{manifest.path}: [[credential]] #{spec.index} issues a certificate, but "
                    "its CA was not opened"
                )
            prepared.append(PreparedCredential(spec, None, None, authority))
            continue
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
        return path, read_input(path, "the file", limit=CREDENTIAL_FILE_LIMIT)
    except BadInputError as exc:
        raise ManifestError(
            f"credential #{spec.index} for IMEI {_shown(imei)}: {exc.message}", exc.hint
        ) from None
