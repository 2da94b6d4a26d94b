"""The KenLM-backed character LM (the [lm] extra) against the pure-Python ARPA reader on the same ARPA file:
equal log10 scores (1e-5), the same LM states for beam search, identical beam + LM hypotheses; the LM file type
chooses the reader; a corrupt KenLM binary or a missing kenlm package is one line."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.decoding.ctc import CTCBeamDecoder
from myovision.decoding.lm import KENLM_MAGIC, KenLMCharLM, NgramLM, estimate_arpa, load_lm
from myovision.emg_typing.evaluate import LABEL_CHARS
from myovision.errors import InputError

pytest.importorskip("kenlm", reason="the [lm] extra (kenlm) is not installed")

WORDS = "the cat sat on a mat and the dog sat at the cab then they ran to the hat".split()


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    path = tmp_path_factory.mktemp("kenlm") / "chars.arpa"
    path.write_text(estimate_arpa([list(w) for w in WORDS * 2], order=4))
    return path


@pytest.fixture(scope="module")
def both(arpa):
    return NgramLM.read_arpa(arpa), KenLMCharLM(arpa)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list("thecasondgmrxyz")), min_size=0, max_size=9))
def test_kenlm_scores_equal_the_arpa_readers(both, text):
    python, ken = both
    assert ken.sentence_log10(text) == pytest.approx(python.sentence_log10(text), abs=1e-5)
    steps_p = [python.score(s, t)[0] for s, t in python.walk(text)]
    steps_k = [ken.score(s, t)[0] for s, t in ken.walk(text)]
    np.testing.assert_allclose(steps_k, steps_p, atol=1e-5)


def test_beam_search_with_kenlm_gives_the_same_hypotheses(both):
    python, ken = both
    rng = np.random.default_rng(0)
    for _ in range(5):
        logits = rng.normal(size=(60, 99)) * 2.0
        logits[:, 98] += 2.0
        emissions = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        hyps = [CTCBeamDecoder(beam_size=8, lm=lm, label_chars=LABEL_CHARS).decode(emissions) for lm in both]
        assert hyps[0] == hyps[1]


def test_the_file_type_chooses_the_reader_and_bad_files_are_one_line(arpa, tmp_path, monkeypatch):
    assert isinstance(load_lm(arpa), NgramLM)
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(KENLM_MAGIC + b" format version 5\0" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="not a readable KenLM model") as err:
        load_lm(corrupt)
    assert "\n" not in str(err.value) and str(corrupt) in str(err.value)
    monkeypatch.setitem(sys.modules, "kenlm", None)
    with pytest.raises(InputError, match=r"pip install 'myovision\[lm\]'"):
        KenLMCharLM(arpa)
