"""ActionSense recordings to the generic manifest format: one 16-channel recording per activity.

Both arms are resampled onto one uniform time grid covering the part of the activity where both arms
recorded (their streams keep separate, jittery, repeating timestamps), left channels first.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from myovision.data.actionsense import activity_emg, read_actionsense
from myovision.data.manifest import write_manifest
from myovision.data.recordings import write_recording
from myovision.errors import InputError
from myovision.signals.resample import resample_onto


def export_activities(hdf5_paths: Iterable[str | PathLike], out: str | PathLike, *, fs: float = 160.0,
                      min_duration_s: float = 1.0) -> Path:
    """Write `out/<subject>/<index>_<label>.npy` (time, 16) per kept activity and `out/manifest.csv`.

    Manifest columns: path, label, subject, session (the file's stem), sample_rate (`fs`), start_s, stop_s.
    Activities where the arms overlap for less than `min_duration_s` are left out (and counted on stdout
    by the caller via the returned manifest's size). The manifest is written last, so an interrupted
    export never leaves one that points at missing files.
    """
    out = Path(out)
    rows = []
    for path in hdf5_paths:
        rec = read_actionsense(path)
        for i, activity in enumerate(rec.activities):
            arms = activity_emg(rec, activity)
            if any(len(t) < 2 for _, t in arms.values()):
                continue
            start = max(t[0] for _, t in arms.values())
            stop = min(t[-1] for _, t in arms.values())
            if stop - start < min_duration_s:
                continue
            grid = start + np.arange(int(np.floor((stop - start) * fs)) + 1) / fs
            emg = np.concatenate([resample_onto(x, t, grid) for x, t in arms.values()], axis=1)  # (T, 16)
            name = "".join(c if c.isalnum() else "_" for c in activity.label.lower()).strip("_")
            file = Path(rec.subject) / f"{Path(path).stem}_{i:03d}_{name}.npy"
            write_recording(out / file, emg.astype(np.float32))
            rows.append({"path": str(file), "label": activity.label, "subject": rec.subject,
                         "session": Path(path).stem, "sample_rate": fs,
                         "start_s": round(activity.start_s, 3), "stop_s": round(activity.stop_s, 3)})
    if not rows:
        raise InputError("no activity with EMG on both arms was found", out)
    return write_manifest(rows, out / "manifest.csv")
