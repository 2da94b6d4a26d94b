"""Hybrid HMM decoding for lip reading (Zeng, Du, Wang, eq. 1-3): per-frame state posteriors from the network,
divided by state priors, searched with Viterbi over a graph composed of a grammar (or word loop with an n-gram
language model), a lexicon and left-to-right unit HMMs; the same search restricted to a transcript gives the
forced alignments that are the network's training targets.

Scores are natural logs. Emission scores are scaled likelihoods (eq. 3, dropping p(x_t), constant over
sentences): log p(x_t | s) = log p(s | x_t) - kappa * log p(s).

The composed graph is static: each node is one emitting HMM state of one word instance. A grammar slot gets
one instance per word, and an optional silence after every word (so a language model sees the true previous
word even across a pause); the language model scores each word from the previous one (a bigram context
of any `NgramLM`, `myovision.decoding.lm`), weighted by `lm_weight`, with `word_penalty` per word.

>>> from myovision.decoding.lexicon import HmmSet, Lexicon
>>> lex = Lexicon.spelled(["ab", "b"]); hmms = HmmSet(lex.units, states_per_unit=1)
>>> graph = grammar_graph(SlotGrammar((("ab", "b"),)), lex, hmms, optional_silence=False)
>>> ll = np.log(np.array([[.9, .1, 1e-3], [.2, .8, 1e-3], [.1, .9, 1e-3]]))  # frames x states (a, b, sil)
>>> viterbi(ll, graph).words
['ab']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from myovision.decoding.grammar import SlotGrammar
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.errors import InputError

LN10 = float(np.log(10.0))
_NO_WORD = -1


@dataclass(frozen=True)
class DecodingGraph:
    """A composed HMM graph of N emitting nodes and E arcs between different nodes (log probabilities).

    emission (N,) state id scored at each node; self_logp (N,) its self-loop; arcs sorted by destination:
    arc_src, arc_dst, arc_logp (E,); initial, final (N,) entry and exit scores (-inf where impossible);
    word (N,) index into `words` (-1 for silence) and word_start (N,) True at a word instance's first node.
    """

    emission: np.ndarray
    self_logp: np.ndarray
    arc_src: np.ndarray
    arc_dst: np.ndarray
    arc_logp: np.ndarray
    initial: np.ndarray
    final: np.ndarray
    word: np.ndarray
    word_start: np.ndarray
    words: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return len(self.emission)


class _GraphBuilder:
    """Collects word instances (chains of HMM states) and the arcs between them."""

    def __init__(self, lexicon: Lexicon, hmms: HmmSet):
        self.lexicon, self.hmms = lexicon, hmms
        self.emission: list[int] = []
        self.word: list[int] = []
        self.word_start: list[bool] = []
        self.arcs: dict[tuple[int, int], float] = {}
        self.initial: dict[int, float] = {}
        self.final: dict[int, float] = {}
        self.words: dict[str, int] = {}

    def instance(self, word: str | None) -> tuple[int, int]:
        """A chain of the states of `word`'s units (None: silence); returns (first node, last node)."""
        units = (self.lexicon.silence,) if word is None else self.lexicon[word]
        label = _NO_WORD if word is None else self.words.setdefault(word, len(self.words))
        first = len(self.emission)
        for unit in units:
            for state in self.hmms.states_of(unit):
                if len(self.emission) > first:
                    prev = len(self.emission) - 1
                    self.arc(prev, prev + 1, self.exit_logp(prev))
                self.word_start.append(len(self.emission) == first and word is not None)
                self.emission.append(state)
                self.word.append(label)
        return first, len(self.emission) - 1

    def exit_logp(self, node: int) -> float:
        return float(np.log1p(-self.hmms.self_loop[self.emission[node]]))

    def arc(self, src: int, dst: int, logp: float) -> None:
        self.arcs[(src, dst)] = max(logp, self.arcs.get((src, dst), -np.inf))

    def compile(self) -> DecodingGraph:
        n = len(self.emission)
        emission = np.asarray(self.emission, dtype=np.int64)
        keys = sorted(self.arcs, key=lambda k: (k[1], k[0]))
        src = np.array([k[0] for k in keys], dtype=np.int64)
        dst = np.array([k[1] for k in keys], dtype=np.int64)
        initial, final = np.full(n, -np.inf), np.full(n, -np.inf)
        for node, logp in self.initial.items():
            initial[node] = logp
        for node, logp in self.final.items():
            final[node] = logp
        return DecodingGraph(emission, np.log(self.hmms.self_loop[emission]), src, dst,
                             np.array([self.arcs[k] for k in keys]), initial, final,
                             np.asarray(self.word, dtype=np.int64), np.asarray(self.word_start), tuple(self.words))


