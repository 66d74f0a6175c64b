"""Profile files: a firmware profile as JSON, to load with ``profile-file=PATH``.

A profile file describes one firmware personality: what a real board printed (identity)
and how it behaves (traits). ``xsudo device probe`` captures one from a board;
:func:`profile_to_json` writes any profile, a built-in one included, in the same format.

Format ``xsudo-sim-profile``, version 1::

    {"format": "xsudo-sim-profile", "version": 1,
     "name": "nrf9151-2.0", "description": "...",
     "family": "nrf91x1", "mfw": "mfw_nrf91x1_2.0.4",
     "hwversion": "nRF9151 LACA A0A", "model": "nRF9151-LACA", "device_type": 6,
     "traits": {"cmee2_accepted": false, "validate_content": true, ...}}

``format``, ``version``, ``name``, ``family``, ``mfw``, ``hwversion``, ``model`` and
``device_type`` are required; ``description``, ``traits`` and ``probe`` are optional, and so
is every trait (a missing one takes the value a built-in profile of that family would have;
see :class:`~xsudo.sim.profiles.Profile`).

**Unknown values.** ``xsudo device probe`` writes the string ``"unknown"`` for what it could
not find out. A trait given as ``"unknown"`` is treated exactly like a missing one (the
family's default); ``"family": "unknown"`` means ``nrf91x1``; ``"device_type": "unknown"``
means 0. ``probe`` (``{"tool": ..., "unknown": [trait names], "untested_types": [types]}``)
records what the probe could not test; it is checked and otherwise ignored.

The trait keys are the fields of :class:`~xsudo.sim.profiles.Traits`. Loading is strict:
an unknown key, a duplicate key, a value of the wrong type or out of range, a file larger
than :data:`PROFILE_FILE_LIMIT` or not UTF-8 JSON is one
:class:`~xsudo.sim.errors.SimOptionError` line naming the file.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from xsudo.errors import BadInputError
from xsudo.fileio import KIB, read_input, show_path
from xsudo.sim.errors import SimOptionError
from xsudo.sim.profiles import FAMILIES, TRAIT_NAMES, Profile, Traits
from xsudo.sim.state import json_depth

PROFILE_FORMAT = "xsudo-sim-profile"
PROFILE_VERSION = 1
PROFILE_FILE_LIMIT = 64 * KIB
"""A profile file is well under 2 KiB; anything over this is refused unread."""
MAX_DEPTH = 4
MAX_DIGITS = 12
MAX_TYPE = 13
MAX_LINE_LIMIT = 1 << 20
MAX_RESTRICTED = 32
MAX_DESCRIPTION = 200

_HINT = "fix the file, or write a new one with the simulator option profile-out=FILE"
_READ_HINT = "check the path; the simulator option profile-out=FILE writes a profile file"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_FIRMWARE = _NAME
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")
_TOKEN_TEXT = "1-64 letters, digits and . _ + - (starting with a letter or digit)"
_MODEL_TEXT = "1-64 letters, digits, spaces and . _ + - (starting with a letter or digit)"
_RESTRICTED = re.compile(r"[%+][A-Za-z0-9]{1,32}(?:=[A-Za-z0-9]{0,16})?")
_REQUIRED = ("format", "version", "name", "family", "mfw", "hwversion", "model", "device_type")
_OPTIONAL = ("description", "traits", "probe")
_PROBE_KEYS = ("tool", "unknown", "untested_types")
UNKNOWN = "unknown"
"""What a probe writes for a value it could not determine (see the module docstring)."""
UNKNOWN_FAMILY = "nrf91x1"
"""The family an ``"unknown"`` one stands for."""
UNKNOWN_DEVICE_TYPE = 0
"""The attestation device type an ``"unknown"`` one stands for."""
_BOOL_TRAITS = tuple(
    name
    for name in TRAIT_NAMES
    if name
    not in (
        "restricted",
        "non_readable_types",
        "write_once_types",
        "capacity_bytes",
        "xpmng_exists_code",
        "max_line",
    )
)


class _Invalid(ValueError):
    """Why a profile file is refused (becomes one :class:`SimOptionError` line)."""


def profile_to_json(profile: Profile, traits: Traits | None = None) -> dict[str, Any]:
    """``profile`` as a profile-file object, every trait written out (``traits``, when
    given, instead of the profile's own resolved ones)."""
    decided = traits or profile.resolved()
    values: dict[str, Any] = {}
    for name in TRAIT_NAMES:
        value = getattr(decided, name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        values[name] = value
    data: dict[str, Any] = {"format": PROFILE_FORMAT, "version": PROFILE_VERSION}
    data["name"] = profile.name
    if profile.description:
        data["description"] = profile.description
    data.update(
        family=profile.family,
        mfw=profile.mfw,
        hwversion=profile.hwversion,
        model=profile.model,
        device_type=profile.device_type,
        traits=values,
    )
    return data


def dump_profile(profile: Profile, traits: Traits | None = None) -> str:
    """:func:`profile_to_json` as the text of a profile file (indented, ends in LF)."""
    return json.dumps(profile_to_json(profile, traits), indent=2) + "\n"


def load_profile_file(path: str | os.PathLike[str]) -> Profile:
    """The profile in the file ``path``; :class:`SimOptionError` (one line) otherwise."""
    try:
        raw = read_input(path, "simulator profile file", limit=PROFILE_FILE_LIMIT, hint=_READ_HINT)
    except BadInputError as exc:
        raise SimOptionError(exc.message, exc.base_hint) from None
    return parse_profile(raw, show_path(path))


def parse_profile(raw: bytes, source: str) -> Profile:
    """The profile in ``raw`` (the bytes of a profile file called ``source`` in messages)."""
    try:
        return profile_from_json(_decode(raw), source)
    except _Invalid as exc:
        raise SimOptionError(f"{source} is not a simulator profile file ({exc})", _HINT) from None


def profile_from_json(data: Any, source: str = "profile") -> Profile:
    """A :class:`Profile` from a decoded profile-file object (strict; see the module)."""
    try:
        return _profile(data)
    except _Invalid as exc:
        raise SimOptionError(f"{source} is not a simulator profile file ({exc})", _HINT) from None


# -- decoding ----------------------------------------------------------------------------------


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"not UTF-8 text: byte {exc.start}") from None
    if json_depth(text) > MAX_DEPTH:
        raise _Invalid(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_bounded_int,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not JSON: {exc.msg} at line {exc.lineno}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Invalid(f"key {_show(key)} appears twice")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Invalid(f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _no_float(text: str) -> float:
    raise _Invalid(f"{_show(text)} is not a whole number (no value in a profile file is)")


# -- checking ----------------------------------------------------------------------------------


def _profile(data: Any) -> Profile:
    if not isinstance(data, dict):
        raise _Invalid("not a JSON object")
    _only_known(data, (*_REQUIRED, *_OPTIONAL), "")
    for key in _REQUIRED:
        if key not in data:
            raise _Invalid(f"{key!r} is missing")
    if data["format"] != PROFILE_FORMAT:
        raise _Invalid(f"format is not {PROFILE_FORMAT!r}")
    version = _whole(data, "version", 1, 1_000_000)
    if version != PROFILE_VERSION:
        raise _Invalid(f"version {version}: this xsudo reads version {PROFILE_VERSION}")
    family = _text(data, "family")
    if family == UNKNOWN:
        family = UNKNOWN_FAMILY
    if family not in FAMILIES:
        raise _Invalid(f"family {_show(family)} is not one of {', '.join(FAMILIES)}")
    traits = data.get("traits", {})
    if not isinstance(traits, dict):
        raise _Invalid("traits is not a JSON object")
    _only_known(traits, TRAIT_NAMES, "traits.")
    traits = {name: value for name, value in traits.items() if value != UNKNOWN}
    if "probe" in data:
        _probe(data["probe"])
    return Profile(
        name=_text(data, "name", _NAME, _TOKEN_TEXT),
        family=family,
        mfw=_text(data, "mfw", _FIRMWARE, _TOKEN_TEXT),
        hwversion=_text(data, "hwversion", _MODEL, _MODEL_TEXT),
        model=_text(data, "model", _MODEL, _MODEL_TEXT),
        device_type=(
            UNKNOWN_DEVICE_TYPE
            if data["device_type"] == UNKNOWN
            else _whole(data, "device_type", 0, 255)
        ),
        description=_description(data),
        **_traits(traits),
    )


def _traits(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _BOOL_TRAITS:
        if name in data:
            out[name] = _flag(data, name)
    if "restricted" in data:
        out["restricted"] = _restricted(data["restricted"])
    for name in ("non_readable_types", "write_once_types"):
        if name in data:
            out[name] = _types(data[name], name)
    if "capacity_bytes" in data:
        out["capacity_bytes"] = (
            None
            if data["capacity_bytes"] is None
            else _whole(data, "capacity_bytes", 1, 1 << 40, "traits.")
        )
    if "xpmng_exists_code" in data:
        code = _whole(data, "xpmng_exists_code", 0, 65535, "traits.")
        if code not in (519, 520):
            raise _Invalid(f"traits.xpmng_exists_code {code} is not 519 or 520")
        out["xpmng_exists_code"] = code
    if "max_line" in data:
        out["max_line"] = _whole(data, "max_line", 1, MAX_LINE_LIMIT, "traits.")
    return out


def _probe(value: Any) -> None:
    if not isinstance(value, dict):
        raise _Invalid("probe is not a JSON object")
    _only_known(value, _PROBE_KEYS, "probe.")
    tool = value.get("tool", "")
    if not isinstance(tool, str) or len(tool) > MAX_DESCRIPTION or not tool.isprintable():
        raise _Invalid(f"probe.tool is not one printable line of at most {MAX_DESCRIPTION}")
    unknown = value.get("unknown", [])
    if not isinstance(unknown, list) or not all(item in TRAIT_NAMES for item in unknown):
        raise _Invalid("probe.unknown is not a list of trait names")
    _types(value.get("untested_types", []), "untested_types", "probe.")


def _only_known(data: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise _Invalid(f"unknown key {_show(prefix + key)}")


def _text(
    data: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None, what: str = ""
) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise _Invalid(f"{key} is not a string")
    if pattern is not None and not pattern.fullmatch(value):
        raise _Invalid(f"{key} {_show(value)} is not {what}")
    return value


def _description(data: dict[str, Any]) -> str:
    value = data.get("description", "")
    if not isinstance(value, str):
        raise _Invalid("description is not a string")
    if len(value) > MAX_DESCRIPTION or not value.isprintable():
        raise _Invalid(f"description is not one printable line of at most {MAX_DESCRIPTION}")
    return value


def _whole(data: dict[str, Any], key: str, low: int, high: int, prefix: str = "") -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(f"{prefix}{key} is not a whole number {low}..{high}")
    return value


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise _Invalid(f"traits.{key} is not true or false")
    return value


def _restricted(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_RESTRICTED:
        raise _Invalid(f"traits.restricted is not a list of at most {MAX_RESTRICTED} commands")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _RESTRICTED.fullmatch(item):
            raise _Invalid(
                f"traits.restricted: {_show(item)} is not NAME or NAME=<first parameter> "
                "(like %CMNG=0)"
            )
        out.append(item.upper())
    return tuple(out)


def _types(value: Any, name: str, prefix: str = "traits.") -> frozenset[int]:
    if not isinstance(value, list) or not all(_is_type(item) for item in value):
        raise _Invalid(f"{prefix}{name} is not a list of %CMNG types 0..{MAX_TYPE}")
    return frozenset(value)


def _is_type(item: Any) -> bool:
    return isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= MAX_TYPE


def _show(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return ascii(text[:limit]) + ("..." if len(text) > limit else "")
