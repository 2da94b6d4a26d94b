"""Synthetic data in the real on-disk formats, from a seed: ActionSense-layout HDF5 and gesture manifests.

The learning problem is kept honest:

- Classes are defined by a muscle pattern and an appearance (`SYNTHETIC_CLASSES`). Some classes share
  a muscle pattern (same EMG statistics, e.g. peeling a cucumber or a potato) and differ only in
  appearance; others share an appearance (same objects on camera, e.g. peeling or slicing a cucumber)
  and differ only in muscle activity. EMG alone or video alone cannot separate every class; fusion can.
- No label reaches a feature except through its muscle pattern: durations, order, ratings and rest
  periods are drawn the same way for every class.
- Subjects differ in electrode gains, armband rotation, noise floor, resting tone, amplitude and slow
  drift; each repetition varies in speed, amplitude and phase.

`SYNTHETIC_CLASSES` is fixed (does not depend on the seed), so later stages (e.g. I3D-shaped RGB
features built from the appearance ids) agree with the EMG written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from myovision.data.emg_synthesis import SubjectProfile, muscle_pattern, raw_emg, ring_profile
from myovision.data.manifest import write_manifest
from myovision.data.myo_armband import MYO_GESTURES
from myovision.data.recordings import write_recording
from myovision.errors import InputError
from myovision.fileio import atomic_path

SYNTHETIC_EPOCH_S = 1_654_000_000.0  # early June 2022, when ActionSense was recorded


@dataclass(frozen=True)
class SyntheticClass:
    """One synthetic activity: its label, muscle pattern id (EMG) and appearance id (video)."""

    index: int
    label: str
    muscle_pattern: int
    appearance: int


# (label, muscle pattern, appearance). Appearances: 0 cucumber, 1 potato, 2 bread, 3 jar and spread,
# 4 plate, 5 pan, 6 pitcher and glass, 7 fridge and cabinets. Patterns: 0 peel, 1 slice, 2 spread,
# 3 twist a lid, 4 scrub, 5 wipe, 6 pour, 7 reach and grasp. Each (pattern, appearance) pair is unique.
_CLASS_TABLE = (
    ("Peel a cucumber", 0, 0),
    ("Slice a cucumber", 1, 0),
    ("Peel a potato", 0, 1),
    ("Slice a potato", 1, 1),
    ("Slice bread", 1, 2),
    ("Spread almond butter on a bread slice", 2, 2),
    ("Open/close a jar of almond butter", 3, 3),
    ("Spread jelly on a bread slice", 2, 3),
    ("Clean a plate with a sponge", 4, 4),
    ("Clean a plate with a towel", 5, 4),
    ("Clean a pan with a sponge", 4, 5),
    ("Clean a pan with a towel", 5, 5),
    ("Pour water from a pitcher into a glass", 6, 6),
    ("Get/replace items from refrigerator/cabinets/drawers", 7, 7),
)
SYNTHETIC_CLASSES: tuple[SyntheticClass, ...] = tuple(
    SyntheticClass(i, label, pattern, look) for i, (label, pattern, look) in enumerate(_CLASS_TABLE))


def synthetic_classes(n_classes: int | None = None) -> list[SyntheticClass]:
    """The first `n_classes` of `SYNTHETIC_CLASSES` (all when None); index = class index."""
    n = len(SYNTHETIC_CLASSES) if n_classes is None else n_classes
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(SYNTHETIC_CLASSES):
        raise InputError(f"n_classes must be in 1..{len(SYNTHETIC_CLASSES)}, got {n}")
    return list(SYNTHETIC_CLASSES[:n])


def write_synthetic_actionsense(out_dir: str | PathLike, *, n_subjects: int = 4, n_classes: int = 10,
                                repeats: int = 3, duration_s: tuple[float, float] = (10.0, 30.0),
                                rest_s: tuple[float, float] = (2.0, 6.0), bad_fraction: float = 0.15,
                                seed: int = 0) -> list[Path]:
    """Write one ActionSense-layout HDF5 per subject (``S00.hdf5``, ...) plus ``classes.csv``; return the HDF5 paths.

    Each subject performs every class `repeats` times (shuffled per round; durations uniform in
    `duration_s`, rests in `rest_s`), plus about `bad_fraction` extra activities rated Maybe or Bad that
    readers drop. Streams, as in the real files: ``myo-left/emg`` and ``myo-right/emg`` (data (N, 8)
    int32 in the Myo's int8 range, time_s (N, 1) epoch seconds at a per-arm rate of 160-200 Hz with
    jittered and occasionally repeated stamps, time_str), ``experiment-activities/activities``
    (byte-string rows [label, Start|Stop, rating, notes]) and ``eye-tracking-video-world/frame_timestamp``
    (~30 fps; time_s (F, 1) epoch seconds on the EMG's clock, data (F, 1) the eye tracker's own clock:
    seconds since it started, as in ActionNet). ``classes.csv`` lists class index, label, muscle_pattern
    and appearance. The same arguments always write the same files.
    Raises InputError for bad arguments (no subjects or repeats, empty or negative ranges, a negative seed).
    """
    import h5py

    _check_arguments(n_subjects=n_subjects, repeats=repeats, seed=seed)
    for name, (lo, hi), least in (("duration_s", duration_s, 1.0), ("rest_s", rest_s, 0.0)):
        if not least <= lo <= hi < np.inf:
            raise InputError(f"{name} must be a range (low, high) with {least:g} <= low <= high, got {(lo, hi)}")
    if not 0.0 <= bad_fraction <= 1.0:
        raise InputError(f"bad_fraction must be in [0, 1], got {bad_fraction}")
    classes = synthetic_classes(n_classes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_class_table(classes, out_dir / "classes.csv")
    paths = []
    for s in range(n_subjects):
        rng = np.random.default_rng([seed, s])
        profile = SubjectProfile.draw(rng)
        acts = _schedule(classes, rng, repeats=repeats, duration_s=duration_s, rest_s=rest_s, bad_fraction=bad_fraction)
        t0 = SYNTHETIC_EPOCH_S + s * 86_400.0 + float(rng.uniform(0.0, 3_600.0))
        end = acts[-1][2] + 3.0  # seconds after t0
        path = out_dir / f"S{s:02d}.hdf5"
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
            for arm in ("left", "right"):
                t = _myo_timestamps(end, rng)  # (N,) seconds from t0
                env = np.zeros((len(t), 8))
                for cls, start, stop, _ in acts:
                    i0, i1 = np.searchsorted(t, [start, stop])
                    tt = t[i0:i1] - start
                    ramp = np.clip(np.minimum(tt, stop - start - tt) / 0.5, 0.0, 1.0)  # 0.5 s on/offset
                    pattern = muscle_pattern(cls.muscle_pattern)
                    env[i0:i1] += rng.lognormal(0.0, 0.15) * ramp[:, None] * pattern.envelope(
                        tt, arm, shift=profile.arm_shift(arm), period_scale=rng.uniform(0.85, 1.15),
                        phase0=rng.uniform())
                _write_stream(h5, f"myo-{arm}/emg", raw_emg(env, t, profile, arm, rng), t0 + t)
            _write_activities(h5, acts, t0)
            frames = np.arange(-1.0, end + 1.0, 1.0 / rng.uniform(29.5, 30.5))
            frames = frames + rng.normal(0.0, 0.002, len(frames))  # (F,) capture times, seconds from t0
            group = h5.create_group("eye-tracking-video-world/frame_timestamp")
            group.create_dataset("time_s", data=(t0 + frames + rng.uniform(0.01, 0.03))[:, None])  # epoch receipt
            group.create_dataset("data", data=(frames + rng.uniform(100.0, 5_000.0))[:, None])  # tracker uptime
        paths.append(path)
    return paths


def write_synthetic_gestures(out_dir: str | PathLike, *, n_subjects: int = 4, n_gestures: int = 7,
                             n_sessions: int = 3, n_cycles: int = 4, duration_s: float = 5.0,
                             seed: int = 0) -> Path:
    """Write synthetic 8-channel, 200 Hz gesture recordings as a generic manifest; return manifest.csv.

    Layout: ``<subject>/<session>/<label>_<cycle>.npy`` (int16, Myo int8 range) for subjects ``s00``..,
    sessions ``session0``.. and `n_cycles` repetitions of each gesture. Labels are the Myo data set's
    gesture names (``neutral`` is rest) or ``gesture<k>`` beyond seven. Each gesture is a held
    contraction of its own muscle groups; subjects differ in gains and armband rotation, sessions in a
    re-donning shift. The ``split`` column: last session test, the one before val (with 3+ sessions),
    the others train; with one session, the last cycle is test. Extra column: ``cycle``.
    Raises InputError for bad arguments (a count below 1, `duration_s` under 1 s, a negative seed).
    """
    _check_arguments(n_subjects=n_subjects, n_gestures=n_gestures, n_sessions=n_sessions, n_cycles=n_cycles,
                     seed=seed)
    if not 1.0 <= duration_s < np.inf:  # the contraction ramps in and out over 0.7 s
        raise InputError(f"duration_s must be at least 1 s, got {duration_s}")
    out_dir = Path(out_dir)
    rate = 200.0
    n = int(round(duration_s * rate))
    labels = list(MYO_GESTURES[:n_gestures]) + [f"gesture{k}" for k in range(7, n_gestures)]
    pattern_rng = np.random.default_rng([seed, 10_000])
    spatial = []  # per gesture: list of (center, width, height)
    for g in range(n_gestures):
        main = ((g * 0.6180339887) % 1.0) * 8
        groups = [(main, pattern_rng.uniform(0.8, 1.4), 1.0)]
        groups += [(main + pattern_rng.uniform(2.0, 6.0), pattern_rng.uniform(0.8, 1.4), pattern_rng.uniform(0.2, 0.7))]
        spatial.append(groups if labels[g] != "neutral" else [])
    rows = []
    t = np.arange(n) / rate
    for s in range(n_subjects):
        rng = np.random.default_rng([seed, s])
        profile = SubjectProfile.draw(rng)
        subject = f"s{s:02d}"
        for k in range(n_sessions):
            session, session_shift = f"session{k}", rng.normal(0.0, 0.3)
            gain = rng.lognormal(0.0, 0.1, 8)
            for cycle in range(n_cycles):
                for g, label in enumerate(labels):
                    shift = profile.arm_shift("right") + session_shift
                    weights = sum((h * ring_profile(c + shift, w) for c, w, h in spatial[g]), np.zeros(8)) * gain
                    hold = np.clip(np.minimum(t - 0.4, t[-1] - 0.3 - t) / 0.4, 0.0, 1.0)  # ramp in, hold, out
                    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi))
                    env = rng.lognormal(0.0, 0.2) * (hold * wobble)[:, None] * weights[None, :]  # (n, 8)
                    x = raw_emg(env, t, profile, "right", rng).astype(np.int16)
                    rel = Path(subject, session, f"{label}_{cycle}.npy")
                    write_recording(out_dir / rel, x)
                    rows.append({"path": rel.as_posix(), "label": label, "subject": subject, "session": session,
                                 "sample_rate": rate, "split": _gesture_split(k, n_sessions, cycle, n_cycles),
                                 "cycle": cycle})
    return write_manifest(rows, out_dir / "manifest.csv")


def _check_arguments(*, seed: int, **counts: int) -> None:
    """InputError naming the first count that is not an integer >= 1, or a seed that is not one >= 0."""
    for name, value, least in [*((n, v, 1) for n, v in counts.items()), ("seed", seed, 0)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InputError(f"{name} must be an integer >= {least}, got {value!r}")


def _gesture_split(session: int, n_sessions: int, cycle: int, n_cycles: int) -> str:
    if n_sessions == 1:
        return "test" if cycle == n_cycles - 1 and n_cycles > 1 else "train"
    if session == n_sessions - 1:
        return "test"
    return "val" if n_sessions >= 3 and session == n_sessions - 2 else "train"


def _schedule(classes: list[SyntheticClass], rng: np.random.Generator, *, repeats: int,
              duration_s: tuple[float, float], rest_s: tuple[float, float],
              bad_fraction: float) -> list[tuple[SyntheticClass, float, float, str]]:
    """Activities as (class, start, stop, rating), seconds from the recording's start, in time order."""
    order = [(classes[i], "Good") for _ in range(repeats) for i in rng.permutation(len(classes))]
    for _ in range(int(round(bad_fraction * len(order)))):
        bad = (classes[rng.integers(len(classes))], str(rng.choice(["Maybe", "Bad"])))
        order.insert(int(rng.integers(len(order) + 1)), bad)
    acts, cursor = [], 3.0
    for cls, rating in order:
        duration = rng.uniform(*duration_s)
        acts.append((cls, cursor, cursor + duration, rating))
        cursor += duration + rng.uniform(*rest_s)
    return acts


