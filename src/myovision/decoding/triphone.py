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

is split, best first over all trees (Kaldi's order), while the gain is at least `min_gain`, both sides keep
`min_count` frames and, with `max_leaves`, there are fewer leaves than that. Every leaf is one tied state; a triphone
never seen in training finds its state by answering the questions (`DecisionTree.state`). The trees are
saved as JSON (`DecisionTree.to_dict` / `from_dict`; `myovision.lipread` keeps them in the run folder).
Monophones are the `HmmSet` of `myovision.decoding.lexicon` as before.
"""

from __future__ import annotations

import heapq
import itertools
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

    def covers(self, unit: str) -> bool:
        """Whether `unit` gets tied states: silence, or a triphone whose centre phone has trees."""
        if unit == SILENCE:
            return True
        try:
            return (split_triphone(unit)[1], 0) in self.roots
        except ValueError:  # not "l-c+r"
            return False

    def to_dict(self) -> dict:
        """The trees as JSON-ready data (no pickle); `from_dict` reads them back."""
        def node(n: Node) -> dict:
            if n.question is None:
                return {"leaf": n.leaf}
            q = n.question
            return {"side": q.side, "question": q.name, "phones": sorted(q.phones), "yes": node(n.yes),
                    "no": node(n.no)}

        return {"states_per_unit": self.states_per_unit, "num_states": self.num_states,
                "silence_states": list(self.silence_states),
                "roots": [{"phone": c, "state": k, "tree": node(n)} for (c, k), n in self.roots.items()],
                "log": self.log}

    @classmethod
    def from_dict(cls, data: Mapping) -> "DecisionTree":
        """The tree `to_dict` wrote (KeyError / TypeError / ValueError on malformed data)."""
        def node(d: Mapping) -> Node:
            if "leaf" in d:
                return Node(leaf=int(d["leaf"]))
            return Node(Question(d["side"], d["question"], frozenset(d["phones"])), node(d["yes"]), node(d["no"]))

        roots = {(r["phone"], int(r["state"])): node(r["tree"]) for r in data["roots"]}
        return cls(roots, int(data["states_per_unit"]), int(data["num_states"]),
                   tuple(int(s) for s in data["silence_states"]), list(data.get("log", [])))


def questions(phones: Iterable[str]) -> list[Question]:
    """Every class of `PHONE_CLASSES` and every single phone, on either side."""
    sets = {name: frozenset(p) for name, p in PHONE_CLASSES.items()}
    sets.update({f"={p}": frozenset({p}) for p in sorted(set(phones))})
    return [Question(side, name, p) for side in ("left", "right") for name, p in sets.items()]


def build_tree(stats: Mapping[str, GaussianStats], states_per_unit: int, min_count: float = 20.0,
               min_gain: float = 50.0, max_leaves: int = 0, units: Iterable[str] = ()) -> DecisionTree:
    """Grow the trees from statistics keyed "l-c+r_k" (triphone state k; "sil_k" for silence).

    Splits are taken best first over all trees (Kaldi's build-tree): the largest gain of any leaf, while it is
    at least `min_gain` and, with `max_leaves` > 0, the trees have fewer than `max_leaves` leaves (silence's
    states not counted). `units`: triphones (of a lexicon) that must get a state; a centre phone without any
    statistics gets one untrained leaf per state, as an unseen monophone keeps its untrained HMM. Leaves are
    numbered depth first (yes before no), roots in sorted order."""
    by_root: dict[tuple[str, int], dict[str, GaussianStats]] = {}
    for key, st in stats.items():
        unit, k = key.rsplit("_", 1)
        if unit == SILENCE:
            continue
        by_root.setdefault((split_triphone(unit)[1], int(k)), {})[unit] = st
    for unit in units:
        if unit != SILENCE:
            for k in range(states_per_unit):
                by_root.setdefault((split_triphone(unit)[1], k), {})
    phones = {p for unit_stats in by_root.values() for u in unit_stats for p in split_triphone(u)}
    asked = questions(phones)

    def total(group: dict[str, GaussianStats]) -> GaussianStats:
        return sum(group.values(), GaussianStats(0.0, 0.0, 0.0))

    def best_split(group: dict[str, GaussianStats]):
        """(gain, question, yes, no) of the best allowed question for the triphones `group`, or None."""
        parent, best = total(group).log_likelihood(), None
        for q in asked:
            yes = {u: s for u, s in group.items() if q(u)}
            if not yes or len(yes) == len(group):
                continue
            no = {u: s for u, s in group.items() if u not in yes}
            ys, ns = total(yes), total(no)
            if min(ys.count, ns.count) < min_count:
                continue
            gain = ys.log_likelihood() + ns.log_likelihood() - parent
            if best is None or gain > best[0]:
                best = (gain, q, yes, no)
        return best

    roots = {root: Node() for root in sorted(by_root)}
    candidates = []  # heap of (-gain, order, node, root, split)
    order = itertools.count()

    def offer(node: Node, root: tuple[str, int], group: dict[str, GaussianStats]) -> None:
        split = best_split(group)
        if split is not None and split[0] >= min_gain:
            heapq.heappush(candidates, (-split[0], next(order), node, root, split))

    for root, node in roots.items():
        offer(node, root, by_root[root])
    log: list[dict] = []
    leaves = len(roots)
    while candidates and (max_leaves <= 0 or leaves < max_leaves):
        _, _, node, root, (gain, q, yes, no) = heapq.heappop(candidates)
        node.question, node.yes, node.no = q, Node(), Node()
        leaves += 1
        log.append({"root": f"{root[0]}_{root[1]}", "question": f"{q.side} {q.name}", "gain": gain})
        offer(node.yes, root, yes)
        offer(node.no, root, no)
    numbered = 0
    for node in roots.values():
        stack = [node]
        while stack:
            n = stack.pop()
            if n.question is None:
                n.leaf, numbered = numbered, numbered + 1
            else:
                stack += [n.no, n.yes]
    silence = tuple(range(numbered, numbered + states_per_unit))
    return DecisionTree(roots, states_per_unit, numbered + states_per_unit, silence, log)
