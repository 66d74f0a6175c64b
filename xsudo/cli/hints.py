"""The command line's wording of library remedies (contract C7).

Library errors carry facts, a hint worded for any caller, and a
:class:`~xsudo.errors.Remedy` (an action from a closed set, with its values). This module is
the one table from remedy action to what a user of the command line should type: an option
or an ``xsudo`` subcommand. :func:`cli_hint` words an error's remedy (and the remedies of the
notes added to it) this way and keeps the library's words for everything else, so the CLI
prints ``error: <message>; <what to type>``.

Every action of :data:`~xsudo.errors.RemedyAction` has an entry, and every entry is an
action (``tests/core/test_library_wording.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePath

from xsudo.errors import Remedy, RemedyValue, XsudoError

Params = Mapping[str, RemedyValue]
Wording = Callable[[Params], str]


def _value(params: Params, name: str, placeholder: str) -> str:
    value = params.get(name)
    return placeholder if value is None else str(value)


def _option(param: RemedyValue, default: str) -> str:
    """The CLI option for a library parameter name (``pin_file`` -> ``--pin-file``)."""
    name = default if param is None else str(param)
    return "--" + name.replace("_", "-")


def _choose_port(p: Params) -> str:
    found = p.get("found")
    if found == 0:
        return "connect the kit by USB, or give the port with --port (list them with xsudo ports)"
    if isinstance(found, int) and found > 1:
        return "choose one with --port"
    return "pass --port (a device path or URL) or set XSUDO_PORT; list ports with xsudo ports"


def _check_at_port(p: Params) -> str:
    text = (
        "check that the device is running and that this is its AT port (xsudo ports): "
        "at_client (AT host) and serial_modem (SLM) answer raw AT (--cmd-type at), "
        "firmware with CONFIG_AT_SHELL takes 'at <command>' (--cmd-type shell); also check --baud"
    )
    if p.get("timeout"):
        text += "; give a longer --timeout for large writes"
    return text


def _set_cmd_type(p: Params) -> str:
    chosen = p.get("cmd_type")
    if chosen == "at":
        return (
            "use --cmd-type at (or auto) for firmware that answers plain AT (at_client, "
            "serial_modem); the shell needs firmware built with CONFIG_AT_SHELL (e.g. modem_shell)"
        )
    if chosen == "shell":
        return "use --cmd-type shell (or auto) for firmware with CONFIG_AT_SHELL"
    return "use --cmd-type at|shell|auto (or set XSUDO_CMD_TYPE)"


def _set_shell_buffer(p: Params) -> str:
    return (
        "give --shell-buffer the firmware's CONFIG_SHELL_CMD_BUFF_SIZE if it is larger"
        + (f" than {p['size']}" if p.get("size") is not None else "")
        + ", use shorter content, or use firmware with AT host (--cmd-type at)"
    )


def _list_credentials(p: Params) -> str:
    tag = p.get("tag")
    if tag is None:
        return "check the sec_tag and type with: xsudo cred list"
    later = " once the modem answers" if p.get("later") else ""
    return f"check with: xsudo cred list --tag {tag}{later}"


def _replace_credential(p: Params) -> str:
    what = {
        "key": "to generate a new key there",
        "certificate": "for a new key and certificate",
    }.get(str(p.get("kind")), "to overwrite it")
    return f"pass --replace (replace = true in a manifest) {what}"


def _upload_key(p: Params) -> str:
    key, slot = _value(p, "key", "NAME"), _value(p, "slot", "N")
    text = f"upload the key first: xsudo device upload-key --key {key} --slot {slot}"
    if p.get("or_plain"):
        text += ", or write plain with --auth never"
    return text


def _replace_key(p: Params) -> str:
    key = p.get("key")
    if key is None:
        return "delete it first (AT%CMNG=3,<slot>,5) or use xsudo device upload-key --replace"
    return f"pass --replace to delete it and upload {key!r}, or choose another --slot"


def _match_slot_key(p: Params) -> str:
    key, slot = _value(p, "key", "NAME"), _value(p, "slot", "N")
    return (
        f"upload {key!r} with xsudo device upload-key --key {key} --slot {slot} --replace, "
        "sign with the key that is in the slot, or write plain with --auth never"
    )


def _fix_signed_line(p: Params) -> str:
    key, slot = _value(p, "key", "NAME"), _value(p, "slot", "N")
    return (
        f"upload the right key (xsudo device upload-key --key {key} --slot {slot} --replace) "
        "or sign with the key in the slot; diagnose a saved line with xsudo verify"
    )


def _generate_key(p: Params) -> str:
    key = _value(p, "key", "NAME")
    store = f" --store {p['store']}" if p.get("store") else ""
    then = f", then xsudo key export {key}" if p.get("export") else ""
    return f"generate one with: xsudo key generate {key}{store}{then}"


def _reregister_key(p: Params) -> str:
    key = _value(p, "key", "NAME")
    command = "import-pkcs11" if p.get("store") == "pkcs11" else "import-command"
    return (
        f"restore the metadata from a backup, or delete the key (xsudo key delete {key}) and "
        f"register it again with xsudo key {command}"
    )


def _set_passphrase(p: Params) -> str:
    what = _value(p, "what", "passphrase")
    if p.get("empty"):
        return (
            f"set {_value(p, 'env', 'XSUDO_KEY_PASSPHRASE')} to the {what}, or unset it and "
            f"pass {_option(p.get('param'), 'passphrase_file')} FILE"
        )
    return (
        f"set {_value(p, 'env', 'XSUDO_KEY_PASSPHRASE')}, or pass "
        f"{_option(p.get('param'), 'passphrase_file')} FILE (the {what} on its first line)"
    )


def _check_passphrase(p: Params) -> str:
    what = _value(p, "what", "passphrase")
    locks = "; the token locks after a few wrong tries" if p.get("locks") else ""
    return (
        f"check the {what} ({_value(p, 'env', 'XSUDO_KEY_PASSPHRASE')} or "
        f"{_option(p.get('param'), 'passphrase_file')}){locks}"
    )


def _choose_token(p: Params) -> str:
    matches = p.get("matches")
    if isinstance(matches, int) and matches > 1:
        return "choose one with --token-serial"
    return (
        "check --token-label/--token-serial and that the token is connected "
        "(SoftHSM2: softhsm2-util --show-slots)"
    )


def _set_cn_from(p: Params) -> str:
    if p.get("cn_from"):
        return f"use --cn-from {p['cn_from']}"
    return "issue it with --cn-from imei or --cn-from uuid"


def _audit_verify(p: Params) -> str:
    path = _value(p, "path", "LOG")
    name = PurePath(path).name if p.get("path") is not None else "LOG"
    return (
        f"run xsudo audit verify {path} to see where, then move it (and {name}.checkpoints, "
        "if present) aside so that a new log starts"
    )


WORDING: dict[str, Wording] = {
    # ports and the AT link
    "choose-port": _choose_port,
    "check-port": lambda p: (
        "check the path or URL and that the board is connected; list ports with xsudo ports"
    ),
    "check-at-port": _check_at_port,
    "set-baud": lambda p: "give the right --baud (nRF91 samples use 115200)",
    "set-cmd-type": _set_cmd_type,
    "set-shell-buffer": _set_shell_buffer,
    # credentials on the modem
    "list-credentials": _list_credentials,
    "delete-credential": lambda p: (
        "delete it first with xsudo cred delete, if it is yours to delete"
    ),
    "replace-credential": _replace_credential,
    "check-content": lambda p: (
        "the PEM is malformed (literal \\n instead of line breaks, missing armour) or too large; "
        "check it "
        "with xsudo cred write --dry-run"
    ),
    "normalise-content": lambda p: (
        "use real line breaks in the content (xsudo cred write normalises PEM files)"
    ),
    # the %XPMNG key slot and authentication
    "upload-key": _upload_key,
    "replace-key": _replace_key,
    "match-slot-key": _match_slot_key,
    "fix-signed-line": _fix_signed_line,
    "read-slots": lambda p: "read the slot with xsudo device info and retry",
    "import-key": lambda p: (
        "import the key that is in the slot (xsudo key import), or use --auth auto"
    ),
    "give-key": lambda p: "give --key NAME (or set XSUDO_KEY)",
    "set-up-key": lambda p: (
        "for protected writes set up a key (xsudo key generate NAME; xsudo device upload-key "
        "--key NAME), then retry with --key NAME --auth required"
    ),
    "use-auth-never": lambda p: (
        "use a firmware with authenticated AT commands, or write plain with --auth never"
    ),
    "diagnose-line": lambda p: (
        "diagnose the line offline with: xsudo verify --key NAME --file LINE_FILE"
    ),
    # the key store
    "generate-key": _generate_key,
    "export-key": lambda p: (
        "give the -----BEGIN PUBLIC KEY----- PEM that xsudo key export "
        f"{_value(p, 'key', 'NAME')} prints (or openssl ec -pubout)"
    ),
    "choose-key-name": lambda p: (
        f"choose another name, or delete it first with: xsudo key delete {_value(p, 'key', 'NAME')}"
    ),
    "list-keys": lambda p: (
        "list the keys with: xsudo key list, or create one with: xsudo key generate "
        + _value(p, "key", "NAME")
    ),
    "delete-key": lambda p: (
        f"restore it from a backup, or delete the key with: xsudo key delete "
        f"{_value(p, 'key', 'NAME')}"
    ),
    "reregister-key": _reregister_key,
    "register-command-key": lambda p: (
        "create or import the key in the external signer, then register it with: xsudo key "
        f"import-command {_value(p, 'key', 'NAME')} --command 'CMD ARGS...' --public-key FILE"
    ),
    "raise-timeout": lambda p: (
        "check that it can reach its key service without asking for input, or register the "
        "key again (xsudo key import-command) with a longer --timeout"
    ),
    "use-file-store": lambda p: "use --store file (a passphrase-encrypted key file) instead",
    "unlock-keychain": lambda p: "unlock the keychain and retry, or use --store file",
    "set-passphrase": _set_passphrase,
    "check-passphrase": _check_passphrase,
    "give-pkcs11-module": lambda p: (
        "pass --module PATH or set XSUDO_PKCS11_MODULE "
        "(SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)"
    ),
    "choose-token": _choose_token,
    "check-key-label": lambda p: (
        "check --key-label (pkcs11-tool --list-objects --login shows the labels)"
    ),
    "use-token-key": lambda p: (
        "choose another --key-label, or use that key with: xsudo key import-pkcs11 NAME "
        f"--key-label {_value(p, 'label', 'LABEL')}"
    ),
    # certificates and tokens
    "create-ca": lambda p: "use a P-256 CA (xsudo ca create)",
    "set-cn-from": _set_cn_from,
    "set-attributes": lambda p: (
        'give e.g. --attributes "O=Acme,CN=device-1" (no quotes or commas in values)'
    ),
    "drop-cn": lambda p: "drop CN from --attributes, or drop --cn-from",
    "check-identity-key": lambda p: (
        "check that --identity-key is this device's identity key; otherwise the reply was "
        "altered or did not come from this modem"
    ),
    # the audit log
    "audit-verify": _audit_verify,
    "audit-show": lambda p: "copy it by hand from: xsudo audit show --json",
    "choose-home": lambda p: (
        "fix the permissions of the file and its directory, or use another --home (or XSUDO_HOME)"
    ),
    "trust-key": lambda p: "add it to the key store or give its public key with --trust PUB.pem",
}
"""Remedy action -> its CLI wording, a function of the remedy's params."""


def cli_words(remedy: Remedy | None) -> str | None:
    """What a CLI user should type for ``remedy`` (``None`` without a remedy)."""
    if remedy is None:
        return None
    wording = WORDING.get(remedy.action)
    return wording(remedy.params) if wording is not None else None


def cli_hint(exc: XsudoError) -> str | None:
    """``exc``'s hint for the command line: its remedy in CLI words (else the library's
    hint), then every note, each in CLI words when it carries a remedy."""
    parts = [cli_words(exc.remedy) or exc.base_hint]
    parts += [cli_words(note.remedy) or note.text for note in exc.notes]
    return "; ".join(part for part in parts if part) or None


def cli_text(exc: XsudoError) -> str:
    """``message; hint`` as the command line says it (see :func:`cli_hint`)."""
    hint = cli_hint(exc)
    return f"{exc.message}; {hint}" if hint else exc.message
