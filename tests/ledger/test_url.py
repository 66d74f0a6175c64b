"""Where the ledger is, and that no password is ever shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from xsudo.ledger import LedgerUrlError
from xsudo.ledger.url import LEDGER_ENV, mask_url, redact, resolve


def test_the_default_is_the_homes_sqlite_file(tmp_path: Path) -> None:
    target = resolve(None, tmp_path)
    assert target.backend == "sqlite"
    assert target.path == tmp_path / "ledger.sqlite"
    assert target.display == str(tmp_path / "ledger.sqlite")


def test_the_environment_names_the_ledger_when_no_url_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEDGER_ENV, "postgresql://station:s3cret@db.example:5433/fleet")
    target = resolve(None, tmp_path)
    assert target.backend == "postgresql"
    assert target.url.startswith("postgresql+psycopg://station:s3cret@db.example:5433/fleet")
    assert target.display == "postgresql://station:***@db.example:5433/fleet"
    assert resolve("other.sqlite", tmp_path).backend == "sqlite"  # the URL given wins


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("ledger.db", "ledger.db"),
        ("/srv/ledger.db", "/srv/ledger.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////srv/abs.db", "/srv/abs.db"),
    ],
)
def test_sqlite_forms(tmp_path: Path, given: str, path: str) -> None:
    target = resolve(given, tmp_path)
    assert target.backend == "sqlite"
    assert target.path == Path(path)
    assert target.url == f"sqlite+pysqlite:///{path}"


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u@h/db",
        "postgres://u@h/db",
        "postgresql+psycopg://u@h/db",
        "postgresql://u@/db?host=/run/postgresql",
    ],
)
def test_postgres_forms_use_psycopg(tmp_path: Path, given: str) -> None:
    target = resolve(given, tmp_path)
    assert target.backend == "postgresql"
    assert target.url.startswith("postgresql+psycopg://u@")
    assert target.path is None


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("mysql://root:hunter2@db/x", "does not support"),
        ("sqlite://", "names no SQLite file"),
        ("sqlite:///:memory:", "names no SQLite file"),
        ("postgresql://root:hunter2@db", "names no database"),
        ("postgresql://root:hunter2@db:notaport/x", "cannot be parsed"),
        ("  ", "empty"),
    ],
)
def test_bad_urls_are_refused_without_their_password(
    tmp_path: Path, given: str, fragment: str
) -> None:
    with pytest.raises(LedgerUrlError) as raised:
        resolve(given, tmp_path)
    assert raised.value.exit_code == 2
    assert fragment in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u@h/db?sslpassword=pw", "postgresql://u@h/db?sslpassword=***"),
        ("postgresql://u:pw@h/db?password=%%zz&&", "postgresql://u:***@h/db?password=***&&"),
        ("not a url", "not a url"),
    ],
)  # fmt: skip
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_redact_removes_secrets_and_joins_lines() -> None:
    text = 'FATAL: password authentication failed for "u"\nDETAIL: tried hunter2 at x://a:b@c'
    assert redact(text, ("hunter2",)) == (
        'FATAL: password authentication failed for "u" DETAIL: tried *** at x://a:***@c'
    )


def test_redact_hides_libpq_style_passwords() -> None:
    assert redact("host=db password='a b' user=u", ()) == "host=db password=*** user=u"
    assert redact("x?password=pw&y=1", ()) == "x?password=***&y=1"
