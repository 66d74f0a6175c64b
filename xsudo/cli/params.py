"""Click parameter types for the modem's ranges, from :mod:`xsudo.limits` (one source)."""

from __future__ import annotations

import click

from xsudo.limits import MAX_SEC_TAG, XPMNG_SLOTS

SLOT = click.IntRange(XPMNG_SLOTS.start, XPMNG_SLOTS.stop - 1)
"""``--slot``: an ``%XPMNG`` slot number."""

SEC_TAG = click.IntRange(0, MAX_SEC_TAG)
"""``--tag``: a ``%CMNG`` sec_tag."""
