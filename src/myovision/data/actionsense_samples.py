"""ActionSense recordings -> 5-second sub-action samples (sEMG, clips, mel-spectrograms), as the fusion paper's code.

Pipeline per recording (see ``../shared/papers/NOTES-reference-implementations.md``)::

    kept activity --(world-camera frames inside it)--> 150-frame windows (5 s at 30 fps), consecutive,
        non-overlapping, while start + 150 < frames (so even an exact-fit tail is dropped); an activity
        with fewer than 150 frames stays whole.  Or: the rows of a sub-action table (start/stop_frame).
    per arm, on the WHOLE activity: signals.preprocess(x, fs=160, preset="authors-code")
    per sub-action: samples with first-frame time <= t <= last-frame time, per arm
        -> interpolate_to_length(., 800) per arm -> stack left 8 | right 8 -> emg (800, 16)
        -> split_clips -> (5, 160, 16); mel per clip (5, 16, 10, 81); mel per sub-action (16, 10, 201)
    and the same sub-action's samples before preprocessing, interpolated alike -> emg_raw (800, 16): the
        paper's "LSTM sEMG (raw)" row reads these ("we first utilize the raw sEMG signal", section 2.2)

fs is 160 Hz because the authors assumed it (the Myo streams at ~200 Hz with jitter); it sets the RMS,
filter and mel frequency scales, so it is configurable but defaults to what they did.

Sub-actions are numbered per subject from 1 in time order, uid ``f"{subject}_{k:03d}"`` (the tables'
``video_id``). Honest splits group by `SubActionSamples.groups` (subject and activity instance).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from myovision.data.actionsense import ActionSenseRecording, activity_emg, read_actionsense
from myovision.data.epic import read_annotation_csv
from myovision.errors import InputError
from myovision.fileio import atomic_path
from myovision.signals import interpolate_to_length, mel_spectrogram, preprocess, split_clips
from myovision.signals.preprocess import resolve_settings

SUBACTION_COLUMNS = {"uid": "nonneg", "video_id": "str", "narration": "str", "start_frame": "nonneg",
                     "stop_frame": "nonneg", "verb": "nonneg", "verb_class": "nonneg"}
SPLIT_COLUMNS = {"uid": "nonneg", "label": "str", "verb_class": "nonneg"}
AUTHORS_SUBJECTS = ("S04", "S07", "S08")  # the order of the authors' global uids
#: torchaudio MelSpectrogram settings of the authors' code, per 160-sample clip and per 800-sample sub-action.
MEL_CLIP = {"n_mels": 10, "n_fft": 16, "hop_length": 2, "f_min": 0.0, "f_max": 80.0, "power": 2.0, "normalized": True}
MEL_ACTION = {**MEL_CLIP, "n_fft": 32, "hop_length": 4}
_STRINGS = ("uid", "label", "subject")


# ----------------------------------------------------------------------------------------------- tables

def read_subaction_table(path: str | PathLike) -> pd.DataFrame:
    """A sub-action table (``subactions_S04.csv``): uid, video_id, narration, start_frame, stop_frame, verb, verb_class.

    Frames are inclusive world-camera indices. InputError naming the file for missing columns, bad
    integers, repeated uids or stop_frame < start_frame.
    """
    return read_annotation_csv(path, SUBACTION_COLUMNS, unique="uid", frame_pair=("start_frame", "stop_frame"))


def read_subaction_tables(folder: str | PathLike, subjects: Sequence[str] = AUTHORS_SUBJECTS) -> pd.DataFrame:
    """``<folder>/subactions_<subject>.csv`` concatenated, with ``subject`` and ``global_uid`` columns.

    global_uid numbers the rows 0.. in the given subject order: the uid of the authors' split tables.
    """
    parts = []
    for subject in subjects:
        table = read_subaction_table(Path(folder) / f"subactions_{subject}.csv")
        parts.append(table.assign(subject=subject))
    out = pd.concat(parts, ignore_index=True)
    out["global_uid"] = np.arange(len(out), dtype=np.int64)
    return out


def read_authors_split(folder: str | PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fusion paper's 799/343 split: ``split_S04S07S08_{train,test}.csv`` -> (train, test) DataFrames.

    Columns uid (global sub-action index over S04, S07, S08), label, verb_class. InputError naming the
    file for missing columns or bad values, or a uid on both sides.
    """
    folder = Path(folder)
    train, test = (read_annotation_csv(folder / f"split_S04S07S08_{side}.csv", SPLIT_COLUMNS)
                   for side in ("train", "test"))
    both = sorted(set(train.uid) & set(test.uid))
    if both:
        raise InputError(f"{len(both)} uids are in both train and test, e.g. {both[:5]}",
                         path=folder / "split_S04S07S08_test.csv")
    return train, test


