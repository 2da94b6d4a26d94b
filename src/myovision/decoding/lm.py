"""Back-off n-gram language models read from ARPA files: any tokens (characters, words), exact ARPA scoring.

The ARPA definition (Katz back-off, as SRILM and KenLM score it), in log10: for a history ``h`` and token
``w``, ``log P(w | h) = log p(h w)`` if the n-gram ``h w`` is listed, else ``bo(h) + log P(w | h')`` with
``h'`` the history without its oldest token, ``bo(h) = 0`` when ``h`` has no back-off weight, and ending at
the unigram ``log p(w)``. A sentence scores ``sum_i log P(w_i | <s> w_1 .. w_{i-1})`` including ``</s>``.
Tokens outside the vocabulary are scored as ``<unk>`` (log10 -100 when the model has none, as KenLM).

A state is an int naming the history kept: the longest suffix of the last ``order - 1`` tokens that still
matters (a prefix of some n-gram, or an n-gram with a back-off weight). Shortening the history to it changes
no probability, so beam search merges equal states. :meth:`NgramLM.score` and :meth:`NgramLM.log10_probs`
(all tokens at once, vectorised) are cached per state.

>>> import tempfile, pathlib
>>> arpa = pathlib.Path(tempfile.mkdtemp()) / "lm.arpa"
>>> _ = arpa.write_text(estimate_arpa([list("ab"), list("abb")], order=2))
>>> lm = NgramLM.read_arpa(arpa)
>>> lm.order, len(lm.tokens)
(2, 5)
>>> round(lm.sentence_log10(list("ab")), 4) == round(sum(lm.score(s, t)[0] for s, t in lm.walk(list("ab") + ["</s>"])), 4)
True
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict, defaultdict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from myovision.errors import InputError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
#: log10 probability of a token outside the vocabulary when the model has no ``<unk>`` (KenLM's value).
MISSING_UNK_LOG10 = -100.0

_COUNT = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)")
_SECTION = re.compile(r"\\(\d+)-grams:")


class NgramLM:
    """A back-off n-gram model over integer token ids; see the module docstring for the scoring rule."""

    def __init__(self, order: int, tokens: Sequence[str], probs: dict[tuple[int, ...], float],
                 backoffs: dict[tuple[int, ...], float], path: str | None = None):
        self.order, self.tokens, self.path = order, list(tokens), path
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self._probs, self._backoffs = probs, backoffs
        self.unk = self.vocab.get(UNK)
        contexts: set[tuple[int, ...]] = {()}
        followers: dict[tuple[int, ...], list[tuple[int, float]]] = defaultdict(list)
        for gram, logp in probs.items():
            contexts.update(gram[:k] for k in range(1, len(gram)))
            if len(gram) > 1:
                followers[gram[:-1]].append((gram[-1], logp))
        contexts.update(g for g, b in backoffs.items() if b != 0.0)
        self._contexts = contexts
        self._followers = {h: (np.array([w for w, _ in f]), np.array([p for _, p in f])) for h, f in followers.items()}
        self._unigrams = np.array([probs.get((i,), -np.inf) for i in range(len(self.tokens))])  # (V,)
        self._states: list[tuple[int, ...]] = []
        self._state_of: dict[tuple[int, ...], int] = {}
        self._score_cache: dict[tuple[int, int], tuple[float, int]] = {}
        self._dist_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._dist_cache_size = max(64, 2**23 // max(1, len(self.tokens)))  # about 64 MB of float64 rows
        self.null_state = self._state(())
        self.bos_state = self._state(self._reduce((self.vocab[BOS],))) if BOS in self.vocab else self.null_state

    # ------------------------------------------------------------------ reading

    @classmethod
    def read_arpa(cls, path: str | Path) -> "NgramLM":
        """Read an ARPA file; a malformed one is an InputError naming the file, the line and the problem."""
        path = Path(path)
        if not path.is_file():
            raise InputError("ARPA file not found", path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"ARPA file is not UTF-8 text ({exc})", path) from exc
        return cls._parse(lines, path)

    @classmethod
    def _parse(cls, lines: list[str], path: Path) -> "NgramLM":
        def fail(problem: str, lineno: int | None = None) -> InputError:
            return InputError(problem if lineno is None else f"line {lineno}: {problem}", path)

        i = 0
        while i < len(lines) and lines[i].strip() != "\\data\\":
            i += 1
        if i == len(lines):
            raise fail("not an ARPA file: no \\data\\ header")
        declared: dict[int, int] = {}
        i += 1
        while i < len(lines) and (m := _COUNT.fullmatch(lines[i].strip())):
            declared[int(m.group(1))] = int(m.group(2))
            i += 1
        if not declared or sorted(declared) != list(range(1, max(declared) + 1)):
            raise fail(f"\\data\\ must declare 'ngram 1=..' up to the model order, got orders {sorted(declared)}", i + 1)
        tokens: list[str] = []
        vocab: dict[str, int] = {}
        probs: dict[tuple[int, ...], float] = {}
        backoffs: dict[tuple[int, ...], float] = {}
        n = 0
        seen = Counter()
        for lineno, raw in enumerate(lines[i:], start=i + 1):
            line = raw.strip()
            if not line:
                continue
            if line == "\\end\\":
                break
            if m := _SECTION.fullmatch(line):
                n = int(m.group(1))
                if n not in declared:
                    raise fail(f"section \\{n}-grams: was not declared in \\data\\", lineno)
                continue
            if n == 0:
                raise fail(f"expected a \\1-grams: section, got {line[:40]!r}", lineno)
            fields = line.split()
            if len(fields) not in (n + 1, n + 2):
                raise fail(f"a {n}-gram line needs a log10 probability, {n} tokens and an optional back-off "
                           f"weight; got {len(fields)} fields", lineno)
            try:
                logp = float(fields[0])
                bo = float(fields[n + 1]) if len(fields) == n + 2 else None
            except ValueError:
                raise fail(f"not a number in {line[:60]!r}", lineno) from None
            if logp > 0 or math.isnan(logp) or (bo is not None and not math.isfinite(bo)):
                raise fail(f"log10 probability must be <= 0 and the back-off finite, got {line[:60]!r}", lineno)
            if n == 1:
                if fields[1] in vocab:
                    raise fail(f"token {fields[1]!r} is listed twice", lineno)
                vocab[fields[1]] = len(tokens)
                tokens.append(fields[1])
            try:
                gram = tuple(vocab[t] for t in fields[1:n + 1])
            except KeyError as exc:
                raise fail(f"token {exc.args[0]!r} of a {n}-gram is not among the 1-grams", lineno) from None
            probs[gram] = logp
            if bo is not None:
                backoffs[gram] = bo
            seen[n] += 1
        else:
            raise fail("missing \\end\\ (file truncated?)")
        wrong = {k: (seen[k], v) for k, v in declared.items() if seen[k] != v}
        if wrong:
            raise fail("n-gram counts differ from \\data\\: " + ", ".join(
                f"{k}-grams {got} listed, {want} declared" for k, (got, want) in sorted(wrong.items())))
        return cls(max(declared), tokens, probs, backoffs, str(path))

    # ------------------------------------------------------------------ scoring

    def token_id(self, token: str) -> int:
        """Id of ``token``; ``<unk>``'s id (or -1 when the model has none) outside the vocabulary."""
        found = self.vocab.get(token, self.unk)
        return -1 if found is None else found

    def _state(self, context: tuple[int, ...]) -> int:
        if context not in self._state_of:
            self._state_of[context] = len(self._states)
            self._states.append(context)
        return self._state_of[context]

    def _reduce(self, history: tuple[int, ...]) -> tuple[int, ...]:
        history = history[max(0, len(history) - self.order + 1):] if self.order > 1 else ()
        while history not in self._contexts:
            history = history[1:]
        return history

    def context(self, state: int) -> tuple[str, ...]:
        """The tokens a state keeps (oldest first)."""
        return tuple(self.tokens[i] for i in self._states[state])

    def score(self, state: int, token: int) -> tuple[float, int]:
        """``(log10 P(token | state), next state)``; ``token`` an id from :meth:`token_id`."""
        key = (state, token)
        hit = self._score_cache.get(key)
        if hit is not None:
            return hit
        if token < 0:
            result = (MISSING_UNK_LOG10, self.null_state)
        else:
            context = self._states[state]
            total = 0.0
            for k in range(len(context), -1, -1):  # longest listed n-gram first, adding back-off weights
                suffix = context[len(context) - k:]
                logp = self._probs.get(suffix + (token,))
                if logp is not None:
                    total += logp
                    break
                total += self._backoffs.get(suffix, 0.0)
            result = (total, self._state(self._reduce(context + (token,))))
        self._score_cache[key] = result
        return result

    def log10_probs(self, state: int) -> np.ndarray:
        """``log10 P(w | state)`` for every token id ``w``, shape ``(V,)`` (read-only, cached)."""
        dist = self._dist_cache.get(state)
        if dist is not None:
            self._dist_cache.move_to_end(state)
            return dist
        context = self._states[state]
        dist = self._unigrams.copy()  # (V,)
        for k in range(1, len(context) + 1):  # shortest suffix first: back off, then overwrite listed n-grams
            suffix = context[len(context) - k:]
            dist += self._backoffs.get(suffix, 0.0)
            if suffix in self._followers:
                ids, logp = self._followers[suffix]
                dist[ids] = logp
        dist.flags.writeable = False
        self._dist_cache[state] = dist
        if len(self._dist_cache) > self._dist_cache_size:
            self._dist_cache.popitem(last=False)
        return dist

    def walk(self, tokens: Iterable[str], state: int | None = None) -> Iterator[tuple[int, int]]:
        """``(state before, token id)`` for each token, starting from ``state`` (default ``<s>``)."""
        state = self.bos_state if state is None else state
        for token in tokens:
            tid = self.token_id(token)
            yield state, tid
            state = self.score(state, tid)[1]

    def sentence_log10(self, tokens: Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of a sentence: ``<s>`` context (``bos``) and ``</s>`` scored at the end (``eos``)."""
        seq = list(tokens) + ([EOS] if eos else [])
        start = self.bos_state if bos else self.null_state
        return float(sum(self.score(s, t)[0] for s, t in self.walk(seq, start)))


def estimate_arpa(sentences: Iterable[Sequence[str]], order: int = 3, discount: float = 0.7) -> str:
    """ARPA text of a back-off model estimated from token ``sentences`` (absolute discounting, Katz back-off).

    Unigrams are add-one smoothed over the vocabulary plus ``</s>`` and ``<unk>``; an n-gram seen ``c``
    times after history ``h`` (seen ``c(h)`` times) gets ``(c - discount) / c(h)``, and ``bo(h)`` gives the
    left-over mass to the lower order, normalised over the tokens not seen after ``h``.
    """
    if order < 1 or not 0 < discount < 1:
        raise InputError(f"need order >= 1 and 0 < discount < 1, got {order} and {discount}")
    counts: list[Counter] = [Counter() for _ in range(order + 1)]
    for sentence in sentences:
        seq = (BOS, *sentence, EOS)
        for n in range(1, order + 1):
            counts[n].update(tuple(seq[i:i + n]) for i in range(len(seq) - n + 1))
    counts[1].pop((BOS,), None)
    vocab = sorted({g[0] for g in counts[1]} | {EOS, UNK})
    total = sum(counts[1].values()) + len(vocab)
    logp: dict[tuple[str, ...], float] = {(w,): math.log10((counts[1][(w,)] + 1) / total) for w in vocab}
    logp[(BOS,)] = -99.0
    backoff: dict[tuple[str, ...], float] = {}

    def prob(gram: tuple[str, ...]) -> float:  # back-off probability under the orders estimated so far
        if gram in logp:
            return 10 ** logp[gram]
        return 10 ** backoff.get(gram[:-1], 0.0) * prob(gram[1:])

    for n in range(2, order + 1):
        by_history: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for gram, c in counts[n].items():
            by_history[gram[:-1]].append((gram[-1], c))
        for h, followers in by_history.items():
            c_h = sum(c for _, c in followers)
            lower = sum(prob(h[1:] + (w,)) for w, _ in followers)
            for w, c in followers:
                logp[h + (w,)] = math.log10((c - discount) / c_h)
            backoff[h] = math.log10((discount * len(followers) / c_h) / max(1.0 - lower, 1e-12))
    lines = ["\\data\\"] + [f"ngram {n}={sum(len(g) == n for g in logp)}" for n in range(1, order + 1)] + [""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        for gram in sorted(g for g in logp if len(g) == n):
            bo = f"\t{backoff.get(gram, 0.0):.6f}" if n < order else ""
            lines.append(f"{logp[gram]:.6f}\t{' '.join(gram)}{bo}")
        lines.append("")
    return "\n".join(lines + ["\\end\\", ""])


#: The first bytes of a KenLM binary file (``build_binary``'s header, lm/binary_format.cc).
KENLM_MAGIC = b"mmap lm http://kheafield.com/code"


class KenLMCharLM:
    """A KenLM model (``kenlm`` package, the ``[lm]`` extra) behind :class:`NgramLM`'s scoring interface, so that
    :class:`~myovision.decoding.ctc.CTCBeamDecoder` runs on it unchanged: ``vocab``, ``token_id``,
    ``score(state, token) -> (log10 P, next state)``, ``null_state``, ``bos_state``, ``walk``,
    ``sentence_log10``.

    Reads KenLM binaries (emg2qwerty's ``wikitext-103-6-gram-char-lm.bin``) and ARPA files. KenLM's own states
    (its minimal right context) are numbered as they are met. Its vocabulary cannot be listed, so ``vocab`` asks
    the model per token (``token in vocab``) and numbers tokens as they are met.
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise InputError("KenLM file not found", path)
        try:
            import kenlm
        except ImportError as exc:
            raise InputError("reading a KenLM model needs the kenlm package: pip install 'myovision[lm]'", path) from exc
        try:
            self.model = kenlm.Model(str(path))
        except Exception as exc:  # kenlm raises OSError / RuntimeError with a multi-line message
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"not a readable KenLM model ({first})", path) from exc
        self._kenlm, self.path, self.order = kenlm, str(path), self.model.order
        self.tokens: list[str] = []
        self.vocab = _KenLMVocab(self)
        self.unk = self.vocab[UNK]
        self._states: list = []
        self._state_of: dict = {}
        self._score_cache: dict[tuple[int, int], tuple[float, int]] = {}
        null, bos = kenlm.State(), kenlm.State()
        self.model.NullContextWrite(null)
        self.model.BeginSentenceWrite(bos)
        self.null_state, self.bos_state = self._state(null), self._state(bos)

    def _state(self, state) -> int:
        found = self._state_of.get(state)
        if found is None:
            found = self._state_of[state] = len(self._states)
            self._states.append(state)
        return found

    def token_id(self, token: str) -> int:
        """Id of ``token``; ``<unk>``'s id outside the vocabulary."""
        return self.vocab[token] if token in self.vocab else self.unk

    def score(self, state: int, token: int) -> tuple[float, int]:
        """``(log10 P(token | state), next state)``, KenLM's ``BaseScore``."""
        key = (state, token)
        hit = self._score_cache.get(key)
        if hit is None:
            out = self._kenlm.State()
            logp = self.model.BaseScore(self._states[state], self.tokens[token], out)
            hit = self._score_cache[key] = (float(logp), self._state(out))
        return hit

    walk = NgramLM.walk
    sentence_log10 = NgramLM.sentence_log10


class _KenLMVocab(dict):
    """Token -> id for :class:`KenLMCharLM`, filled on first look-up of each token the model knows."""

    def __init__(self, lm: KenLMCharLM):
        super().__init__()
        self._lm = lm

    def __contains__(self, token: object) -> bool:
        return dict.__contains__(self, token) or (isinstance(token, str) and (token in self._lm.model
                                                                               or token in (BOS, EOS, UNK)))

    def __missing__(self, token: str) -> int:
        if not self.__contains__(token):
            raise KeyError(token)
        self[token] = len(self._lm.tokens)
        self._lm.tokens.append(token)
        return self[token]


def load_lm(path: str | Path) -> NgramLM | KenLMCharLM:
    """The LM in ``path``, chosen by file type: a KenLM binary (its header) through :class:`KenLMCharLM`, an ARPA
    file through the pure-Python :class:`NgramLM` (no extra needed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("LM file not found", path)
    with path.open("rb") as fh:
        head = fh.read(len(KENLM_MAGIC))
    return KenLMCharLM(path) if head == KENLM_MAGIC else NgramLM.read_arpa(path)
