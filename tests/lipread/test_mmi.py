"""Lattice-free MMI: the forward algorithm against brute-force path enumeration, its gradient as state
occupancies, and the loss's bounds."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.decoding.grammar import SlotGrammar
from myovision.decoding.hmm import grammar_graph, transcript_graph
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.lipread.mmi import GraphTensors, graph_log_likelihood, mmi_loss

LEX = Lexicon.spelled(["ab", "b", "ba"])
HMMS = HmmSet(LEX.units, states_per_unit=1, self_loop=np.array([0.3, 0.6, 0.5]))  # a, b, sil
GRAMMAR = SlotGrammar((("ab", "b"), ("ba", "b")))


def brute_force(log_likes: np.ndarray, graph, boost: float = 0.0, reference=None) -> float:
    """log of the summed score of every node sequence through the graph (exponential; tiny graphs only); with
    `boost`, each path gains boost x its frames whose state differs from `reference` (T,)."""
    n = graph.num_nodes
    trans = np.full((n, n), -np.inf)
    trans[np.arange(n), np.arange(n)] = graph.self_logp
    trans[graph.arc_src, graph.arc_dst] = graph.arc_logp
    scores = []
    for path in itertools.product(range(n), repeat=len(log_likes)):
        s = graph.initial[path[0]] + graph.final[path[-1]]
        s += sum(trans[a, b] for a, b in zip(path, path[1:]))
        s += sum(log_likes[t, graph.emission[node]] for t, node in enumerate(path))
        if boost:
            s += boost * sum(graph.emission[node] != reference[t] for t, node in enumerate(path))
        scores.append(s)
    return float(np.logaddexp.reduce(scores))


@given(seed=st.integers(0, 2**31 - 1), frames=st.integers(2, 5))
@settings(max_examples=15, deadline=None)
def test_forward_total_equals_the_sum_over_every_path(seed, frames):
    log_likes = np.random.default_rng(seed).normal(size=(frames, HMMS.num_states)) * 3
    for graph in (grammar_graph(GRAMMAR, LEX, HMMS, optional_silence=False), transcript_graph(["ab", "b"], LEX, HMMS)):
        if graph.num_nodes ** frames > 200_000:
            continue
        got = graph_log_likelihood(torch.tensor(log_likes[None], dtype=torch.float64), torch.tensor([frames]),
                                   _double(GraphTensors.stack([graph])))
        # transitions went through float32; abs for totals near 0 (log of a sum near 1)
        assert float(got[0]) == pytest.approx(brute_force(log_likes, graph), rel=1e-5, abs=1e-6)


def _double(g: GraphTensors) -> GraphTensors:
    return GraphTensors(g.transitions.double(), g.emission, g.initial.double(), g.final.double())


def test_gradient_is_the_state_occupancy_one_per_valid_frame_and_padding_changes_nothing():
    graph = GraphTensors.stack([grammar_graph(GRAMMAR, LEX, HMMS)])
    rng = np.random.default_rng(1)
    log_likes = torch.tensor(rng.normal(size=(2, 9, HMMS.num_states)), dtype=torch.float32, requires_grad=True)
    lengths = torch.tensor([9, 6])
    total = graph_log_likelihood(log_likes, lengths, graph)
    total.sum().backward()
    occupancy = log_likes.grad.sum(-1)  # (B, T): each valid frame is in exactly one state on every path
    assert torch.allclose(occupancy[0], torch.ones(9), atol=1e-5)
    assert torch.allclose(occupancy[1], torch.tensor([1.0] * 6 + [0.0] * 3), atol=1e-5)
    assert (log_likes.grad >= -1e-6).all()
    alone = graph_log_likelihood(log_likes[1:, :6].detach(), torch.tensor([6]), graph)
    assert float(alone[0]) == pytest.approx(float(total[1].detach()), abs=1e-4)


def test_mmi_is_positive_zero_for_a_one_sentence_grammar_and_skips_utterances_too_short_to_fit():
    rng = np.random.default_rng(2)
    log_likes = torch.tensor(rng.normal(size=(3, 8, HMMS.num_states)), dtype=torch.float32, requires_grad=True)
    lengths = torch.tensor([8, 8, 2])  # "ab ba" needs 4 frames: the third utterance fits no path
    words = [["ab", "ba"], ["b", "b"], ["ab", "ba"]]
    numerators = GraphTensors.stack([transcript_graph(w, LEX, HMMS) for w in words])
    den = GraphTensors.stack([grammar_graph(GRAMMAR, LEX, HMMS)])
    assert torch.isinf(graph_log_likelihood(log_likes, lengths, numerators)[2])
    loss = mmi_loss(log_likes, lengths, numerators, den)
    assert float(loss.detach()) > 0
    loss.backward()
    assert torch.isfinite(log_likes.grad).all() and log_likes.grad[2].abs().max() == 0
    only = GraphTensors.stack([grammar_graph(SlotGrammar((("ab",), ("ba",))), LEX, HMMS)])
    first = GraphTensors.stack([transcript_graph(words[0], LEX, HMMS)])
    assert float(mmi_loss(log_likes[:1], lengths[:1], first, only).detach()) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="3 graphs for 1 utterances"):
        mmi_loss(log_likes[:1], lengths[:1], numerators, only)


def test_mmi_training_raises_the_right_sentence_above_its_competitors():
    """A few gradient steps on free emission scores make the transcript win the grammar's Viterbi-free sum."""
    numerators = GraphTensors.stack([transcript_graph(["b", "ba"], LEX, HMMS)])
    den = GraphTensors.stack([grammar_graph(GRAMMAR, LEX, HMMS)])
    log_likes = torch.zeros(1, 6, HMMS.num_states, requires_grad=True)
    opt = torch.optim.SGD([log_likes], lr=1.0)
    lengths = torch.tensor([6])
    first = float(mmi_loss(log_likes, lengths, numerators, den).detach())
    for _ in range(30):
        opt.zero_grad()
        mmi_loss(log_likes, lengths, numerators, den).backward()
        opt.step()
    assert float(mmi_loss(log_likes, lengths, numerators, den).detach()) < first / 4


