"""Every Wycheproof ECDSA P-256/SHA-256 vector through xsudo's own decode-and-verify path.

DER vectors go through ``encoding.decode_der``, P1363 vectors through ``encoding.decode_raw``,
then ``crypto.verify_message``. A ``valid`` vector must decode and verify; an ``invalid`` one
must fail to decode (SignatureFormatError) or fail to verify. These files contain no
``acceptable`` vectors (asserted below); see README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xsudo.crypto import PublicKey, load_public_key, verify_message
from xsudo.encoding import SignatureFormatError, decode_der, decode_raw

HERE = Path(__file__).resolve().parent
FILES: dict[str, Callable[[bytes], tuple[int, int]]] = {
    "ecdsa_secp256r1_sha256_test.json": decode_der,
    "ecdsa_secp256r1_sha256_p1363_test.json": decode_raw,
}


def _cases() -> list[Any]:
    params = []
    for file_name in FILES:
        document = json.loads((HERE / file_name).read_text())
        for group in document["testGroups"]:
            assert group["sha"] == "SHA-256"
            assert group["publicKey"]["curve"] == "secp256r1"
            for test in group["tests"]:
                params.append(
                    pytest.param(
                        file_name,
                        group["publicKeyDer"],
                        test,
                        id=f"{file_name.split('_')[-2]}-{test['tcId']}",
                    )
                )
    return params


CASES = _cases()
_KEYS: dict[str, PublicKey] = {}


def _key(der_hex: str) -> PublicKey:
    if der_hex not in _KEYS:
        _KEYS[der_hex] = load_public_key(bytes.fromhex(der_hex))
    return _KEYS[der_hex]


def _accepts(file_name: str, key_der_hex: str, test: dict[str, Any]) -> bool:
    try:
        r, s = FILES[file_name](bytes.fromhex(test["sig"]))
    except SignatureFormatError:
        return False
    return verify_message(_key(key_der_hex), bytes.fromhex(test["msg"]), r, s)


@pytest.mark.parametrize(("file_name", "key_der_hex", "test"), CASES)
def test_wycheproof_vector(file_name: str, key_der_hex: str, test: dict[str, Any]) -> None:
    assert test["result"] in ("valid", "invalid"), "acceptable vectors need a decision"
    assert _accepts(file_name, key_der_hex, test) is (test["result"] == "valid"), test["comment"]


def test_vector_counts_match_the_files() -> None:
    """Every vector was collected (numberOfTests), and none is ``acceptable``."""
    expected = 0
    results = set()
    for file_name in FILES:
        document = json.loads((HERE / file_name).read_text())
        expected += document["numberOfTests"]
        results |= {t["result"] for g in document["testGroups"] for t in g["tests"]}
    assert len(CASES) == expected == 484 + 262
    assert results == {"valid", "invalid"}


def test_copies_match_the_shared_originals(shared_dir: Path) -> None:
    for name in [*FILES, "LICENSE-wycheproof"]:
        original = shared_dir / "vectors" / "wycheproof" / name
        if not original.exists():
            pytest.skip("../shared is not available")
        assert (HERE / name).read_bytes() == original.read_bytes()


@pytest.mark.parametrize("name", ["openssl-recipe.json", "modem-observed.json"])
def test_project_vector_copies_match_the_shared_originals(shared_dir: Path, name: str) -> None:
    original = shared_dir / "vectors" / name
    if not original.exists():
        pytest.skip("../shared is not available")
    assert (HERE / name).read_bytes() == original.read_bytes()
