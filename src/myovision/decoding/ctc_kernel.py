"""The CTC prefix beam search's frame loop, written so numba can compile it (`compiled_beam_frames`).

`myovision.decoding.ctc.CTCBeamDecoder` owns the beam's arrays and calls `beam_frames` (compiled when numba is
installed) to run frames; the loop does the numpy step's arithmetic entry by entry, in the same order, and
returns a status when it needs Python: new LM rows (NEED_LM_ROWS), room in the node arrays (NEED_ROOM), or
a compaction (NEED_COMPACT); DONE when every frame ran.
"""

from __future__ import annotations

import numpy as np

from myovision.jit import compiled

DONE, NEED_LM_ROWS, NEED_ROOM, NEED_COMPACT = 0, 1, 2, 3


def _logaddexp(x: float, y: float) -> float:
    """numpy's ``npy_logaddexp`` for scalars (same branches, so the compiled beam adds as numpy does)."""
    if x == y:
        return x + 0.6931471805599453
    d = x - y
    if d > 0:
        return x + np.log1p(np.exp(-d))
    return y + np.log1p(np.exp(d))


def _group_logsumexp(vals, order, start: int, end: int) -> float:
    """log sum exp of ``vals[order[start:end]]``, numpy's way: the top plus the log of the shifted sum."""
    top = -np.inf
    for r in range(start, end):
        top = max(top, vals[order[r]])
    if not np.isfinite(top):
        return -np.inf
    acc = 0.0
    for r in range(start, end):
        acc += np.exp(vals[order[r]] - top)
    return top + np.log(acc)


def _best_first(neg, n: int):
    """The indices of the ``n`` smallest of ``neg``, ascending, ties in index order: what a stable full sort's
    first ``n`` are, with the sort limited to the entries at or below the n-th smallest value."""
    if len(neg) <= n:
        return np.argsort(neg, kind="mergesort")
    cut = np.partition(neg, n - 1)[n - 1]
    few = np.flatnonzero(neg <= cut)  # ascending indices, so the stable sort keeps ties in index order
    return few[np.argsort(neg[few], kind="mergesort")[:n]]


