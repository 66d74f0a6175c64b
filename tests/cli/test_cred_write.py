"""``xsudo cred write`` end to end over a real pty: hardware truth, policies, bad input.

After every failure the simulated board's credentials (and CFUN) are what they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.boards import PROFILES, Result, cfun, snapshot
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import issue_client_cert, make_ca, private_key_pem
from xsudo.sim import PtyServer

CA_TAG = 16842753

Run = Callable[..., Result]
Board = Callable[..., PtyServer]


def variants(pem: str) -> dict[str, bytes]:
    """Ways the observed certificate reaches a user's disk."""
    return {
        "literal-backslash-n": pem.replace("\n", "\\n").encode(),
        "crlf": pem.replace("\n", "\r\n").encode(),
        "no-trailing-newline": pem.rstrip("\n").encode(),
        "bom": b"\xef\xbb\xbf" + pem.encode(),
    }


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
@pytest.mark.parametrize("variant", ["literal-backslash-n", "crlf", "no-trailing-newline", "bom"])
def test_damaged_pem_is_written_with_the_sha_a_real_modem_listed(
    xsudo: Run,
    board: Board,
    observed: dict[str, Any],
    tmp_path: Path,
    profile: str,
    variant: str,
) -> None:
    server = board(profile)
    file = tmp_path / "ca.pem"
    file.write_bytes(variants(observed["content"])[variant])
    truth = observed["sha256_upper_hex"]

    dry = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        str(CA_TAG),
        "--type",
        "ca-cert",
        "--dry-run",
        str(file),
    )
    assert dry.code == 0
    assert f"modem SHA:   {truth}" in dry.out
    assert snapshot(server).get((CA_TAG, 0)) is None

    done = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        str(CA_TAG),
        "--type",
        "ca-cert",
        "--json",
        str(file),
    )
    assert done.code == 0, done.err
    assert done.json()["sha"] == truth
    assert "repaired" in done.err
    listed = xsudo("cred", "list", "--port", server.path, "--tag", str(CA_TAG), "--json")
    assert [row["sha"] for row in listed.json()] == [truth]
    assert hashlib.sha256(snapshot(server)[(CA_TAG, 0)]).hexdigest().upper() == truth


def write_ca(xsudo: Run, server: PtyServer, file: Path, *extra: str) -> Result:
    return xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "7",
        "--type",
        "ca-cert",
        "--json",
        *extra,
        str(file),
    )


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    key = generate_private_key()
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(make_ca(key, "test CA")))
    return path


@pytest.fixture
def key_a(xsudo: Run) -> str:
    assert xsudo("key", "generate", "alpha").code == 0
    return "alpha"


def upload(xsudo: Run, server: PtyServer, key: str, *extra: str) -> Result:
    result = xsudo("device", "upload-key", "--port", server.path, "--key", key, *extra)
    assert result.code == 0, result.err
    return result


# (auth, key set up locally, key uploaded to the modem) -> expected auth method, or an exit code
POLICY_CASES = [
    ("never", False, False),
    ("auto", False, False),
    ("auto", True, False),
    ("auto", True, True),
    ("required", True, True),
    ("required", True, False),
    ("required", False, False),
]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("auth", "with_key", "uploaded"), POLICY_CASES)
def test_policy_matrix(
    xsudo: Run,
    board: Board,
    ca_file: Path,
    profile: str,
    auth: str,
    with_key: bool,
    uploaded: bool,
) -> None:
    server = board(profile)
    extra = ["--auth", auth]
    if with_key:
        assert xsudo("key", "generate", "alpha").code == 0
        extra += ["--key", "alpha"]
        if uploaded:
            upload(xsudo, server, "alpha")
    before = snapshot(server)
    result = write_ca(xsudo, server, ca_file, *extra)

    signs = auth != "never" and with_key and uploaded
    if auth == "required" and not with_key:
        assert result.code == 2
        assert "needs a signing key" in result.err
    elif auth == "required" and not uploaded:
        assert result.code == 1
        assert "holds no public key" in result.err
    elif profile == "locked" and not signs:
        assert result.code == 1
        assert "514" in result.err and "requires authenticated access" in result.err
    else:
        assert result.code == 0, result.err
        assert result.json()["auth"] == ("xsudo" if signs else "plain")
        assert result.json()["action"] == "written"
        stored = snapshot(server)[(7, 0)]
        assert hashlib.sha256(stored).hexdigest().upper() == result.json()["sha"]
        return
    assert snapshot(server) == before
    assert cfun(server) == 0


