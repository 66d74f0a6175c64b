"""The onboarding CSV is read like every input: a regular UTF-8 file, bounded, one-line
errors; a missing file is simply empty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.errors import BadInputError
from xsudo.labpki import make_ca
from xsudo.provision.onboarding import OnboardingRow, append_rows, existing_ids

pytestmark = pytest.mark.timeout(30)


def row() -> OnboardingRow:
    return OnboardingRow("352656100000001", cert_pem(make_ca(generate_private_key(), "x")).decode())


def test_missing_file_has_no_ids_and_is_created(tmp_path: Path) -> None:
    path = tmp_path / "onboard.csv"
    assert existing_ids(path) == set()
    assert append_rows(path, [row()]) == 1
    assert existing_ids(path) == {"352656100000001"}


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "onboard.csv"
    os.mkfifo(path)
    with pytest.raises(BadInputError, match=r"the onboarding file .* is a FIFO"):
        append_rows(path, [row()])


def test_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "onboard.csv"
    path.write_bytes(b"dev\xff,,,APP,x\n")
    with pytest.raises(BadInputError) as caught:
        append_rows(path, [row()])
    assert str(caught.value) == (
        f"the onboarding file {path} is not UTF-8 text; give another file, or fix this one"
    )
    assert path.read_bytes() == b"dev\xff,,,APP,x\n"
