"""A straightforward pure-Python CTC prefix beam search (emg2qwerty's algorithm, one prefix at a time).

The tests hold `myovision.decoding.CTCBeamDecoder` to it, and `benchmarks/bench_typing.py` measures the
vectorised decoder's speed against it. Prefixes are tuples; the LM history is a list of (state, score)
pushed per key and popped by backspace.
"""

from __future__ import annotations

import math

import numpy as np

NEG = -math.inf


def _lse(*xs: float) -> float:
    top = max(xs)
    if top == NEG:
        return NEG
    return top + math.log(sum(math.exp(x - top) for x in xs))


def _lm_step(lm, label_chars, state: int, label: int, case_fold: bool = True) -> tuple[float, int]:
    """(log10 score, next state) of typing `label` in LM `state`, by the word rules of the decoder."""
    ch = label_chars[label]
    if case_fold and ch not in lm.vocab and ch.lower() in lm.vocab:
        ch = ch.lower()
    if ch in lm.vocab and ch not in ("<s>", "</s>"):
        return lm.score(state, lm.vocab[ch])
    if state == lm.bos_state:
        return lm.score(lm.null_state, lm.token_id("<unk>"))[0], lm.bos_state
    return lm.score(state, lm.token_id("</s>"))[0], lm.bos_state


def reference_beam_search(log_probs, *, beam_size=50, labels_per_frame=10, lm=None, label_chars=None,
                          lm_weight=2.0, insertion_bonus=2.0, blank=98, backspace=94):
    """Best label sequence for emissions `log_probs (T, C)`; returns (labels, total log score)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    root_lm = () if lm is None else ((lm.bos_state, 0.0),)
    beam = {(): [0.0, NEG, root_lm]}  # prefix -> [p_b, p_nb, LM stack of (state, weighted score added)]
    for e in log_probs:
        labels = [int(c) for c in np.argsort(-e, kind="stable")[:labels_per_frame]]
        nxt: dict[tuple, list] = {}
        for prefix, (p_b, p_nb, stack) in beam.items():
            stay = nxt.setdefault(prefix, [NEG, NEG, stack])
            for c in labels:
                p = float(e[c])
                if c == blank:
                    stay[0] = _lse(stay[0], p_b + p, p_nb + p)
                    continue
                ext_prefix = prefix + (c,)
                if lm is None:
                    delta, ext_stack = 0.0, stack
                elif c == backspace:
                    delta = -stack[-1][1] if len(stack) > 1 else 0.0
                    ext_stack = stack[:-1] if len(stack) > 1 else stack
                else:
                    score, state = _lm_step(lm, label_chars, stack[-1][0], c)
                    delta = lm_weight * score + insertion_bonus
                    ext_stack = stack + ((state, delta),)
                ext = nxt.setdefault(ext_prefix, [NEG, NEG, ext_stack])
                if prefix and c == prefix[-1]:
                    stay[1] = _lse(stay[1], p_nb + p)
                    ext[1] = _lse(ext[1], p_b + p + delta)
                else:
                    ext[1] = _lse(ext[1], p_b + p + delta, p_nb + p + delta)
        ranked = sorted(nxt.items(), key=lambda kv: _lse(kv[1][0], kv[1][1]), reverse=True)
        beam = dict(ranked[:beam_size])
    final = []
    for prefix, (p_b, p_nb, stack) in beam.items():
        close = 0.0
        if lm is not None and stack[-1][0] != lm.bos_state:
            close = lm_weight * lm.score(stack[-1][0], lm.token_id("</s>"))[0]
        final.append((_lse(p_b, p_nb) + close, prefix))
    score, best = max(final, key=lambda sp: sp[0])
    return list(best), score
