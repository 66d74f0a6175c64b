"""Modem firmware profiles the simulator can impersonate, selectable by name.

A profile fixes what a firmware *is*: its identity (family, ``+CGMR`` string, model,
hardware version, attestation device type) and its behaviour (the traits, rules of
docs/design/simulator.md). :class:`xsudo.sim.options.SimOptions` may override single
traits; :meth:`Profile.resolved` gives the behaviour with nothing left to derive
(:class:`Traits`). A profile can also come from a file (:mod:`xsudo.sim.profile_file`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

Family = Literal["nrf9160", "nrf91x1"]
FAMILIES: tuple[Family, ...] = ("nrf9160", "nrf91x1")

DEFAULT_PROFILE = "nrf91x1-2.0"

LOCKED_RESTRICTED = ("%CMNG=0", "%CMNG=3", "%KEYGEN")
"""Commands the ``locked`` profile refuses (514) unless they arrive inside ``%XSUDO``."""

DEFAULT_NON_READABLE = frozenset({1, 2, 3, 6, 8, 10, 11})
"""``%CMNG`` types a read refuses with 514 (rule S14; {1, 2, 3} documented, the rest assumed)."""

DEFAULT_MAX_LINE = 4095
"""Longest command ``at_host`` takes with its default 4096-byte buffer (rule S4)."""

XPMNG_EXISTS_DEFAULT = 520
"""``%XPMNG`` on an occupied slot: 520 in the v1.2 text (rule S17; some firmware says 519)."""

TLS_DECRYPT_TAGS = range(2147483648, 2147483668)
"""``NRF_SEC_TAG_TLS_DECRYPT_0..19``: test tags whose TLS traffic Nordic's tools can decrypt
(nRF91x1 and NTN firmware; rules S12a, S15)."""


@dataclass(frozen=True)
class Traits:
    """What a firmware does, every value decided (rule numbers from docs/design/simulator.md).

    The field names are the keys of a profile file's ``traits`` object.
    """

    cmee2_accepted: bool
    """S5: ``AT+CMEE=2`` accepted."""
    validate_content: bool
    """S12b: type 0/1 writes must hold well-formed PEM certificates (527)."""
    tls_decrypt_tags: bool
    """S12a/S15: tags 2147483648-2147483667 are writable, readable and deletable."""
    restricted: tuple[str, ...]
    """S24: commands refused (514) without ``%XSUDO``, as ``NAME`` or ``NAME=<first param>``."""
    non_readable_types: frozenset[int]
    """S14: ``%CMNG`` types a read refuses (514)."""
    write_once_types: frozenset[int]
    """S12d: ``%CMNG`` types a write may not replace (519)."""
    capacity_bytes: int | None
    """S12d: credential storage in bytes, 515 when full; ``None``: unlimited."""
    plain_param_errors: bool
    """S11: a bare ``ERROR`` instead of ``+CME ERROR: 50`` for bad parameters."""
    pofwarn_blocks_read: bool
    """S14/S25: an active power-off warning also refuses ``%CMNG`` reads (528)."""
    xpmng_exists_code: int
    """S17: the code for ``%XPMNG`` on an occupied slot (519 or 520)."""
    xpmng_readable: bool
    """S18: ``%XPMNG=2`` reads answered (off: 514, a firmware that hides its slots)."""
    accept_raw_signatures: bool
    """S21: ``%XSUDO`` also takes a raw 64-byte ``r||s`` signature."""
    csr_null_param: bool
    """S26: ``%KEYGEN`` CSRs encode ecdsa-with-SHA256 with a NULL parameter (mfw 1.3.5)."""
    certexpiry: bool
    """S36: ``%CERTEXPIRY`` exists."""
    xproddone: bool
    """S37: ``%XPRODDONE`` exists."""
    max_line: int
    """S4: the longest command accepted (the ``at_host`` buffer, not the modem)."""


TRAIT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Traits))


@dataclass(frozen=True)
class Profile:
    """One firmware personality.

    Traits left ``None`` are derived when the profile is :meth:`resolved`: from the family
    and the ``+CGMR`` string in use (``validate_content``, ``tls_decrypt_tags``,
    ``xproddone``), or the defaults every built-in shipping profile shares.
    """

    name: str
    family: Family
    mfw: str
    hwversion: str
    model: str
    device_type: int
    """Attestation token device type (as nRFCloud/utils numbers them: 4 nRF9161, 6 nRF9151)."""
    description: str = ""
    """One line for help and for the profile file: what this profile stands for."""
    cmee2_accepted: bool = False
    validate_content: bool | None = None
    tls_decrypt_tags: bool | None = None
    restricted: tuple[str, ...] = ()
    non_readable_types: frozenset[int] = DEFAULT_NON_READABLE
    write_once_types: frozenset[int] = frozenset()
    capacity_bytes: int | None = None
    plain_param_errors: bool = False
    pofwarn_blocks_read: bool = True
    xpmng_exists_code: int = XPMNG_EXISTS_DEFAULT
    xpmng_readable: bool = True
    accept_raw_signatures: bool = False
    csr_null_param: bool = False
    """``%KEYGEN`` CSRs carry ecdsa-with-SHA256 with a NULL parameter (real mfw 1.3.5 does)."""
    certexpiry: bool = True
    xproddone: bool | None = None
    max_line: int = DEFAULT_MAX_LINE

    def resolved(self, mfw: str | None = None) -> Traits:
        """Every trait decided, for this profile running ``mfw`` (default: its own)."""
        firmware = mfw or self.mfw
        nrf91x1 = self.family == "nrf91x1"
        values = {name: getattr(self, name) for name in TRAIT_NAMES}
        if self.validate_content is None:
            values["validate_content"] = validates_content(self.family, firmware)
        if self.tls_decrypt_tags is None:
            values["tls_decrypt_tags"] = nrf91x1
        if self.xproddone is None:
            values["xproddone"] = nrf91x1
        return Traits(**values)


PROFILES: dict[str, Profile] = {
    "nrf9160-1.3": Profile(
        name="nrf9160-1.3",
        family="nrf9160",
        mfw="mfw_nrf9160_1.3.5",
        hwversion="nRF9160 SICA B1A",
        model="nRF9160-SICA",
        device_type=3,
        description="nRF9160 on mfw 1.3.5: stores any content, no TLS decrypt tags",
        csr_null_param=True,
    ),
    "nrf91x1-2.0": Profile(
        name="nrf91x1-2.0",
        family="nrf91x1",
        mfw="mfw_nrf91x1_2.0.2",
        hwversion="nRF9161 LACA A0A",
        model="nRF9161-LACA",
        device_type=4,
        description="nRF9161 on mfw 2.0.2: checks type 0/1 PEM (527)",
    ),
    "nrf9151-2.0": Profile(
        name="nrf9151-2.0",
        family="nrf91x1",
        mfw="mfw_nrf91x1_2.0.4",
        hwversion="nRF9151 LACA A0A",
        model="nRF9151-LACA",
        device_type=6,
        description="nRF9151 on mfw 2.0.4: checks type 0/1 PEM (527)",
    ),
    "nrf9151-ntn": Profile(
        name="nrf9151-ntn",
        family="nrf91x1",
        mfw="mfw_nrf9151-ntn_1.0.0-1.alpha",
        hwversion="nRF9151 LACA A1A",
        model="nRF9151-LACA",
        device_type=6,
        description="nRF9151 on NTN firmware 1.0.0-1.alpha: checks type 0/1 PEM (527)",
    ),
    "locked": Profile(
        name="locked",
        family="nrf91x1",
        mfw="mfw_nrf91x1_rehearsal-locked",
        hwversion="nRF9161 LACA A0A",
        model="nRF9161-LACA",
        device_type=4,
        description=(
            "rehearsal of a hypothetical future firmware (not a Nordic release): "
            "%CMNG writes and deletes and %KEYGEN need %XSUDO"
        ),
        validate_content=True,
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
