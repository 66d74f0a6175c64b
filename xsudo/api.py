"""The library's front door: :func:`connect`, :func:`open_key`, :func:`sign`, :func:`verify`.

Everything the command line does is a call here (or on the :class:`~xsudo.device.Device`
that :func:`connect` returns); the CLI adds options, prompts and printing. Contract:

* :func:`connect` is the one place a device conversation is assembled: the port is resolved
  (a path, a pyserial URL, ``sim://``, ``auto``, or ``$XSUDO_PORT`` when none is given), the
  audit log is checked **before** the port is opened (no write without a record), the
  command type is detected, numeric error codes are turned on, and the IMEI (what every audit
  record names) is read and checked; the rest of the identity (firmware, model, UUID) is read
  when first asked for (:attr:`~xsudo.device.Device.identity`). A failure on the way closes
  the port again.
* :func:`open_key` opens a key of any store (file, keyring, pkcs11, command) and unlocks it
  now, so a passphrase problem surfaces before a device is touched.
* :func:`sign` and :func:`verify` are pure apart from the optional audit record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from xsudo.at.channel import ChannelOptions
from xsudo.at.modem import Modem
from xsudo.at.transport import Chooser, resolve_port
from xsudo.audit.log import AuditLog
from xsudo.crypto import PublicKey, load_public_key
from xsudo.device import Device
from xsudo.encoding import Encoding
from xsudo.paths import ensure_home, resolve_home
from xsudo.provision.policy import AuthPolicy, AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.signing import SignedCommand, Signer, sign_command

if TYPE_CHECKING:  # the fleet runner loads with provision(), the key stores with a key
    from xsudo.keys import KeyStore
    from xsudo.ledger.recording import RunLedger
    from xsudo.provision.fleet import DeviceReport, Progress
    from xsudo.provision.manifest import Manifest

SIM_SCHEME = "sim://"


def key_store(
    home: Path | str | None = None,
    *,
    passphrase_file: Path | str | None = None,
    pin_file: Path | str | None = None,
) -> KeyStore:
    """The key store under ``home`` (default: ``$XSUDO_HOME``, else the user data dir), with
    passphrases from ``passphrase_file``, ``$XSUDO_KEY_PASSPHRASE`` or a terminal prompt, and
    PKCS#11 PINs from ``pin_file``, ``$XSUDO_PKCS11_PIN`` or a prompt."""
    where = resolve_home(Path(home) if home is not None else None)
    from xsudo.keys import KeyStore, PassphraseSource, pin_source
    from xsudo.keys.store import default_backends

    passphrase = PassphraseSource(Path(passphrase_file) if passphrase_file else None)
    pins = pin_source(Path(pin_file) if pin_file else None)
    return KeyStore(where, passphrase, backends=default_backends(where, passphrase, pins=pins))


def open_key(
    name: str,
    *,
    home: Path | str | None = None,
    passphrase_file: Path | str | None = None,
    pin_file: Path | str | None = None,
    store: KeyStore | None = None,
) -> Signer:
    """The signing key ``name`` from any store, unlocked (a passphrase or PIN is asked for
    now, not in the middle of a write). Raises :class:`~xsudo.errors.KeyStoreError`."""
    keys = store or key_store(home, passphrase_file=passphrase_file, pin_file=pin_file)
    signer = keys.signer(name)
    unlock = getattr(signer, "unlock", None)
    if callable(unlock):
        unlock()
    return signer


