"""Finite-state sentence grammars: a sequence of word slots, one word from each, as in the GRID corpus
(Cooke et al. 2006): command colour preposition letter digit adverb, e.g. "bin blue at f two now".

>>> GRID_GRAMMAR.accepts("bin blue at f two now".split()), GRID_GRAMMAR.accepts("bin blue at w two now".split())
(True, False)
>>> grid_sentence("bbaf2n")
['bin', 'blue', 'at', 'f', 'two', 'now']
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator, Sequence

from myovision.errors import InputError

GRID_SLOT_NAMES = ("command", "colour", "preposition", "letter", "digit", "adverb")
GRID_SLOTS = (
    ("bin", "lay", "place", "set"),  # command
    ("blue", "green", "red", "white"),  # colour
    ("at", "by", "in", "with"),  # preposition
    tuple("abcdefghijklmnopqrstuvxyz"),  # letter (no w)
    ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),  # digit
    ("again", "now", "please", "soon"),  # adverb
)

#: GRID words in ARPAbet phones (CMUdict, stress removed; "white" as W AY T), for a phone-unit lexicon.
GRID_PHONES = {
    "bin": "b ih n", "lay": "l ey", "place": "p l ey s", "set": "s eh t",
    "blue": "b l uw", "green": "g r iy n", "red": "r eh d", "white": "w ay t",
    "at": "ae t", "by": "b ay", "in": "ih n", "with": "w ih dh",
    "a": "ey", "b": "b iy", "c": "s iy", "d": "d iy", "e": "iy", "f": "eh f", "g": "jh iy", "h": "ey ch",
    "i": "ay", "j": "jh ey", "k": "k ey", "l": "eh l", "m": "eh m", "n": "eh n", "o": "ow", "p": "p iy",
    "q": "k y uw", "r": "aa r", "s": "eh s", "t": "t iy", "u": "y uw", "v": "v iy", "x": "eh k s",
    "y": "w ay", "z": "z iy",
    "zero": "z ih r ow", "one": "w ah n", "two": "t uw", "three": "th r iy", "four": "f ao r",
    "five": "f ay v", "six": "s ih k s", "seven": "s eh v ah n", "eight": "ey t", "nine": "n ay n",
    "again": "ah g eh n", "now": "n aw", "please": "p l iy z", "soon": "s uw n",
}


@dataclass(frozen=True)
class SlotGrammar:
    """Sentences of exactly one word from each slot, in order."""

    slots: tuple[tuple[str, ...], ...]

    def __post_init__(self):
        if not self.slots or not all(self.slots):
            raise InputError("a slot grammar needs at least one slot and a word in every slot")

    @property
    def words(self) -> list[str]:
        """Every word of the grammar once, in slot order."""
        return list(dict.fromkeys(w for slot in self.slots for w in slot))

    def accepts(self, words: Sequence[str]) -> bool:
        return len(words) == len(self.slots) and all(w in slot for w, slot in zip(words, self.slots))

    def sentences(self) -> Iterator[tuple[str, ...]]:
        """Every sentence of the grammar (GRID's: 64,000)."""
        return itertools.product(*self.slots)

    def __len__(self) -> int:
        n = 1
        for slot in self.slots:
            n *= len(slot)
        return n


GRID_GRAMMAR = SlotGrammar(GRID_SLOTS)
_DIGITS = dict(zip("0123456789", GRID_SLOTS[4]))


def grid_sentence(utterance_id: str) -> list[str]:
    """The sentence a GRID utterance id spells: one character per slot, digits as numerals ("bbaf2n")."""
    if len(utterance_id) != len(GRID_SLOTS):
        raise InputError(f"a GRID utterance id has {len(GRID_SLOTS)} characters, got {utterance_id!r}")
    words = []
    for char, slot in zip(utterance_id, GRID_SLOTS):
        found = [_DIGITS[char]] if slot is GRID_SLOTS[4] and char in _DIGITS else [w for w in slot if w[0] == char]
        if len(found) != 1:
            raise InputError(f"GRID utterance id {utterance_id!r}: {char!r} names no word of {slot}")
        words.append(found[0])
    return words