def test_an_online_modem_is_taken_offline_and_restored(
    xsudo: Run, board: Board, ca_file: Path
) -> None:
    server = board("nrf91x1-2.0")
    server.board.command(b"AT+CFUN=1")
    assert cfun(server) == 1
    assert write_ca(xsudo, server, ca_file).code == 0
    assert cfun(server) == 1
    listing = xsudo("cred", "list", "--port", server.path)
    assert listing.code == 0 and cfun(server) == 1


def test_cfun_is_restored_after_a_refused_write(xsudo: Run, board: Board, ca_file: Path) -> None:
    server = board("locked")
    server.board.command(b"AT+CFUN=1")
    before = snapshot(server)
    assert write_ca(xsudo, server, ca_file).code == 1
    assert cfun(server) == 1
    assert snapshot(server) == before


def test_520_from_a_wrong_key_is_diagnosed_and_never_downgraded(
    xsudo: Run, board: Board, ca_file: Path, key_a: str
) -> None:
    # The slot cannot be read on this board, so the writer must try %XSUDO blind.
    server = board("nrf91x1-2.0", xpmng_readable=False)
    upload_result = xsudo("device", "upload-key", "--port", server.path, "--key", key_a)
    assert upload_result.code != 0  # the upload cannot be verified by read-back
    server.board.command(b"AT+CMEE=1")
    other = generate_private_key()
    from xsudo.crypto import public_key_pem

    pem = public_key_pem(other.public_key()).encode()
    assert server.board.command(b'AT%XPMNG=0,"' + pem + b'",0') == b"OK\r\n"
    before = snapshot(server)
    result = write_ca(xsudo, server, ca_file, "--key", key_a)
    assert result.code == 1
    assert "520" in result.err and "wrong-key" in result.err
    assert "not falling back" in result.err
    assert snapshot(server) == before  # plain would have succeeded on this profile


def test_replace_semantics(xsudo: Run, board: Board, tmp_path: Path, ca_file: Path) -> None:
    server = board()
    first = write_ca(xsudo, server, ca_file)
    assert first.json()["action"] == "written"
    again = write_ca(xsudo, server, ca_file)
    assert again.code == 0 and again.json()["action"] == "unchanged"
    other = tmp_path / "other.pem"
    other.write_bytes(cert_pem(make_ca(generate_private_key(), "other CA")))
    before = snapshot(server)
    refused = write_ca(xsudo, server, other)
    assert refused.code == 1 and refused.json()["action"] == "refused"
    assert "--replace" in refused.err
    assert snapshot(server) == before
    replaced = write_ca(xsudo, server, other, "--replace")
    assert replaced.json()["action"] == "replaced"
    assert replaced.json()["previous_sha"] == first.json()["sha"]


def _client_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca_key = generate_private_key()
    ca = make_ca(ca_key, "CA")
    key = generate_private_key()
    cert = tmp_path / "client.crt"
    cert.write_bytes(cert_pem(issue_client_cert(ca_key, ca, key.public_key(), "dev")))
    key_file = tmp_path / "client.key"
    key_file.write_bytes(private_key_pem(key))
    other = tmp_path / "other.key"
    other.write_bytes(private_key_pem(generate_private_key()))
    return cert, key_file, other