def _lm_log(lm: Any, history: str | None, word: str) -> float:
    """ln P(word | previous word) under an `NgramLM` (bigram context; None: sentence start)."""
    state = lm.bos_state if history is None else lm.score(lm.null_state, lm.token_id(history))[1]
    return LN10 * lm.score(state, lm.token_id(word))[0]


def grammar_graph(grammar: SlotGrammar, lexicon: Lexicon, hmms: HmmSet, lm: Any = None, lm_weight: float = 1.0,
                  word_penalty: float = 0.0, optional_silence: bool = True) -> DecodingGraph:
    """The graph of every sentence of `grammar`: words in slot order, optional silence before the first word
    and after every word (with `optional_silence`), word scores lm_weight * ln P(w | previous) + word_penalty.
    """
    b = _GraphBuilder(lexicon, hmms)

    def lm_score(prev: str | None, word: str) -> float:
        return word_penalty + (0.0 if lm is None else lm_weight * _lm_log(lm, prev, word))

    # a "source" is (node whose exit leads on, previous word); node None is the sentence start
    sources: list[tuple[int | None, str | None]] = [(None, None)]
    if optional_silence:
        first, last = b.instance(None)
        b.initial[first] = 0.0
        sources.append((last, None))
    for slot in grammar.slots:
        next_sources: list[tuple[int | None, str | None]] = []
        for word in slot:
            first, last = b.instance(word)
            for node, prev in sources:
                if node is None:
                    b.initial[first] = lm_score(prev, word)
                else:
                    b.arc(node, first, b.exit_logp(node) + lm_score(prev, word))
            next_sources.append((last, word))
            if optional_silence:
                sil_first, sil_last = b.instance(None)
                b.arc(last, sil_first, b.exit_logp(last))
                next_sources.append((sil_last, word))
        sources = next_sources
    for node, prev in sources:
        end = 0.0 if lm is None else lm_weight * LN10 * lm.score(
            lm.score(lm.null_state, lm.token_id(prev))[1], lm.token_id("</s>"))[0]
        b.final[node] = b.exit_logp(node) + end
    return b.compile()


def transcript_graph(words: Sequence[str], lexicon: Lexicon, hmms: HmmSet,
                     optional_silence: bool = True) -> DecodingGraph:
    """The graph of one known sentence (for forced alignment), optional silences as in `grammar_graph`."""
    if not words:
        raise InputError("cannot align an empty transcript")
    return grammar_graph(SlotGrammar(tuple((w,) for w in words)), lexicon, hmms, optional_silence=optional_silence)


@dataclass(frozen=True)
class ViterbiResult:
    """The best path: words, its total log score, and per frame (T,) its graph nodes and HMM states."""

    words: list[str]
    score: float
    nodes: np.ndarray
    states: np.ndarray