def connect(
    port: str | None = None,
    *,
    key: Signer | str | None = None,
    auth: AuthPolicy | str = AuthPolicy.AUTO,
    slot: int | None = None,
    home: Path | str | None = None,
    audit: AuditLog | bool = True,
    store: KeyStore | Callable[[], KeyStore] | None = None,
    choose_port: Chooser | None = None,
    **channel: Any,
) -> Device:
    """Connect to a modem and return a :class:`~xsudo.device.Device` (module contract).

    ``port``: a device path, a pyserial URL (``socket://``, ``rfc2217://``), ``sim://...``
    (the simulator, in process), ``auto`` (the one nRF91 kit connected), or ``None`` for
    ``$XSUDO_PORT``. ``key``: a :class:`~xsudo.signing.Signer` or a key name in the store
    under ``home``; ``auth``: ``auto``, ``required`` or ``never``; ``slot``: the ``%XPMNG``
    slot (0-9, default 0). ``audit``: ``True`` for ``<home>/audit.jsonl``, ``False`` for no
    log, or an :class:`~xsudo.audit.log.AuditLog`. ``channel``: the keywords of
    :meth:`xsudo.at.modem.Modem.open` (``baud``, ``timeout``, ``flow``, ``cmd_type``,
    ``shell_buffer``). ``choose_port`` picks the kit for ``auto`` among the serial ports
    seen (default: the only nRF91 kit, else an error naming them). ``store``: the key store,
    or a function returning it (called when a key is first needed; default: the store under
    ``home``).
    """
    policy = AuthPolicy(auth)
    keys = _store_opener(store, home)
    signer = open_key(key, store=keys()) if isinstance(key, str) else key
    log = _audit_log(audit, home)
    if log is not None:
        log.check_appendable()
    name = resolve_port(port, choose=choose_port)
    load_simulator(name)
    modem = Modem.open(name, **_channel_options(channel))
    try:
        session = DeviceSession(modem, AuthSettings(policy.value, signer, slot), log)
        session.ensure_imei()
    except BaseException:
        modem.close()
        raise
    return Device(session, keys)


def _store_opener(
    store: KeyStore | Callable[[], KeyStore] | None, home: Path | str | None
) -> Callable[[], KeyStore]:
    """A function returning ``store`` (opened on the first call when it is itself a
    function; default: the store under ``home``), the same object on every call: the key
    stores load only for a command that uses a key."""
    opened: list[KeyStore] = [] if store is None or callable(store) else [store]

    def keys() -> KeyStore:
        if not opened:
            opened.append(store() if callable(store) else key_store(home))
        return opened[0]

    return keys


def provision(
    manifest: Path | str | Manifest,
    ports: list[str],
    *,
    key: Signer | str | None = None,
    auth: AuthPolicy | str | None = None,
    home: Path | str | None = None,
    audit: AuditLog | bool = True,
    store: KeyStore | Callable[[], KeyStore] | None = None,
    progress: Progress | None = None,
    ledger: RunLedger | str | bool | None = None,
    station: str | None = None,
    **channel: Any,
) -> list[DeviceReport]:
    """Provision every port from a fleet manifest, one worker per port (what ``xsudo
    provision`` does): every file for every device is validated before any device is written,
    the audit log is checked first, and each device gets one auth decision.

    ``key`` and ``auth`` override the manifest's ``[defaults]``; CA keys of ``issue`` entries
    come from ``store`` (a store or a function returning one, called when a key is first
    needed; default: the store under ``home``). Returns one
    :class:`~xsudo.provision.fleet.DeviceReport` per port, in order.

    ``ledger`` records every device (``xsudo provision`` always does): ``True`` for
    ``$XSUDO_LEDGER``, else ``ledger.sqlite`` in the home; a URL; or an open
    :class:`~xsudo.ledger.Ledger` (left open). ``None``/``False``: no ledger. It is opened
    before any port (an unreachable one raises :class:`~xsudo.ledger.LedgerUnavailable`
    with nothing touched); each record carries the manifest's SHA-256 and ``station``
    (default :func:`~xsudo.ledger.recording.station_id`).
    """
    from xsudo.provision.fleet import run_fleet
    from xsudo.provision.manifest import Manifest, load_manifest

    loaded = manifest if isinstance(manifest, Manifest) else load_manifest(Path(manifest))
    keys = _store_opener(store, home)

    def signer_for(name: str) -> Signer:  # a CA key of an issue entry: the store opens late
        return keys().signer(name)

    mode = AuthPolicy(auth or loaded.auth)
    chosen = key if key is not None else loaded.key
    signer = None
    if chosen is not None and mode != AuthPolicy.NEVER:
        signer = open_key(chosen, store=keys()) if isinstance(chosen, str) else chosen
    for port in ports:
        load_simulator(port)
    settings = AuthSettings(mode.value, signer, loaded.slot)
    options = _channel_options(channel)
    if ledger is None or ledger is False:
        return run_fleet(
            loaded, ports, settings, _audit_log(audit, home),
            channel=options, progress=progress, signer_for=signer_for,
        )  # fmt: skip
    from xsudo.ledger.recording import manifest_hash, station_id
    from xsudo.provision.fleet import LedgerRun

    log = _audit_log(audit, home)
    if log is not None:
        log.check_appendable()  # before the ledger, as run_fleet would before any port
    opened = _open_ledger(ledger, home)
    try:
        run = LedgerRun(
            opened if opened is not None else cast("RunLedger", ledger),
            station or station_id(),
            manifest_hash(loaded.path.read_bytes()) if loaded.path.is_file() else None,
        )
        return run_fleet(
            loaded, ports, settings, log,
            channel=options, progress=progress, signer_for=signer_for, ledger=run,
        )  # fmt: skip
    finally:
        if opened is not None:
            opened.close()


