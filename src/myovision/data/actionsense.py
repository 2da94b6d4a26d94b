"""ActionSense (ActionNet wearables) sEMG: the per-subject HDF5 recordings and the real segment files.

HDF5 layout (one file per recording session; see ``../shared/data/actionsense/FORMAT.md``)::

    myo-left/emg/{data (N, 8), time_s (N, 1) epoch seconds, time_str (N, 1)}      also myo-right
    experiment-activities/activities/{data (M, 4) bytes, time_s (M, 1)}
        rows: [label, b"Start" | b"Stop", rating b"Good" | b"Maybe" | b"Bad", notes]
    eye-tracking-video-world/frame_timestamp/{data (F, 1), time_s (F, 1)}          optional, ~30 fps
        time_s: epoch seconds (the clock of the EMG time_s); data: in ActionNet, the eye tracker's own clock

Activities are parsed as the dataset's own example does: rows rated Maybe or Bad are dropped (the
Start and Stop rows of one activity carry the same rating), then each Start opens an activity and the
next Stop closes it. An activity's EMG is every sample of an arm with ``start <= time_s <= stop``; the
two arms keep their own timestamps and lengths.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import NamedTuple

import numpy as np

from myovision.data.myo_armband import MYO_CHANNELS
from myovision.data.recordings import check_samples
from myovision.errors import InputError, excerpt
from myovision.fileio import check_declared_size

ARMS = ("left", "right")
DROPPED_RATINGS = ("Bad", "Maybe")
ACTIVITIES_STREAM = "experiment-activities/activities"
WORLD_FRAMES_STREAM = "eye-tracking-video-world/frame_timestamp"
MYO_RATE_HZ = 200.0  # the Myo armband's EMG rate: a time span implies about span x 200 samples on a uniform grid


@dataclass(frozen=True)
class Activity:
    """One labelled activity: its label, start and stop (epoch seconds), rating and notes."""

    label: str
    start_s: float
    stop_s: float
    rating: str = "Good"
    notes: str = ""

    @property
    def duration_s(self) -> float:
        return self.stop_s - self.start_s


@dataclass
class ArmEMG:
    """One arm's EMG: `emg` (N, 8) float32 and `time_s` (N,) float64 epoch seconds."""

    emg: np.ndarray
    time_s: np.ndarray

    @property
    def sample_rate(self) -> float:
        """Mean sample rate in Hz, from the timestamps (the Myo's nominal rate is 200 Hz)."""
        span = float(self.time_s[-1] - self.time_s[0]) if len(self.time_s) > 1 else 0.0
        return (len(self.time_s) - 1) / span if span > 0 else float("nan")


