"""Credential content: types and tags, PEM normalisation, validation, expected modem SHA.

Pure functions, no device I/O. The usual entry point is :func:`preflight`; the pieces are
exported for the CLI (``cred check``, ``--dry-run``) and the writer.
"""

from xsudo.content.digest import (
    CONVENTIONS,
    convention_contents,
    convention_shas,
    expected_sha,
    match_convention,
    normalise_sha,
)
from xsudo.content.display import redacted
from xsudo.content.fit import (
    MAX_DER_SIGNATURE_B64,
    MAX_DER_SIGNATURE_BYTES,
    RAW_SIGNATURE_B64,
    XSUDO_MAX_OVERHEAD,
    check_fits,
    cmng_write_body,
    xsudo_overhead,
)
from xsudo.content.normalise import Normalised, Repair, normalise, normalise_pem, normalise_text
from xsudo.content.preflight import Preflight, preflight
from xsudo.content.types import (
    MAX_TAG,
    MAX_WRITABLE_TAG,
    WRITABLE_TYPES,
    ContentError,
    ContentTooLargeError,
    ContentWarning,
    CredType,
    ReservedTagError,
    check_tag,
    cred_type_label,
    decrypt_tag_warning,
    is_decrypt_tag,
    is_reserved_tag,
    parse_cred_type,
    reserved_tag_name,
)
from xsudo.content.validate import (
    MAX_PASSWORD_CHARS,
    check_characters,
    check_password,
    refuse_at_line,
    validate,
)
from xsudo.limits import TLS_DECRYPT_TAGS

__all__ = [
    "CONVENTIONS",
    "MAX_DER_SIGNATURE_B64",
    "MAX_DER_SIGNATURE_BYTES",
    "MAX_PASSWORD_CHARS",
    "MAX_TAG",
    "MAX_WRITABLE_TAG",
    "RAW_SIGNATURE_B64",
    "TLS_DECRYPT_TAGS",
    "WRITABLE_TYPES",
    "XSUDO_MAX_OVERHEAD",
    "ContentError",
    "ContentTooLargeError",
    "ContentWarning",
    "CredType",
    "Normalised",
    "Preflight",
    "Repair",
    "ReservedTagError",
    "check_characters",
    "check_fits",
    "check_password",
    "check_tag",
    "cmng_write_body",
    "convention_contents",
    "convention_shas",
    "cred_type_label",
    "decrypt_tag_warning",
    "expected_sha",
    "is_decrypt_tag",
    "is_reserved_tag",
    "match_convention",
    "normalise",
    "normalise_pem",
    "normalise_sha",
    "normalise_text",
    "parse_cred_type",
    "preflight",
    "redacted",
    "refuse_at_line",
    "reserved_tag_name",
    "validate",
    "xsudo_overhead",
]
