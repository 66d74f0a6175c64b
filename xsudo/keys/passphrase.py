"""Where a passphrase comes from: a file the caller names, an environment variable, or a
prompt on a terminal. Never argv.

Order: the passphrase file (explicit wins), then the environment variable
(``XSUDO_KEY_PASSPHRASE`` by default), then a prompt if stdin is a terminal. With none of
these, :meth:`PassphraseSource.get` raises :class:`BadInputError` saying how to give one.
Empty passphrases are refused. Passphrases never appear in messages.

A passphrase (or PIN) file must be a regular file of at most
:data:`~xsudo.fileio.SECRET_FILE_LIMIT` bytes that group and others cannot access (mode
0600 or stricter, like a key file; not checked on Windows): otherwise
:class:`~xsudo.errors.InsecureStoreError` or :class:`~xsudo.errors.BadInputError`, exit 2.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from xsudo.errors import BadInputError, Remedy, RemedyAction, RemedyValue
from xsudo.fileio import SECRET_FILE_LIMIT, read_input, show_path

KEY_PASSPHRASE_ENV = "XSUDO_KEY_PASSPHRASE"
IMPORT_PASSPHRASE_ENV = "XSUDO_IMPORT_PASSPHRASE"


class PassphraseSource:
    """A passphrase from ``passphrase_file``, the environment, or a terminal prompt.

    ``interactive`` forces prompting on (``True``) or off (``False``); ``None`` prompts only
    when stdin is a terminal. ``env_var`` and ``file_param`` name the variable and the
    caller's parameter for the file, used here, in messages and in remedies (key import uses
    ``XSUDO_IMPORT_PASSPHRASE`` and ``source_passphrase_file``); ``file_what`` names the file
    and ``secret`` the secret in messages (``"the PIN file"`` and ``"PIN"`` for token PINs).
    """

    def __init__(
        self,
        passphrase_file: Path | None = None,
        *,
        interactive: bool | None = None,
        env_var: str = KEY_PASSPHRASE_ENV,
        file_param: str = "passphrase_file",
        file_what: str = "the passphrase file",
        secret: str = "passphrase",
    ) -> None:
        self.passphrase_file = passphrase_file
        self.file_what = file_what
        self.interactive = interactive
        self.env_var = env_var
        self.file_param = file_param
        self.secret = secret

    def describe(self) -> str:
        """Where the secret can be given, for messages (``XSUDO_KEY_PASSPHRASE or
        passphrase_file``)."""
        return f"{self.env_var} or {self.file_param}"

    def remedy(
        self, action: RemedyAction = "set-passphrase", *, locks: bool = False, empty: bool = False
    ) -> Remedy:
        """``action`` (``set-passphrase`` or ``check-passphrase``) for this source; ``locks``:
        wrong tries lock the secret's owner (a token); ``empty``: the variable is set, empty."""
        params: dict[str, RemedyValue] = {
            "env": self.env_var,
            "param": self.file_param,
            "what": self.secret,
        }
        if locks:
            params["locks"] = 1
        if empty:
            params["empty"] = 1
        return Remedy(action, params)

    def can_prompt(self) -> bool:
        """True when :meth:`get` may ask on the terminal."""
        if self.interactive is not None:
            return self.interactive
        try:
            return sys.stdin is not None and sys.stdin.isatty()
        except (ValueError, OSError):
            return False

    def get(self, purpose: str, *, confirm: bool = False) -> bytes:
        """The passphrase for ``purpose`` (e.g. ``"passphrase for key 'dev1'"``).

        ``confirm`` asks twice when prompting (used when a passphrase is being set).
        """
        if self.passphrase_file is not None:
            return self._from_file(self.passphrase_file)
        from_env = os.environ.get(self.env_var)
        if from_env is not None:
            if not from_env:
                raise BadInputError(
                    f"{self.env_var} is set but empty",
                    f"set it to the {self.secret}, or unset it and give {self.file_param} (a file)",
                    remedy=self.remedy(empty=True),
                )
            return os.fsencode(from_env)
        if self.can_prompt():
            return self._prompt(purpose, confirm)
        raise BadInputError(
            f"no {purpose} given and no terminal to ask on",
            f"set {self.env_var}, or give {self.file_param} (a file with the {self.secret} on "
            "its first line)",
            remedy=self.remedy(),
        )

    def _from_file(self, path: Path) -> bytes:
        data = read_input(
            path,
            self.file_what,
            limit=SECRET_FILE_LIMIT,
            private=True,
            hint=f"check the path of {self.file_what}",
        )
        if data.endswith(b"\n"):
            data = data[:-1]
            if data.endswith(b"\r"):
                data = data[:-1]
        if not data:
            raise BadInputError(
                f"{self.file_what} {show_path(path)} is empty", "put the secret on its first line"
            )
        return data

    def _prompt(self, purpose: str, confirm: bool) -> bytes:
        try:
            first = getpass.getpass(f"{purpose[:1].upper()}{purpose[1:]}: ")
            if not first:
                raise BadInputError("an empty passphrase is not allowed", "type a passphrase")
            if confirm and getpass.getpass(f"Repeat the {purpose}: ") != first:
                raise BadInputError("the passphrases do not match", "run the command again")
        except EOFError:
            raise BadInputError(
                f"no {purpose} was typed",
                f"set {self.env_var} or give {self.file_param}",
                remedy=self.remedy(),
            ) from None
        return first.encode("utf-8")
