"""CTC decoding: greedy, and prefix beam search with a character n-gram language model (streaming).

:func:`ctc_greedy` takes the best class per frame, collapses repeats and drops the blank.

:class:`CTCBeamDecoder` is emg2qwerty's lexicon-free prefix beam search (Sivakumar et al. 2024, after
flashlight's LexiconFreeDecoder), vectorised over the beam: per frame only the ``labels_per_frame`` best
classes are tried; a prefix's probability is split into ending-in-blank and ending-in-label parts; each
emitted key adds ``lm_weight * log10 P_lm + insertion_bonus``; a backspace key is emitted as is, but undoes
the LM score of the key before it and restores the LM state before that key (the LM scores ``c z ⌫ a t``
as ``c a t``). Characters in the LM vocabulary extend the current word (optionally case-folded); any other
key (space, enter, shift, ...) ends the word with ``</s>`` and starts a new one at ``<s>``, or, when no
word is open, scores as ``<unk>``. :meth:`CTCBeamDecoder.finish` closes open words. Emissions are natural-log
probabilities and LM scores log10, weighted as they are (emg2qwerty's choice, with weight 2 and bonus 2).

Feeding emissions chunk by chunk gives exactly the result of one batch: the decoder keeps its beam
between :meth:`CTCBeamDecoder.feed` calls. Prefixes are keyed by a 62-bit rolling hash of their labels and
stored as integer nodes with parent pointers; LM scores and next states are cached per (LM state, label).
With numba installed the frames run in one compiled loop (:func:`myovision.decoding.ctc_kernel.beam_frames`, about 8x the numpy step on
beam 50 + LM, where per-frame numpy call overhead dominated); without it, one numpy step per frame.

>>> import numpy as np
>>> e = np.log(np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))
>>> ctc_greedy(e, blank=0)
[1, 2]
>>> CTCBeamDecoder(beam_size=4, blank=0, backspace=None).decode(e)
[1, 2]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from myovision.decoding.ctc_kernel import DONE, NEED_COMPACT, NEED_LM_ROWS, NEED_ROOM, compiled_beam_frames
from myovision.decoding.lm import EOS, KenLMCharLM, NgramLM
from myovision.errors import InputError

_M1, _M2, _P1, _P2 = 2_147_483_629, 2_147_483_587, 1_000_003, 999_983  # two polynomial hashes mod primes < 2**31


def ctc_greedy(log_probs, blank: int = 98) -> list[int]:
    """Best path: argmax per frame of ``log_probs (T, C)``, repeats collapsed, blanks dropped."""
    best = np.asarray(log_probs).argmax(axis=-1)  # (T,)
    keep = (best != blank) & np.concatenate([[True], best[1:] != best[:-1]])
    return best[keep].tolist()


class CharLMScorer:
    """Per CTC label, its LM score and next LM state from each LM state (the word rules in the module doc).

    ``label_chars[c]`` is the text of label ``c`` (None for the blank and backspace). Rows are built on
    first use of an LM state: ``scores(states) (S, C)`` log10, ``next_states(states) (S, C)``.
    """

    def __init__(self, lm: NgramLM | KenLMCharLM, label_chars: Sequence[str | None], case_fold: bool = True):
        self.lm = lm
        self.bos = lm.bos_state
        self.eos = lm.token_id(EOS)
        self.unk_score = lm.score(lm.null_state, lm.token_id("<unk>"))[0]
        self.tokens = []  # LM token id per label, or -1: ends the word
        for ch in label_chars:
            if ch is not None and case_fold and ch not in lm.vocab and ch.lower() in lm.vocab:
                ch = ch.lower()
            self.tokens.append(lm.vocab[ch] if ch is not None and ch in lm.vocab and ch not in (EOS, "<s>") else -1)
        self.n_labels = len(label_chars)
        self._scores = np.zeros((0, self.n_labels))
        self._next = np.zeros((0, self.n_labels), dtype=np.int64)
        self._filled = np.zeros(0, dtype=bool)

    def _row(self, state: int) -> tuple[np.ndarray, np.ndarray]:
        scores, nxt = np.empty(self.n_labels), np.empty(self.n_labels, dtype=np.int64)
        end = (self.unk_score, self.bos) if state == self.bos else (self.lm.score(state, self.eos)[0], self.bos)
        for c, token in enumerate(self.tokens):
            scores[c], nxt[c] = self.lm.score(state, token) if token >= 0 else end
        return scores, nxt

    def rows(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(scores (S, C), next states (S, C))`` for LM ``states (S,)``."""
        top = int(states.max()) + 1 if len(states) else 0
        if top > len(self._filled):
            grow = max(top, 2 * len(self._filled))
            self._scores = np.resize(self._scores, (grow, self.n_labels))
            self._next = np.resize(self._next, (grow, self.n_labels))
            self._filled = np.concatenate([self._filled, np.zeros(grow - len(self._filled), dtype=bool)])
        for s in np.unique(states[~self._filled[states]]):
            self._scores[s], self._next[s] = self._row(int(s))
            self._filled[s] = True
        return self._scores[states], self._next[states]