@pytest.mark.parametrize(
    ("make", "type_", "fragment"),
    [
        (lambda p: p.write_bytes(b"\x00\x01garbage\xff"), "ca-cert", ""),
        (lambda p: p.write_text("hello"), "ca-cert", ""),
        (lambda p: p.write_text("hello"), "certificate", "type"),
        (lambda p: p.write_text("abc"), "psk", "hex"),
    ],
)
def test_bad_files_are_refused_before_the_device_is_touched(
    xsudo: Run, board: Board, tmp_path: Path, make: Any, type_: str, fragment: str
) -> None:
    server = board()
    server.board.command(b"AT+CFUN=1")
    file = tmp_path / "input"
    make(file)
    before, handled = snapshot(server), server.board.commands_handled
    result = xsudo("cred", "write", "--port", server.path, "--tag", "5", "--type", type_, str(file))
    assert result.code == 2
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert fragment in result.err
    assert snapshot(server) == before
    assert server.board.commands_handled == handled  # nothing reached the modem
    assert cfun(server) == 1


def test_a_key_that_does_not_match_its_certificate_is_refused(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    server = board()
    cert, _key, other = _client_pair(tmp_path)
    handled = server.board.commands_handled
    result = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "5",
        "--type",
        "client-key",
        "--client-cert",
        str(cert),
        str(other),
    )
    assert result.code == 2 and "match" in result.err
    assert server.board.commands_handled == handled


def test_an_oversize_chain_is_refused(xsudo: Run, board: Board, tmp_path: Path) -> None:
    server = board()
    chain = b"".join(
        cert_pem(make_ca(generate_private_key(), f"CA {i} " + "x" * 40)) for i in range(8)
    )
    file = tmp_path / "chain.pem"
    file.write_bytes(chain)
    handled = server.board.commands_handled
    result = xsudo(
        "cred", "write", "--port", server.path, "--tag", "5", "--type", "ca-cert", str(file)
    )
    assert result.code == 2 and "4095" in result.err
    assert server.board.commands_handled == handled


def test_literal_newlines_and_crlf_are_repaired_and_said(
    xsudo: Run, board: Board, tmp_path: Path, ca_file: Path
) -> None:
    server = board("nrf91x1-2.0")
    pem = ca_file.read_text()
    file = tmp_path / "pasted.pem"
    file.write_text(pem.replace("\n", "\\r\\n"))
    result = write_ca(xsudo, server, file)
    assert result.code == 0
    assert "repaired pasted.pem" in result.err
    assert snapshot(server)[(7, 0)] == pem.encode()


def test_dry_run_redacts_private_keys_psks_and_passwords(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    server = board()
    _cert, key_file, _other = _client_pair(tmp_path)
    handled = server.board.commands_handled
    key_text = key_file.read_text()
    shown = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "5",
        "--type",
        "client-key",
        "--dry-run",
        str(key_file),
    )
    assert shown.code == 0
    body_line = key_text.strip().splitlines()[1]
    assert body_line not in shown.out + shown.err
    assert "<client-key:" in shown.out and "redacted>" in shown.out
    psk = tmp_path / "psk.txt"
    psk.write_text("00112233445566778899aabbccddeeff\n")
    shown_psk = xsudo(
        "cred", "write", "--port", server.path, "--tag", "5", "--type", "psk", "--dry-run", str(psk)
    )
    assert shown_psk.code == 0
    assert "00112233445566778899" not in shown_psk.out + shown_psk.err
    assert server.board.commands_handled == handled
    written = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "5",
        "--type",
        "client-key",
        "--json",
        str(key_file),
    )
    assert written.code == 0 and body_line not in written.out + written.err