# ---------------------------------------------------------------------------------------------- samples

@dataclass
class SubActionSamples:
    """Sub-action samples of one or more recordings (N rows; every array's first axis is N).

    uid, label, subject: (N,) unicode; label_index, activity_index: (N,) int64 (activity_index = index
    in the recording's kept activities); start_s, stop_s: (N,) float64 epoch seconds (first, last frame);
    emg: (N, 800, 16) float32 preprocessed (left 8 then right 8 channels); emg_raw: (N, 800, 16) float32, the
    same samples before preprocessing, only resampled to the length (the paper's "LSTM sEMG (raw)" input);
    mel_clips: (N, 5, 16, 10, 81) float32; mel: (N, 16, 10, 201) float32. `emg_clips` and `emg_raw_clips`
    (N, 5, 160, 16) are views of `emg` and `emg_raw`.
    """

    uid: np.ndarray
    label: np.ndarray
    label_index: np.ndarray
    subject: np.ndarray
    activity_index: np.ndarray
    start_s: np.ndarray
    stop_s: np.ndarray
    emg: np.ndarray
    emg_raw: np.ndarray
    mel_clips: np.ndarray
    mel: np.ndarray

    def __len__(self) -> int:
        return len(self.uid)

    @property
    def emg_clips(self) -> np.ndarray:
        """(N, clips, T // clips, 16) view of `emg`."""
        return split_clips(self.emg, self.mel_clips.shape[1])

    @property
    def emg_raw_clips(self) -> np.ndarray:
        """(N, clips, T // clips, 16) view of `emg_raw`."""
        return split_clips(self.emg_raw, self.mel_clips.shape[1])

    @property
    def groups(self) -> np.ndarray:
        """(N,) ``"<subject>/<activity_index>"``: one value per activity instance (for grouped splits)."""
        return np.char.add(np.char.add(self.subject.astype(str), "/"), self.activity_index.astype(str))

    def select(self, index: Any) -> SubActionSamples:
        """The rows `index` (mask, indices or slice) as a new `SubActionSamples`."""
        return SubActionSamples(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, parts: Iterable[SubActionSamples]) -> SubActionSamples:
        """Rows of several `SubActionSamples` (e.g. one per subject), in order."""
        parts = list(parts)
        if not parts:
            raise InputError("no samples to concatenate")
        try:
            out = cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})
        except ValueError as e:
            raise InputError(f"samples built with different settings cannot be combined ({e})") from None
        _check_unique(out.uid)
        return out

    def save(self, path: str | PathLike, *, compressed: bool = False) -> Path:
        """Write one ``.npz`` (no pickled objects; strings fixed-width unicode) atomically; return its path."""
        path = Path(path)
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in _STRINGS:
            arrays[name] = np.asarray(arrays[name]).astype(str)  # fixed-width unicode (<U..)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | PathLike) -> SubActionSamples:
        """Read a file written by `save`; InputError naming the file if it is missing, corrupt or inconsistent."""
        path = Path(path)
        if not path.is_file():
            raise InputError("file not found", path=path)
        names = [f.name for f in fields(cls)]
        try:
            with np.load(path, allow_pickle=False) as npz:
                missing = [n for n in names if n not in npz.files]
                if missing:
                    raise InputError(f"missing arrays {missing} (found {npz.files})", path=path)
                arrays = {n: npz[n] for n in names}
        except ValueError as e:
            raise InputError(f"not a readable sample file ({e})", path=path) from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"not a readable .npz file, truncated or corrupt ({e})", path=path) from None
        n = len(arrays["uid"])
        bad = [k for k, v in arrays.items() if v.ndim == 0 or len(v) != n]
        if bad:
            raise InputError(f"arrays {bad} do not have {n} rows like uid", path=path)
        if any(arrays[k].dtype.kind != "U" for k in _STRINGS):
            raise InputError("uid, label and subject must be unicode string arrays", path=path)
        return cls(**arrays)


