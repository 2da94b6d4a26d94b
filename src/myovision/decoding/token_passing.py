"""Token-passing Viterbi beam search over an `HmmGraph` (Young, Russell, Thornton, "Token passing", 1989;
the pruning of HTK's HVite and Kaldi's decoders): every frame, tokens move along the arcs into emitting
nodes and take the frame's emission score; then they follow the arcs into non-emitting nodes (word ends,
LM back-off) stage by stage without consuming a frame. Only the best token per node survives (Viterbi), and
after every frame the active nodes are pruned twice: beam pruning drops tokens more than `beam` below the
frame's best, histogram pruning keeps at most `max_active` of the best. When pruning has removed every
token that could end (a final node), the best token's partial path is returned, as Kaldi's decoders do.

Scores are natural logs; emission scores (T, num_states) are the hybrid scaled likelihoods of
`myovision.decoding.hmm.scaled_log_likelihoods`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from myovision.decoding.hclg import HmmGraph
from myovision.errors import InputError


@dataclass
class Decoding:
    """The best path: words, total score, per frame its HMM states (T,) and graph nodes (T,)."""

    words: list[str]
    score: float
    states: np.ndarray
    nodes: np.ndarray


class _Csr:
    """The arcs of one kind (`arc_ids`) indexed by source node, for gathering the arcs of active nodes."""

    def __init__(self, graph: HmmGraph, arc_ids: np.ndarray):
        order = np.argsort(graph.arc_src[arc_ids], kind="stable")
        self.arcs = arc_ids[order]
        self.offsets = np.zeros(graph.num_nodes + 1, dtype=np.int64)
        np.add.at(self.offsets, graph.arc_src[self.arcs] + 1, 1)
        np.cumsum(self.offsets, out=self.offsets)

    def gather(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(arc ids leaving `nodes`, index into `nodes` of each arc's source)."""
        starts, counts = self.offsets[nodes], self.offsets[nodes + 1] - self.offsets[nodes]
        total = int(counts.sum())
        owner = np.repeat(np.arange(len(nodes)), counts)
        first = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self.arcs[first + np.arange(total)], owner


def _best_per_node(dst: np.ndarray, score: np.ndarray, arc: np.ndarray):
    """(nodes, best score, its arc) for candidate tokens (dst, score, arc): the best one per node."""
    order = np.lexsort((-score, dst))
    dst, score, arc = dst[order], score[order], arc[order]
    first = np.ones(len(dst), dtype=bool)
    first[1:] = dst[1:] != dst[:-1]
    return dst[first], score[first], arc[first]


