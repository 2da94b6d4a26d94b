"""Triphone state tying (`decoding.triphone`): the decision tree finds a planted context effect and only it,
unseen triphones get a tied state by the questions, and the tied HMM set decodes through the word graph."""

import numpy as np

from myovision.decoding.hclg import compose
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.token_passing import TokenPassingDecoder
from myovision.decoding.triphone import (GaussianStats, accumulate, build_tree, split_triphone, triphone_lexicon,
                                         word_triphones)
from myovision.decoding.word_lm import WordGrammar


def planted_stats(rng):
    """Statistics of 1-state triphones of "aa" and "s": aa's feature mean is +3 before a bilabial and -3
    otherwise; s does not depend on its context."""
    stats = {}
    for left in ("#", "t", "m"):
        for right in ("p", "b", "m", "t", "k", "#"):
            for centre in ("aa", "s"):
                mean = (3.0 if right in "pbm" else -3.0) if centre == "aa" else 0.0
                x = rng.normal(mean, 1.0, size=(40, 2))
                stats[f"{left}-{centre}+{right}_0"] = GaussianStats(40.0, x.sum(0), (x ** 2).sum(0))
    return stats


def test_the_tree_splits_on_the_planted_context_and_nowhere_else():
    tree = build_tree(planted_stats(np.random.default_rng(0)), states_per_unit=1, min_count=20, min_gain=100)
    assert [entry["question"] for entry in tree.log] == ["right bilabial"]
    assert tree.log[0]["root"] == "aa_0"
    assert tree.num_states == 3 + 1  # aa: 2 leaves, s: 1, silence: 1
    assert tree.state("t-aa+p", 0) == tree.state("#-aa+m", 0) != tree.state("t-aa+k", 0)
    assert tree.state("zh-aa+b", 0) == tree.state("t-aa+p", 0)  # an unseen context answers the questions
    assert len({tree.state(f"{l}-s+{r}", 0) for l in "#tm" for r in "pbmtk"}) == 1


def test_gain_is_the_gaussian_log_likelihood_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (50, 3)), rng.normal(2, 1, (50, 3))
    sa = GaussianStats(50.0, a.sum(0), (a ** 2).sum(0))
    sb = GaussianStats(50.0, b.sum(0), (b ** 2).sum(0))

    def ll(x):  # the ML diagonal Gaussian's log-likelihood of the frames, computed directly
        mean, var = x.mean(0), x.var(0)
        return float(np.sum(-0.5 * np.log(2 * np.pi * var) - (x - mean) ** 2 / (2 * var)))

    assert np.isclose(sa.log_likelihood(), ll(a)) and np.isclose((sa + sb).log_likelihood(), ll(np.vstack([a, b])))


def test_accumulated_statistics_feed_tied_hmms_that_decode():
    lex = triphone_lexicon(Lexicon({"map": ("m", "ae", "p"), "mat": ("m", "ae", "t")}))
    assert lex["map"] == word_triphones(("m", "ae", "p")) == ("#-m+ae", "m-ae+p", "ae-p+#")
    untied = HmmSet(lex.units, 1)
    rng = np.random.default_rng(2)
    alignments, features = [], []
    for word in ("map", "mat") * 20:
        states = np.repeat([untied.states_of(u)[0] for u in lex[word]], 4)
        alignments.append(states)
        features.append(rng.normal(0, 1, (len(states), 2)) + (states == untied.states_of("m-ae+p")[0])[:, None] * 4)
    stats = accumulate(alignments, features, untied.state_names())
    tree = build_tree(stats, 1, min_count=10, min_gain=20)
    tied = HmmSet(lex.units, 1, tied=tree.tying(lex.units))
    assert tied.states_of("m-ae+p") != tied.states_of("m-ae+t")
    assert tied.num_states == tree.num_states
    graph = compose(WordGrammar.from_slots([("map", "mat")]), lambda w: [s for u in lex[w] for s in tied.states_of(u)],
                    tied.self_loop)
    truth = [s for u in lex["map"] for s in tied.states_of(u) for _ in range(3)]
    ll = np.full((len(truth), tied.num_states), -5.0)
    ll[np.arange(len(truth)), truth] = 0.0
    assert TokenPassingDecoder(graph).decode(ll).words == ["map"]
    assert split_triphone("m-ae+p") == ("m", "ae", "p")
