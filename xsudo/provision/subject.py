"""The subject of a certificate issued from a device's CSR: which device identity becomes
its CN, and the extra ``NAME=value`` attributes a user may add. Pure text rules (no
cryptography), so reading a manifest does not load the key-generation machinery.
"""

from __future__ import annotations

import re
from typing import Literal

from xsudo.errors import BadInputError, Remedy

CnSource = Literal["imei", "uuid"]
CN_SOURCES: tuple[CnSource, ...] = ("imei", "uuid")
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9.]*=[^,\"]+")


def check_attributes(text: str | None) -> str | None:
    """``"O=Acme,CN=dev-1"``: comma-separated ``NAME=value`` pairs, printable ASCII, no
    double quote; :class:`BadInputError` otherwise. Empty means none."""
    if not text:
        return None
    if not text.isascii() or not text.isprintable():
        raise BadInputError(
            "the subject attributes are not printable ASCII",
            'give e.g. "O=Acme,CN=device-1"',
            remedy=Remedy("set-attributes"),
        )
    for item in text.split(","):
        if _ATTRIBUTE.fullmatch(item.strip()) is None:
            raise BadInputError(
                f"subject attribute {item!r} is not NAME=value",
                'give e.g. "O=Acme,CN=device-1" (no quotes or commas in values)',
                remedy=Remedy("set-attributes"),
            )
    return text


def with_common_name(attributes: str | None, common_name: str) -> str:
    """``attributes`` plus ``CN=<common_name>``; refuses attributes that already set CN."""
    items = [item.strip() for item in (attributes or "").split(",") if item.strip()]
    if any(item.split("=", 1)[0].upper() == "CN" for item in items):
        raise BadInputError(
            "the subject attributes set CN, and the CN is also to be read from the device",
            "drop one of them (the CN attribute or cn_from)",
            remedy=Remedy("drop-cn"),
        )
    return check_attributes(",".join([*items, f"CN={common_name}"])) or ""
