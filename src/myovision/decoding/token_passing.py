"""Token-passing Viterbi beam search over an `HmmGraph` (Young, Russell, Thornton, "Token passing", 1989;
the pruning of HTK's HVite and Kaldi's decoders): every frame, tokens move along the arcs into emitting
nodes and take the frame's emission score; then they follow the arcs into non-emitting nodes (word ends,
LM back-off) stage by stage without consuming a frame. Only the best token per node survives (Viterbi), and
after every frame the active nodes are pruned twice: beam pruning drops tokens more than `beam` below the
frame's best, histogram pruning keeps at most `max_active` of the best. When pruning has removed every
token that could end (a final node), the best token's partial path is returned, as Kaldi's decoders do.

`TokenPassingDecoder.nbest` keeps up to N tokens per node, each with a different word history (HTK's N-best
token passing, Young et al. 1989, section 5): since a node's future scores do not depend on how a token reached
it, a word sequence only drops out when N others are better at some node, so without pruning the N best word
sequences are exact.

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


def _best_tokens(dst: np.ndarray, score: np.ndarray, arc: np.ndarray, hist: np.ndarray, n: int):
    """(nodes, scores, arcs, histories) for candidate tokens: per node the best token of each word history, and
    of those the ``n`` best."""
    order = np.lexsort((-score, hist, dst))
    dst, score, arc, hist = dst[order], score[order], arc[order], hist[order]
    first = np.ones(len(dst), dtype=bool)
    first[1:] = (dst[1:] != dst[:-1]) | (hist[1:] != hist[:-1])
    order = np.flatnonzero(first)[np.lexsort((-score[first], dst[first]))]  # per node, best first
    dst, score, arc, hist = dst[order], score[order], arc[order], hist[order]
    starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
    rank = np.arange(len(dst)) - np.repeat(starts, np.diff(np.r_[starts, len(dst)]))
    keep = rank < n
    return dst[keep], score[keep], arc[keep], hist[keep]


class _WordHistories:
    """Word sequences as ids of a prefix tree: id 0 is the empty sequence; `extend` appends words."""

    def __init__(self, num_words: int):
        self.num_words = num_words
        self.ids: dict[int, int] = {}
        self.parent, self.word = [-1], [-1]

    def extend(self, hist: np.ndarray, words: np.ndarray) -> np.ndarray:
        """The ids of ``hist[i]`` followed by ``words[i]`` (unchanged where ``words[i] < 0``)."""
        out = hist.copy()
        has = words >= 0
        if has.any():
            keys, inverse = np.unique(hist[has] * self.num_words + words[has], return_inverse=True)
            new = np.array([self._child(int(k)) for k in keys], dtype=np.int64)
            out[has] = new[inverse]
        return out

    def _child(self, key: int) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.parent)
            self.parent.append(key // self.num_words)
            self.word.append(key % self.num_words)
        return self.ids[key]

    def words(self, hist: int) -> list[int]:
        out = []
        while hist > 0:
            out.append(self.word[hist])
            hist = self.parent[hist]
        return out[::-1]


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

    def _select(self, dst, score, arc, hist, n):
        """The surviving tokens among candidates: one per node (Viterbi, ``hist`` None) or ``n`` per node."""
        if hist is None:
            return (*_best_per_node(dst, score, arc), None)
        return _best_tokens(dst, score, arc, hist, n)

    def _follow(self, arc_ids, owner, hist, histories):
        """The word histories of tokens ``hist[owner]`` after taking ``arc_ids`` (None when not tracked)."""
        return None if hist is None else histories.extend(hist[owner], self.graph.arc_word[arc_ids])

    def _closure(self, tokens, emitting: bool, n, histories):
        """Follow the arcs into non-emitting nodes stage by stage (frame unchanged) from ``tokens`` (nodes,
        scores, arcs, histories), all emitting or all non-emitting; returns the non-emitting tokens reached
        (with the given ones when those are non-emitting)."""
        nodes, scores, arcs, hist = tokens
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64),
                 None if hist is None else np.zeros(0, dtype=np.int64))
        ne = empty if emitting else tokens
        for k in range(0 if emitting else 1, len(self.stages)):
            src = tokens if k == 0 else ne
            arc_ids, owner = self.stages[k].gather(src[0])
            if not len(arc_ids):
                continue
            cand = src[1][owner] + self.graph.arc_logp[arc_ids]
            new_hist = self._follow(arc_ids, owner, src[3], histories)
            ne = self._select(np.concatenate((ne[0], self.graph.arc_dst[arc_ids])), np.concatenate((ne[1], cand)),
                              np.concatenate((ne[2], arc_ids)),
                              None if hist is None else np.concatenate((ne[3], new_hist)), n)
        return ne

    def _search(self, log_likes: np.ndarray, n: int | None, max_active: int):
        """The frame loop shared by :meth:`decode` (``n`` None: one token per node, per-frame trace kept) and
        :meth:`nbest`. Returns (final tokens, total scores with the exit weights, trace, word histories)."""
        g = self.graph
        log_likes = np.asarray(log_likes, dtype=np.float64)
        if log_likes.ndim != 2 or len(log_likes) == 0 or log_likes.shape[1] < self.num_states:
            raise InputError(f"expected emission scores (frames, >= {self.num_states} states), got {log_likes.shape}")
        t_frames = len(log_likes)
        histories = None if n is None else _WordHistories(max(1, len(g.words)))
        start = (np.array([g.start]), np.zeros(1), np.array([-1]), None if n is None else np.zeros(1, dtype=np.int64))
        tokens = self._closure(start, emitting=False, n=n, histories=histories)
        trace = [(tokens[0], tokens[2])] if n is None else None  # per frame (t = -1, 0, ...): nodes (sorted), arcs
        pruned = False
        for t in range(t_frames):
            nodes, scores, _, hist = tokens
            arc_ids, owner = self.advance.gather(nodes)
            cand = scores[owner] + g.arc_logp[arc_ids]
            e = self._select(g.arc_dst[arc_ids], cand, arc_ids, self._follow(arc_ids, owner, hist, histories), n)
            e_scores = e[1] + log_likes[t, g.state[e[0]]]
            if not len(e_scores) or not np.isfinite(e_scores.max()):
                raise InputError(f"no path through the decoding graph reaches frame {t} of {t_frames}")
            keep = e_scores >= e_scores.max() - self.beam
            if keep.sum() > max_active:
                keep &= e_scores >= np.partition(e_scores, -max_active)[-max_active]
            pruned |= not keep.all()
            e = (e[0][keep], e_scores[keep], e[2][keep], None if n is None else e[3][keep])
            best = e[1].max()
            ne = self._closure(e, emitting=True, n=n, histories=histories)
            keep = ne[1] >= best - self.beam
            pruned |= not keep.all()
            ne = tuple(None if x is None else x[keep] for x in ne)
            tokens = self._select(*(None if x is None else np.concatenate((x, y)) for x, y in zip(e, ne)), n)
            if trace is not None:
                trace.append((tokens[0], tokens[2]))
        total = tokens[1] + g.final[tokens[0]]
        if len(total) and not np.isfinite(total.max()) and pruned:
            total = tokens[1]  # pruning left no token that can end: the best partial path (Kaldi's fallback)
        if not len(total) or not np.isfinite(total.max()):
            raise InputError(f"no path through the decoding graph fits {t_frames} frames (too short for the "
                             "sentence's HMM states)")
        return tokens, total, trace, histories

    def decode(self, log_likes: np.ndarray) -> Decoding:
        """The best path through the graph for emission scores ``log_likes`` (T, num_states)."""
        tokens, total, trace, _ = self._search(log_likes, None, self.max_active)
        best = int(np.argmax(total))
        words, states, path_nodes = self._backtrace(trace, int(tokens[0][best]))
        return Decoding(words, float(total[best]), states, path_nodes)

    def nbest(self, log_likes: np.ndarray, n: int) -> list[tuple[list[str], float]]:
        """The ``n`` best word sequences with their scores (each its best path's), best first: N-best token
        passing with ``n`` tokens of different word histories per node. Exact without pruning; with it, the beam
        is the decoder's and histogram pruning keeps ``n * max_active`` tokens, so the first entry can differ
        from :meth:`decode`'s path. When pruning left no token that can end, the entries are partial paths
        scored without an exit weight (as :meth:`decode` falls back)."""
        if n < 1:
            raise InputError(f"n-best needs n >= 1, got {n}")
        tokens, total, _, histories = self._search(log_likes, n, self.max_active * n)
        ok = np.isfinite(total)
        hist, total = tokens[3][ok], total[ok]
        order = np.lexsort((-total, hist))  # per history, best first
        first = np.r_[True, hist[order][1:] != hist[order][:-1]]
        hist, total = hist[order][first], total[order][first]
        best = np.argsort(-total, kind="stable")[:n]
        return [([self.graph.words[w] for w in histories.words(int(hist[i]))], float(total[i])) for i in best]

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

