"""Synthetic emg2qwerty sessions: English-like prompts typed by two hands, written in the real HDF5 layout.

Each physical key of a QWERTY keyboard has a spatio-temporal muscle pattern: a burst peaking at key-down
(rising 40 ms before, decaying over ~150 ms) on the band of the hand that types it, over a bump of
electrodes set by the finger (keys of one finger share electrodes) and a second, row-dependent bump,
carrying two key-specific frequencies. Shifted characters add a sustained activation of the pinky that
holds shift, and are preceded by a ``Key.shift`` keystroke. Sessions differ by armband rotation (-1/0/+1
electrodes per band), per-channel gain, slow gain drift and noise; inter-key intervals are log-normal
(median 190 ms), 3% of letters are mistyped and corrected with backspace, and each prompt ends with enter.
The key patterns are the same for every session (one "typist"); the prompts of each session are drawn
with the session's own seed, so held-out sessions hold held-out text.

>>> import tempfile
>>> from myovision.data.emg2qwerty import read_session
>>> paths = write_synthetic_typing(tempfile.mkdtemp(), n_sessions=3, duration_s=15, seed=1)
>>> [p.name for p in paths], (paths[0].parent / "split.yaml").is_file()
(['synthetic-000.hdf5', 'synthetic-001.hdf5', 'synthetic-002.hdf5'], True)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from myovision.data.charset import CHARSET
from myovision.errors import InputError
from myovision.fileio import atomic_path, atomic_write_text
from myovision.progress import progress as progress_bar

FS = 2000
N_ELECTRODES = 16

#: Common English words the prompts are drawn from (Zipf-weighted in this order).
WORDS = (
    "the of and to a in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up other "
    "about out many then them these so some her would make like him into time has look two more write go see "
    "number no way could people my than first water been call who oil its now find long down day did get come "
    "made may part over new sound take only little work know place year live me back give most very after thing "
    "our just name good sentence man think say great where help through much before line right too mean old any "
    "same tell boy follow came want show also around form three small set put end does another well large must "
    "big even such because turn here why ask went men read need land different home us move try kind hand "
    "picture again change off play spell air away animal house point page letter mother answer found study "
    "still learn should america world high every near add food between own below country plant last school "
    "father keep tree never start city earth eye light thought head under story saw left few while along might "
    "close something seem next hard open example begin life always those both paper together got group often run"
).split()

_ROWS = ("1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./")
_SHIFTED = dict(zip('!@#$%^&*()_+{}|:"<>?~', "1234567890-=[]\\;',./`"))
_FINGER_OF_COLUMN = (0, 1, 2, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0)  # pinky 0 .. index 3, per column, both hands


def _physical_keys() -> dict[str, tuple[int, int, int]]:
    """(hand band, finger, row) of each unshifted character and of the four special keys."""
    keys = {"`": (0, 0, 0)}
    for row, chars in enumerate(_ROWS):
        for col, ch in enumerate(chars):
            keys[ch] = (0 if col <= 4 else 1, _FINGER_OF_COLUMN[col], row)
    keys.update({"Key.space": (1, 4, 4), "Key.shift": (0, 0, 3), "Key.backspace": (1, 0, 0),
                 "Key.enter": (1, 0, 2)})
    return keys


class KeyPatterns:
    """Fixed muscle patterns of the physical keys: electrode weights ``(2, 16)`` and two frequencies (Hz).

    typist 0 is the default typist; another typist's patterns are the same keys with each electrode centre moved
    by ``N(0, 0.8)`` electrodes and each frequency scaled by ``lognormal(0, 0.2)`` (drawn from ``(seed, typist)``):
    a held-out user who shares the anatomy but not the exact patterns.
    """

    def __init__(self, seed: int = 1234, typist: int = 0):
        rng = np.random.default_rng(seed)
        personal = np.random.default_rng([seed, typist]) if typist else None
        ring = np.arange(N_ELECTRODES)
        self.spatial: dict[str, np.ndarray] = {}
        self.freqs: dict[str, np.ndarray] = {}
        for name, (hand, finger, row) in _physical_keys().items():
            centre = 1 + 3 * finger + rng.normal(0, 0.4) + (personal.normal(0, 0.8) if personal else 0.0)
            weights = np.zeros((2, N_ELECTRODES))
            weights[hand] = _ring_bump(ring, centre, 1.5) + (0.25 + 0.2 * row) * _ring_bump(ring, centre + 8, 2.0)
            weights[1 - hand] = 0.15 * _ring_bump(ring, centre, 2.5)  # co-activation of the other forearm
            self.spatial[name] = weights
            self.freqs[name] = rng.uniform(40, 700, size=2) * (personal.lognormal(0, 0.2, 2) if personal else 1.0)
        self.shift_hold = _ring_bump(ring, 1.0, 1.5)  # left pinky holding shift, band 0

    def base_key(self, label: int) -> tuple[str, bool]:
        """Physical key and shift state of a character-set label."""
        key = CHARSET.label_to_key(label)
        if key.startswith("Key.") or key in self.spatial:
            return key, False
        return (key.lower(), True) if key.isalpha() else (_SHIFTED[key], True)


def _ring_bump(ring: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = np.abs((ring - centre + N_ELECTRODES / 2) % N_ELECTRODES - N_ELECTRODES / 2)  # distance around the wrist
    return np.exp(-0.5 * (d / width) ** 2)


def sentence(rng: np.random.Generator, words: Sequence[str] = WORDS, punctuation: bool = True) -> str:
    """A prompt of 3-8 Zipf-weighted ``words``; with ``punctuation``, sometimes capitalised, a comma, a full stop."""
    p = 1.0 / np.arange(1, len(words) + 1) ** 0.8
    words = list(rng.choice(list(words), size=int(rng.integers(3, 9)), p=p / p.sum()))
    if not punctuation:
        return " ".join(words)
    if rng.random() < 0.5:
        words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words[int(rng.integers(len(words)))] += ","
    return " ".join(words) + ("." if rng.random() < 0.6 else "")


def _keystrokes(text: str, t: float, rng: np.random.Generator, typo_rate: float) -> tuple[list[dict], float]:
    """Keystrokes typing ``text`` + enter from time ``t``: (list of {key, start, end}, end time)."""
    strokes = []

    def press(key: str) -> None:
        nonlocal t
        t += float(np.clip(rng.lognormal(np.log(0.19), 0.35), 0.07, 1.0))
        strokes.append({"key": key, "start": t, "end": t + float(rng.uniform(0.06, 0.12))})

    for ch in text:
        key = "Key.space" if ch == " " else ch
        if ch.isalpha() and rng.random() < typo_rate:  # a typo corrected at once
            press(rng.choice(list("asdfghjklqwertyuiop")))
            press("Key.backspace")
        if ch.isupper() or ch in _SHIFTED:
            press("Key.shift")
        press(key)
    press("Key.enter")
    return strokes, t


def synthesise_emg(labels: np.ndarray, onsets: np.ndarray, n_samples: int, rng: np.random.Generator,
                   patterns: KeyPatterns) -> np.ndarray:
    """EMG ``(n_samples, 2, 16)`` float32 for keys ``labels`` pressed at sample ``onsets``."""
    rotation = rng.integers(-1, 2, size=2)  # armband put on rotated, per band
    gain = rng.lognormal(0.0, 0.2, size=(2, N_ELECTRODES))
    x = rng.normal(0.0, 1.0, size=(n_samples, 2, N_ELECTRODES))
    tau = np.arange(int(0.25 * FS)) / FS  # burst support: 250 ms from 40 ms before key-down
    envelope = (tau / 0.04) * np.exp(1 - tau / 0.04)
    for label, onset in zip(labels, onsets):
        key, shifted = patterns.base_key(int(label))
        start = int(onset - 0.04 * FS)
        if start < 0 or start + len(tau) > n_samples:
            continue
        f1, f2 = patterns.freqs[key]
        phase = rng.uniform(0, 2 * np.pi, size=(2, 2, N_ELECTRODES))
        carrier = (np.sin(2 * np.pi * f1 * tau[:, None, None] + phase[0])
                   + 0.7 * np.sin(2 * np.pi * f2 * tau[:, None, None] + phase[1]))  # (L, 2, 16)
        burst = 4.0 * rng.lognormal(0, 0.25) * envelope[:, None, None] * patterns.spatial[key] * carrier
        if shifted:
            burst[:, 0] += 1.5 * np.sin(2 * np.pi * 90 * tau[:, None] + phase[0, 0]) * patterns.shift_hold
        x[start:start + len(tau)] += burst
    t = np.arange(n_samples) / FS
    drift = 1 + 0.15 * np.sin(2 * np.pi * t[:, None, None] / rng.uniform(20, 60) + rng.uniform(0, 6.3, (2, 16)))
    x *= gain * drift  # (T, 2, 16)
    for band in range(2):
        x[:, band] = np.roll(x[:, band], int(rotation[band]), axis=-1)
    return x.astype(np.float32)


def write_synthetic_typing(out: str | Path, n_sessions: int = 6, duration_s: float = 60.0, seed: int = 0,
                           user: str = "synthetic-user", words: Sequence[str] = WORDS, punctuation: bool = True,
                           typo_rate: float = 0.03, typist: int = 0, progress: bool = False) -> list[Path]:
    """Write ``n_sessions`` session files ``synthetic-NNN.hdf5`` under ``out``; return their paths.

    ``words``: the vocabulary prompts are drawn from (a few short words make a quick learning problem);
    ``punctuation``: capitals, commas and full stops; ``typo_rate``: letters mistyped and corrected;
    ``typist``: whose key patterns (:class:`KeyPatterns`; name the sessions' ``user`` accordingly);
    ``progress``: show progress over the sessions on stderr (`myovision.progress`).

    With 3 or more sessions, ``split.yaml`` (emg2qwerty layout) puts the last session in test, the one
    before in val and the rest in train.
    """
    if n_sessions < 1 or duration_s < 15:
        raise InputError(f"need n_sessions >= 1 and duration_s >= 15 (a prompt takes ~10 s), got {n_sessions} "
                         f"and {duration_s}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    patterns = KeyPatterns(typist=typist)
    n_samples = int(duration_s * FS)
    paths = []
    for i in progress_bar(range(n_sessions), desc="synthesising sessions", unit="session", disable=not progress):
        rng = np.random.default_rng([seed, i])
        t0 = 1.6e9 + 3600.0 * i
        strokes, prompts, t = [], [], 1.5
        for _ in range(10_000):
            text = sentence(rng, words, punctuation)
            typed, end = _keystrokes(text, t, rng, typo_rate)
            if end + 0.5 > duration_s:
                if strokes:
                    break
                continue  # the first prompt must fit: draw a shorter one
            strokes += typed
            prompts.append({"name": f"prompt{len(prompts)}", "start": t0 + t, "end": t0 + end,
                            "payload": {"text": text + "\n"}})
            t = end + float(rng.uniform(0.8, 1.6))
        labels = np.array([CHARSET.keystroke_label(s["key"]) for s in strokes], dtype=np.int64)
        onsets = np.array([s["start"] for s in strokes]) * FS
        emg = synthesise_emg(labels, onsets, n_samples, rng, patterns)
        for s in strokes:
            s["start"], s["end"] = t0 + s["start"], t0 + s["end"]
        paths.append(_write_session(out / f"synthetic-{i:03d}.hdf5", emg, t0, strokes, prompts,
                                    name=f"synthetic-{i:03d}", user=user))
    if n_sessions >= 3:
        names = [p.stem for p in paths]
        split = {"dataset": {"train": [{"user": user, "session": n} for n in names[:-2]],
                             "val": [{"user": user, "session": names[-2]}],
                             "test": [{"user": user, "session": names[-1]}]}}
        import yaml

        atomic_write_text(out / "split.yaml", yaml.safe_dump(split, sort_keys=False))
    return paths


def _write_session(path: Path, emg: np.ndarray, t0: float, keystrokes: list, prompts: list, *, name: str,
                   user: str) -> Path:
    """One session file in emg2qwerty's layout (compound ``timeseries`` table + JSON attributes)."""
    dtype = np.dtype([("time", "<f8"), ("emg_left", "<f4", (16,)), ("emg_right", "<f4", (16,))])
    table = np.empty(len(emg), dtype=dtype)
    table["time"] = t0 + np.arange(len(emg)) / FS
    table["emg_left"], table["emg_right"] = emg[:, 0], emg[:, 1]
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            group = f.create_group("emg2qwerty")
            group.create_dataset("timeseries", data=table)
            group.attrs.update({"session_name": name, "user": user, "condition": "on_keyboard",
                                "duration_mins": len(emg) / FS / 60, "keystrokes": json.dumps(keystrokes),
                                "prompts": json.dumps(prompts)})
    return path