def _myo_timestamps(end: float, rng: np.random.Generator) -> np.ndarray:
    """Sample times (s) over [0, end] at a rate of 160-200 Hz, jittered, sorted, about 2% repeated."""
    rate = rng.uniform(160.0, 200.0)
    t = rng.uniform(0.0, 0.05) + np.arange(int(end * rate)) / rate
    t = np.maximum.accumulate(t + rng.normal(0.0, 0.15 / rate, len(t)))
    repeat = np.flatnonzero(rng.random(len(t)) < 0.02)
    t[repeat[repeat > 0]] = t[repeat[repeat > 0] - 1]  # the Myo sometimes stamps two samples alike
    return np.maximum.accumulate(t)


_NOTES = {"Good": b"", "Maybe": b"Not sure the whole activity was captured", "Bad": b"Dropped an item; restarted"}


def _write_activities(h5, acts: list[tuple[SyntheticClass, float, float, str]], t0: float) -> None:
    rows, times = [], []
    for cls, start, stop, rating in acts:
        for kind, when in ((b"Start", start), (b"Stop", stop)):
            rows.append([cls.label.encode(), kind, rating.encode(), _NOTES[rating]])
            times.append(t0 + when)
    group = h5.create_group("experiment-activities/activities")
    group.create_dataset("data", data=np.array(rows, dtype="S"))  # (2M, 4) fixed-width bytes
    group.create_dataset("time_s", data=np.array(times)[:, None])
    group.create_dataset("time_str", data=_time_str(np.array(times))[:, None])


def _write_stream(h5, name: str, data: np.ndarray, time_s: np.ndarray) -> None:
    group = h5.create_group(name)
    group.create_dataset("data", data=data)
    group.create_dataset("time_s", data=time_s[:, None])  # (N, 1) as in the real files
    group.create_dataset("time_str", data=_time_str(time_s)[:, None], compression="lzf")


def _time_str(time_s: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DD HH:MM:SS.ffffff' byte strings (UTC) of epoch seconds."""
    stamps = np.datetime_as_string((time_s * 1e6).astype("datetime64[us]"), unit="us")
    return np.char.replace(stamps, "T", " ").astype("S26")


def _write_class_table(classes: list[SyntheticClass], path: Path) -> None:
    import pandas as pd

    table = pd.DataFrame([{"class_index": c.index, "label": c.label, "muscle_pattern": c.muscle_pattern,
                           "appearance": c.appearance} for c in classes])
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