def subaction_windows(n_frames: int, window_frames: int = 150, *, keep_short: bool = True) -> list[tuple[int, int]]:
    """Half-open [first, stop) frame ranges (relative to the activity) of its sub-actions, by the authors' rule.

    Windows start at 0, window_frames, ... while ``start + window_frames < n_frames`` (an exact-fit tail
    is dropped, as in the authors' loop); ``n_frames < window_frames`` gives the whole activity when
    `keep_short`, else nothing.

    >>> subaction_windows(460), subaction_windows(450), subaction_windows(100), subaction_windows(150)
    ([(0, 150), (150, 300), (300, 450)], [(0, 150), (150, 300)], [(0, 100)], [])
    """
    if n_frames < window_frames:
        return [(0, n_frames)] if keep_short and n_frames > 0 else []
    return [(s, s + window_frames) for s in range(0, n_frames, window_frames) if s + window_frames < n_frames]


def actionsense_samples(recording: ActionSenseRecording | str | PathLike, *,
                        subactions: pd.DataFrame | str | PathLike | None = None,
                        classes: Sequence[str] | Mapping[str, int] | None = None,
                        window_frames: int = 150, keep_short: bool = True, fs: float = 160.0,
                        preset: str | None = "authors-code", length: int = 800, n_clips: int = 5,
                        **preprocess_kw: Any) -> tuple[SubActionSamples, list[tuple[str, str]]]:
    """Sub-action samples of one ActionSense recording, and the skipped ones as [(uid, reason), ...].

    recording: a recording or an HDF5 path (read with `read_actionsense`; InputError names a bad file).
    subactions: a sub-action table (DataFrame or CSV path): its rows give the sub-actions (uid = video_id,
        label = narration, label_index = verb_class unless `classes` is given; each row must lie in a kept
        activity, else it is skipped). None: split each kept activity with `subaction_windows`.
    classes: label -> index (a sequence gives position); default: the sorted labels of the recording
        (pass the same `classes` for every recording you combine). A label outside it is skipped.
    fs, preset, preprocess_kw: passed to `signals.preprocess` per arm on each whole activity.
    length, n_clips: samples per sub-action after interpolation and clips cut from it.
    A sub-action with fewer than 2 EMG samples on an arm, or whose activity cannot be preprocessed
    (e.g. shorter than the RMS window), is skipped and reported, never raised.
    """
    resolve_settings(preset, **preprocess_kw)  # an unknown preset or keyword raises here, not per activity
    rec = recording if isinstance(recording, ActionSenseRecording) else read_actionsense(recording)
    if rec.frame_timestamps is None:
        raise InputError("no world-camera frame timestamps (eye-tracking-video-world/frame_timestamp)", path=rec.path)
    if isinstance(classes, Mapping):
        class_index = dict(classes)
    else:
        class_index = {c: i for i, c in enumerate(rec.labels if classes is None else classes)}
    if subactions is None:
        plan, skipped = _plan_from_activities(rec, window_frames, keep_short, class_index)
    else:
        table = subactions if isinstance(subactions, pd.DataFrame) else read_subaction_table(subactions)
        plan, skipped = _plan_from_table(rec, table, None if classes is None else class_index)
    rows, cache = [], {}
    for uid, label, label_index, ai, t0, t1 in plan:
        if ai not in cache:
            cache[ai] = _preprocess_activity(rec, ai, fs, preset, preprocess_kw)
        arms = cache[ai]
        if isinstance(arms, str):
            skipped.append((uid, arms))
            continue
        parts, raw_parts, reason = [], [], None
        for arm, (y, x, t) in arms.items():
            mask = (t >= t0) & (t <= t1)
            if mask.sum() < 2:
                reason = f"{int(mask.sum())} EMG samples on the {arm} arm (needs at least 2)"
                break
            parts.append(interpolate_to_length(y[mask], length))  # (length, 8)
            raw_parts.append(interpolate_to_length(x[mask], length))  # (length, 8)
        if reason is not None:
            skipped.append((uid, reason))
            continue
        rows.append((uid, label, label_index, ai, t0, t1, np.concatenate(parts, axis=1),  # (length, 16)
                     np.concatenate(raw_parts, axis=1)))
    return _assemble(rows, rec.subject, length, n_clips, fs), skipped