def viterbi(log_likes: np.ndarray, graph: DecodingGraph, beam: float | None = None) -> ViterbiResult:
    """Best path through `graph` for emission scores log_likes (T, num_states); `beam` prunes nodes scoring
    more than `beam` below the frame's best. No complete path (a too-short utterance) is an InputError."""
    log_likes = np.asarray(log_likes, dtype=np.float64)
    t_frames = log_likes.shape[0]
    if log_likes.ndim != 2 or t_frames == 0 or log_likes.shape[1] <= graph.emission.max():
        raise InputError(f"expected emission scores (frames, >= {graph.emission.max() + 1} states), "
                         f"got {log_likes.shape}")
    emit = log_likes[:, graph.emission]  # (T, N)
    has_pred, group_start = np.unique(graph.arc_dst, return_index=True)
    scores = np.empty((t_frames, graph.num_nodes))  # (T, N) best score of a path ending at each node
    scores[0] = graph.initial + emit[0]
    for t in range(1, t_frames):
        prev = scores[t - 1]
        incoming = np.full(graph.num_nodes, -np.inf)
        if len(has_pred):
            incoming[has_pred] = np.maximum.reduceat(prev[graph.arc_src] + graph.arc_logp, group_start)
        scores[t] = np.maximum(prev + graph.self_logp, incoming) + emit[t]
        if beam is not None:
            scores[t][scores[t] < scores[t].max() - beam] = -np.inf
    total = scores[-1] + graph.final
    node = int(np.argmax(total))
    if not np.isfinite(total[node]):
        raise InputError(f"no path through the decoding graph fits {t_frames} frames (too short for the "
                         "sentence's HMM states, or pruned away)")
    nodes = np.empty(t_frames, dtype=np.int64)
    nodes[-1] = node
    for t in range(t_frames - 1, 0, -1):  # back-trace: re-score the node's predecessors at t - 1
        arcs = np.flatnonzero(graph.arc_dst == node)
        options = np.concatenate(([scores[t - 1, node] + graph.self_logp[node]],
                                  scores[t - 1, graph.arc_src[arcs]] + graph.arc_logp[arcs]))
        best = int(np.argmax(options))
        node = node if best == 0 else int(graph.arc_src[arcs[best - 1]])
        nodes[t - 1] = node
    entered = graph.word_start[nodes] & np.concatenate(([True], nodes[1:] != nodes[:-1]))
    words = [graph.words[graph.word[n]] for n in nodes[entered]]
    return ViterbiResult(words, float(total[nodes[-1]]), nodes, graph.emission[nodes])


def forced_align(log_likes: np.ndarray, words: Sequence[str], lexicon: Lexicon, hmms: HmmSet,
                 optional_silence: bool = True) -> np.ndarray:
    """Per-frame HMM state targets (T,) of the best path through the transcript `words` (Viterbi training)."""
    return viterbi(log_likes, transcript_graph(words, lexicon, hmms, optional_silence)).states


def flat_start(num_frames: int, words: Sequence[str], lexicon: Lexicon, hmms: HmmSet) -> np.ndarray:
    """First targets before any model exists: the transcript's states (no silence) spread evenly over the frames."""
    states = [s for w in words for u in lexicon[w] for s in hmms.states_of(u)]
    if num_frames < len(states):
        raise InputError(f"{num_frames} frames cannot hold the {len(states)} HMM states of {' '.join(words)!r}")
    return np.asarray(states)[np.arange(num_frames) * len(states) // num_frames]


def log_state_priors(alignments: Iterable[np.ndarray], num_states: int, smoothing: float = 1.0) -> np.ndarray:
    """ln p(s) (num_states,) counted on state alignments, add-`smoothing` so unseen states stay finite."""
    counts = np.full(num_states, float(smoothing))
    for states in alignments:
        counts += np.bincount(np.asarray(states, dtype=np.int64), minlength=num_states)[:num_states]
    return np.log(counts / counts.sum())


def scaled_log_likelihoods(log_posteriors: np.ndarray, log_priors: np.ndarray, kappa: float = 1.0) -> np.ndarray:
    """Hybrid emission scores (T, S): log p(s | x_t) - kappa * log p(s) (eq. 3 without the constant p(x_t))."""
    log_posteriors = np.asarray(log_posteriors, dtype=np.float64)
    if log_posteriors.shape[-1] != len(log_priors):
        raise InputError(f"{log_posteriors.shape[-1]} posterior states but {len(log_priors)} priors")
    return log_posteriors - kappa * np.asarray(log_priors, dtype=np.float64)
