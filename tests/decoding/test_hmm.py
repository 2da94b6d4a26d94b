import itertools
import time

import numpy as np
import pytest

from myovision.decoding.grammar import GRID_GRAMMAR, GRID_PHONES, SlotGrammar, grid_sentence
from myovision.decoding.hmm import (flat_start, forced_align, grammar_graph, log_state_priors,
                                    scaled_log_likelihoods, transcript_graph, viterbi)
from myovision.decoding.lexicon import HmmSet, Lexicon, estimate_self_loops
from myovision.decoding.lm import NgramLM, estimate_arpa
from myovision.errors import InputError

TINY = SlotGrammar((("ab", "b"), ("a", "ba")))


def _tiny(states_per_unit=1, seed=0):
    lex = Lexicon.spelled(TINY.words)
    rng = np.random.default_rng(seed)
    n = len(lex.units) * states_per_unit
    return lex, HmmSet(lex.units, states_per_unit, rng.uniform(0.2, 0.8, n))


def _path_scores(graph, ll, paths):
    """Scores (P,) of node sequences (P, T) from a dense transition matrix, the way a textbook writes eq. (2)."""
    n = graph.num_nodes
    a = np.full((n, n), -np.inf)
    a[np.arange(n), np.arange(n)] = graph.self_logp
    a[graph.arc_src, graph.arc_dst] = graph.arc_logp
    emit = ll[:, graph.emission]  # (T, N)
    s = graph.initial[paths[:, 0]] + graph.final[paths[:, -1]] + emit[np.arange(paths.shape[1]), paths].sum(1)
    return s + a[paths[:, :-1], paths[:, 1:]].sum(1)


@pytest.mark.parametrize("silence", [False, True])
def test_viterbi_equals_brute_force_enumeration(silence):
    lex, hmms = _tiny()
    graph = grammar_graph(TINY, lex, hmms, optional_silence=silence)
    ll = np.log(np.random.default_rng(1).dirichlet(np.ones(hmms.num_states), size=5))  # (T=5, S)
    paths = np.array(list(itertools.product(range(graph.num_nodes), repeat=5)))
    scores = _path_scores(graph, ll, paths)
    result = viterbi(ll, graph)
    assert result.score == pytest.approx(scores.max())
    assert result.nodes.tolist() == paths[np.argmax(scores)].tolist()


def test_grammar_search_is_the_best_of_all_its_sentences():
    lex, hmms = _tiny(states_per_unit=2)
    ll = np.log(np.random.default_rng(2).dirichlet(np.ones(hmms.num_states), size=12))
    best = viterbi(ll, grammar_graph(TINY, lex, hmms))
    per_sentence = {s: viterbi(ll, transcript_graph(s, lex, hmms)).score for s in TINY.sentences()}
    assert best.score == pytest.approx(max(per_sentence.values()))
    assert tuple(best.words) == max(per_sentence, key=per_sentence.get)


def test_beam_keeps_the_best_path_and_too_short_input_is_an_error():
    lex, hmms = _tiny(states_per_unit=3)
    graph = grammar_graph(TINY, lex, hmms)
    ll = np.log(np.random.default_rng(3).dirichlet(np.ones(hmms.num_states), size=20))
    assert viterbi(ll, graph, beam=1e9).nodes.tolist() == viterbi(ll, graph).nodes.tolist()
    with pytest.raises(InputError, match="no path"):
        viterbi(ll[:5], graph)  # "b a" needs 6 states
    with pytest.raises(InputError, match="frames cannot hold"):
        flat_start(5, ["b", "a"], lex, hmms)


def test_forced_alignment_visits_every_transcript_state_in_order():
    lex = Lexicon({w: tuple(p.split()) for w, p in GRID_PHONES.items()})
    hmms = HmmSet(lex.units, 3)
    words = "set white by x seven again".split()
    ll = np.log(np.random.default_rng(4).dirichlet(np.ones(hmms.num_states), size=75))
    states = forced_align(ll, words, lex, hmms)
    sil = set(hmms.states_of(lex.silence))
    visited = [s for i, s in enumerate(states) if s not in sil and (i == 0 or s != states[i - 1])]
    assert visited == [s for w in words for u in lex[w] for s in hmms.states_of(u)]
    assert len(states) == 75


def test_priors_are_counted_and_subtracted():
    priors = log_state_priors([np.array([0, 0, 1]), np.array([1, 2])], num_states=4, smoothing=1)
    assert np.allclose(np.exp(priors), np.array([3, 3, 2, 1]) / 9)
    post = np.log(np.array([[0.5, 0.2, 0.2, 0.1]]))
    assert np.allclose(scaled_log_likelihoods(post, priors, kappa=0.5), post - 0.5 * priors)
    with pytest.raises(InputError):
        scaled_log_likelihoods(post, priors[:3])