def samples_from_recordings(paths: Iterable[str | PathLike], *, subaction_folder: str | PathLike | None = None,
                            classes: Sequence[str] | Mapping[str, int] | None = None,
                            **kwargs: Any) -> tuple[SubActionSamples, list[tuple[str, str]]]:
    """`actionsense_samples` of several recordings, concatenated (with one class index for all).

    subaction_folder: use ``<folder>/subactions_<subject>.csv`` for each recording's subject.
    classes default: the sorted union of the recordings' kept labels.
    """
    recs = [read_actionsense(p) for p in paths]
    if not recs:
        raise InputError("no recordings given")
    if classes is None and subaction_folder is None:
        classes = sorted({label for r in recs for label in r.labels})
    parts, skipped = [], []
    for rec in recs:
        table = None if subaction_folder is None else Path(subaction_folder) / f"subactions_{rec.subject}.csv"
        samples, skip = actionsense_samples(rec, subactions=table, classes=classes, **kwargs)
        parts.append(samples)
        skipped += skip
    return SubActionSamples.concat(parts), skipped


# ---------------------------------------------------------------------------------------------- helpers

_Plan = tuple[str, str, int, int, float, float]  # uid, label, label_index, activity index, first, last frame time


def _plan_from_activities(rec: ActionSenseRecording, window_frames: int, keep_short: bool,
                          class_index: Mapping[str, int]) -> tuple[list[_Plan], list[tuple[str, str]]]:
    ft = rec.frame_timestamps
    plan, skipped, k = [], [], 0
    for ai, act in enumerate(rec.activities):
        idx = np.flatnonzero((ft >= act.start_s) & (ft <= act.stop_s))  # frames inside the activity
        windows = subaction_windows(len(idx), window_frames, keep_short=keep_short)
        if not windows:
            skipped.append((f"{rec.subject}_activity{ai}", f"{len(idx)} world-camera frames: no sub-action "
                            f"(window {window_frames}, exact-fit tails dropped, keep_short={keep_short})"))
        for a, b in windows:
            k += 1
            uid = f"{rec.subject}_{k:03d}"
            if act.label not in class_index:
                skipped.append((uid, f"label {act.label!r} is not in classes"))
                continue
            plan.append((uid, act.label, class_index[act.label], ai, float(ft[idx[a]]), float(ft[idx[b - 1]])))
    return plan, skipped


def _plan_from_table(rec: ActionSenseRecording, table: pd.DataFrame,
                     class_index: Mapping[str, int] | None) -> tuple[list[_Plan], list[tuple[str, str]]]:
    missing = [c for c in SUBACTION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"sub-action table lacks columns {missing}", path=rec.path)
    ft = rec.frame_timestamps
    starts = np.array([a.start_s for a in rec.activities])
    stops = np.array([a.stop_s for a in rec.activities])
    plan, skipped = [], []
    for row in table.itertuples(index=False):
        uid, label = str(row.video_id), str(row.narration)
        if not 0 <= row.start_frame <= row.stop_frame < len(ft):
            skipped.append((uid, f"frames {row.start_frame}..{row.stop_frame} outside 0..{len(ft) - 1}"))
            continue
        t0, t1 = float(ft[row.start_frame]), float(ft[row.stop_frame])
        inside = np.flatnonzero((starts <= (t0 + t1) / 2) & (stops >= (t0 + t1) / 2))
        if not len(inside):
            skipped.append((uid, "not inside any kept activity"))
            continue
        if class_index is not None and label not in class_index:
            skipped.append((uid, f"label {label!r} is not in classes"))
            continue
        index = int(row.verb_class) if class_index is None else class_index[label]
        plan.append((uid, label, index, int(inside[0]), t0, t1))
    return plan, skipped


