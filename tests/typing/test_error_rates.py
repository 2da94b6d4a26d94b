"""CER and WER over a corpus: hand-computed cases and a property test against a plain edit-distance table."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.metrics import character_error_rate, word_error_rate


def edit_distance(a, b):
    """Levenshtein distance by the textbook dynamic programme."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_cer_by_hand():
    r = character_error_rate(["helo", "wrld!", ""], ["hello", "world", "ab"])
    # hello->helo: 1 deletion; world->wrld!: 1 deletion + 1 insertion; ab->"": 2 deletions; 12 reference chars
    assert r["errors"] == 5 and r["reference_chars"] == 12
    assert (r["deletions"], r["insertions"], r["substitutions"]) == (4, 1, 0)
    assert r["cer"] == pytest.approx(5 / 12)
    assert r["deletion_rate"] == pytest.approx(4 / 12) and r["insertion_rate"] == pytest.approx(1 / 12)
    assert r["substitution_rate"] == 0.0


def test_wer_by_hand():
    r = word_error_rate(["the cat sat on mat", "a b"], ["the cat sat on the mat", "a c"])
    assert r["wer"] == pytest.approx(2 / 8) and r["deletion_rate"] == pytest.approx(1 / 8)
    assert r["substitution_rate"] == pytest.approx(1 / 8) and r["reference_words"] == 8


def test_mismatched_corpus_lengths():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        character_error_rate(["a", "b"], ["a"])


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(st.text("abc⌫ ", max_size=12), st.text("abc⌫ ", max_size=12)), min_size=1, max_size=5))
def test_cer_is_summed_edit_distance_over_reference_length(pairs):
    hyps, refs = zip(*pairs)
    r = character_error_rate(hyps, refs)
    distance = sum(edit_distance(h, ref) for h, ref in pairs)
    n = sum(len(ref) for ref in refs)
    assert r["errors"] == distance
    parts = r["substitution_rate"] + r["insertion_rate"] + r["deletion_rate"]
    if n:
        assert r["cer"] == pytest.approx(distance / n) and parts == pytest.approx(r["cer"])
    word = word_error_rate(hyps, refs)
    assert word["errors"] == sum(edit_distance(h.split(), ref.split()) for h, ref in pairs)
