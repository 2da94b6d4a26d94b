"""Import the Myo armband 7-gesture data set (Côté-Allard et al. 2019) into the generic manifest format.

Source layout (``root``)::

    <Dataset>/<subject>/<session>/classe_<i>.dat     Dataset: PreTrainingDataset | EvaluationDataset
                                                     session: training0 | Test0 | Test1

Each ``.dat`` is raw little-endian int16, channel-interleaved, 8 channels at 200 Hz; file ``i`` holds
gesture ``i % 7`` of repetition (cycle) ``i // 7``. The subject folders of the two datasets are different
people, so the subject id is ``<Dataset>/<subject>``.

Output (``out``)::

    manifest.csv                                     path,label,subject,session,sample_rate,split,
                                                     channels,dataset,gesture,cycle
    skipped.csv                                      path,problem: .dat files left out (skip_bad)
    <Dataset>/<subject>/<session>/classe_<i>.npy     int16 (time, 8), the same samples
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from myovision.data.manifest import ImportResult, write_import
from myovision.data.recordings import read_recording, write_recording
from myovision.errors import InputError
from myovision.progress import progress as progress_bar

MYO_GESTURES = ("neutral", "radial_deviation", "wrist_flexion", "ulnar_deviation", "wrist_extension",
                "hand_close", "hand_open")
MYO_DATASETS = ("PreTrainingDataset", "EvaluationDataset")
MYO_CHANNELS = 8
MYO_SAMPLE_RATE = 200.0
# The published protocol: train on the first session, test on the two later ones.
MYO_SESSION_SPLITS = {"training0": "train", "Test0": "test", "Test1": "test"}
_CLASSE = re.compile(r"classe_(\d+)\.dat$")


def import_myo_armband(root: str | PathLike, out: str | PathLike, *, datasets: Iterable[str] = MYO_DATASETS,
                       subjects: Iterable[str] | None = None, split: bool = True,
                       skip_bad: bool = False, progress: bool = False) -> ImportResult:
    """Convert the Myo armband data set at `root` into `out` (int16 .npy, manifest.csv, skipped.csv).

    datasets: which of PreTrainingDataset / EvaluationDataset to import.
    subjects: only these subjects, each either ``"<Dataset>/<subject>"`` or a bare folder name such as
        ``"Male0"`` (matching it in every imported dataset); None imports all.
    split: fill the ``split`` column by session (training0 -> train, Test0/Test1 -> test: the data set's
        own protocol); False leaves it out.
    skip_bad: leave out an unreadable ``.dat`` (empty, truncated, unreadable) and list it, instead of raising.
    progress: show progress over the subjects on stderr (`myovision.progress`).

    Returns `ImportResult`: ``.manifest`` (the manifest.csv path, for `read_manifest`) and ``.skipped``
    (``(.dat path, problem)`` per file left out; also written to ``out/skipped.csv``).
    Labels are gesture names (`MYO_GESTURES`), the ``gesture`` column holds ``i % 7`` and ``cycle``
    ``i // 7``; ``sample_rate`` is 200. Files are written atomically and the manifest last, so an
    interrupted import never leaves a manifest pointing at missing files. Raises InputError naming the
    folder or file: a missing root, an unknown dataset or subject, no (usable) ``classe_*.dat`` files,
    or (without `skip_bad`) the first bad ``.dat``.
    """
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError("Myo armband data folder not found", path=root)
    datasets = tuple(datasets)
    unknown = [d for d in datasets if d not in MYO_DATASETS]
    if unknown:
        raise InputError(f"unknown datasets {unknown}; choose from {', '.join(MYO_DATASETS)}", path=root)
    subject_dirs = [s for d in datasets if (root / d).is_dir() for s in sorted((root / d).iterdir()) if s.is_dir()]
    if subjects is not None:
        wanted = set(subjects)
        chosen = [s for s in subject_dirs if s.name in wanted or f"{s.parent.name}/{s.name}" in wanted]
        found = {s.name for s in chosen} | {f"{s.parent.name}/{s.name}" for s in chosen}
        missing = sorted(w for w in wanted if w not in found)
        if missing:
            raise InputError(f"no such subjects {missing} in {', '.join(datasets)}", path=root)
        subject_dirs = chosen

    rows, skipped = [], []
    for subject_dir in progress_bar(subject_dirs, desc="importing", unit="subject", disable=not progress):
        dataset, subject = subject_dir.parent.name, f"{subject_dir.parent.name}/{subject_dir.name}"
        for session_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            files = sorted((int(m.group(1)), f) for f in session_dir.iterdir() if (m := _CLASSE.search(f.name)))
            for i, src in files:
                try:
                    data = read_recording(src, channels=MYO_CHANNELS)  # (T, 8) float32 holding the int16 values
                except InputError as e:
                    if not skip_bad:
                        raise
                    skipped.append((src, e.problem))
                    continue
                rel = Path(dataset, subject_dir.name, session_dir.name, f"classe_{i}.npy")
                write_recording(out / rel, data.astype(np.int16))
                row = {"path": rel.as_posix(), "label": MYO_GESTURES[i % 7], "subject": subject,
                       "session": session_dir.name, "sample_rate": MYO_SAMPLE_RATE}
                if split:
                    row["split"] = MYO_SESSION_SPLITS.get(session_dir.name, "")
                row.update(channels=MYO_CHANNELS, dataset=dataset, gesture=i % 7, cycle=i // 7)
                rows.append(row)
    return write_import(rows, skipped, out, nothing=f"no classe_*.dat recordings under {', '.join(datasets)}",
                        source=root)