def sign(
    body: bytes | str,
    key: Signer,
    *,
    encoding: Encoding = "der",
    slot: int | None = None,
    audit: AuditLog | None = None,
) -> SignedCommand:
    """Sign a command ``body`` (without ``AT``; exact bytes, ``str`` is encoded as ASCII)
    and return its ``AT%XSUDO`` line (deterministic ECDSA, verified before it is returned).

    With ``audit`` the log is checked first and the signature recorded (metadata only).
    Raises :class:`~xsudo.errors.CommandTextError` for a body the modem cannot take.
    """
    data = body.encode("ascii") if isinstance(body, str) else body
    if audit is not None:
        audit.check_appendable()
    signed = sign_command(data, key, encoding=encoding, slot=slot)
    if audit is not None:
        audit.append("sign", **signed.audit_fields(), result="signed")
    return signed


def verify(line: bytes | str, public_key: PublicKey | Signer | bytes) -> Any:
    """Check an ``AT%XSUDO`` line offline against ``public_key`` (a key, a signer, or PEM
    bytes) and diagnose why it fails: returns a :class:`~xsudo.diagnose.Verdict`
    (``valid``, ``diagnosis``, ``message``, ``fixes``)."""
    from xsudo.diagnose import verify_line

    data = line.encode("latin-1") if isinstance(line, str) else line
    if isinstance(public_key, bytes):
        key = load_public_key(public_key)
    elif isinstance(public_key, PublicKey):
        key = public_key
    else:
        key = public_key.public_key()
    return verify_line(data, key)


# -- helpers ---------------------------------------------------------------------------------


def _audit_log(audit: AuditLog | bool, home: Path | str | None) -> AuditLog | None:
    if isinstance(audit, AuditLog):
        return audit
    if not audit:
        return None
    return AuditLog.in_home(ensure_home(resolve_home(Path(home) if home is not None else None)))


def _open_ledger(ledger: object, home: Path | str | None) -> RunLedger | None:
    """The ledger to open for ``ledger`` (``True``: the default, a string: that URL), or
    ``None`` when the caller gave an open one. Opened for recording runs
    (:func:`~xsudo.ledger.recording.open_for_run`: an existing SQLite ledger is written
    without loading SQLAlchemy)."""
    if ledger is not True and not isinstance(ledger, str):
        return None
    from xsudo.ledger.recording import open_for_run

    where = ensure_home(resolve_home(Path(home) if home is not None else None))
    return open_for_run(None if ledger is True else ledger, where)


def load_simulator(port: str) -> None:
    """Make ``sim://`` URLs openable when ``port`` is one (the simulator is imported only
    then); nothing for any other port. Whatever opens ports with
    :meth:`xsudo.at.modem.Modem.open` directly (``apply``, ``station``) calls it per port."""
    if port.strip().lower().startswith(SIM_SCHEME):
        import xsudo.sim

        xsudo.sim.register_url_handler()


def _channel_options(options: dict[str, Any]) -> ChannelOptions:
    allowed = set(ChannelOptions.__annotations__)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"connect() got unknown keyword(s): {', '.join(unknown)}")
    return cast(ChannelOptions, options)
