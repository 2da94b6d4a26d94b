"""Word n-gram language models with interpolated modified Kneser-Ney smoothing, written as ARPA text
(Chen & Goodman, "An empirical study of smoothing techniques for language modeling", 1998, section 3; the
recipe of KenLM's lmplz, Heafield et al. 2013, without pruning).

Each sentence is padded as ``<s> w_1 .. w_n </s>``. Adjusted counts a(g): the raw count for n-grams of the
highest order and for n-grams starting with ``<s>``, else the continuation count N1+(. g), the number of
distinct words seen before g. Per order, three discounts from the counts-of-counts n_k of the adjusted counts:
Y = n_1 / (n_1 + 2 n_2), D_1 = 1 - 2Y n_2/n_1, D_2 = 2 - 3Y n_3/n_2, D_3+ = 3 - 4Y n_4/n_3. Then

    p(w | h) = (a(h w) - D(a(h w))) / sum_v a(h v) + gamma(h) p(w | h')
    gamma(h) = (D_1 N_1(h .) + D_2 N_2(h .) + D_3+ N_3+(h .)) / sum_v a(h v)

with h' the history without its oldest word, N_k(h .) the number of words following h with adjusted count k
(3+: at least 3), and at the bottom p(w | ()) interpolated with the uniform distribution over the vocabulary
(every word, ``</s>`` and ``<unk>``; ``<s>`` is never predicted and gets log10 -99). The ARPA file lists the
interpolated p of every seen n-gram and gamma(h) as h's back-off weight, so Katz-style back-off scoring of
the file equals the interpolated model (`myovision.decoding.lm`, KenLM, SRILM).

When the text is too small for an order's counts-of-counts (some n_k = 0, or a discount outside [0, k]),
that order uses KenLM's ``--discount_fallback`` values D = 0.5, 1.0, 1.5, and `estimate_kneser_ney` says so
in the returned `discounts`.

>>> arpa, discounts = estimate_kneser_ney([["a", "b"], ["a", "b", "b"], ["b", "a"]], order=2)
>>> arpa.splitlines()[1:4]
['ngram 1=5', 'ngram 2=7', '']
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from myovision.errors import InputError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback
BOS_LOG10 = -99.0

Gram = tuple[str, ...]


def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter]:
    """Raw counts of every n-gram of orders 1..order over the padded sentences; index k holds (k+1)-grams."""
    counts = [Counter() for _ in range(order)]
    for sentence in sentences:
        padded = (BOS, *sentence, EOS)
        for k in range(1, order + 1):
            for i in range(len(padded) - k + 1):
                counts[k - 1][padded[i:i + k]] += 1
    return counts


def adjusted_counts(raw: list[Counter]) -> list[Counter]:
    """Kneser-Ney counts: raw at the highest order and for n-grams starting with <s>, else the number of
    distinct left extensions seen one order up."""
    order = len(raw)
    adjusted = [Counter() for _ in range(order)]
    adjusted[-1] = Counter(raw[-1])
    for k in range(order - 1):
        for gram, c in raw[k].items():
            if gram[0] == BOS:
                adjusted[k][gram] = c
        for gram in raw[k + 1]:
            adjusted[k][gram[1:]] += 1
    for k in range(order):
        adjusted[k].pop((BOS,), None)  # <s> is never predicted
    return adjusted


def discounts_of(counts: Counter) -> tuple[tuple[float, float, float], bool]:
    """(D_1, D_2, D_3+) from the counts-of-counts of `counts`, and whether the fallback had to be used."""
    n = Counter(c for c in counts.values() if c <= 4)
    n1, n2, n3, n4 = (n[k] for k in (1, 2, 3, 4))
    if min(n1, n2, n3) == 0:
        return FALLBACK_DISCOUNTS, True
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 <= dk <= k for dk, k in zip(d, (1, 2, 3))):
        return FALLBACK_DISCOUNTS, True
    return d, False


def estimate_kneser_ney(sentences: Iterable[Sequence[str]], order: int = 3) -> tuple[str, list[dict]]:
    """ARPA text of an interpolated modified Kneser-Ney model of `order` over `sentences` (lists of words),
    and per order its discounts {"order", "D1", "D2", "D3+", "fallback"}."""
    if order < 1:
        raise InputError(f"the n-gram order must be at least 1, got {order}")
    sentences = [list(s) for s in sentences]
    bad = sorted({w for s in sentences for w in s if w in (BOS, EOS) or not w or any(c.isspace() for c in w)})
    if bad:
        raise InputError(f"words {bad[:5]} cannot be ARPA tokens (sentence markers, empty or with spaces)")
    if not any(sentences):
        raise InputError("no words to estimate a language model from")
    adjusted = adjusted_counts(count_ngrams(sentences, order))
    vocab = sorted({g[0] for g in adjusted[0]} | {UNK})
    probs: list[dict[Gram, float]] = [{} for _ in range(order)]
    backoffs: dict[Gram, float] = {}
    report = []
    for k in range(order):
        (d1, d2, d3), fallback = discounts_of(adjusted[k])
        report.append({"order": k + 1, "D1": d1, "D2": d2, "D3+": d3, "fallback": fallback})
        discount = (0.0, d1, d2, d3)
        totals: dict[Gram, float] = defaultdict(float)
        kinds: dict[Gram, list[int]] = defaultdict(lambda: [0, 0, 0])
        for gram, c in adjusted[k].items():
            totals[gram[:-1]] += c
            kinds[gram[:-1]][min(c, 3) - 1] += 1
        gamma = {h: (d1 * n[0] + d2 * n[1] + d3 * n[2]) / totals[h] for h, n in kinds.items()}
        for gram, c in adjusted[k].items():
            h = gram[:-1]
            lower = 1.0 / len(vocab) if k == 0 else probs[k - 1][gram[1:]]
            probs[k][gram] = (c - discount[min(c, 3)]) / totals[h] + gamma[h] * lower
        if k == 0:
            probs[0][(UNK,)] = gamma[()] / len(vocab)
        else:
            backoffs.update(gamma)
    return write_arpa(probs, backoffs), report


def write_arpa(probs: list[dict[Gram, float]], backoffs: dict[Gram, float]) -> str:
    """ARPA text: per order k (index k - 1 of `probs`) every n-gram's probability, with its back-off weight
    when it is a history (log10 both; <s> listed as a unigram with log10 -99)."""
    unigrams = dict(probs[0])
    unigrams[(BOS,)] = None
    sections = [unigrams, *probs[1:]]
    lines = ["\\data\\"] + [f"ngram {k + 1}={len(s)}" for k, s in enumerate(sections)] + [""]
    for k, section in enumerate(sections):
        lines.append(f"\\{k + 1}-grams:")
        for gram in sorted(section):
            p = section[gram]
            fields = [f"{BOS_LOG10 if p is None else math.log10(p):.7f}", " ".join(gram)]
            if gram in backoffs and k + 1 < len(sections):
                fields.append(f"{math.log10(backoffs[gram]) if backoffs[gram] > 0 else BOS_LOG10:.7f}")  # all D = 0
            lines.append("\t".join(fields))
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"
