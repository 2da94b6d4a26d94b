"""CTC decoding: greedy by hand; the prefix beam search (numba-compiled and numpy paths) equals a plain
pure-Python one (with and without a language model), streams chunk by chunk, and lets backspace restore the
LM state; the two paths agree on hypotheses and scores."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_ctc import reference_beam_search

from myovision.data.charset import CHARSET
from myovision.decoding import CTCBeamDecoder, NgramLM, ctc_greedy, estimate_arpa
from myovision.errors import InputError

BLANK, BACKSPACE = CHARSET.blank, CHARSET.key_to_label("Key.backspace")
LABEL_CHARS = [None if i in (BLANK, BACKSPACE) else CHARSET.label_to_char(i) for i in range(99)]


def onehot_path(labels, n_classes=99, sharp=30.0):
    """Emissions (T, C) whose best path is `labels` (values per frame, BLANK for blank)."""
    logits = np.zeros((len(labels), n_classes))
    logits[np.arange(len(labels)), labels] = sharp
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def random_emissions(rng, frames, classes=99, blank_boost=2.0):
    logits = rng.normal(size=(frames, classes)) * 2.0
    logits[:, BLANK % classes] += blank_boost
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def small_lm(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "words.arpa"
    words = "the cat sat on a mat and the dog sat at the cab".split()
    path.write_text(estimate_arpa([list(w) for w in words], order=3))
    return NgramLM.read_arpa(path)


@pytest.fixture(params=["numpy", "numba"])
def engine(request):
    if request.param == "numba":
        pytest.importorskip("numba", reason="numba not installed: the compiled path is optional")
    return request.param


def test_greedy_by_hand():
    a, b = 0, 1
    assert ctc_greedy(onehot_path([a, a, BLANK, a, b, b, BLANK, BLANK])) == [a, a, b]
    assert ctc_greedy(onehot_path([BLANK, BLANK])) == []
    assert ctc_greedy(np.log([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]]), blank=1) == [0]


@pytest.mark.parametrize("use_lm", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_equals_the_plain_reference(small_lm, use_lm, seed, engine):
    rng = np.random.default_rng(seed)
    e = random_emissions(rng, 50)
    e[:, [2, 0, 19, BACKSPACE]] += 2.5  # c, a, t and backspace compete with the blank
    kw = dict(beam_size=10, labels_per_frame=6, lm=small_lm if use_lm else None, label_chars=LABEL_CHARS,
              lm_weight=1.5, insertion_bonus=1.0)
    expected, _ = reference_beam_search(e, **kw)
    assert CTCBeamDecoder(**kw, engine=engine).decode(e) == expected


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 40), max_size=4))
@pytest.mark.parametrize("engine_name", ["numpy", "numba"])
def test_streaming_chunks_give_the_batch_result(small_lm, seed, cuts, engine_name):
    if engine_name == "numba":
        pytest.importorskip("numba", reason="numba not installed: the compiled path is optional")
    e = random_emissions(np.random.default_rng(seed), 40)
    decoder = CTCBeamDecoder(beam_size=6, labels_per_frame=5, lm=small_lm, label_chars=LABEL_CHARS,
                             engine=engine_name)
    whole = decoder.decode(e)
    decoder.reset()
    for chunk in np.split(e, sorted(cuts)):
        decoder.feed(chunk)
    assert decoder.finish() == whole


def test_backspace_restores_the_lm_state(small_lm, engine):
    """`c z ⌫ a t` scores as `c a t`: each key adds weight * log10 P + bonus, the backspace undoes `z`."""
    c, z, a, t = (CHARSET.key_to_label(k) for k in "czat")
    weight, bonus = 2.0, 1.0
    kw = dict(beam_size=4, labels_per_frame=2, lm=small_lm, label_chars=LABEL_CHARS, lm_weight=weight,
              insertion_bonus=bonus)
    for path, keys in (([c, BLANK, z, BLANK, BACKSPACE, BLANK, a, BLANK, t, BLANK], [c, z, BACKSPACE, a, t]),
                       ([c, BLANK, a, BLANK, t, BLANK], [c, a, t])):
        e = onehot_path(path)
        decoder = CTCBeamDecoder(**kw, engine=engine)
        assert decoder.decode(e) == keys
        emission = e[np.arange(len(path)), path].sum()
        lm = weight * small_lm.sentence_log10(list("cat")) + 3 * bonus
        assert decoder.score == pytest.approx(emission + lm, abs=1e-6)


def test_lm_prefers_words_it_knows(small_lm):
    """Two letters equally likely from the network: the LM picks the one that spells a word."""
    c, a, t, o = (CHARSET.key_to_label(k) for k in "cato")
    e = onehot_path([c, BLANK, a, BLANK, t, BLANK])
    e[2] = np.log(np.full(99, 1e-9))
    e[2, [a, o]] = np.log(0.5)
    e[2] -= np.logaddexp.reduce(e[2])
    plain = CTCBeamDecoder(beam_size=8, labels_per_frame=3).decode(e)
    with_lm = CTCBeamDecoder(beam_size=8, labels_per_frame=3, lm=small_lm, label_chars=LABEL_CHARS).decode(e)
    assert with_lm == [c, a, t] and plain in ([c, a, t], [c, o, t])


def test_dropping_unreachable_prefixes_changes_nothing(small_lm, engine):
    e = random_emissions(np.random.default_rng(7), 80)
    kw = dict(beam_size=8, labels_per_frame=6, lm=small_lm, label_chars=LABEL_CHARS, engine=engine)
    keep_all, compact = CTCBeamDecoder(**kw), CTCBeamDecoder(**kw)
    compact.compact_at = 40
    assert compact.decode(e) == keep_all.decode(e)
    assert compact.score == pytest.approx(keep_all.score)
    assert compact.prefixes.size < keep_all.prefixes.size


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), beam=st.integers(1, 60), per_frame=st.integers(1, 99),
       use_lm=st.booleans(), backspace=st.booleans())
def test_compiled_and_numpy_paths_agree(small_lm, seed, beam, per_frame, use_lm, backspace):
    """The numba loop does the numpy step's arithmetic entry by entry: same labels, same score, same beam."""
    pytest.importorskip("numba", reason="numba not installed: the compiled path is optional")
    e = random_emissions(np.random.default_rng(seed), 60)
    e[:, [2, 0, 19, BACKSPACE]] += 2.5
    kw = dict(beam_size=beam, labels_per_frame=per_frame, lm=small_lm if use_lm else None, label_chars=LABEL_CHARS,
              backspace=BACKSPACE if backspace else None)
    fast, slow = CTCBeamDecoder(**kw, engine="numba"), CTCBeamDecoder(**kw, engine="numpy")
    assert fast.decode(e) == slow.decode(e)
    assert fast.score == pytest.approx(slow.score, abs=1e-9)
    assert [fast._labels(int(n)) for n in fast.node] == [slow._labels(int(n)) for n in slow.node]


def test_unknown_engine_is_one_line():
    with pytest.raises(InputError, match="engine must be"):
        CTCBeamDecoder(engine="cuda")


@settings(deadline=None)  # the first example compiles the kernel
@given(values=st.lists(st.integers(-3, 3), max_size=80), n=st.integers(1, 60))
def test_the_beam_cut_equals_a_stable_full_sort_ties_included(values, n):
    """The kernel's top-n selection (partition, then a stable sort of the few) is the first n of a stable sort."""
    from myovision.decoding import ctc_kernel

    ctc_kernel.compiled_beam_frames()  # with numba: the module's _best_first becomes the compiled one
    neg = np.asarray(values, dtype=np.float64)  # few distinct values: many ties at the cut
    expected = np.argsort(neg, kind="stable")[:n]
    for best_first in (ctc_kernel._best_first, getattr(ctc_kernel._best_first, "py_func", None)):
        if best_first is not None:
            np.testing.assert_array_equal(best_first(neg, n), expected)
