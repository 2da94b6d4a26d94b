"""Text bags (MAXI, Lin et al. ICCV 2023, Sec. 3 and suppl. Sec. 2): the verbs of frame captions (one caption
per frame, as BLIP writes them) and of language-model phrases (as GPT-3 writes them), in lemma and gerund
forms; the bag is filtered to the fraction p of texts most similar to the video, and N_bag texts are
sampled from it at every training step.

The paper parses with spaCy; offline we parse with rules over lemminflect's lexicon (no tagger model):

- an -ing word with a verb reading is a verb unless a determiner or an adjective precedes it ("a *running*
  man", "a tall *building*" are not);
- a -s or -ed form with a verb reading is a verb after a noun that cannot be an adjective (or a pronoun)
  and before an object, a preposition or the end ("a young girl *covers* her face", not "black *shorts*");
- a base form after a modal is a verb, after "to" when it cannot be a noun or an object follows ("up to
  *dunk* the ball", not "from side to *side*");
- a light verb (do, perform) takes the verb reading of its object's head: "doing a high *jump*";
- a phrase file line starts with its verb ("leap over a bar", "smearing cream").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from myovision.errors import InputError

_WORDS = re.compile(r"[a-z]+(?:'[a-z]+)?")
NOT_VERBS = frozenset("be is are was were been being am 's have has had having can could will would should may "
                      "might must shall".split())
DETERMINERS = frozenset("a an the his her their its my your our this these those some each every another "
                        "any no one two three four five six several many".split())
PREPOSITIONS = frozenset("on in at with over under into onto of to from by for near behind above below across "
                         "through around up down off out about against along beside between inside outside "
                         "while and or as like than".split())
SUBJECT_WORDS = frozenset("he she it they who that which someone somebody people".split())
MODALS = frozenset("to can could will would should may might must".split())
LIGHT_VERBS = frozenset({"do", "perform"})


@dataclass(frozen=True)
class VerbMention:
    """A verb found in a text: its lemma, gerund (present participle) and the phrase it heads."""

    lemma: str
    gerund: str
    phrase: str


@lru_cache(maxsize=65536)
def _verb_lemma(word: str) -> str | None:
    """The verb lemma of `word` when lemminflect's lexicon gives it a verb reading, else None."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word).get("VERB")
    return lemmas[0] if lemmas and word not in NOT_VERBS else None


@lru_cache(maxsize=65536)
def _forms(lemma: str) -> dict[str, tuple[str, ...]]:
    from lemminflect import getAllInflections

    return getAllInflections(lemma, upos="VERB")


def gerund(lemma: str) -> str:
    """Present participle of a verb lemma (lemminflect; "-ing" added when it does not know the verb).

    >>> gerund("jump"), gerund("run"), gerund("dunk")
    ('jumping', 'running', 'dunking')
    """
    forms = _forms(lemma).get("VBG")
    return forms[0] if forms else lemma + "ing"


def _is_form(word: str, lemma: str, tags: Sequence[str]) -> bool:
    forms = _forms(lemma)
    return any(word in forms.get(tag, ()) for tag in tags)


def _has_reading(word: str, upos: str) -> bool:
    from lemminflect import getAllLemmas

    return upos in getAllLemmas(word)


def _phrase(words: list[str], i: int, head: str) -> str:
    """The verb phrase from words[i]: the verb (as `head`) and its object noun group, up to a preposition
    other than "of", a following verb, or the end."""
    out = [head]
    for w in words[i + 1:]:
        if (w in PREPOSITIONS and w != "of") or (w.endswith("ing") and _verb_lemma(w)):
            break
        out.append(w)
    return " ".join(out)


def _light_verb_object(words: list[str], i: int) -> tuple[int, str] | None:
    """(index, lemma) of the head of a light verb's object when it has a verb reading ("a high jump")."""
    j = i + 1
    while j < len(words) and words[j] not in PREPOSITIONS:
        j += 1
    if j - 1 <= i or words[i + 1] not in DETERMINERS:
        return None
    head = words[j - 1]
    lemma = _verb_lemma(head)
    return (j - 1, lemma) if lemma and _is_form(head, lemma, ("VB",)) else None


