"""The one error a token decoder raises."""

from __future__ import annotations

from xsudo.errors import OperationFailed


class TokenError(OperationFailed):
    """A ``%KEYGEN``/``%ATTESTTOKEN`` reply that is malformed or does not check out (exit 1).

    The message says what was wrong (bad base64url, bad CBOR, not a COSE_Sign1, wrong
    algorithm, digest mismatch, a CSR that does not verify, ...).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(
            message, hint or "the modem's reply is not what Nordic firmware sends; retry"
        )
