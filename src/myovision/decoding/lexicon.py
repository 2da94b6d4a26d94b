"""Units, lexicon and HMM state inventory of the hybrid lip-reading decoder (Zeng, Du, Wang, section 2).

A `Lexicon` maps each word to its units (characters, or phones from a pronunciation file). An `HmmSet` gives
every unit a left-to-right HMM of `states_per_unit` emitting states; state ids are what the network's output
layer scores: state `unit_index * states_per_unit + k`. Silence is a unit like any other ("sil").

>>> lex = Lexicon.spelled(["bin", "at"])
>>> lex.units, lex["at"]
(('a', 'b', 'i', 'n', 't', 'sil'), ('a', 't'))
>>> hmms = HmmSet(lex.units, states_per_unit=3)
>>> hmms.num_states, hmms.states_of("b")
(18, (3, 4, 5))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from myovision.errors import InputError

SILENCE = "sil"


@dataclass(frozen=True)
class Lexicon:
    """word -> units; `units` is the sorted unit inventory with `silence` last."""

    pronunciations: Mapping[str, tuple[str, ...]]
    silence: str = SILENCE
    units: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        empty = [w for w, p in self.pronunciations.items() if not p]
        if empty:
            raise InputError(f"words without units in the lexicon: {empty[:5]}")
        inventory = sorted({u for p in self.pronunciations.values() for u in p} - {self.silence})
        object.__setattr__(self, "units", (*inventory, self.silence))

    @classmethod
    def spelled(cls, words: Iterable[str], silence: str = SILENCE) -> "Lexicon":
        """Character units: every word spelled by its letters."""
        return cls({w: tuple(w) for w in words}, silence)

    @classmethod
    def read(cls, path: str | Path, silence: str = SILENCE) -> "Lexicon":
        """A pronunciation file, one `WORD UNIT UNIT ...` per line (CMUdict style; the first entry of a word wins)."""
        path = Path(path)
        if not path.is_file():
            raise InputError("lexicon file not found", path)
        entries: dict[str, tuple[str, ...]] = {}
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.split()
            if not fields or line.startswith(";;;"):
                continue
            if len(fields) < 2:
                raise InputError(f"line {lineno}: word {fields[0]!r} has no units", path)
            entries.setdefault(fields[0], tuple(fields[1:]))
        return cls(entries, silence)

    def __getitem__(self, word: str) -> tuple[str, ...]:
        try:
            return tuple(self.pronunciations[word])
        except KeyError:
            raise InputError(f"word {word!r} is not in the lexicon") from None

    def __contains__(self, word: str) -> bool:
        return word in self.pronunciations


@dataclass(frozen=True)
class HmmSet:
    """Left-to-right HMMs, one per unit, `states_per_unit` emitting states each, no skips.

    `self_loop` (num_states,) is each state's probability of staying; leaving goes to the next state (or,
    from a unit's last state, out of the unit). Estimate it from alignments with `estimate_self_loops`.
    """

    units: tuple[str, ...]
    states_per_unit: int = 3
    self_loop: np.ndarray | None = None
    tied: Mapping[str, tuple[int, ...]] | None = None  # unit -> its state ids when states are shared (triphones)

    def __post_init__(self):
        if self.states_per_unit < 1:
            raise InputError(f"states_per_unit must be >= 1, got {self.states_per_unit}")
        if self.tied is not None and any(len(self.tied.get(u, ())) != self.states_per_unit for u in self.units):
            raise InputError(f"tied states must give every unit {self.states_per_unit} states")
        loop = np.full(self.num_states, 0.5) if self.self_loop is None else np.asarray(self.self_loop, float)
        if loop.shape != (self.num_states,) or not ((loop > 0) & (loop < 1)).all():
            raise InputError(f"self_loop must be {self.num_states} probabilities in (0, 1)")
        object.__setattr__(self, "self_loop", loop)

    @property
    def num_states(self) -> int:
        if self.tied is not None:
            return 1 + max(s for u in self.units for s in self.tied[u])
        return len(self.units) * self.states_per_unit

    def states_of(self, unit: str) -> tuple[int, ...]:
        """State ids of `unit`'s HMM, in left-to-right order."""
        if self.tied is not None:
            if unit not in self.tied:
                raise InputError(f"unit {unit!r} has no HMM (not among the {len(self.units)} tied units)")
            return tuple(self.tied[unit])
        try:
            first = self.units.index(unit) * self.states_per_unit
        except ValueError:
            raise InputError(f"unit {unit!r} has no HMM (units: {' '.join(self.units)})") from None
        return tuple(range(first, first + self.states_per_unit))

    def state_names(self) -> list[str]:
        """'unit_k' for every state id, e.g. 'b_0' (tied states: the first unit using it)."""
        if self.tied is not None:
            names = [""] * self.num_states
            for u in reversed(self.units):
                for k, s in enumerate(self.tied[u]):
                    names[s] = f"{u}_{k}"
            return names
        return [f"{u}_{k}" for u in self.units for k in range(self.states_per_unit)]

    def with_self_loops(self, self_loop: np.ndarray) -> "HmmSet":
        return HmmSet(self.units, self.states_per_unit, self_loop, self.tied)


def estimate_self_loops(alignments: Iterable[np.ndarray], num_states: int, floor: float = 0.05) -> np.ndarray:
    """Per-state self-loop probability from state alignments: stays / (stays + exits), clipped to
    [floor, 1 - floor]; a state never seen gets 0.5. Each alignment is (T,) state ids of one utterance
    (its last frame's exit is not observed and not counted)."""
    stays, visits = np.zeros(num_states), np.zeros(num_states)
    for states in alignments:
        states = np.asarray(states)
        np.add.at(visits, states[:-1], 1)
        np.add.at(stays, states[:-1][states[1:] == states[:-1]], 1)
    loop = np.where(visits > 0, stays / np.maximum(visits, 1), 0.5)
    return np.clip(loop, floor, 1 - floor)
