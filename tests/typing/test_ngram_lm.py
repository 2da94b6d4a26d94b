"""ARPA n-gram models: scores equal the ARPA back-off definition (property tests against a plain recursive
implementation written here), for the real character 3-gram model and for models estimated from text."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.decoding.lm import NgramLM, estimate_arpa
from myovision.errors import InputError
from conftest import shared_path


def parse_arpa_plainly(text):
    """{n-gram tuple: (log10 p, back-off)} and the order, from ARPA text, line by line."""
    grams, n, order = {}, 0, 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ngram "):
            order = max(order, int(line.split()[1].split("=")[0]))
        elif line.endswith("-grams:"):
            n = int(line[1:line.index("-")])
        elif line and n and line != "\\end\\":
            f = line.split()
            grams[tuple(f[1:n + 1])] = (float(f[0]), float(f[n + 1]) if len(f) > n + 1 else 0.0)
    return grams, order


def arpa_log10(grams, w, h):
    """The ARPA definition, recursively: p(h w) if listed, else bo(h) + P(w | h without its oldest token)."""
    if h + (w,) in grams:
        return grams[h + (w,)][0]
    if not h:
        return grams[("<unk>",)][0] if ("<unk>",) in grams else -100.0
    return grams.get(h, (0.0, 0.0))[1] + arpa_log10(grams, w, h[1:])


def sentence_plainly(grams, order, words):
    vocab = {g[0] for g in grams if len(g) == 1}
    h, total = ("<s>",), 0.0
    for w in list(words) + ["</s>"]:
        w = w if w in vocab else "<unk>"
        total += arpa_log10(grams, w, h[max(0, len(h) - order + 1):])
        h = h + (w,)
    return total


REAL = "lm/reuters-3-gram-char-lm.arpa"


@pytest.fixture(scope="module")
def reuters():
    path = shared_path(*REAL.split("/"))
    return NgramLM.read_arpa(path), parse_arpa_plainly(path.read_text())


CHARS = list("abcdefghijklmnopqrstuvwxyz.,-'0123\u00fcZ\u00e9#")


@pytest.mark.real
@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.lists(st.sampled_from(CHARS), max_size=12), max_size=4))
def test_real_char_lm_sentence_scores_equal_the_arpa_definition(reuters, words):
    lm, (grams, order) = reuters
    assert lm.order == order == 3 and len(lm.tokens) == 63
    for word in words:  # each word is a sentence: <s> c h a r s </s>
        assert lm.sentence_log10(word) == pytest.approx(sentence_plainly(grams, order, word), abs=1e-9)


@pytest.mark.real
def test_real_char_lm_hand_checked_entries(reuters):
    lm, _ = reuters
    # listed trigram "<s> t h": -0.25158918 (the file); unigram <unk>: -2.8916545
    th = lm.score(lm.score(lm.bos_state, lm.token_id("t"))[1], lm.token_id("h"))[0]
    assert th == pytest.approx(-0.25158918)
    assert lm.score(lm.null_state, lm.token_id("\u00e9"))[0] == pytest.approx(-2.8916545)


@st.composite
def corpora(draw):
    alphabet = st.sampled_from(list("abcde"))
    return draw(st.lists(st.lists(alphabet, min_size=1, max_size=8), min_size=1, max_size=12))


@settings(max_examples=60, deadline=None)
@given(corpus=corpora(), order=st.integers(1, 4), probe=st.lists(st.sampled_from(list("abcdefx")), max_size=10))
def test_estimated_lm_scores_equal_the_arpa_definition_and_normalise(tmp_path_factory, corpus, order, probe):
    text = estimate_arpa(corpus, order=order)
    path = tmp_path_factory.mktemp("lm") / "lm.arpa"
    path.write_text(text)
    lm = NgramLM.read_arpa(path)
    grams, got_order = parse_arpa_plainly(text)
    assert lm.order == got_order == order
    assert lm.sentence_log10(probe) == pytest.approx(sentence_plainly(grams, order, probe), abs=1e-9)
    predicted = [i for i, t in enumerate(lm.tokens) if t != "<s>"]
    for state, _ in lm.walk(probe):  # every history seen: a distribution, matching the single scores
        dist = lm.log10_probs(state)
        assert np.sum(10 ** dist[predicted]) == pytest.approx(1.0, abs=1e-4)
        assert dist[lm.token_id("b")] == pytest.approx(lm.score(state, lm.token_id("b"))[0], abs=1e-12)


def test_state_keeps_only_the_history_that_matters(tmp_path):
    path = tmp_path / "lm.arpa"
    path.write_text(estimate_arpa([list("abc"), list("abd")], order=3))
    lm = NgramLM.read_arpa(path)
    contexts = [lm.context(state) for state, _ in lm.walk(list("abc"))]
    assert contexts == [("<s>",), ("<s>", "a"), ("a", "b")]  # order 3 keeps two tokens
    unseen = lm.score(lm.bos_state, lm.token_id("zz"))[1]  # "<s> <unk>" starts no n-gram, <unk> has no back-off
    assert lm.context(unseen) == ()


GOOD = "\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n-0.5\ta\t-0.2\n-0.3\t</s>\n\n" \
       "\\2-grams:\n-0.1\t<s> a\n\n\\end\\\n"


@pytest.mark.parametrize("text, problem", [
    ("hello\n", "no \\\\data\\\\ header"),
    (GOOD.replace("ngram 2=1", "ngram 2=2"), "2-grams 1 listed, 2 declared"),
    (GOOD.replace("-0.1\t<s> a", "x\t<s> a"), "line 11: not a number"),
    (GOOD.replace("-0.1\t<s> a", "-0.1\t<s> a b c"), "line 11: a 2-gram line needs"),
    (GOOD.replace("-0.1\t<s> a", "-0.1\t<s> q"), "token 'q' of a 2-gram is not among the 1-grams"),
    (GOOD.replace("\\end\\\n", ""), "missing \\\\end\\\\"),
    (GOOD.replace("\\2-grams:", "\\3-grams:"), "not declared"),
    (GOOD.replace("-0.5\ta", "0.5\ta"), "must be <= 0"),
    (GOOD.replace("-0.3\t</s>", "-0.3\ta"), "listed twice"),
])
def test_malformed_arpa_files_are_input_errors(tmp_path, text, problem):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as exc:
        NgramLM.read_arpa(path)
    assert exc.value.path == str(path)


def test_good_small_file_by_hand(tmp_path):
    path = tmp_path / "good.arpa"
    path.write_text(GOOD)
    lm = NgramLM.read_arpa(path)
    # "a": p(<s> a) = -0.1; "</s>" after a: bo(a) + p(</s>) = -0.2 - 0.3
    assert lm.sentence_log10(["a"]) == pytest.approx(-0.1 - 0.5)
    # "b" is outside the vocabulary and there is no <unk>: KenLM's -100
    assert lm.sentence_log10(["b"], eos=False) == -100.0
    assert math.isclose(lm.sentence_log10([], bos=True), -0.5 - 0.3)
