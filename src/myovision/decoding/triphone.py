"""Context-dependent units: word-internal triphones with left-to-right HMMs whose states are tied by phonetic
decision trees grown on state occupancy statistics (Young, Odell, Woodland, "Tree-based state tying for high
accuracy acoustic modelling", HLT 1994; the HTK TB / Kaldi build-tree recipe).

A triphone is written "l-c+r" (centre phone c, left and right neighbours in the word, "#" at a word boundary);
`triphone_lexicon` rewrites a phone lexicon word by word (silence stays context-free), so every graph,
alignment and training target built from a `Lexicon` works on triphones unchanged. Tying: one tree per
(centre phone, HMM state k). Each seen triphone state brings its statistics (frames aligned to it: count,
sum and sum of squares of per-frame features, a diagonal Gaussian); starting from one leaf per root, the
leaf and question (is the left / right neighbour in a phone class of `PHONE_CLASSES`, or one phone?) with the
largest log-likelihood gain

    gain = L(yes) + L(no) - L(parent),   L(S) = -n/2 (D (1 + ln 2 pi) + sum_d ln var_d)

is split while the gain exceeds `min_gain` and both sides keep `min_count` frames. Every leaf is one tied
state; a triphone never seen in training finds its state by answering the questions (`DecisionTree.state`).
Monophones are the `HmmSet` of `myovision.decoding.lexicon` as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from myovision.decoding.lexicon import SILENCE, Lexicon
from myovision.errors import InputError

BOUNDARY = "#"
#: phone classes asked about (ARPAbet, lower case): articulation that shows on the lips first
PHONE_CLASSES = {
    "boundary": {BOUNDARY},
    "vowel": {"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"},
    "rounded": {"ao", "aw", "ow", "oy", "uh", "uw", "w", "r"},
    "front-vowel": {"ae", "eh", "ey", "ih", "iy"},
    "open-vowel": {"aa", "ae", "ah", "ao", "aw", "ay"},
    "bilabial": {"p", "b", "m"},
    "labiodental": {"f", "v"},
    "dental": {"th", "dh"},
    "alveolar": {"t", "d", "s", "z", "n", "l"},
    "postalveolar": {"sh", "zh", "ch", "jh"},
    "velar": {"k", "g", "ng"},
    "stop": {"p", "b", "t", "d", "k", "g"},
    "fricative": {"f", "v", "th", "dh", "s", "z", "sh", "zh", "hh"},
    "nasal": {"m", "n", "ng"},
    "approximant": {"w", "r", "l", "y"},
}


def triphone(left: str, centre: str, right: str) -> str:
    return f"{left}-{centre}+{right}"


def split_triphone(name: str) -> tuple[str, str, str]:
    """("l", "c", "r") of "l-c+r"."""
    left, rest = name.split("-", 1)
    centre, right = rest.rsplit("+", 1)
    return left, centre, right


def word_triphones(phones: Sequence[str]) -> tuple[str, ...]:
    """The word-internal triphones of a word's phones."""
    padded = (BOUNDARY, *phones, BOUNDARY)
    return tuple(triphone(padded[i - 1], padded[i], padded[i + 1]) for i in range(1, len(padded) - 1))


def triphone_lexicon(lexicon: Lexicon) -> Lexicon:
    """Each word's phones rewritten as word-internal triphones (silence stays one context-free unit)."""
    return Lexicon({w: word_triphones(p) for w, p in lexicon.pronunciations.items()}, lexicon.silence)


@dataclass
class GaussianStats:
    """Occupancy statistics of one triphone state: frame count, feature sum and sum of squares (D,)."""

    count: float
    total: np.ndarray
    squares: np.ndarray

    def __add__(self, other: "GaussianStats") -> "GaussianStats":
        return GaussianStats(self.count + other.count, self.total + other.total, self.squares + other.squares)

    def log_likelihood(self, var_floor: float = 1e-3) -> float:
        """Log-likelihood of the frames under their own maximum-likelihood diagonal Gaussian."""
        if self.count <= 0:
            return 0.0
        mean = self.total / self.count
        var = np.maximum(self.squares / self.count - mean ** 2, var_floor)
        return float(-0.5 * self.count * (len(var) * (1 + math.log(2 * math.pi)) + np.log(var).sum()))


