"""ActionSense recordings to the generic manifest format: one 16-channel recording per activity.

Both arms are resampled onto one uniform time grid covering the part of the activity where both arms
recorded (their streams keep separate, jittery, repeating timestamps), left channels first.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from myovision.data.actionsense import ActionSenseRecording, Activity, activity_emg, read_actionsense
from myovision.data.manifest import ImportResult, write_import
from myovision.data.recordings import write_recording
from myovision.errors import InputError
from myovision.signals.resample import resample_onto


def export_activities(hdf5_paths: Iterable[str | PathLike], out: str | PathLike, *, fs: float = 160.0,
                      min_duration_s: float = 1.0, labels: Iterable[str] | None = None,
                      skip_bad: bool = False) -> ImportResult:
    """Write `out/<subject>/<stem>_<index>_<label>.npy` (time, 16) float32 per kept activity, `out/manifest.csv`
    and `out/skipped.csv`.

    Manifest columns: path, label, subject, session (the file's stem), sample_rate (`fs`), start_s, stop_s.
    Activities where the arms overlap for less than `min_duration_s` (> 0) are left out silently (compare
    the manifest's size with the files' activities).
    labels: the allowed activity labels; an activity with another label is an error naming the file
        and the label (or, with `skip_bad`, is left out and listed).
    skip_bad: leave out an HDF5 file the reader rejects (missing, truncated, corrupt, NaN samples, bad
        timestamps: see `read_actionsense`) and activities with an unknown label, and list them, instead
        of raising InputError at the first one.

    Returns `ImportResult`: ``.manifest`` (the manifest.csv path, for `read_manifest`) and ``.skipped``
    (``(HDF5 path, problem)`` per file or activity left out; also written to ``out/skipped.csv``).
    The manifest is written last, so an interrupted export never leaves one that points at missing files.
    """
    out = Path(out)
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(f"sample rate fs must be a positive number of Hz, got {fs!r}")
    if not np.isfinite(min_duration_s) or min_duration_s <= 0:
        raise InputError(f"min_duration_s must be a positive number of seconds, got {min_duration_s!r}")
    allowed = None if labels is None else set(labels)
    rows, skipped = [], []
    for path in map(Path, hdf5_paths):
        try:
            rec = read_actionsense(path)
        except InputError as e:
            if not skip_bad:
                raise
            skipped.append((path, e.problem))
            continue
        for i, activity in enumerate(rec.activities):
            if allowed is not None and activity.label not in allowed:
                problem = (f"activity {i} ({activity.start_s:.3f}-{activity.stop_s:.3f} s) has unknown label "
                           f"{activity.label!r}; expected one of {sorted(allowed)}")
                if not skip_bad:
                    raise InputError(problem, path=path)
                skipped.append((path, problem))
                continue
            emg = _both_arms(rec, activity, fs, min_duration_s)
            if emg is None:
                continue
            name = "".join(c if c.isalnum() else "_" for c in activity.label.lower()).strip("_")
            file = Path(rec.subject) / f"{path.stem}_{i:03d}_{name}.npy"
            write_recording(out / file, emg)
            rows.append({"path": str(file), "label": activity.label, "subject": rec.subject,
                         "session": path.stem, "sample_rate": fs,
                         "start_s": round(activity.start_s, 3), "stop_s": round(activity.stop_s, 3)})
    return write_import(rows, skipped, out, nothing="no activity with EMG on both arms was found", source=out)


def _both_arms(rec: ActionSenseRecording, activity: Activity, fs: float, min_duration_s: float) -> np.ndarray | None:
    """(T, 16) float32: left then right arm on one grid at `fs` Hz over their overlap; None if it is too short.

    The reader guarantees finite, non-decreasing timestamps, and an overlap of `min_duration_s` > 0 gives
    each arm two distinct timestamps, so resampling cannot fail here.
    """
    arms = activity_emg(rec, activity)
    if any(len(t) < 2 for _, t in arms.values()):
        return None
    start = max(t[0] for _, t in arms.values())
    stop = min(t[-1] for _, t in arms.values())
    if stop - start < min_duration_s:
        return None
    grid = start + np.arange(int(np.floor((stop - start) * fs)) + 1) / fs  # (T,)
    return np.concatenate([resample_onto(x, t, grid) for x, t in arms.values()], axis=1).astype(np.float32)
