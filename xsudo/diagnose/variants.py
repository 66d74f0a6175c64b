"""What a signer may have signed instead of the bytes that were sent: a table of mistakes.

Each variant is built from the sent command by four steps, each taken from a small table:

1. span - ``body[:data_len]`` (what the modem hashes) or the whole body;
2. line endings - as sent, LF->CRLF, CRLF->LF, real newline -> literal ``\\n``, or the reverse;
3. prefix - none or ``AT``;
4. suffix - none, LF or CRLF (the file's trailing newline).

Every non-identity step carries the diagnosis code it implies. :func:`candidate_variants`
yields every combination whose steps all change something (a step that leaves the bytes
unchanged says nothing and is skipped), simplest first. At most 2 x 5 x 2 x 3 = 60 variants.
Nothing here knows about keys or signatures.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Step = Callable[[bytes], bytes]


def _identity(data: bytes) -> bytes:
    return data


def _lf_to_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _crlf_to_lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def _newlines_to_escapes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\\r\\n").replace(b"\n", b"\\n")


def _escapes_to_newlines(data: bytes) -> bytes:
    return data.replace(b"\\r\\n", b"\r\n").replace(b"\\n", b"\n")


def _with_at(data: bytes) -> bytes:
    return b"AT" + data


def _with_lf(data: bytes) -> bytes:
    return data + b"\n"


def _with_crlf(data: bytes) -> bytes:
    return data + b"\r\n"


@dataclass(frozen=True)
class Mistake:
    """One way the signed bytes can differ from the sent ones.

    ``code`` is the diagnosis code it implies (``None`` for the identity step) and
    ``signed_as`` a phrase completing "the signature covers the command ...".
    """

    code: str | None
    signed_as: str
    apply: Step


AS_SENT = Mistake(None, "", _identity)

LINE_ENDINGS: tuple[Mistake, ...] = (
    AS_SENT,
    Mistake("crlf-signed", "with CRLF line breaks where LF is sent", _lf_to_crlf),
    Mistake("lf-signed", "with LF line breaks where CRLF is sent", _crlf_to_lf),
    Mistake(
        "literal-backslash-n",
        "with the two characters \\n where real line breaks are sent",
        _newlines_to_escapes,
    ),
    Mistake(
        "literal-backslash-n",
        "with real line breaks where the two characters \\n are sent",
        _escapes_to_newlines,
    ),
)

PREFIXES: tuple[Mistake, ...] = (
    AS_SENT,
    Mistake("at-prefix-signed", "with a leading AT", _with_at),
)

SUFFIXES: tuple[Mistake, ...] = (
    AS_SENT,
    Mistake("trailing-lf-signed", "plus a trailing LF", _with_lf),
    Mistake("trailing-crlf-signed", "plus a trailing CRLF", _with_crlf),
)

SPAN_DATA_LEN = "data_len"
SPAN_BODY = "body"


@dataclass(frozen=True)
class Variant:
    """Candidate signed bytes, with the mistakes that turn the sent command into them."""

    data: bytes
    span: str
    mistakes: tuple[Mistake, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """Diagnosis codes this variant implies (the span's code included), no duplicates."""
        found: list[str] = ["data-len-mismatch"] if self.span == SPAN_BODY else []
        for mistake in self.mistakes:
            if mistake.code is not None and mistake.code not in found:
                found.append(mistake.code)
        return tuple(found)

    @property
    def is_as_sent(self) -> bool:
        """True for ``body[:data_len]`` unchanged: what the modem actually hashes."""
        return self.span == SPAN_DATA_LEN and not self.mistakes

    def describe(self, data_len: int, body_len: int) -> str:
        """A phrase naming what was signed, e.g. ``the 35-byte command plus a trailing LF``."""
        if self.span == SPAN_BODY:
            head = f"the whole {body_len}-byte command"
        elif data_len >= body_len:
            head = f"the {body_len}-byte command"
        else:
            head = f"the first {data_len} bytes of the command"
        return " ".join([head, *(m.signed_as for m in self.mistakes)])


def _spans(body: bytes, data_len: int) -> list[tuple[str, bytes]]:
    spans = [(SPAN_DATA_LEN, body[:data_len])]
    if data_len < len(body):
        spans.append((SPAN_BODY, body))
    return spans


def candidate_variants(body: bytes, data_len: int) -> Iterator[Variant]:
    """Every variant of the sent ``body`` worth trying, the as-sent bytes first.

    Variants are ordered by how many mistakes they assume (stable within a count, in table
    order). A step that does not change the bytes is not a mistake here, so its combination
    is skipped.
    """
    found: list[tuple[int, int, Variant]] = []
    tables = (LINE_ENDINGS, PREFIXES, SUFFIXES)
    for span, start in _spans(body, data_len):
        for steps in itertools.product(*tables):
            data = start
            applied: list[Mistake] = []
            for step in steps:
                changed = step.apply(data)
                if step is not AS_SENT:
                    if changed == data:
                        break
                    applied.append(step)
                data = changed
            else:
                variant = Variant(data, span, tuple(applied))
                weight = len(applied) + (span == SPAN_BODY)
                found.append((weight, len(found), variant))
    for _, _, variant in sorted(found, key=lambda item: (item[0], item[1])):
        yield variant
