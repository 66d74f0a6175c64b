"""Modem firmware profiles the simulator can impersonate, selectable by name.

A profile fixes what a firmware *is* (family, version strings, which commands need
``%XSUDO``); :class:`xsudo.sim.options.SimOptions` may override single traits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Family = Literal["nrf9160", "nrf91x1"]

DEFAULT_PROFILE = "nrf91x1-2.0"

LOCKED_RESTRICTED = ("%CMNG=0", "%CMNG=3", "%KEYGEN")
"""Commands the ``locked`` profile refuses (514) unless they arrive inside ``%XSUDO``."""


@dataclass(frozen=True)
class Profile:
    """One firmware personality.

    ``restricted`` lists commands that need ``%XSUDO`` (simulator rule S24), each as
    ``NAME`` or ``NAME=<first parameter>`` (``%CMNG=0`` is a ``%CMNG`` write).
    """

    name: str
    family: Family
    mfw: str
    hwversion: str
    model: str
    device_type: int
    """Attestation token device type (1..4 as nRFCloud/utils names them)."""
    cmee2_accepted: bool = False
    restricted: tuple[str, ...] = ()
    csr_null_param: bool = False
    """``%KEYGEN`` CSRs carry ecdsa-with-SHA256 with a NULL parameter (real mfw 1.3.5 does)."""


PROFILES: dict[str, Profile] = {
    "nrf9160-1.3": Profile(
        name="nrf9160-1.3",
        family="nrf9160",
        mfw="mfw_nrf9160_1.3.5",
        hwversion="nRF9160 SICA B1A",
        model="nRF9160-SICA",
        device_type=3,
        csr_null_param=True,
    ),
    "nrf91x1-2.0": Profile(
        name="nrf91x1-2.0",
        family="nrf91x1",
        mfw="mfw_nrf91x1_2.0.2",
        hwversion="nRF9161 LACA A0A",
        model="nRF9161-LACA",
        device_type=4,
    ),
    "nrf9151-ntn": Profile(
        name="nrf9151-ntn",
        family="nrf91x1",
        mfw="mfw_nrf9151-ntn_1.0.0-1.alpha",
        hwversion="nRF9151 LACA A1A",
        model="nRF9151-LACA",
        device_type=6,
    ),
    "locked": Profile(
        name="locked",
        family="nrf91x1",
        mfw="mfw_nrf91x1_3.0.0-locked",
        hwversion="nRF9161 LACA A0A",
        model="nRF9161-LACA",
        device_type=4,
        restricted=LOCKED_RESTRICTED,
    ),
}


def mfw_version(mfw: str) -> tuple[int, int, int] | None:
    """The ``x.y.z`` in an ``+CGMR`` string (``mfw_nrf91x1_2.0.2`` -> ``(2, 0, 2)``), if any."""
    match = re.search(r"(?:^|[_-])(\d+)\.(\d+)\.(\d+)(?:$|[_-])", mfw)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def validates_content(family: Family, mfw: str) -> bool:
    """Rule S12b: nRF91x1 firmware from 2.0.2 (and NTN firmware) checks type 0/1 PEM (527)."""
    if family != "nrf91x1":
        return False
    if "ntn" in mfw.lower():
        return True
    version = mfw_version(mfw)
    return version is not None and version >= (2, 0, 2)