def parse_verbs(text: str, *, phrase: bool = False) -> list[VerbMention]:
    """Verbs of a caption (or, with `phrase`, of a phrase that starts with its verb), in order.

    >>> [m.lemma for m in parse_verbs("a woman doing a high jump on a track")]
    ['do', 'jump']
    >>> [(m.gerund, m.phrase) for m in parse_verbs("a young girl covers her face with her hands")]
    [('covering', 'covering her face')]
    >>> [m.lemma for m in parse_verbs("a running man next to a tall building")], parse_verbs("leap over a bar", phrase=True)[0].lemma
    ([], 'leap')
    """
    words = _WORDS.findall(text.lower())
    found: list[VerbMention] = []
    for i, w in enumerate(words):
        lemma = _verb_lemma(w)
        if lemma is None:
            continue
        prev = words[i - 1] if i else None
        nxt = words[i + 1] if i + 1 < len(words) else None
        if phrase and i == 0:
            ok = True
        elif w.endswith("ing") and _is_form(w, lemma, ("VBG",)):
            ok = prev not in DETERMINERS and not (prev and _has_reading(prev, "ADJ") and not _has_reading(prev, "NOUN"))
        elif _is_form(w, lemma, ("VBZ", "VBD")) and prev is not None:
            subject = prev in SUBJECT_WORDS or (prev not in DETERMINERS | PREPOSITIONS and _has_reading(prev, "NOUN")
                                                and not _has_reading(prev, "ADJ"))
            ok = subject and (nxt is None or nxt in DETERMINERS | PREPOSITIONS or not _has_reading(nxt, "VERB"))
        elif prev == "to":  # an infinitive, not "to" as a preposition ("from side to side")
            ok = _is_form(w, lemma, ("VB",)) and (not _has_reading(w, "NOUN") or nxt in DETERMINERS)
        else:
            ok = prev in MODALS and _is_form(w, lemma, ("VB",))
        if not ok:
            continue
        found.append(VerbMention(lemma, gerund(lemma), _phrase(words, i, gerund(lemma))))
        if lemma in LIGHT_VERBS and (obj := _light_verb_object(words, i)):
            found.append(VerbMention(obj[1], gerund(obj[1]), _phrase(words, obj[0], gerund(obj[1]))))
    return found


def _read_lines(path: str | PathLike) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError("text file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", path) from None
    lines = [re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_captions(path: str | PathLike) -> list[str]:
    """A caption file: one caption per frame and line (blank lines and # comments skipped)."""
    return _read_lines(path)


def read_phrases(path: str | PathLike) -> list[str]:
    """A phrase file: one phrase per line; list marks ("1.", "-", "*") are removed."""
    return _read_lines(path)


def caption_verbs(captions: Sequence[str]) -> list[str]:
    """MAXI's caption verb bag: every verb of the captions in lemma and gerund form, without repeats.

    >>> caption_verbs(["a basketball player jumping up to dunk the ball", "a man standing on a court"])
    ['jump', 'jumping', 'dunk', 'dunking', 'stand', 'standing']
    """
    return _unique(form for c in captions for m in parse_verbs(c) for form in (m.lemma, m.gerund))


def phrase_verbs(phrases: Sequence[str]) -> list[str]:
    """MAXI's phrase verb bag: each phrase, then the lemma and gerund of its verbs, without repeats.

    >>> phrase_verbs(["slamming the basketball", "jump high"])
    ['slamming the basketball', 'slam', 'slamming', 'jump high', 'jump', 'jumping']
    """
    out = []
    for p in phrases:
        text = " ".join(p.lower().split())
        out += [text] + [form for m in parse_verbs(text, phrase=True) for form in (m.lemma, m.gerund)]
    return _unique(out)


def build_text_bag(captions: Sequence[str] = (), phrases: Sequence[str] = (), *, exclude: str | None = None) -> list[str]:
    """The text bag of one video: caption verbs, then phrase verbs, without the matched dictionary text."""
    bag = _unique(caption_verbs(captions) + phrase_verbs(phrases))
    return [t for t in bag if exclude is None or t != " ".join(exclude.lower().split())]


def filter_text_bag(bag: Sequence[str], video_embed: torch.Tensor, text_embeds: torch.Tensor, p: float) -> list[str]:
    """The ceil(p * len(bag)) texts most similar to the video (cosine of normalised (D,) and (len(bag), D)),
    in their original order."""
    if not 0.0 < p <= 1.0:
        raise InputError(f"the text-bag fraction p must lie in (0, 1], got {p}")
    if not bag:
        return []
    keep = math.ceil(p * len(bag))
    best = torch.topk(text_embeds @ video_embed, keep).indices.sort().values
    return [bag[i] for i in best.tolist()]


def sample_text_bag(bag: Sequence[str], n_bag: int, rng: np.random.Generator) -> list[str]:
    """N_bag texts of the bag: without replacement when it has enough, else all of it and repeats."""
    if not bag:
        raise InputError("an empty text bag cannot be sampled")
    if len(bag) >= n_bag:
        return [bag[i] for i in rng.choice(len(bag), n_bag, replace=False)]
    return list(bag) + [bag[i] for i in rng.choice(len(bag), n_bag - len(bag), replace=True)]


def mil_prompts(best_match: str, texts: Sequence[str]) -> list[str]:
    """MAXI's training prompts "<a photo of best match> + <bag text>", one per sampled bag text.

    >>> mil_prompts("high jump", ["jumping", "leap over a bar"])
    ['a photo of high jump, jumping', 'a photo of high jump, leap over a bar']
    """
    return [f"a photo of {best_match}, {t}" for t in texts]


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))


def caption_file(folder: str | PathLike, video: str | PathLike) -> Path:
    """Where a video's frame captions are kept: `<folder>/<video file stem>.txt`, one caption per frame and line
    (what `myovision zeroshot captions` writes)."""
    return Path(folder) / f"{Path(video).stem}.txt"


def phrase_file(folder: str | PathLike, action: str) -> Path:
    """Where the language-model phrases of a dictionary text are kept: `<folder>/<text, spaces as _>.txt`, one
    phrase per line (what `myovision zeroshot phrases` writes)."""
    return Path(folder) / f"{'_'.join(action.split())}.txt"