def accumulate(alignments: Iterable[np.ndarray], features: Iterable[np.ndarray], state_names: Sequence[str]
               ) -> dict[str, GaussianStats]:
    """Statistics per state name from per-frame state ids (T,) and features (T, D) of each utterance."""
    stats: dict[str, GaussianStats] = {}
    for states, feats in zip(alignments, features):
        feats = np.asarray(feats, dtype=np.float64).reshape(len(states), -1)  # (T, D)
        for s in np.unique(states):
            x = feats[states == s]
            new = GaussianStats(float(len(x)), x.sum(0), (x ** 2).sum(0))
            name = state_names[s]
            stats[name] = stats[name] + new if name in stats else new
    return stats


@dataclass(frozen=True)
class Question:
    """Is the `side` ("left" or "right") neighbour in `phones`?"""

    side: str
    name: str
    phones: frozenset

    def __call__(self, name: str) -> bool:
        left, _, right = split_triphone(name)
        return (left if self.side == "left" else right) in self.phones


@dataclass
class Node:
    """A tree node: a leaf (`leaf` >= 0) or a question with yes / no children."""

    question: Question | None = None
    yes: "Node | None" = None
    no: "Node | None" = None
    leaf: int = -1


@dataclass
class DecisionTree:
    """Per (centre phone, state k) tree; `state(triphone, k)` is the tied state id; `silence` has its own."""

    roots: dict[tuple[str, int], Node]
    states_per_unit: int
    num_states: int
    silence_states: tuple[int, ...]
    log: list[dict] = field(default_factory=list)

    def state(self, unit: str, k: int) -> int:
        if unit == SILENCE:
            return self.silence_states[k]
        _, centre, _ = split_triphone(unit)
        node = self.roots.get((centre, k))
        if node is None:
            raise InputError(f"no tree for phone {centre!r} (never seen in training)")
        while node.leaf < 0:
            node = node.yes if node.question(unit) else node.no
        return node.leaf

    def tying(self, units: Iterable[str]) -> dict[str, tuple[int, ...]]:
        """unit -> its tied state ids, for `HmmSet(..., tied=...)`."""
        return {u: tuple(self.state(u, k) for k in range(self.states_per_unit)) for u in units}


def questions(phones: Iterable[str]) -> list[Question]:
    """Every class of `PHONE_CLASSES` and every single phone, on either side."""
    sets = {name: frozenset(p) for name, p in PHONE_CLASSES.items()}
    sets.update({f"={p}": frozenset({p}) for p in sorted(set(phones))})
    return [Question(side, name, p) for side in ("left", "right") for name, p in sets.items()]


def build_tree(stats: Mapping[str, GaussianStats], states_per_unit: int, min_count: float = 20.0,
               min_gain: float = 50.0) -> DecisionTree:
    """Grow the trees from statistics keyed "l-c+r_k" (triphone state k; "sil_k" for silence)."""
    by_root: dict[tuple[str, int], dict[str, GaussianStats]] = {}
    for key, st in stats.items():
        unit, k = key.rsplit("_", 1)
        if unit == SILENCE:
            continue
        by_root.setdefault((split_triphone(unit)[1], int(k)), {})[unit] = st
    phones = {p for unit_stats in by_root.values() for u in unit_stats for p in split_triphone(u)}
    asked = questions(phones)
    log: list[dict] = []
    roots: dict[tuple[str, int], Node] = {}
    leaves = 0

    def total(units: dict[str, GaussianStats]) -> GaussianStats:
        return sum(units.values(), GaussianStats(0.0, 0.0, 0.0))

    def grow(units: dict[str, GaussianStats], root: tuple[str, int]) -> Node:
        nonlocal leaves
        parent = total(units)
        best = None
        for q in asked:
            yes = {u: s for u, s in units.items() if q(u)}
            if not yes or len(yes) == len(units):
                continue
            no = {u: s for u, s in units.items() if u not in yes}
            ys, ns = total(yes), total(no)
            if min(ys.count, ns.count) < min_count:
                continue
            gain = ys.log_likelihood() + ns.log_likelihood() - parent.log_likelihood()
            if best is None or gain > best[0]:
                best = (gain, q, yes, no)
        if best is None or best[0] < min_gain:
            leaves += 1
            return Node(leaf=leaves - 1)
        log.append({"root": f"{root[0]}_{root[1]}", "question": f"{best[1].side} {best[1].name}", "gain": best[0]})
        return Node(best[1], grow(best[2], root), grow(best[3], root))

    for root in sorted(by_root):
        roots[root] = grow(by_root[root], root)
    silence = tuple(range(leaves, leaves + states_per_unit))
    return DecisionTree(roots, states_per_unit, leaves + states_per_unit, silence, log)