def beam_frames(e_all, top_all, t, node, hsh, p_b, p_nb, n_beam, p_parent, p_label, p_lm, l_parent, l_state,
                 l_added, sizes, scores, nxt, filled, use_lm, blank, backspace, lm_weight, bonus, beam_size,
                 compact_at):
    """:meth:`CTCBeamDecoder._step` over frames ``t..T`` of ``e_all (T, C)`` with candidates ``top_all (T, K)``,
    compiled by numba; the same arithmetic in the same order, entry by entry instead of array by array.

    The beam ``node, hsh (beam_size, 2), p_b, p_nb`` (first ``n_beam[0]`` valid) and the prefix / LM node
    columns (``sizes``: rows used) are updated in place. Returns ``(frame reached, status)``: it stops before a
    frame whose beam has an LM state without a scorer row (``NEED_LM_ROWS``), when the node columns could
    not take ``beam_size`` more rows (``NEED_ROOM``), or after a frame that left more than ``compact_at``
    prefix nodes (``NEED_COMPACT``); the caller fixes that and calls again.
    """
    n_frames, k = top_all.shape
    n_max = beam_size * (k + 1)
    keys = np.empty(n_max, np.int64)
    v_b, v_nb = np.empty(n_max), np.empty(n_max)
    src = np.empty(n_max, np.int64)
    ext_hash = np.empty((beam_size * k, 2), np.int64)
    ext_delta, ext_state = np.zeros(beam_size * k), np.zeros(beam_size * k, np.int64)
    g_b, g_nb, g_neg = np.empty(n_max), np.empty(n_max), np.empty(n_max)
    g_src = np.empty(n_max, np.int64)
    new_node, new_hash = np.empty(beam_size, np.int64), np.empty((beam_size, 2), np.int64)
    new_b, new_nb = np.empty(beam_size), np.empty(beam_size)
    m1, m2, p1, p2 = 2_147_483_629, 2_147_483_587, 1_000_003, 999_983
    while t < n_frames:
        n = n_beam[0]
        if sizes[0] + beam_size > len(p_parent) or sizes[1] + beam_size > len(l_parent):
            return t, NEED_ROOM
        if use_lm:
            for b in range(n):
                state = l_state[p_lm[node[b]]]
                if state >= len(filled) or not filled[state]:
                    return t, NEED_LM_ROWS
        e, cand = e_all[t], top_all[t]
        j_blank = -1
        for j in range(k):
            if cand[j] == blank:
                j_blank = j
                break
        m = 0
        for b in range(n):  # staying entries: the prefix unchanged
            total = _logaddexp(p_b[b], p_nb[b])
            stay_b = total + e[cand[j_blank]] if j_blank >= 0 else -np.inf
            stay_nb = -np.inf
            last = p_label[node[b]]
            for j in range(k):
                if cand[j] == last:
                    stay_nb = p_nb[b] + e[cand[j]]
                    break
            if np.isfinite(stay_b) or np.isfinite(stay_nb):
                keys[m], v_b[m], v_nb[m], src[m] = hsh[b, 0] * m2 + hsh[b, 1], stay_b, stay_nb, b
                m += 1
        for b in range(n):  # extensions by each candidate label
            total = _logaddexp(p_b[b], p_nb[b])
            last, lm_node = p_label[node[b]], p_lm[node[b]]
            state = l_state[lm_node]
            for j in range(k):
                c, i = cand[j], b * k + j
                h0, h1 = (hsh[b, 0] * p1 + c + 1) % m1, (hsh[b, 1] * p2 + c + 1) % m2
                ext_hash[i, 0], ext_hash[i, 1] = h0, h1
                value = (p_b[b] if c == last else total) + e[c]
                if use_lm:
                    delta = -l_added[lm_node] if c == backspace else lm_weight * scores[state, c] + bonus
                    ext_delta[i], ext_state[i] = delta, nxt[state, c]
                    value = value + delta
                if c != blank and np.isfinite(value):
                    keys[m], v_b[m], v_nb[m], src[m] = h0 * m2 + h1, -np.inf, value, n + i
                    m += 1
        order = np.argsort(keys[:m], kind="mergesort")  # equal keys keep their entry order
        g = 0
        i = 0
        while i < m:  # one group per distinct prefix, in key order, summed in entry order
            end = i + 1
            while end < m and keys[order[end]] == keys[order[i]]:
                end += 1
            g_src[g] = src[order[i]]
            if end == i + 1:  # one entry: its values as they are (top + log(exp(0)) is top exactly)
                g_b[g], g_nb[g] = v_b[order[i]], v_nb[order[i]]
            else:
                g_b[g], g_nb[g] = _group_logsumexp(v_b, order, i, end), _group_logsumexp(v_nb, order, i, end)
            g_neg[g] = -_logaddexp(g_b[g], g_nb[g])
            g += 1
            i = end
        keep = _best_first(g_neg[:g], beam_size)  # best first; ties by key
        for r in range(len(keep)):
            s = g_src[keep[r]]
            new_b[r], new_nb[r] = g_b[keep[r]], g_nb[keep[r]]
            if s < n:
                new_node[r], new_hash[r, 0], new_hash[r, 1] = node[s], hsh[s, 0], hsh[s, 1]
                continue
            i = s - n
            b, c = i // k, cand[i % k]
            lm_node = p_lm[node[b]]
            if use_lm:
                if c == backspace:
                    lm_node = 0 if lm_node == 0 else l_parent[lm_node]
                else:
                    q = sizes[1]
                    l_parent[q], l_state[q], l_added[q] = lm_node, ext_state[i], ext_delta[i]
                    sizes[1] = q + 1
                    lm_node = q
            q = sizes[0]
            p_parent[q], p_label[q], p_lm[q] = node[b], c, lm_node
            sizes[0] = q + 1
            new_node[r], new_hash[r, 0], new_hash[r, 1] = q, ext_hash[i, 0], ext_hash[i, 1]
        n = len(keep)
        node[:n], hsh[:n], p_b[:n], p_nb[:n] = new_node[:n], new_hash[:n], new_b[:n], new_nb[:n]
        n_beam[0] = n
        t += 1
        if sizes[0] > compact_at:
            return t, NEED_COMPACT
    return t, DONE


def compiled_beam_frames():
    """The numba-compiled :func:`beam_frames` (cached on disk), or None when numba is not installed."""
    return compiled(beam_frames, _logaddexp, _group_logsumexp, _best_first)
