"""Open-vocabulary decoding: the word-loop graph of an ARPA LM composed with HMMs (`decoding.hclg`) and the
token-passing beam search (`decoding.token_passing`), against brute-force path enumeration, the LM's own
scores (and `myovision.decoding.lm.NgramLM`, written by someone else), and the grammar Viterbi of
`decoding.hmm`."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from myovision.decoding.grammar import GRID_GRAMMAR, GRID_PHONES
from myovision.decoding.hclg import compose
from myovision.decoding.hmm import grammar_graph, viterbi
from myovision.decoding.kneser_ney import estimate_kneser_ney
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.lm import NgramLM
from myovision.decoding.token_passing import TokenPassingDecoder
from myovision.decoding.word_lm import WordGrammar, read_arpa
from myovision.errors import InputError


def brute_force(graph, log_likes, per_words=None):
    """max over every path of exactly T emitting steps (depth-first enumeration), and its words; `per_words`, a
    dict, receives the best score of every word sequence."""
    t_frames = len(log_likes)
    out = {}
    for a in range(len(graph.arc_src)):
        out.setdefault(int(graph.arc_src[a]), []).append(a)
    best = (-math.inf, None)
    per_words = {} if per_words is None else per_words

    def walk(node, t, score, words, depth):
        nonlocal best
        if t == t_frames - 1 and np.isfinite(graph.final[node]):
            per_words[words] = max(per_words.get(words, -math.inf), score + graph.final[node])
            if score + graph.final[node] > best[0]:
                best = (score + graph.final[node], words)
        if depth > 40:
            return
        for a in out.get(node, ()):
            dst = int(graph.arc_dst[a])
            w = words + ((graph.words[graph.arc_word[a]],) if graph.arc_word[a] >= 0 else ())
            s = score + graph.arc_logp[a]
            if graph.state[dst] >= 0:
                if t + 1 < t_frames:
                    walk(dst, t + 1, s + log_likes[t + 1, graph.state[dst]], w, 0)
            else:
                walk(dst, t, s, w, depth + 1)

    walk(graph.start, -1, 0.0, (), 0)
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(1, 3), frames=st.integers(1, 5), n=st.integers(1, 6))
def test_nbest_equals_the_best_word_sequences_of_brute_force_enumeration(tmp_path_factory, seed, order, frames, n):
    rng = np.random.default_rng(seed)
    graph, num_states = random_word_loop(tmp_path_factory.mktemp("lm"), rng, order, 1.0, silence=True)
    log_likes = rng.normal(size=(frames, num_states)) * 2
    per_words = {}
    brute_force(graph, log_likes, per_words)
    decoder = TokenPassingDecoder(graph, beam=1e9, max_active=10**9)
    if not per_words:
        with pytest.raises(InputError):
            decoder.nbest(log_likes, n)
        return
    got = decoder.nbest(log_likes, n)
    expected = sorted(per_words.values(), reverse=True)[:n]
    assert [score for _, score in got] == pytest.approx(expected, abs=1e-9)
    for words, score in got:  # each hypothesis scores as brute force scores its word sequence
        assert per_words[tuple(words)] == pytest.approx(score, abs=1e-9)
    assert len({tuple(w) for w, _ in got}) == len(got)
    best = decoder.decode(log_likes)
    assert got[0][1] == pytest.approx(best.score, abs=1e-9)


def random_word_loop(tmp_path, rng, order, lm_weight, silence):
    """(word-loop graph of a random LM over three spelled words with random one-state HMMs, HMM state count)."""
    vocab = ["ab", "b", "ca"]
    lm = read_arpa(random_lm(tmp_path, rng, vocab, order))
    lex = Lexicon.spelled(vocab)
    hmms = HmmSet(lex.units, 1, rng.uniform(0.1, 0.9, len(lex.units)))
    graph = compose(WordGrammar.from_arpa(lm), lambda w: [s for u in lex[w] for s in hmms.states_of(u)],
                    hmms.self_loop, lm_weight=lm_weight, word_penalty=float(rng.normal()),
                    silence_states=hmms.states_of(lex.silence) if silence else ())
    return graph, hmms.num_states


def random_lm(tmp_path, rng, vocab, order):
    sentences = [[vocab[i] for i in rng.integers(0, len(vocab), rng.integers(1, 4))] for _ in range(12)]
    arpa = tmp_path / "lm.arpa"
    arpa.write_text(estimate_kneser_ney(sentences, order)[0])
    return arpa


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(1, 3), frames=st.integers(1, 5),
       silence=st.booleans(), lm_weight=st.sampled_from([0.5, 1.0, 2.0]))
def test_viterbi_over_the_word_loop_equals_brute_force_enumeration(tmp_path_factory, seed, order, frames, silence,
                                                                   lm_weight):
    rng = np.random.default_rng(seed)
    graph, num_states = random_word_loop(tmp_path_factory.mktemp("lm"), rng, order, lm_weight, silence)
    log_likes = rng.normal(size=(frames, num_states)) * 2
    expected, _ = brute_force(graph, log_likes)
    decoder = TokenPassingDecoder(graph, beam=1e9, max_active=10**9)
    if not np.isfinite(expected):
        with pytest.raises(InputError):
            decoder.decode(log_likes)
        return
    got = decoder.decode(log_likes)
    assert got.score == pytest.approx(expected, abs=1e-9)
    assert len(got.states) == frames
    # the returned path really scores what it claims: emissions plus the arcs of its nodes
    assert np.isfinite(log_likes[np.arange(frames), got.states]).all()


def failure_walk(grammar, words):
    """ln score of `words` through G taking a back-off arc only when the state has no arc for the word (the
    ARPA rule, i.e. phi-transition semantics), ending with the final weight the same way."""
    arcs = {(s, w): (d, lnp) for s, w, d, lnp in grammar.arcs}
    backoff = {s: (d, lnb) for s, d, lnb in grammar.epsilon_arcs}
    state, total = grammar.start, 0.0
    for w in (*words, None):
        while (state, w) not in arcs and not (w is None and state in grammar.final):
            state, lnb = backoff[state]
            total += lnb
        if w is None:
            return total + grammar.final[state]
        state, lnp = arcs[(state, w)]
        total += lnp


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), order=st.integers(1, 4))
def test_lm_scores_in_the_graph_equal_the_arpa_scores(tmp_path_factory, seed, order):
    """G's arcs taken by the ARPA back-off rule score every sentence exactly as the LM (this module's reader
    and NgramLM); the decoder (one frame and one private state per word) finds exactly that score for bigram
    models, and for higher orders at least it: a back-off arc can skip a long history whose later back-off
    weights cost more (Allauzen et al. 2003, section 4.2; Kaldi's G.fst has the same approximation)."""
    rng = np.random.default_rng(seed)
    vocab = ["w0", "w1", "w2", "w3"]
    arpa = random_lm(tmp_path_factory.mktemp("lm"), rng, vocab, order)
    lm = read_arpa(arpa)
    loop = 0.3
    grammar = WordGrammar.from_arpa(lm)
    graph = compose(grammar, lambda w: [vocab.index(w)], np.full(len(vocab), loop))
    decoder = TokenPassingDecoder(graph, beam=1e9, max_active=10**9)
    other = NgramLM.read_arpa(arpa)
    for _ in range(5):
        sentence = [vocab[i] for i in rng.integers(0, len(vocab), rng.integers(1, 5))]
        sentence = [w for k, w in enumerate(sentence) if k == 0 or w != sentence[k - 1]]  # one frame per word
        expected = math.log(10) * lm.sentence_log10(sentence)
        assert expected == pytest.approx(math.log(10) * other.sentence_log10(sentence), abs=1e-5)
        assert failure_walk(grammar, sentence) == pytest.approx(expected, abs=1e-9)
        log_likes = np.full((len(sentence), len(vocab)), -np.inf)
        log_likes[np.arange(len(sentence)), [vocab.index(w) for w in sentence]] = 0.0
        got = decoder.decode(log_likes)
        assert got.words == sentence
        lm_ln = got.score - len(sentence) * math.log1p(-loop)
        if order <= 2:  # a back-off path may tie the explicit bigram, up to the ARPA file's rounding (1e-7 in log10)
            assert lm_ln == pytest.approx(expected, abs=1e-6)
        else:
            assert lm_ln >= expected - 1e-9


def test_grid_grammar_as_a_word_grammar_decodes_as_the_grammar_viterbi():
    lex = Lexicon({w: tuple(GRID_PHONES[w].split()) for w in GRID_GRAMMAR.words})
    rng = np.random.default_rng(0)
    hmms = HmmSet(lex.units, 1, rng.uniform(0.2, 0.8, len(lex.units)))
    old = grammar_graph(GRID_GRAMMAR, lex, hmms, optional_silence=False)
    new = compose(WordGrammar.from_slots(GRID_GRAMMAR.slots),
                  lambda w: [s for u in lex[w] for s in hmms.states_of(u)], hmms.self_loop)
    decoder = TokenPassingDecoder(new, beam=1e9, max_active=10**9)
    for _ in range(3):
        ll = rng.normal(size=(40, hmms.num_states)) * 3
        a, b = viterbi(ll, old), decoder.decode(ll)
        assert a.words == b.words and a.score == pytest.approx(b.score) and np.array_equal(a.states, b.states)


def test_pruning_keeps_the_best_path_when_it_is_clear():
    lex = Lexicon.spelled(["ab", "ba", "a", "b"])
    hmms = HmmSet(lex.units, 2)
    lm_text = estimate_kneser_ney([["ab", "ba"], ["a", "b", "ab"], ["ba"]], 2)[0]
    graph = compose(WordGrammar.from_arpa(read_arpa_text(lm_text)),
                    lambda w: [s for u in lex[w] for s in hmms.states_of(u)], hmms.self_loop)
    truth = [s for w in ("ab", "ba") for u in lex[w] for s in hmms.states_of(u) for _ in range(2)]
    ll = np.full((len(truth), hmms.num_states), -8.0)
    ll[np.arange(len(truth)), truth] = 0.0
    full = TokenPassingDecoder(graph, beam=1e9, max_active=10**9).decode(ll)
    tight = TokenPassingDecoder(graph, beam=10.0, max_active=4).decode(ll)
    assert full.words == tight.words == ["ab", "ba"]
    assert np.array_equal(tight.states, truth)


def read_arpa_text(text, tmp=[]):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "lm.arpa"
    path.write_text(text)
    return read_arpa(path)
