"""Word n-gram language models as the decoder's grammar G: an ARPA file's n-grams as a weighted automaton with
back-off arcs (Allauzen, Mohri, Roark, "Generalized algorithms for constructing statistical language models",
ACL 2003, section 4), and GRID's slot grammar as one more such automaton.

`WordGrammar`: states, word arcs (src, word, dst, ln weight), epsilon arcs (src, dst, ln weight; the back-off
arcs, always to a shorter history, so the epsilon arcs form a DAG), a start state and final weights (ln). For
an ARPA model, a state is a history listed in the file (an n-gram of order < N, plus the empty history); from
history h, each listed n-gram h w is an arc weighted ln P(w | h) to the longest suffix of h w that is itself a
state, the back-off arc goes to h without its oldest word weighted ln bo(h), and ``</s>`` becomes h's final
weight where h </s> is listed. The best path of a sentence through this automaton scores exactly the ARPA
back-off score when back-off arcs are taken only for words without an arc of their own (the failure-arc
semantics). A Viterbi search takes the best path instead, and a back-off arc can win: from a long history
to a shorter one that costs less back-off later (Allauzen et al. section 4.2: the epsilon approximation, as
in Kaldi's G.fst). For a bigram model of an interpolated LM (each listed p(w | h) = discounted + bo(h) p(w | h'),
e.g. `kneser_ney`'s) both paths end in the same state and the best path is the exact score; for higher
orders it is at least the exact score (tests/decoding/test_word_graph.py checks both).

>>> g = WordGrammar.from_slots((("bin", "lay"), ("blue",)))
>>> g.num_states, sorted(w for _, w, _, _ in g.arcs), g.final
(3, ['bin', 'blue', 'lay'], {2: 0.0})
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from myovision.errors import InputError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LN10 = math.log(10.0)
_SECTION = re.compile(r"\\(\d+)-grams:")
_COUNT = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)")


@dataclass(frozen=True)
class ArpaModel:
    """The n-grams of an ARPA file: log10 probability and back-off weight per n-gram (word tuples)."""

    order: int
    log10_prob: dict[tuple[str, ...], float]
    log10_backoff: dict[tuple[str, ...], float]
    path: str = ""

    @property
    def words(self) -> set[str]:
        """Every word the model can predict (its unigrams without <s>, </s> and <unk>)."""
        return {g[0] for g in self.log10_prob if len(g) == 1} - {BOS, EOS, UNK}

    def score(self, history: Sequence[str], word: str) -> float:
        """log10 P(word | history) by the ARPA back-off rule (the last order - 1 words of history count)."""
        history = tuple(history)[max(0, len(history) - self.order + 1):] if self.order > 1 else ()
        total = 0.0
        for k in range(len(history), -1, -1):
            suffix = history[len(history) - k:]
            if suffix + (word,) in self.log10_prob:
                return total + self.log10_prob[suffix + (word,)]
            total += self.log10_backoff.get(suffix, 0.0)
        raise InputError(f"word {word!r} is not in the language model", self.path or None)

    def sentence_log10(self, words: Sequence[str]) -> float:
        """log10 P(<s> words </s>)."""
        history, total = [BOS], 0.0
        for word in (*words, EOS):
            total += self.score(history, word)
            history.append(word)
        return total


def read_arpa(path: str | Path) -> ArpaModel:
    """An ARPA file's n-grams; a malformed file is an InputError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("ARPA file not found", path)
    declared: dict[int, int] = {}
    probs: dict[tuple[str, ...], float] = {}
    backoffs: dict[tuple[str, ...], float] = {}
    order = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line in ("\\data\\", "\\end\\"):
                continue
            if m := _COUNT.fullmatch(line):
                declared[int(m.group(1))] = int(m.group(2))
            elif m := _SECTION.fullmatch(line):
                order = int(m.group(1))
            elif order:
                fields = line.split()
                try:
                    if len(fields) not in (order + 1, order + 2):
                        raise ValueError
                    gram = tuple(fields[1:order + 1])
                    probs[gram] = float(fields[0])
                    if len(fields) == order + 2:
                        backoffs[gram] = float(fields[-1])
                except ValueError:
                    raise InputError(f"line {lineno}: not a {order}-gram entry: {line[:60]!r}", path) from None
            else:
                raise InputError(f"line {lineno}: not ARPA text: {line[:60]!r}", path)
    if not declared or (EOS,) not in probs:
        raise InputError("not an ARPA language model (no \\data\\ counts or no </s> unigram)", path)
    listed = {k: sum(len(g) == k for g in probs) for k in declared}
    if listed != declared:
        raise InputError(f"n-gram counts differ from the \\data\\ header: {listed} listed, {declared} declared", path)
    return ArpaModel(max(declared), probs, backoffs, str(path))


@dataclass(frozen=True)
class WordGrammar:
    """A weighted word automaton (G): arcs (src, word, dst, ln weight), epsilon arcs (src, dst, ln weight)
    forming a DAG, start state, final ln weights per state."""

    num_states: int
    arcs: tuple[tuple[int, str, int, float], ...]
    epsilon_arcs: tuple[tuple[int, int, float], ...]
    start: int
    final: dict[int, float]

    @property
    def words(self) -> set[str]:
        return {w for _, w, _, _ in self.arcs}

    @classmethod
    def from_arpa(cls, model: ArpaModel) -> "WordGrammar":
        """The back-off automaton of an ARPA model (module docstring); <unk> arcs are left out."""
        histories = sorted({g for g in model.log10_prob if len(g) < model.order and g[-1] != EOS} | {()},
                           key=lambda g: (len(g), g))
        state = {h: i for i, h in enumerate(histories)}

        def reduce(gram: tuple[str, ...]) -> int:
            gram = gram[max(0, len(gram) - model.order + 1):] if model.order > 1 else ()
            while gram not in state:
                gram = gram[1:]
            return state[gram]

        arcs, final = [], {}
        for gram, logp in model.log10_prob.items():
            h, w = gram[:-1], gram[-1]
            if h not in state or w in (BOS, UNK):
                continue
            if w == EOS:
                final[state[h]] = LN10 * logp
            else:
                arcs.append((state[h], w, reduce(gram), LN10 * logp))
        epsilon = [(state[h], state[h[1:]], LN10 * model.log10_backoff.get(h, 0.0)) for h in histories if h]
        if (BOS,) not in model.log10_prob:
            raise InputError("the language model has no <s> unigram to start sentences from", model.path or None)
        return cls(len(histories), tuple(arcs), tuple(epsilon), reduce((BOS,)), final)

    @classmethod
    def from_slots(cls, slots: Sequence[Iterable[str]]) -> "WordGrammar":
        """A slot grammar (one word from each slot in order, e.g. GRID's) with weight 0 on every word."""
        arcs = tuple((i, w, i + 1, 0.0) for i, slot in enumerate(slots) for w in slot)
        return cls(len(slots) + 1, arcs, (), 0, {len(slots): 0.0})

    @classmethod
    def from_sentence(cls, words: Sequence[str]) -> "WordGrammar":
        """The one sentence `words` (forced alignment)."""
        return cls.from_slots([(w,) for w in words])