class TokenPassingDecoder:
    """Beam search over `graph`: `decode(log_likes)` with emission scores (T, num_states)."""

    def __init__(self, graph: HmmGraph, beam: float = 16.0, max_active: int = 10000):
        if beam <= 0 or max_active < 1:
            raise InputError(f"beam must be > 0 and max_active >= 1, got {beam} and {max_active}")
        self.graph, self.beam, self.max_active = graph, beam, max_active
        stage = graph.stage
        self.advance = _Csr(graph, np.flatnonzero(stage < 0))
        self.stages = [_Csr(graph, np.flatnonzero(stage == k)) for k in range(int(stage.max(initial=-1)) + 1)]
        self.num_states = int(graph.state.max(initial=-1)) + 1

    def _closure(self, nodes, scores, arcs, emitting: bool):
        """Follow the arcs into non-emitting nodes stage by stage (frame unchanged) from the tokens (nodes,
        scores, arcs), all emitting or all non-emitting; returns the non-emitting tokens reached (with the
        given ones when those are non-emitting)."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
        ne_nodes, ne_scores, ne_arcs = empty if emitting else (nodes, scores, arcs)
        for k in range(0 if emitting else 1, len(self.stages)):
            src_nodes, src_scores = (nodes, scores) if k == 0 else (ne_nodes, ne_scores)
            arc_ids, owner = self.stages[k].gather(src_nodes)
            if not len(arc_ids):
                continue
            cand = src_scores[owner] + self.graph.arc_logp[arc_ids]
            ne_nodes, ne_scores, ne_arcs = _best_per_node(np.concatenate((ne_nodes, self.graph.arc_dst[arc_ids])),
                                                          np.concatenate((ne_scores, cand)),
                                                          np.concatenate((ne_arcs, arc_ids)))
        return ne_nodes, ne_scores, ne_arcs

    def decode(self, log_likes: np.ndarray) -> Decoding:
        g = self.graph
        log_likes = np.asarray(log_likes, dtype=np.float64)
        if log_likes.ndim != 2 or len(log_likes) == 0 or log_likes.shape[1] < self.num_states:
            raise InputError(f"expected emission scores (frames, >= {self.num_states} states), got {log_likes.shape}")
        t_frames = len(log_likes)
        nodes, scores, arcs = self._closure(np.array([g.start]), np.zeros(1), np.array([-1]), emitting=False)
        trace = [(nodes, arcs)]  # per frame (t = -1, 0, 1, ...): active nodes (sorted) and their best arcs
        pruned = False
        for t in range(t_frames):
            arc_ids, owner = self.advance.gather(nodes)
            cand = scores[owner] + g.arc_logp[arc_ids]
            e_nodes, e_scores, e_arcs = _best_per_node(g.arc_dst[arc_ids], cand, arc_ids)
            e_scores = e_scores + log_likes[t, g.state[e_nodes]]
            if not len(e_scores) or not np.isfinite(e_scores.max()):
                raise InputError(f"no path through the decoding graph reaches frame {t} of {t_frames}")
            keep = e_scores >= e_scores.max() - self.beam
            if keep.sum() > self.max_active:
                keep &= e_scores >= np.partition(e_scores, -self.max_active)[-self.max_active]
            pruned |= not keep.all()
            e_nodes, e_scores, e_arcs = e_nodes[keep], e_scores[keep], e_arcs[keep]
            best = e_scores.max()
            ne_nodes, ne_scores, ne_arcs = self._closure(e_nodes, e_scores, e_arcs, emitting=True)
            keep = ne_scores >= best - self.beam
            pruned |= not keep.all()
            ne_nodes, ne_scores, ne_arcs = ne_nodes[keep], ne_scores[keep], ne_arcs[keep]
            nodes, scores, arcs = _best_per_node(np.concatenate((e_nodes, ne_nodes)),
                                                 np.concatenate((e_scores, ne_scores)),
                                                 np.concatenate((e_arcs, ne_arcs)))
            trace.append((nodes, arcs))
        total = scores + g.final[nodes]
        if len(total) and not np.isfinite(total.max()) and pruned:
            total = scores  # pruning left no token that can end: the best partial path (Kaldi's fallback)
        if not len(total) or not np.isfinite(total.max()):
            raise InputError(f"no path through the decoding graph fits {t_frames} frames (too short for the "
                             "sentence's HMM states)")
        best = int(np.argmax(total))
        words, states, path_nodes = self._backtrace(trace, int(nodes[best]))
        return Decoding(words, float(total[best]), states, path_nodes)

    def _backtrace(self, trace, node: int):
        g = self.graph
        words: list[str] = []
        states, path_nodes = [], []
        t = len(trace) - 1  # trace[t] holds frame t - 1
        while True:
            nodes, arcs = trace[t]
            arc = int(arcs[np.searchsorted(nodes, node)])
            if arc < 0:
                break
            if g.state[node] >= 0:
                states.append(int(g.state[node]))
                path_nodes.append(node)
            if g.arc_word[arc] >= 0:
                words.append(g.words[g.arc_word[arc]])
            src = int(g.arc_src[arc])
            if g.state[node] >= 0:
                t -= 1
            node = src
        return words[::-1], np.asarray(states[::-1], dtype=np.int64), np.asarray(path_nodes[::-1], dtype=np.int64)