@given(seed=st.integers(0, 2**31 - 1), boost=st.floats(0.1, 2.0))
@settings(max_examples=10, deadline=None)
def test_boosted_mmi_boosts_each_competing_path_by_its_frame_errors(seed, boost):
    """Boosted MMI's denominator against path enumeration with a path-level boost (Povey et al. 2008)."""
    rng = np.random.default_rng(seed)
    frames, words = 4, ["ab", "b"]
    log_likes = rng.normal(size=(frames, HMMS.num_states))
    reference = rng.integers(0, HMMS.num_states, size=frames)
    den_graph, num_graph = grammar_graph(GRAMMAR, LEX, HMMS, optional_silence=False), transcript_graph(words, LEX, HMMS)
    expected = brute_force(log_likes, den_graph, boost, reference) - brute_force(log_likes, num_graph)
    t = torch.tensor(log_likes[None], dtype=torch.float64)
    args = (t, torch.tensor([frames]), _double(GraphTensors.stack([num_graph])),
            _double(GraphTensors.stack([den_graph])))
    got = mmi_loss(*args, boost=boost, targets=torch.tensor(reference[None]))
    assert float(got) * frames == pytest.approx(expected, rel=1e-5)  # transitions went through float32
    assert float(got) > float(mmi_loss(*args))
    padded = torch.cat([t, t.new_zeros(1, 2, HMMS.num_states)], dim=1)  # padding frames (target -100) get no boost
    targets = torch.tensor([[*reference, -100, -100]])
    # (rel 1e-5: the graphs' transition probabilities went through float32 in GraphTensors.stack)
    assert float(mmi_loss(padded, *args[1:], boost=boost, targets=targets)) == pytest.approx(float(got), rel=1e-5)
    with pytest.raises(ValueError, match="reference state"):
        mmi_loss(*args, boost=boost)