class _Growing:
    """Append-only int/float columns (the prefix tree and the LM-state tree)."""

    def __init__(self, **columns: tuple[type, object]):
        self.size = 0
        self.cols = {k: np.empty(1024, dtype=dt) for k, (dt, _) in columns.items()}
        self.append(**{k: np.array([v]) for k, (_, v) in columns.items()})

    def append(self, **values: np.ndarray) -> np.ndarray:
        n = len(next(iter(values.values())))
        self.reserve(n)
        for k, v in values.items():
            self.cols[k][self.size:self.size + n] = v
        self.size += n
        return np.arange(self.size - n, self.size)

    def replace(self, **values: np.ndarray) -> None:
        """Keep only ``values`` (copied first: they may be views of the columns)."""
        values = {k: np.array(v) for k, v in values.items()}
        self.size = 0
        self.append(**values)

    def reserve(self, n: int) -> None:
        """Room for ``n`` more rows without reallocating."""
        while self.size + n > len(self.cols[next(iter(self.cols))]):
            self.cols = {k: np.resize(v, 2 * len(v)) for k, v in self.cols.items()}

    def __getitem__(self, key: str) -> np.ndarray:
        return self.cols[key][:self.size]


def _ancestors(parent: np.ndarray, nodes: np.ndarray, root_parent: int = -1) -> np.ndarray:
    """Boolean mask of ``nodes`` and all their ancestors in a tree given by ``parent`` (root: node 0)."""
    mask = np.zeros(len(parent), dtype=bool)
    mask[0] = True
    frontier = np.unique(nodes)
    while frontier.size:
        mask[frontier] = True
        frontier = np.unique(parent[frontier])
        frontier = frontier[(frontier != root_parent) & ~mask[np.maximum(frontier, 0)]]
    return mask


def _logsumexp_groups(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """``log(sum(exp(values)))`` within each of ``n`` groups (``-inf`` for empty or all ``-inf`` groups)."""
    top = np.full(n, -np.inf)
    np.maximum.at(top, groups, values)
    safe = np.where(np.isfinite(top), top, 0.0)
    total = np.zeros(n)
    np.add.at(total, groups, np.exp(values - safe[groups]))
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(top), safe + np.log(total), -np.inf)