def _preprocess_activity(rec: ActionSenseRecording, ai: int, fs: float, preset: str | None,
                         kw: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]] | str:
    """Per arm (preprocessed (n, 8), raw (n, 8), times (n,)) of the whole activity, or the reason it cannot be
    done."""
    out = {}
    for arm, (x, t) in activity_emg(rec, rec.activities[ai]).items():
        try:
            out[arm] = (preprocess(x.astype(np.float64), fs, preset=preset, **kw), x, t)
        except InputError as e:  # the settings were checked up front: this is about the data
            return (f"activity {ai} ({rec.activities[ai].label!r}), {arm} arm: {len(x)} samples cannot be "
                    f"preprocessed ({e.problem})")
    return out


def emg_mel_spectrograms(emg: np.ndarray, n_clips: int = 5, fs: float = 160.0) -> tuple[np.ndarray, np.ndarray]:
    """The paper's mel-spectrograms of fixed-length sEMG: (N, T, C) -> per clip (N, clips, C, 10, frames) and
    per action (N, C, 10, frames'), float32 (ActionSense: T 800, C 16 -> (N, 5, 16, 10, 81), (N, 16, 10, 201))."""
    emg = np.asarray(emg, dtype=np.float32)
    n, length, channels = emg.shape
    clips = split_clips(emg, n_clips)  # (N, clips, T // clips, C)
    if not n:
        return (np.zeros((0, n_clips, channels, MEL_CLIP["n_mels"], clips.shape[2] // MEL_CLIP["hop_length"] + 1),
                         np.float32),
                np.zeros((0, channels, MEL_ACTION["n_mels"], length // MEL_ACTION["hop_length"] + 1), np.float32))
    mel_clips = mel_spectrogram(clips, fs=fs, **MEL_CLIP)  # (N, clips, C, 10, frames)
    mel = mel_spectrogram(emg, fs=fs, **MEL_ACTION)  # (N, C, 10, frames')
    return np.asarray(mel_clips, dtype=np.float32), np.asarray(mel, dtype=np.float32)


def _assemble(rows: list, subject: str, length: int, n_clips: int, fs: float) -> SubActionSamples:
    n = len(rows)
    emg = np.stack([r[6] for r in rows]).astype(np.float32) if n else np.zeros((0, length, 16), np.float32)
    emg_raw = np.stack([r[7] for r in rows]).astype(np.float32) if n else np.zeros((0, length, 16), np.float32)
    mel_clips, mel = emg_mel_spectrograms(emg, n_clips, fs)
    uid = np.array([r[0] for r in rows], dtype=str)
    _check_unique(uid)
    return SubActionSamples(
        uid=uid, label=np.array([r[1] for r in rows], dtype=str).reshape(n),
        label_index=np.array([r[2] for r in rows], dtype=np.int64), subject=np.array([subject] * n, dtype=str),
        activity_index=np.array([r[3] for r in rows], dtype=np.int64),
        start_s=np.array([r[4] for r in rows], dtype=np.float64),
        stop_s=np.array([r[5] for r in rows], dtype=np.float64),
        emg=emg, emg_raw=emg_raw, mel_clips=mel_clips, mel=mel)


def _check_unique(uid: np.ndarray) -> None:
    values, counts = np.unique(uid, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"sample uids repeat, e.g. {values[counts > 1][:3].tolist()}")
