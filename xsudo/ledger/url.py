"""Where the ledger lives: a SQLite file in the xsudo home, or a PostgreSQL database.

Order (:func:`resolve`): the URL the caller gives, then ``$XSUDO_LEDGER``, then the file
``ledger.sqlite`` in the xsudo home (:func:`xsudo.paths.resolve_home`). Accepted forms:

* ``postgresql://user:password@host:port/dbname`` (also ``postgres://`` and
  ``postgresql+psycopg://``; libpq query parameters such as ``?host=/run/postgresql`` or
  ``?sslmode=require`` pass through), driven by psycopg 3;
* ``sqlite:///relative/or/absolute/path`` (``sqlite:////abs/path`` for an absolute path,
  as SQLAlchemy spells it), or a plain file path.

A URL is shown to people only through :func:`mask_url` (the password becomes ``***``), and
driver messages pass through :func:`redact` before they reach an error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from xsudo.ledger.errors import LedgerUrlError

LEDGER_ENV = "XSUDO_LEDGER"
"""The environment variable naming the ledger when the caller gives no URL."""

DEFAULT_FILE = "ledger.sqlite"
"""The ledger's file name in the xsudo home when neither a URL nor the variable is set."""

Backend = Literal["sqlite", "postgresql"]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_SECRET_QUERY_KEYS = ("password", "passfile", "sslpassword")
_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#@]*@")
_QUERY_SECRET = re.compile(r"((?:^|[?&])(?:password|sslpassword)=)[^&#]*", re.IGNORECASE)
_DSN_SECRET = re.compile(r"(\b(?:password|sslpassword)\s*=\s*)('[^']*'|[^\s&#]+)", re.IGNORECASE)


@dataclass(frozen=True)
class LedgerTarget:
    """A resolved ledger location. ``url`` is what SQLAlchemy opens (with the password:
    never print it); ``display`` the same with every secret masked; ``path`` the SQLite
    file (``None`` for PostgreSQL)."""

    backend: Backend
    url: str
    display: str
    path: Path | None
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        """``text`` with this URL's secrets (password, ...) replaced by ``***``."""
        return redact(text, self.secrets)


def resolve(url: str | None, home: Path) -> LedgerTarget:
    """Resolve ``url`` (``None``: ``$XSUDO_LEDGER``, else ``home/ledger.sqlite``).

    Raises :class:`LedgerUrlError` for a URL of another database, an in-memory SQLite
    database, or text that is not a URL; the message shows the URL masked.
    """
    given = url if url is not None else os.environ.get(LEDGER_ENV) or None
    if given is None:
        path = home / DEFAULT_FILE
        return LedgerTarget("sqlite", _sqlite_url(path), str(path), path)
    given = given.strip()
    if not given:
        raise LedgerUrlError("the ledger URL is empty", _URL_HINT)
    if "://" not in given:
        path = Path(given).expanduser()
        return LedgerTarget("sqlite", _sqlite_url(path), str(path), path)
    scheme = given.split("://", 1)[0].lower()
    if scheme in _POSTGRES_SCHEMES:
        return _postgres(given)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return _sqlite(given)
    raise LedgerUrlError(
        f"the ledger URL {mask_url(given)} names a database xsudo does not support "
        f"({scheme[:40]!r})",
        _URL_HINT,
    )


_URL_HINT = (
    "give postgresql://USER:PASSWORD@HOST:PORT/DBNAME, sqlite:///PATH or a file path "
    f"(or set {LEDGER_ENV})"
)


def _sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def _sqlite(given: str) -> LedgerTarget:
    rest = given.split("://", 1)[1]
    if not rest.startswith("/") or rest in ("/", "/:memory:") or "?" in rest:
        raise LedgerUrlError(
            f"the ledger URL {mask_url(given)} names no SQLite file",
            "give sqlite:///PATH (relative) or sqlite:////PATH (absolute); a ledger in "
            "memory would keep nothing",
        )
    path = Path(rest[1:]).expanduser()
    return LedgerTarget("sqlite", _sqlite_url(path), str(path), path)


def _postgres(given: str) -> LedgerTarget:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(given)
    except (ArgumentError, ValueError) as exc:
        raise LedgerUrlError(
            f"the ledger URL {mask_url(given)} cannot be parsed ({redact(str(exc), ())[:80]})",
            _URL_HINT,
        ) from None
    parsed = parsed.set(drivername="postgresql+psycopg")
    secrets = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if key.lower() in _SECRET_QUERY_KEYS:
            secrets += [value] if isinstance(value, str) else list(value)
    if not (parsed.database or parsed.query.get("dbname")):
        raise LedgerUrlError(
            f"the ledger URL {mask_url(given)} names no database", "add /DBNAME after the host"
        )
    url = parsed.render_as_string(hide_password=False)
    return LedgerTarget("postgresql", url, mask_url(given), None, tuple(s for s in secrets if s))


def mask_url(url: str) -> str:
    """``url`` with its password (``user:PASSWORD@``, ``?password=...``) shown as ``***``.
    Works on text that is not a valid URL too: it never fails and never shows more."""
    masked = _USERINFO_PASSWORD.sub(r"\1***@", url)
    if "?" in masked:
        base, _, query = masked.partition("?")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return base + "?" + _QUERY_SECRET.sub(r"\1***", query)
        shown = [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        masked = base + "?" + urlencode(shown, safe="/:*")
    return masked


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` with every secret in ``secrets`` and every password in a URL-like part
    replaced by ``***``; on one line (a driver's message may span several)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO_PASSWORD.sub(r"\1***@", text)
    text = _DSN_SECRET.sub(r"\1***", text)
    return " ".join(text.split())