class CTCBeamDecoder:
    """Streaming CTC prefix beam search with an optional character LM (see the module docstring).

    ``feed(log_probs (T, C))`` advances the beam; ``finish()`` closes open words and returns the best labels;
    ``partial()`` gives the best labels so far; ``decode(log_probs)`` = reset + feed + finish.
    ``lm``: an :class:`NgramLM` or a :class:`KenLMCharLM` (with ``label_chars``: the text of each label, e.g.
    the emg2qwerty charset) or a ready :class:`CharLMScorer`. ``backspace``: the label that deletes the previous key (None: none).
    ``engine``: ``"numba"`` runs the frames in one compiled loop (:func:`myovision.decoding.ctc_kernel.beam_frames`), ``"numpy"`` one
    vectorised step per frame; ``"auto"`` takes numba when it is installed. Both give the same hypotheses.
    """

    def __init__(self, *, beam_size: int = 50, labels_per_frame: int = 10,
                 lm: NgramLM | KenLMCharLM | CharLMScorer | None = None,
                 label_chars: Sequence[str | None] | None = None, lm_weight: float = 2.0,
                 insertion_bonus: float = 2.0, blank: int = 98, backspace: int | None = 94, case_fold: bool = True,
                 engine: str = "auto"):
        if engine not in ("auto", "numba", "numpy"):
            raise InputError(f"engine must be auto, numba or numpy, got {engine!r}")
        self.kernel = compiled_beam_frames() if engine != "numpy" else None
        if engine == "numba" and self.kernel is None:
            raise InputError("engine='numba' needs numba: pip install numba")
        if beam_size < 1 or labels_per_frame < 1:
            raise InputError(f"beam_size and labels_per_frame must be >= 1, got {beam_size}, {labels_per_frame}")
        if isinstance(lm, (NgramLM, KenLMCharLM)):
            if label_chars is None:
                raise InputError("an n-gram LM needs label_chars: the text of each CTC label")
            lm = CharLMScorer(lm, label_chars, case_fold=case_fold)
        self.scorer, self.beam_size, self.labels_per_frame = lm, beam_size, labels_per_frame
        self.lm_weight, self.insertion_bonus = lm_weight, insertion_bonus
        self.blank, self.backspace = blank, backspace
        self.compact_at = 1 << 20  # prefix nodes kept before unreachable ones are dropped
        self.reset()

    def reset(self) -> None:
        """Start a new utterance: an empty prefix ending in blank, the LM at ``<s>``."""
        bos = self.scorer.bos if self.scorer is not None else 0
        self.prefixes = _Growing(parent=(np.int64, -1), label=(np.int64, -1), lm_node=(np.int64, 0))
        self.lm_nodes = _Growing(parent=(np.int64, 0), state=(np.int64, bos), added=(np.float64, 0.0))
        self.node = np.zeros(1, dtype=np.int64)  # (B,) prefix of each beam entry
        self.hash = np.zeros((1, 2), dtype=np.int64)  # (B, 2) rolling hashes of the prefixes
        self.p_b = np.zeros(1)  # (B,) log P(prefix, path ends in blank)
        self.p_nb = np.full(1, -np.inf)  # (B,) log P(prefix, path ends in its last label)

    def feed(self, log_probs) -> None:
        """Advance the beam over emissions ``log_probs (T, C)`` (natural-log probabilities)."""
        e_all = np.asarray(log_probs, dtype=np.float64)
        if e_all.ndim != 2:
            raise InputError(f"expected emissions of shape (T, classes), got {e_all.shape}")
        k = min(self.labels_per_frame, e_all.shape[1])
        top_all = np.argsort(-e_all, axis=1, kind="stable")[:, :k]  # (T, K)
        if self.kernel is not None:
            self._feed_compiled(e_all, np.ascontiguousarray(top_all, dtype=np.int64))
            return
        for e, cand in zip(e_all, top_all):
            self._step(e, cand)
            if self.prefixes.size > self.compact_at:
                self._compact()

    def _feed_compiled(self, e_all: np.ndarray, top_all: np.ndarray) -> None:
        """:meth:`feed` through the compiled loop, filling LM rows, growing columns and compacting when it asks."""
        n, size = len(self.node), self.beam_size
        node, hsh = np.zeros(size, dtype=np.int64), np.zeros((size, 2), dtype=np.int64)
        p_b, p_nb = np.full(size, -np.inf), np.full(size, -np.inf)
        node[:n], hsh[:n], p_b[:n], p_nb[:n] = self.node, self.hash, self.p_b, self.p_nb
        n_beam = np.array([n], dtype=np.int64)
        sizes = np.array([self.prefixes.size, self.lm_nodes.size], dtype=np.int64)
        no_lm = (np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int64), np.ones(1, dtype=bool))
        t, status = 0, NEED_ROOM
        while status != DONE:
            p, lm = self.prefixes.cols, self.lm_nodes.cols
            sc = self.scorer
            tables = (sc._scores, sc._next, sc._filled) if sc is not None else no_lm
            t, status = self.kernel(
                e_all, top_all, t, node, hsh, p_b, p_nb, n_beam, p["parent"], p["label"], p["lm_node"],
                lm["parent"], lm["state"], lm["added"], sizes, *tables, sc is not None, self.blank,
                -1 if self.backspace is None else self.backspace, self.lm_weight, self.insertion_bonus,
                self.beam_size, self.compact_at)
            n = int(n_beam[0])
            self.prefixes.size, self.lm_nodes.size = int(sizes[0]), int(sizes[1])
            if status == NEED_LM_ROWS:
                sc.rows(lm["state"][p["lm_node"][node[:n]]])
            elif status == NEED_ROOM:
                self.prefixes.reserve(self.beam_size)
                self.lm_nodes.reserve(self.beam_size)
            elif status == NEED_COMPACT:
                self.node = node[:n].copy()
                self._compact()
                node[:n] = self.node
                sizes[:] = self.prefixes.size, self.lm_nodes.size
        self.node, self.hash, self.p_b, self.p_nb = node[:n].copy(), hsh[:n].copy(), p_b[:n].copy(), p_nb[:n].copy()

    def _lm_delta(self, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted LM score ``(B, K)`` of extending each beam entry by each label, and the next LM states."""
        lm_node = self.prefixes["lm_node"][self.node]  # (B,)
        scores, nxt = self.scorer.rows(self.lm_nodes["state"][lm_node])  # (B, C)
        delta = self.lm_weight * scores[:, cand] + self.insertion_bonus  # (B, K)
        if self.backspace is not None:
            undo = -self.lm_nodes["added"][lm_node]  # (B,): the root node added 0
            delta = np.where(cand[None, :] == self.backspace, undo[:, None], delta)
        return delta, nxt[:, cand]

    def _step(self, e: np.ndarray, cand: np.ndarray) -> None:
        n_beam, n_cand = len(self.node), len(cand)
        e_cand = e[cand]  # (K,)
        total = np.logaddexp(self.p_b, self.p_nb)  # (B,)
        last = self.prefixes["label"][self.node]  # (B,), -1 for the empty prefix
        blank_at = np.flatnonzero(cand == self.blank)
        stay_b = total + e_cand[blank_at[0]] if len(blank_at) else np.full(n_beam, -np.inf)
        repeat = last[:, None] == cand[None, :]  # (B, K); at most one True per row
        stay_nb = np.where(repeat.any(1), self.p_nb + e_cand[repeat.argmax(1)], -np.inf)
        ext = np.where(repeat, self.p_b[:, None], total[:, None]) + e_cand[None, :]  # (B, K)
        lm_next = delta = None
        if self.scorer is not None:
            delta, lm_next = self._lm_delta(cand)
            ext = ext + delta
        ext[:, cand == self.blank] = -np.inf
        ext_hash = np.stack([(self.hash[:, :1] * _P1 + cand[None, :] + 1) % _M1,
                             (self.hash[:, 1:] * _P2 + cand[None, :] + 1) % _M2], axis=-1)  # (B, K, 2)
        keys = np.concatenate([self.hash[:, 0] * _M2 + self.hash[:, 1],
                               (ext_hash[..., 0] * _M2 + ext_hash[..., 1]).ravel()])  # (B + B K,)
        p_b = np.concatenate([stay_b, np.full(n_beam * n_cand, -np.inf)])
        p_nb = np.concatenate([stay_nb, ext.ravel()])
        live = np.flatnonzero(np.isfinite(p_b) | np.isfinite(p_nb))  # stay entries come first
        uniq, first, group = np.unique(keys[live], return_index=True, return_inverse=True)
        p_b = _logsumexp_groups(p_b[live], group, len(uniq))
        p_nb = _logsumexp_groups(p_nb[live], group, len(uniq))
        total = np.logaddexp(p_b, p_nb)
        keep = np.lexsort((uniq, -total))[:self.beam_size]  # best first; ties by key (deterministic)
        src = live[first[keep]]  # entry that represents each kept prefix
        is_ext = src >= n_beam
        beam, label_k = np.where(is_ext, (src - n_beam) // n_cand, src), (src - n_beam) % n_cand
        node = self.node[beam].copy()
        if is_ext.any():
            b, k = beam[is_ext], label_k[is_ext]
            lm = None if lm_next is None else (lm_next[b, k], delta[b, k])
            node[is_ext] = self._extend(self.node[b], cand[k], lm)
        self.node, self.p_b, self.p_nb = node, p_b[keep], p_nb[keep]
        self.hash = np.where(is_ext[:, None], ext_hash[beam, label_k], self.hash[beam])

    def _extend(self, parents: np.ndarray, labels: np.ndarray, lm: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """New prefix nodes ``parents + labels``; their LM node is pushed (next state, weighted score added)
        or, for backspace, popped back to the node before."""
        lm_node = self.prefixes["lm_node"][parents]
        if lm is not None:
            next_state, added = lm
            erase = labels == self.backspace if self.backspace is not None else np.zeros(len(labels), dtype=bool)
            lm_node = lm_node.copy()
            lm_node[erase] = np.where(lm_node[erase] == 0, 0, self.lm_nodes["parent"][lm_node[erase]])
            push = ~erase
            lm_node[push] = self.lm_nodes.append(parent=lm_node[push], state=next_state[push], added=added[push])
        return self.prefixes.append(parent=parents, label=labels, lm_node=lm_node)

    def _compact(self) -> None:
        """Drop prefix and LM nodes no beam entry leads back to (a live decoder runs indefinitely)."""
        keep_prefix = _ancestors(self.prefixes["parent"], self.node)
        keep_lm = _ancestors(self.lm_nodes["parent"], self.prefixes["lm_node"][keep_prefix], root_parent=0)
        new_lm = np.cumsum(keep_lm) - 1
        new_prefix = np.cumsum(keep_prefix) - 1
        p, lm = self.prefixes, self.lm_nodes
        p_parent = np.where(p["parent"] >= 0, new_prefix[p["parent"]], -1)
        p.replace(parent=p_parent[keep_prefix], label=p["label"][keep_prefix], lm_node=new_lm[p["lm_node"][keep_prefix]])
        lm.replace(parent=new_lm[lm["parent"][keep_lm]], state=lm["state"][keep_lm], added=lm["added"][keep_lm])
        self.node = new_prefix[self.node]

    def _labels(self, node: int) -> list[int]:
        parent, label, out = self.prefixes["parent"], self.prefixes["label"], []
        while node > 0:
            out.append(int(label[node]))
            node = int(parent[node])
        return out[::-1]

    @property
    def score(self) -> float:
        """Log score of the best prefix: emissions (natural log) plus weighted LM scores and bonuses."""
        return float(np.logaddexp(self.p_b[0], self.p_nb[0]))

    def partial(self) -> list[int]:
        """Best labels so far (open words not yet closed by ``</s>``)."""
        return self._labels(int(self.node[0]))

    def finish(self) -> list[int]:
        """Close open words (``lm_weight * log10 P(</s>)``), re-rank and return the best labels."""
        if self.scorer is not None:
            states = self.lm_nodes["state"][self.prefixes["lm_node"][self.node]]
            close = np.array([0.0 if s == self.scorer.bos else self.scorer.lm.score(int(s), self.scorer.eos)[0]
                              for s in states])
            self.p_b, self.p_nb = self.p_b + self.lm_weight * close, self.p_nb + self.lm_weight * close
            order = np.argsort(-np.logaddexp(self.p_b, self.p_nb), kind="stable")
            self.node, self.hash, self.p_b, self.p_nb = self.node[order], self.hash[order], self.p_b[order], self.p_nb[order]
        return self.partial()

    def decode(self, log_probs) -> list[int]:
        """Decode one utterance ``log_probs (T, C)`` from scratch."""
        self.reset()
        self.feed(log_probs)
        return self.finish()
