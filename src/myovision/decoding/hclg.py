"""The decoding graph of a hybrid HMM recogniser: a word automaton G (`myovision.decoding.word_lm`: an n-gram LM
with back-off arcs, GRID's slot grammar, or one transcript) composed with the lexicon and the HMM topology
(Mohri, Pereira, Riley, "Speech recognition with weighted finite-state transducers", 2008: H o C o L o G).

Composition here is substitution: every word arc of G becomes a chain of the word's emitting HMM states
(a left-to-right HMM per unit, self-loops on every state; units from the lexicon, context-dependent or not,
through `word_states`), entered with the arc's weight lm_weight * ln P + word_penalty and left into G's
destination state; G's states stay as non-emitting nodes, its back-off arcs as epsilon arcs weighted
lm_weight * ln bo. With `silence_states`, every G state gets an optional silence loop, so a pause between words
keeps the LM history. Nothing is determinised or minimised: each word arc keeps its own chain, so a path's
words and weights are exactly G's (what the brute-force tests compare), at the cost of a larger graph than
OpenFst's determinize/minimize of L o G would give. pynini (OpenFst) is installed here but not used: with a
linear lexicon, composition is this substitution; determinising L o G with back-off epsilons would need
disambiguation symbols, and the 5,000-word 3-gram graph already decodes at a CPU real-time factor of 0.04
(benchmarks/bench_lipread_decoding.py). Prefix sharing by determinisation is the next speed-up.

Arcs whose destination is emitting consume a frame; arcs into non-emitting nodes (word ends, back-off) do
not, and those form a DAG (`stage` orders them for the decoder: stage 0 leaves emitting nodes, stage k >= 1
leaves non-emitting nodes of topological level k - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from myovision.decoding.word_lm import WordGrammar
from myovision.errors import InputError

NO_WORD = -1


@dataclass(frozen=True)
class HmmGraph:
    """N nodes, E arcs. state (N,) HMM state scored at each emitting node, -1 at non-emitting nodes;
    arc_src, arc_dst, arc_logp, arc_word (E,) (arc_word indexes `words`, -1: no word); start node; final (N,)
    ln exit weight (-inf where a path cannot end); stage (E,) the decoder's processing stage of each arc
    into a non-emitting node (-1 for arcs into emitting nodes)."""

    state: np.ndarray
    arc_src: np.ndarray
    arc_dst: np.ndarray
    arc_logp: np.ndarray
    arc_word: np.ndarray
    start: int
    final: np.ndarray
    stage: np.ndarray
    words: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return len(self.state)

    @property
    def emitting(self) -> np.ndarray:
        return self.state >= 0


def compose(grammar: WordGrammar, word_states: Callable[[str], Sequence[int]], self_loop: np.ndarray, *,
            lm_weight: float = 1.0, word_penalty: float = 0.0,
            silence_states: Sequence[int] = ()) -> HmmGraph:
    """The decoding graph of `grammar` with each word's emitting HMM states `word_states(word)` (state ids
    into `self_loop`, each state's probability of staying); see the module docstring."""
    self_loop = np.asarray(self_loop, dtype=np.float64)
    state: list[int] = [-1] * grammar.num_states  # G's states first, non-emitting
    src: list[int] = []
    dst: list[int] = []
    logp: list[float] = []
    label: list[int] = []
    words = sorted(grammar.words)
    word_id = {w: i for i, w in enumerate(words)}

    def arc(a: int, b: int, w: float, lab: int = NO_WORD) -> None:
        src.append(a), dst.append(b), logp.append(w), label.append(lab)

    def chain(entry: int, states: Sequence[int], exit_to: int, weight: float, lab: int) -> None:
        if not len(states):
            raise InputError("a word without HMM states cannot be decoded")
        prev = entry
        for k, s in enumerate(states):
            node = len(state)
            state.append(int(s))
            stay = float(self_loop[s])
            arc(prev, node, weight if k == 0 else float(np.log1p(-self_loop[states[k - 1]])), lab if k == 0 else NO_WORD)
            arc(node, node, float(np.log(stay)))
            prev = node
        arc(prev, exit_to, float(np.log1p(-self_loop[states[-1]])))

    pronunciations = {w: tuple(word_states(w)) for w in words}
    for s, w, d, lnp in grammar.arcs:
        chain(s, pronunciations[w], d, lm_weight * lnp + word_penalty, word_id[w])
    for s, d, lnb in grammar.epsilon_arcs:
        arc(s, d, lm_weight * lnb)
    if len(silence_states):
        for s in range(grammar.num_states):
            chain(s, silence_states, s, 0.0, NO_WORD)
    final = np.full(len(state), -np.inf)
    for s, w in grammar.final.items():
        final[s] = lm_weight * w
    state_arr = np.asarray(state, dtype=np.int64)
    src_arr, dst_arr = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    return HmmGraph(state_arr, src_arr, dst_arr, np.asarray(logp), np.asarray(label, dtype=np.int64),
                    grammar.start, final, _stages(state_arr, src_arr, dst_arr), tuple(words))


def _stages(state: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per arc: -1 into an emitting node; 0 from an emitting into a non-emitting node; k + 1 from a
    non-emitting node of topological level k (longest epsilon path reaching it) into a non-emitting one."""
    emitting = state >= 0
    eps = ~emitting[dst] & ~emitting[src]
    level = np.zeros(len(state), dtype=np.int64)
    e_src, e_dst = src[eps], dst[eps]
    for _ in range(len(state) + 1):  # Bellman-Ford style longest path; the DAG's depth bounds the passes
        new = level.copy()
        np.maximum.at(new, e_dst, level[e_src] + 1)
        if np.array_equal(new, level):
            break
        level = new
    else:
        raise InputError("the epsilon arcs of the decoding graph form a cycle")
    stage = np.full(len(src), -1, dtype=np.int64)
    stage[~emitting[dst] & emitting[src]] = 0
    stage[eps] = level[e_src] + 1
    return stage
