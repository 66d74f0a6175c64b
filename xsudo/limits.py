"""The numbers the modem's commands are bounded by: sec_tags, credential types, key slots,
line lengths. One module, constants only (no imports), so every layer can use them.

Each constant says where its value comes from. Checks that use them live with the commands
(:mod:`xsudo.at.commands`: range checks when a value is built) and with the content rules
(:mod:`xsudo.content.types`: which tags a host may write); nothing here raises.

Two line limits with different meanings must not be confused:

* :data:`MAX_COMMAND_LINE_BYTES` (4095) is what the *modem side* takes: the longest command
  line xsudo may send.
* :data:`MAX_RESPONSE_LINE_BYTES` (8 KiB) is xsudo's own bound on what it *reads*: the
  longest received line outside double quotes before the framing gives up.
"""

from __future__ import annotations

# -- sec_tags ------------------------------------------------------------------------------

MAX_SEC_TAG = 4_294_967_295
"""Highest sec_tag (2^32 - 1). ``<sec_tag>`` of ``%CMNG``/``%KEYGEN`` is an unsigned 32-bit
integer (``nrf_sec_tag_t`` is ``uint32_t``); the modem lists its own entries up to here."""

MAX_USER_SEC_TAG = 2_147_483_647
"""Highest sec_tag a host may write (2^31 - 1). The nRF91 AT reference reserves
2147483648-4294967295 for the modem: a host write or delete there is refused (514)."""

TLS_DECRYPT_TAGS = range(2_147_483_648, 2_147_483_668)
"""nRF91x1 TLS decrypt test tags, the first 20 reserved tags (nrf_modem's
``NRF_SEC_TAG_TLS_DECRYPT_0`` .. ``NRF_SEC_TAG_TLS_DECRYPT_19``)."""

NORDIC_BASE_PUBLIC_KEY_TAG = 4_294_967_292
"""Where the modem lists Nordic's base public key (``%CMNG: 4294967292,11``)."""

NORDIC_IDENTITY_ROOT_CA_TAG = 4_294_967_293
"""Where the modem lists the Nordic identity root CA (``%CMNG: 4294967293,10``)."""

DEVICE_IDENTITY_PUBLIC_KEY_TAG = 4_294_967_294
"""Where the modem lists the device identity public key (``%CMNG: 4294967294,6``)."""

# -- credential types ----------------------------------------------------------------------

CRED_TYPES = range(14)
"""``%CMNG`` ``<type>`` values xsudo sends (0-13). 0-5 are host-writable, 6 and 8-11 appear
in the modem's listings (named in :class:`xsudo.content.types.CredType`); the rest of the
range is passed through so a listing or delete of a newer type still works."""

XPMNG_KEY_TYPE = 5
"""The ``%CMNG`` type of an ``%XPMNG`` key: the key in slot ``n`` is the entry ``(n, 5)``
(the AT reference's way to delete one is ``AT%CMNG=3,<slot>,5``)."""

# -- %XPMNG / %XSUDO key slots -------------------------------------------------------------

XPMNG_SLOTS = range(10)
"""``%XPMNG``/``%XSUDO`` key slots (their ``<sec_tag>``, 0-9 in the AT reference; 0 when
omitted)."""

# -- %KEYGEN and %ATTESTTOKEN --------------------------------------------------------------

KEYGEN_KEY_TYPES = (2, 8)
"""``%KEYGEN`` ``<key_type>``: 2 a client private key, 8 the endorsement key (the ``%CMNG``
types the key is stored as)."""

KEYGEN_OUTPUT_FORMATS = range(2)
"""``%KEYGEN`` ``<output_format>``: 0 a PKCS#10 CSR, 1 the public key."""

KEYGEN_KEY_USAGE_BITS = 9
"""``%KEYGEN`` ``<key_usage>`` is a string of exactly nine ``0``/``1`` characters (the
X.509 keyUsage bits, digitalSignature first)."""

ATTEST_CHALLENGE_BYTES = 16
"""``%ATTESTTOKEN``'s challenge: 16 bytes, sent as 32 hex digits (the token's nonce)."""

# -- line lengths --------------------------------------------------------------------------

MAX_COMMAND_LINE_BYTES = 4095
"""Longest command line xsudo sends (``AT`` included, terminator excluded): sdk-nrf's
at_host reads into a 4096-byte buffer (``CONFIG_AT_HOST_CMD_MAX_LEN``) and keeps one byte
for the terminating NUL. An ``%XSUDO`` line, wrapper included, must fit too."""

MAX_RESPONSE_LINE_BYTES = 8 * 1024
"""Longest received line outside double quotes (:mod:`xsudo.at.framing`). Not a modem
limit: xsudo's own bound on untrusted input, with room above the command limit (an echoed
command fits), so a device that never ends a line cannot make the reader grow without
limit."""
