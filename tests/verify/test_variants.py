"""The variant table: what is tried, in which order, and that no-op steps are skipped."""

from __future__ import annotations

from xsudo.diagnose.diagnosis import CODES
from xsudo.diagnose.variants import LINE_ENDINGS, PREFIXES, SUFFIXES, candidate_variants

PEM_BODY = b'%CMNG=0,1,0,"-----BEGIN X-----\nAAAA\n-----END X-----\n"'


def test_as_sent_comes_first() -> None:
    first = next(candidate_variants(PEM_BODY, len(PEM_BODY)))
    assert first.is_as_sent and first.data == PEM_BODY and first.codes == ()


def test_search_is_bounded() -> None:
    most = 2 * len(LINE_ENDINGS) * len(PREFIXES) * len(SUFFIXES)
    assert most == 60
    assert len(list(candidate_variants(PEM_BODY, len(PEM_BODY) - 5))) <= most


def test_line_ending_steps_skipped_without_line_breaks() -> None:
    variants = list(candidate_variants(b"%CMNG=1", 7))
    assert len(variants) == 1 * 2 * 3
    assert all(
        set(v.codes) <= {"at-prefix-signed", "trailing-lf-signed", "trailing-crlf-signed"}
        for v in variants
    )


def test_whole_body_span_only_when_data_len_is_short() -> None:
    assert not any("data-len-mismatch" in v.codes for v in candidate_variants(b"%CMNG=1", 7))
    assert not any("data-len-mismatch" in v.codes for v in candidate_variants(b"%CMNG=1", 9))
    spans = {v.data for v in candidate_variants(b"%CMNG=1", 4) if "data-len-mismatch" in v.codes}
    assert b"%CMNG=1" in spans


def test_variants_are_ordered_by_number_of_mistakes() -> None:
    weights = [len(v.codes) for v in candidate_variants(PEM_BODY, len(PEM_BODY) - 1)]
    assert weights == sorted(weights)


def test_expected_bytes_for_each_step() -> None:
    found = {v.codes: v.data for v in candidate_variants(PEM_BODY, len(PEM_BODY))}
    assert found[("crlf-signed",)] == PEM_BODY.replace(b"\n", b"\r\n")
    assert found[("literal-backslash-n",)] == PEM_BODY.replace(b"\n", b"\\n")
    assert found[("at-prefix-signed", "trailing-lf-signed")] == b"AT" + PEM_BODY + b"\n"
    assert found[("trailing-crlf-signed",)] == PEM_BODY + b"\r\n"
    assert ("lf-signed",) not in found  # nothing to convert: the body has no CRLF


def test_every_variant_code_is_in_the_vocabulary() -> None:
    for variant in candidate_variants(PEM_BODY.replace(b"\n", b"\r\n"), 20):
        assert set(variant.codes) <= set(CODES)