def test_public_keys_go_through_upload_key_not_cred_write(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    server = board("nrf91x1-2.0")
    assert xsudo("key", "generate", "alpha").code == 0
    pem = tmp_path / "alpha.pub"
    pem.write_text(xsudo("key", "export", "alpha").out)
    before = snapshot(server)
    for kind in ("public-key", "5"):
        result = xsudo(
            "cred", "write", "--port", server.path, "--tag", "3", "--type", kind, str(pem)
        )
        assert result.code == 2
        assert "xsudo device upload-key" in result.err and result.err.count("\n") == 1
    assert snapshot(server) == before
    # Deleting the key of an XPMNG slot by name stays possible.
    upload(xsudo, server, "alpha", "--slot", "3")
    gone = xsudo(
        "cred", "delete", "--port", server.path, "--tag", "3", "--type", "public-key", "--yes"
    )
    assert gone.code == 0, gone.err
    assert (3, 5) not in snapshot(server)


def test_dry_run_json_is_json_with_the_repairs(xsudo: Run, tmp_path: Path, ca_file: Path) -> None:
    pem = ca_file.read_text()
    file = tmp_path / "pasted.pem"
    file.write_text(pem.replace("\n", "\\n"))
    result = xsudo(
        "cred", "write", "--dry-run", "--json", "--tag", "7", "--type", "ca-cert", str(file)
    )
    assert result.code == 0, result.err
    data = result.json()
    assert data["dry_run"] is True and data["tag"] == 7 and data["type"] == "ca-cert"
    assert data["repairs"] == ["replaced literal \\n (backslash, n) sequences with line breaks"]
    assert data["modem_sha"] == hashlib.sha256(pem.encode()).hexdigest().upper()
    assert data["xsudo_line"] is None and data["warnings"] == []


def test_a_file_holding_an_at_line_is_named_as_such(
    xsudo: Run, board: Board, tmp_path: Path, ca_file: Path
) -> None:
    server = board("nrf91x1-2.0")
    before = snapshot(server)
    pem = ca_file.read_text()
    for name, text in {
        "line.txt": f'AT%CMNG=0,7,0,"{pem}"\r\n',
        "escaped.txt": 'at%cmng=0,7,0,"' + pem.replace("\n", "\\n") + '"',
        "signed.txt": f'AT%XSUDO=10,"abc";%CMNG=0,7,0,"{pem}"',
    }.items():
        file = tmp_path / name
        file.write_text(text)
        result = write_ca(xsudo, server, file)
        assert result.code == 2, name
        assert "this is an AT line" in result.err, name
        assert "give the certificate file (PEM) itself" in result.err, name
        assert "double quote" not in result.err, name
    assert snapshot(server) == before


def test_tls_decrypt_tags_are_written_with_a_warning(
    xsudo: Run, board: Board, ca_file: Path
) -> None:
    server = board("nrf91x1-2.0")
    tag = "2147483667"
    args = ("cred", "write", "--port", server.path, "--tag", tag, "--type", "ca-cert")
    result = xsudo(*args, "--json", str(ca_file))
    assert result.code == 0, result.err
    data = result.json()
    assert data["action"] == "written" and data["tag"] == int(tag)
    assert [w["code"] for w in data["warnings"]] == ["tls-decrypt-tag"]
    assert "TLS decrypt tag 19" in result.err
    assert (int(tag), 0) in snapshot(server)
    beyond = xsudo(
        "cred", "write", "--port", server.path, "--tag", "2147483668", "--type", "ca-cert",
        str(ca_file),
    )  # fmt: skip
    assert beyond.code == 2 and "reserved for the modem" in beyond.err
    deleted = xsudo(
        "cred", "delete", "--port", server.path, "--tag", tag, "--type", "ca-cert", "--yes"
    )
    assert deleted.code == 0, deleted.err
    assert (int(tag), 0) not in snapshot(server)


def test_deleting_an_absent_entry_says_so_once(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0")
    result = xsudo("cred", "delete", "--port", server.path, "--tag", "9", "--type", "psk", "--yes")
    assert result.code == 0
    said = result.out + result.err
    assert said.count("nothing stored") == 1, said
    assert result.out == "absent: nothing stored at tag 9 psk; nothing deleted\n"