@dataclass
class ActionSenseRecording:
    """One ActionSense HDF5 file: per-arm EMG, kept activities, dropped ones, world-camera frame times.

    `frame_timestamps`: (F,) float64 epoch seconds of the world-camera frames (see `frame_times`), or None
    when the file has no such stream.
    """

    path: Path
    subject: str
    arms: dict[str, ArmEMG]
    activities: list[Activity]
    dropped: list[Activity] = field(default_factory=list)
    frame_timestamps: np.ndarray | None = None

    @property
    def left(self) -> ArmEMG:
        return self.arms["left"]

    @property
    def right(self) -> ArmEMG:
        return self.arms["right"]

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels of the kept activities."""
        return sorted({a.label for a in self.activities})


def read_actionsense(path: str | PathLike, *, arms: Iterable[str] = ARMS,
                     drop_ratings: Iterable[str] = DROPPED_RATINGS) -> ActionSenseRecording:
    """Read one ActionSense HDF5 file: `arms` EMG streams, activities, and world-camera frame timestamps.

    drop_ratings: activities with these ratings go to `dropped` instead of `activities` (default Bad,
        Maybe, as the dataset's own parsing example does); pass ``()`` to keep all.
    The subject is the file name's ``S<digits>`` part (e.g. ``S04`` of ``..._S04.hdf5``), else its stem.
    Raises InputError naming the file (and the stream): missing, truncated or corrupt HDF5, a missing
    stream or dataset, EMG that is not (N, 8) numbers or holds NaN/Inf (first rows and channels named),
    timestamps that are not finite, EMG timestamps that decrease (row named), EMG data/time lengths that
    differ, a Start without its Stop, a Stop without a Start or before it.
    """
    import h5py  # HDF5 support is only needed here

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", path=path)
    drop = set(drop_ratings)
    try:
        with h5py.File(path, "r") as h5:
            emg = {arm: _read_arm(h5, arm, path) for arm in arms}
            rows, times = _read_activity_rows(h5, path)
            frames = _read_frame_times(h5, path) if WORLD_FRAMES_STREAM in h5 else None
    except InputError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as e:  # h5py's errors for damaged files
        raise InputError(f"unreadable HDF5 file, truncated or corrupt ({excerpt(str(e), 80)})", path=path) from None
    kept, dropped = _pair_activities(rows, times, drop, path)
    subject = re.findall(r"S\d+", path.stem)
    return ActionSenseRecording(path=path, subject=subject[-1] if subject else path.stem, arms=emg,
                                activities=kept, dropped=dropped, frame_timestamps=frames)


def activity_emg(rec: ActionSenseRecording, activity: Activity) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-arm EMG inside an activity: ``{"left": (x (n, 8), t (n,)), "right": (x (m, 8), t (m,))}``.

    Every sample with ``activity.start_s <= time_s <= activity.stop_s``; the arms' lengths differ.
    """
    out = {}
    for arm, stream in rec.arms.items():
        mask = (stream.time_s >= activity.start_s) & (stream.time_s <= activity.stop_s)
        out[arm] = (stream.emg[mask], stream.time_s[mask])
    return out


def frame_times(rec: ActionSenseRecording, frames: np.ndarray | Iterable[int]) -> np.ndarray:
    """Epoch seconds (the EMG's clock) of world-camera frame indices (e.g. a sub-action table's start_frame).

    frames: (K,) integer frame indices; returns (K,) float64. The times are the frame stream's ``time_s``
    (epoch seconds, as the EMG ``time_s``). Only a file whose stream has no ``time_s`` falls back to its
    ``data``, which in ActionNet can be the eye tracker's own clock: such times may not line up with the EMG.
    """
    if rec.frame_timestamps is None:
        raise InputError(f"no world-camera frame timestamps ({WORLD_FRAMES_STREAM})", path=rec.path)
    frames = np.asarray(frames, dtype=np.int64)
    if frames.size and (frames.min() < 0 or frames.max() >= len(rec.frame_timestamps)):
        raise InputError(f"frame index out of range 0..{len(rec.frame_timestamps) - 1}", path=rec.path)
    return rec.frame_timestamps[frames]


class EmgSegments(NamedTuple):
    """Real ActionSense sEMG segments: unpacks as ``X, labels, verb_class, subjects``."""

    X: np.ndarray           # (N, 374, 16) float32: left arm channels 0-7, right arm 8-15
    labels: np.ndarray      # (N,) str: activity text
    verb_class: np.ndarray  # (N,) int64
    subjects: np.ndarray    # (N,) str: S00, S02 (parts S02_1, S02_2... are one subject)


def load_emg_segments(folder: str | PathLike, *, subjects: Iterable[str] | None = None) -> EmgSegments:
    """Load ``<folder>/<subject>[_<part>].npz`` files (arrays emg, label, verb_class) into one `EmgSegments`.

    subjects: keep only these subject ids (``S02`` selects S02_1, S02_2, ...). Files are read in name
    order, never unpickled: a label array stored as Python objects raises InputError naming the file, as
    do a missing folder or array, no files, a truncated or corrupt file, non-numeric emg or non-integer
    verb_class, NaN/Inf samples, and arrays whose lengths or segment shapes disagree.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("emg segment folder not found", path=folder)
    files = sorted(folder.glob("*.npz"))
    if subjects is not None:
        wanted = set(subjects)
        files = [f for f in files if f.stem.split("_")[0] in wanted]
    if not files:
        raise InputError("no <subject>.npz segment files" + ("" if subjects is None else f" for {sorted(wanted)}"),
                         path=folder)
    xs, labels, verbs, subs = [], [], [], []
    for f in files:
        try:
            with np.load(f, allow_pickle=False) as npz:
                missing = [k for k in ("emg", "label", "verb_class") if k not in npz.files]
                if missing:
                    raise InputError(f"missing arrays {missing} (found {npz.files})", path=f)
                x, lab, verb = npz["emg"], npz["label"], npz["verb_class"]
        except ValueError as e:
            if "pickle" in str(e):
                raise InputError("an array holds Python objects (needs pickle, which is never loaded); "
                                 "convert labels to a fixed-width string array", path=f) from None
            raise InputError(f"not a readable .npz file ({e})", path=f) from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"not a readable .npz file, truncated or corrupt ({e})", path=f) from None
        if x.ndim != 3 or lab.shape != (len(x),) or verb.shape != (len(x),):
            raise InputError(f"inconsistent shapes: emg {x.shape}, label {lab.shape}, verb_class {verb.shape}", path=f)
        if x.dtype.kind not in "biuf" or verb.dtype.kind not in "biu":
            raise InputError(f"emg must hold numbers and verb_class integers, found {x.dtype} and {verb.dtype}",
                             path=f)
        bad = ~np.isfinite(x)  # (N, T, C)
        if bad.any():
            seg, row, ch = np.argwhere(bad)[0]
            raise InputError(f"{int(bad.sum())} NaN/Inf emg samples, first in segment {seg} at row {row}, "
                             f"channel {ch}", path=f)
        if xs and x.shape[1:] != xs[0].shape[1:]:
            raise InputError(f"segments of shape {x.shape[1:]}, other files have {xs[0].shape[1:]}", path=f)
        xs.append(x.astype(np.float32, copy=False))
        labels.append(lab.astype(str))
        verbs.append(verb.astype(np.int64))
        subs.append(np.full(len(x), f.stem.split("_")[0]))
    return EmgSegments(np.concatenate(xs), np.concatenate(labels), np.concatenate(verbs), np.concatenate(subs))


def _read_arm(h5, arm: str, path: Path) -> ArmEMG:
    """The ``myo-<arm>/emg`` stream: (N, 8) finite samples and (N,) finite, non-decreasing epoch seconds."""
    name = f"myo-{arm}/emg"
    time_s = _timestamps(_dataset(h5, name, "time_s", path), name, "time_s", path, increasing=True)
    try:
        emg = check_samples(_dataset(h5, name, "data", path), channels=MYO_CHANNELS)  # (N, 8) float32
    except InputError as e:
        raise InputError(f"stream {name}: {e.problem}", path=path) from None
    if len(emg) != len(time_s):
        raise InputError(f"stream {name}: data {emg.shape} does not match time_s ({len(time_s)} rows)", path=path)
    span = float(time_s[-1] - time_s[0]) if len(time_s) else 0.0
    check_declared_size(path, elements=int(span * MYO_RATE_HZ) * MYO_CHANNELS,
                        what=f"stream {name}: time_s spans {span:.6g} s; a uniform grid at {MYO_RATE_HZ:g} Hz needs")
    return ArmEMG(emg=emg, time_s=time_s)


def _read_frame_times(h5, path: Path) -> np.ndarray:
    """(F,) world-camera frame times: the stream's ``time_s``, else (a file without it) its ``data``."""
    import h5py

    group = h5[WORLD_FRAMES_STREAM]
    key = "time_s" if isinstance(group, h5py.Group) and "time_s" in group else "data"
    return _timestamps(_dataset(h5, WORLD_FRAMES_STREAM, key, path), WORLD_FRAMES_STREAM, key, path)


def _read_activity_rows(h5, path: Path) -> tuple[list[list[str]], np.ndarray]:
    """Activity rows as text [label, Start|Stop, rating, notes] and their (M,) finite times."""
    data = _dataset(h5, ACTIVITIES_STREAM, "data", path)
    times = _timestamps(_dataset(h5, ACTIVITIES_STREAM, "time_s", path), ACTIVITIES_STREAM, "time_s", path)
    if data.ndim != 2 or data.shape[1] < 4 or len(data) != len(times):
        raise InputError(f"stream {ACTIVITIES_STREAM}: expected (M, 4) rows and M times, "
                         f"found data {data.shape}, time_s {times.shape}", path=path)
    rows = [[v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row[:4]] for row in data]
    return rows, times


def _dataset(h5, stream: str, key: str, path: Path) -> np.ndarray:
    """The dataset ``<stream>/<key>`` read into memory; InputError naming the file and stream when absent.

    Nothing outside the file is read: a link to another file (external link), a dataset whose bytes live in
    other files (external storage) or that maps other datasets (virtual) is refused, and the declared size is
    checked against the limits (`myovision.fileio.limit`) before it is read."""
    import h5py

    if stream not in h5:
        raise InputError(f"missing stream {stream}", path=path)
    parts = f"{stream}/{key}".split("/")
    for depth in range(1, len(parts) + 1):  # every step of the path, as h5py would follow it
        name = "/".join(parts[:depth])
        parent = h5["/".join(parts[:depth - 1])] if depth > 1 else h5
        if not isinstance(parent, h5py.Group):
            break
        link = parent.get(parts[depth - 1], getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise InputError(f"{name} is an external link (to {excerpt(link.filename)}); links to other files are "
                             "refused", path=path)
    group = h5[stream]
    obj = group.get(key) if isinstance(group, h5py.Group) else None
    if not isinstance(obj, h5py.Dataset):
        raise InputError(f"stream {stream} has no {key!r} dataset", path=path)
    if obj.is_virtual or obj.external:
        raise InputError(f"{stream}/{key} is a {'virtual' if obj.is_virtual else 'external-storage'} dataset (its "
                         "data would come from other files); refused", path=path)
    check_declared_size(path, elements=obj.size, nbytes=obj.size * obj.dtype.itemsize,
                        what=f"dataset {stream}/{key} {obj.shape} declares")
    return np.asarray(obj[()])


def _timestamps(values: np.ndarray, stream: str, key: str, path: Path, *, increasing: bool = False) -> np.ndarray:
    """(N,) or (N, 1) numbers -> (N,) float64, checked finite (and non-decreasing when `increasing`)."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]  # (N, 1) -> (N,), as the real files store times
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise InputError(f"stream {stream}: {key!r} must be (N, 1) numbers, found shape {values.shape} "
                         f"dtype {values.dtype}", path=path)
    t = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad):
        raise InputError(f"stream {stream}: {len(bad)} non-finite (NaN/Inf) {key} values, first at row {bad[0]}",
                         path=path)
    back = np.flatnonzero(np.diff(t) < 0) if increasing else ()
    if len(back):
        i = int(back[0])
        raise InputError(f"stream {stream}: {key} decreases {len(back)} times, first at row {i + 1} "
                         f"({t[i + 1]:.6f} s after {t[i]:.6f} s)", path=path)
    return t


def _pair_activities(rows: list[list[str]], times: np.ndarray, drop: set[str],
                     path: Path) -> tuple[list[Activity], list[Activity]]:
    """Pair Start/Stop rows: strictly among kept rows, leniently (unmatched rows ignored) among dropped ones."""
    kept, dropped = [], []
    for dropping in (False, True):
        start: tuple[list[str], float] | None = None
        for row, t in zip(rows, times):
            if (row[2] in drop) != dropping:
                continue
            kind, t = row[1], float(t)
            if kind not in ("Start", "Stop"):
                if not dropping:
                    raise InputError(f"activity row {row} is neither Start nor Stop", path=path)
            elif kind == "Start":
                if start is not None and not dropping:
                    raise InputError(f"activity {start[0][0]!r} started at {start[1]:.3f} s has no Stop "
                                     f"before the next Start ({row[0]!r} at {t:.3f} s)", path=path)
                start = (row, t)
            elif start is None:
                if not dropping:
                    raise InputError(f"Stop of {row[0]!r} at {t:.3f} s has no Start", path=path)
            else:
                (label, _, rating, notes), t0 = start
                if t < t0 and not dropping:
                    raise InputError(f"activity {label!r} stops at {t:.3f} s, before its Start at {t0:.3f} s",
                                     path=path)
                (dropped if dropping else kept).append(Activity(label, t0, t, rating, notes))
                start = None
        if start is not None and not dropping:
            raise InputError(f"activity {start[0][0]!r} started at {start[1]:.3f} s has no Stop", path=path)
    return kept, dropped
