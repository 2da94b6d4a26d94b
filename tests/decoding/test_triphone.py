"""Triphone state tying (`decoding.triphone`): the decision tree finds a planted context effect and only it,
unseen triphones get a tied state by the questions, the tied HMM set decodes through the word graph, splits
come best first (against brute force) up to max_leaves, and the tree survives its JSON form."""

import itertools
import json

import numpy as np

from myovision.decoding.hclg import compose
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.token_passing import TokenPassingDecoder
from myovision.decoding.triphone import (DecisionTree, GaussianStats, accumulate, build_tree, questions,
                                         split_triphone, triphone_lexicon, word_triphones)
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


def test_splits_are_taken_best_first_over_all_trees_up_to_max_leaves():
    """The first split is the largest gain any root's question gives (found here by brute force), and with
    max_leaves the tree keeps the best-first prefix of the unlimited tree's splits."""
    rng = np.random.default_rng(3)
    stats = planted_stats(rng)
    for left in ("#", "t", "m"):  # s now depends weakly on a vowel-free left context: a second, smaller effect
        for right in ("p", "b", "m", "t", "k", "#"):
            x = rng.normal(1.0 if left == "m" else -1.0, 1.0, size=(40, 2))
            stats[f"{left}-s+{right}_0"] = GaussianStats(40.0, x.sum(0), (x ** 2).sum(0))
    full = build_tree(stats, 1, min_count=20, min_gain=10)
    best = None
    for centre in ("aa", "s"):
        units = {k[:-2]: v for k, v in stats.items() if split_triphone(k[:-2])[1] == centre}
        parent = sum(units.values(), GaussianStats(0.0, 0.0, 0.0)).log_likelihood()
        for q in questions({p for u in units for p in split_triphone(u)}):
            yes = [v for u, v in units.items() if q(u)]
            no = [v for u, v in units.items() if not q(u)]
            if yes and no:
                gain = (sum(yes, GaussianStats(0.0, 0.0, 0.0)).log_likelihood()
                        + sum(no, GaussianStats(0.0, 0.0, 0.0)).log_likelihood() - parent)
                best = max(best or (gain, ""), (gain, f"{centre}_0"))
    assert full.log[0]["root"] == best[1] == "aa_0" and np.isclose(full.log[0]["gain"], best[0])
    assert any(entry["root"] == "s_0" for entry in full.log)
    for leaves in range(2, len(full.log) + 3):
        small = build_tree(stats, 1, min_count=20, min_gain=10, max_leaves=leaves)
        assert small.num_states - 1 == min(leaves, len(full.log) + 2)  # 2 roots; silence's state not counted
        assert small.log == full.log[: small.num_states - 3]


def test_the_tree_survives_json_and_every_lexicon_phone_gets_a_state():
    tree = build_tree(planted_stats(np.random.default_rng(0)), 1, min_count=20, min_gain=100,
                      units=["#-zh+aa", "sil"])  # zh: in the lexicon, no statistics
    again = DecisionTree.from_dict(json.loads(json.dumps(tree.to_dict())))
    phones = ["#", "t", "m", "p", "b", "k", "zh", "aa", "iy"]
    for centre, left, right in itertools.product(("aa", "s", "zh"), phones, phones):
        assert again.state(f"{left}-{centre}+{right}", 0) == tree.state(f"{left}-{centre}+{right}", 0)
    assert (again.num_states, again.silence_states, again.log) == (tree.num_states, tree.silence_states, tree.log)
    zh = {tree.state(f"{l}-zh+{r}", 0) for l in phones for r in phones}
    assert len(zh) == 1 and zh.isdisjoint({tree.state("t-aa+p", 0), tree.state("t-aa+k", 0), tree.state("t-s+p", 0)})
    assert tree.num_states == 5 and tree.covers("a-zh+b") and tree.covers("sil") and not tree.covers("a-ng+b")
    assert not tree.covers("zh")