def test_dividing_by_priors_lets_a_rare_state_win():
    lex = Lexicon.spelled(["a", "b"])
    hmms = HmmSet(lex.units, 1)
    graph = grammar_graph(SlotGrammar((("a", "b"),)), lex, hmms, optional_silence=False)
    post = np.log(np.array([[0.6, 0.4, 1e-6]]))  # p(s | x): a, b, sil
    priors = np.log(np.array([0.9, 0.1, 1e-6]))
    assert viterbi(scaled_log_likelihoods(post, priors, kappa=0.0), graph).words == ["a"]
    assert viterbi(scaled_log_likelihoods(post, priors, kappa=1.0), graph).words == ["b"]  # 0.4/0.1 > 0.6/0.9


def test_self_loops_estimated_from_alignments():
    loops = estimate_self_loops([np.array([0, 0, 0, 1, 1, 2])], num_states=4, floor=0.01)
    assert np.allclose(loops, [2 / 3, 1 / 2, 0.5, 0.5])  # state 2: last frame, exit unseen


def _synthetic_posteriors(words, lex, hmms, rng, frames=75, lead=12, trail=10):
    """Log posteriors (T, S): the transcript's states spread over the speech frames, silence around, noise."""
    sil = hmms.states_of(lex.silence)[0]
    target = np.concatenate([np.full(lead, sil), flat_start(frames - lead - trail, words, lex, hmms),
                             np.full(trail, sil)])
    logits = rng.normal(0, 1, (frames, hmms.num_states))
    logits[np.arange(frames), target] += 4.0
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True), target


@pytest.mark.parametrize("unit", ["characters", "phones"])
def test_synthetic_posteriors_decode_to_the_grid_sentence(unit):
    lex = (Lexicon.spelled(GRID_GRAMMAR.words) if unit == "characters"
           else Lexicon({w: tuple(p.split()) for w, p in GRID_PHONES.items()}))
    hmms = HmmSet(lex.units, 1)
    graph = grammar_graph(GRID_GRAMMAR, lex, hmms)
    rng = np.random.default_rng(5)
    sentences = list(GRID_GRAMMAR.sentences())
    for i in rng.choice(len(sentences), 8, replace=False):
        words = list(sentences[i])
        ll, _ = _synthetic_posteriors(words, lex, hmms, rng)
        start = time.perf_counter()
        result = viterbi(ll, graph, beam=50.0)
        assert time.perf_counter() - start < 1.0  # milliseconds in practice; loose for loaded machines
        assert result.words == words


def test_grammar_only_emits_legal_grid_sentences():
    lex = Lexicon.spelled(GRID_GRAMMAR.words)
    hmms = HmmSet(lex.units, 1)
    graph = grammar_graph(GRID_GRAMMAR, lex, hmms)
    rng = np.random.default_rng(6)
    for _ in range(20):
        result = viterbi(rng.normal(0, 3, (40, hmms.num_states)), graph)
        assert GRID_GRAMMAR.accepts(result.words), result.words
    assert len(GRID_GRAMMAR) == 4 * 4 * 4 * 25 * 10 * 4


def test_language_model_breaks_a_visual_tie(tmp_path):
    lex = Lexicon.spelled(GRID_GRAMMAR.words)
    hmms = HmmSet(lex.units, 1)
    corpus = [["bin", "blue", "at", "f", "two", "now"]] * 5 + [["set", "red", "by", "k", "one", "soon"]] * 5
    (tmp_path / "grid.arpa").write_text(estimate_arpa(corpus, order=2))
    lm = NgramLM.read_arpa(tmp_path / "grid.arpa")
    rng = np.random.default_rng(7)
    words = ["set", "red", "by", "k", "one", "soon"]
    ll, target = _synthetic_posteriors(words, lex, hmms, rng)
    ll[target == hmms.states_of("k")[0]] = np.log(1.0 / hmms.num_states)  # hide the letter: flat posteriors
    without_lm = viterbi(ll, grammar_graph(GRID_GRAMMAR, lex, hmms))
    with_lm = viterbi(ll, grammar_graph(GRID_GRAMMAR, lex, hmms, lm=lm, lm_weight=2.0))
    assert without_lm.words[3] != "k" and without_lm.words[:3] + without_lm.words[4:] == words[:3] + words[4:]
    assert with_lm.words == words


def test_lexicon_file_and_grid_ids(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text(";;; comment\nBIN B IH N\nAT AE T\nAT AH T\n")
    lex = Lexicon.read(path)
    assert lex["AT"] == ("AE", "T") and lex.units[-1] == "sil"
    with pytest.raises(InputError, match="not in the lexicon"):
        lex["SET"]
    with pytest.raises(InputError, match="names no word"):
        grid_sentence("bbaw2n")


@pytest.mark.real
def test_grid_alignment_files_agree_with_their_ids_and_the_grammar(shared_data):
    folder = shared_data / "grid-s1" / "align"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} is absent")
    files = sorted(folder.glob("*.align"))
    assert len(files) >= 200
    for f in files:
        words = [line.split()[2] for line in f.read_text().splitlines() if line.strip()]
        words = [w for w in words if w not in ("sil", "sp")]
        assert words == grid_sentence(f.stem) and GRID_GRAMMAR.accepts(words), f.name
