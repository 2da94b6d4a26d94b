"""Modified Kneser-Ney estimation (`decoding.kneser_ney`) against values computed by hand from Chen & Goodman's
formulas, and every history's distribution summing to one under an ARPA scorer written by someone else
(`myovision.decoding.lm.NgramLM`)."""

import math
from collections import Counter

import numpy as np
import pytest

from myovision.decoding.kneser_ney import FALLBACK_DISCOUNTS, discounts_of, estimate_kneser_ney
from myovision.decoding.lm import NgramLM
from myovision.decoding.word_lm import read_arpa
from myovision.errors import InputError


def write(tmp_path, text):
    path = tmp_path / "lm.arpa"
    path.write_text(text)
    return path


def test_bigram_values_computed_by_hand(tmp_path):
    # <s> a b </s> | <s> a b b </s> | <s> b a </s>
    arpa, discounts = estimate_kneser_ney([["a", "b"], ["a", "b", "b"], ["b", "a"]], order=2)
    lm = read_arpa(write(tmp_path, arpa))
    # bigram counts-of-counts n1 = 4, n2 = 3, n3 = 0 and unigram continuation counts a: 2, b: 3, </s>: 2
    # (n1 = 0): both orders use the fallback discounts 0.5, 1, 1.5
    assert [d["fallback"] for d in discounts] == [True, True]
    # unigrams: total 7, gamma = (1.0 * 2 + 1.5 * 1) / 7 = 0.5 spread over 4 words (a, b, </s>, <unk>)
    p_a = (2 - 1.0) / 7 + 0.5 / 4
    p_b = (3 - 1.5) / 7 + 0.5 / 4
    assert lm.log10_prob[("a",)] == pytest.approx(math.log10(p_a), abs=1e-6)
    assert lm.log10_prob[("b",)] == pytest.approx(math.log10(p_b), abs=1e-6)
    assert lm.log10_prob[("<unk>",)] == pytest.approx(math.log10(0.5 / 4), abs=1e-6)
    # history a: (a b) = 2, (a </s>) = 1; gamma(a) = (0.5 * 1 + 1.0 * 1) / 3
    gamma_a = (0.5 + 1.0) / 3
    assert lm.log10_backoff[("a",)] == pytest.approx(math.log10(gamma_a), abs=1e-6)
    assert lm.log10_prob[("a", "b")] == pytest.approx(math.log10((2 - 1.0) / 3 + gamma_a * p_b), abs=1e-6)
    # unseen (a a) backs off: gamma(a) p(a)
    assert lm.score(["a"], "a") == pytest.approx(math.log10(gamma_a * p_a), abs=1e-6)


def test_discounts_follow_chen_and_goodman():
    counts = Counter({f"g{i}": c for i, c in enumerate([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [7])})
    (d1, d2, d3), fallback = discounts_of(counts)
    y = 10 / (10 + 2 * 5)
    assert not fallback
    assert (d1, d2, d3) == pytest.approx((1 - 2 * y * 5 / 10, 2 - 3 * y * 3 / 5, 3 - 4 * y * 2 / 3))  # n4 counts exactly 4, not the 7
    assert discounts_of(Counter({"a": 1, "b": 2}))[0] == FALLBACK_DISCOUNTS


@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_history_is_a_distribution(tmp_path, order):
    rng = np.random.default_rng(order)
    vocab = [f"w{i}" for i in range(20)]
    sentences = [[vocab[i] for i in rng.integers(0, 20, rng.integers(1, 7))] for _ in range(150)]
    arpa, discounts = estimate_kneser_ney(sentences, order)
    assert order == 1 or not discounts[1]["fallback"]  # enough text for real bigram discounts
    path = write(tmp_path, arpa)
    lm = NgramLM.read_arpa(path)
    tokens = [*vocab, "</s>", "<unk>"]
    listed = [g for g in read_arpa(path).log10_prob if len(g) < order and g[-1] != "</s>"]
    unseen = [tuple(vocab[i] for i in rng.integers(0, 20, order - 1)) for _ in range(5)]
    for history in [(), *listed, *unseen]:
        state = lm.null_state
        for w in history:
            state = lm.score(state, lm.token_id(w))[1]
        total = sum(10 ** lm.score(state, lm.token_id(t))[0] for t in tokens)
        assert total == pytest.approx(1.0, abs=1e-5), history


def test_bad_text_is_one_line():
    with pytest.raises(InputError, match="cannot be ARPA tokens"):
        estimate_kneser_ney([["a", "</s>"]], 2)
    with pytest.raises(InputError, match="no words"):
        estimate_kneser_ney([[]], 2)


def test_lm_build_command_writes_the_same_arpa_and_names_a_missing_file(tmp_path, capsys):
    from myovision.cli import main

    text = tmp_path / "text.txt"
    text.write_text("A b\na b b\n\nb a\n")
    assert main(["lm", "build", "--order", "2", "--text", str(text), "--out", str(tmp_path / "lm.arpa")]) == 0
    assert (tmp_path / "lm.arpa").read_text() == estimate_kneser_ney([["a", "b"], ["a", "b", "b"], ["b", "a"]], 2)[0]
    assert main(["lm", "build", "--text", str(tmp_path / "none.txt"), "--out", str(tmp_path / "x.arpa")]) == 2
    assert "none.txt: text file not found" in capsys.readouterr().err
