"""Authentication never downgrades: every hostile reply sequence, through the real channel.

Each case runs two protected writes (a CA certificate, then a PSK) in one session against a
:class:`~tests.provision.hostile.HostileModem` on a real pty. The assertions hold for
every case: the choice between signed and plain is the documented one (the oracle in
``hostile.py``), and no plain protected command ever follows a signed line - whatever the
modem answered to it. The tallies are printed for the record (``pytest -s``).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.at.fakedevice import FakeDevice
from tests.provision.hostile import Case, HostileModem, all_cases, expected
from tests.verify.support import LocalSigner, load_test_key
from xsudo.at.modem import Modem
from xsudo.ca import cert_pem
from xsudo.content import CredType, preflight
from xsudo.crypto import generate_private_key
from xsudo.errors import XsudoError
from xsudo.labpki import make_ca
from xsudo.provision.policy import AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.provision.writer import CredentialWriter

TIMEOUT = 0.1
SIGNER = LocalSigner(load_test_key("test-key-1"), "factory")
CA = preflight(cert_pem(make_ca(generate_private_key(), "Hostile test CA")), CredType.CA_CERT, 7)
PSK = preflight(b"00112233445566778899aabbccddeeff", CredType.PSK, 8)
CASES = list(all_cases())
TALLY: Counter[str] = Counter()


def run_case(case: Case) -> HostileModem:
    """Both writes in one session; errors are expected for many cases and kept aside."""
    modem_script = HostileModem(case, SIGNER.public_key())
    with FakeDevice(responder=modem_script, transport="pty") as device:
        modem = Modem.open(device.url, timeout=TIMEOUT, cmd_type="at")
        try:
            session = DeviceSession(modem, AuthSettings(case.mode, SIGNER, None))
            session.ensure_identity()
            writer = CredentialWriter(session)
            for item in (CA, PSK):
                try:
                    writer.write(item)
                except XsudoError:
                    TALLY["errors"] += 1
        finally:
            modem.channel.close()
    return modem_script


@pytest.mark.parametrize("case", CASES, ids=[c.label + "-" + c.mfw[4:9] for c in CASES])
def test_the_decision_is_the_documented_one_and_never_downgrades(case: Case) -> None:
    modem = run_case(case)
    TALLY["sequences"] += 1
    TALLY["downgrades"] += modem.plain_after_signed()
    assert not modem.plain_after_signed(), modem.lines
    assert modem.decision_seen() == expected(case), modem.lines


def test_the_tally_is_reported() -> None:
    """Runs last in this module: prints how many sequences were tried and downgraded."""
    print(f"\nhostile auth sequences: {dict(TALLY)}")
    assert TALLY["downgrades"] == 0
