"""Synthetic data: real layouts, deterministic per seed, and an honest class structure."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from myovision.data import (
    SYNTHETIC_CLASSES,
    activity_emg,
    read_actionsense,
    read_manifest,
    synthetic_classes,
    write_synthetic_actionsense,
    write_synthetic_gestures,
)
from myovision.errors import InputError

SMALL = dict(n_subjects=2, n_classes=4, repeats=1, duration_s=(3.0, 4.0))


def _datasets(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_class_table_has_both_kinds_of_confusion():
    classes = synthetic_classes(10)
    assert [c.index for c in classes] == list(range(10))
    assert len({(c.muscle_pattern, c.appearance) for c in SYNTHETIC_CLASSES}) == len(SYNTHETIC_CLASSES)
    pairs = list(itertools.combinations(classes, 2))
    assert any(a.muscle_pattern == b.muscle_pattern and a.appearance != b.appearance for a, b in pairs)
    assert any(a.appearance == b.appearance and a.muscle_pattern != b.muscle_pattern for a, b in pairs)
    with pytest.raises(InputError, match=f"n_classes must be in 1..{len(SYNTHETIC_CLASSES)}, got 15"):
        synthetic_classes(len(SYNTHETIC_CLASSES) + 1)


@pytest.mark.parametrize("writer, kwargs, expected", [
    ("actionsense", dict(n_subjects=0), "n_subjects must be an integer >= 1, got 0"),
    ("actionsense", dict(repeats=2.5), "repeats must be an integer >= 1, got 2.5"),
    ("actionsense", dict(seed=-1), "seed must be an integer >= 0, got -1"),
    ("actionsense", dict(n_classes=0), "n_classes must be in 1..14, got 0"),
    ("actionsense", dict(duration_s=(5.0, 2.0)), r"duration_s must be a range \(low, high\) with 1 <= low <= high"),
    ("actionsense", dict(rest_s=(-1.0, 2.0)), r"rest_s must be a range \(low, high\) with 0 <= low <= high"),
    ("actionsense", dict(bad_fraction=-0.1), r"bad_fraction must be in \[0, 1\]"),
    ("gestures", dict(n_subjects=0), "n_subjects must be an integer >= 1, got 0"),
    ("gestures", dict(n_cycles=0), "n_cycles must be an integer >= 1, got 0"),
    ("gestures", dict(duration_s=0.5), "duration_s must be at least 1 s, got 0.5"),
])
def test_bad_arguments_are_input_errors(tmp_path: Path, writer, kwargs, expected):
    write = write_synthetic_actionsense if writer == "actionsense" else write_synthetic_gestures
    with pytest.raises(InputError, match=expected):
        write(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # nothing written


def test_deterministic_for_a_seed(tmp_path: Path):
    a = write_synthetic_actionsense(tmp_path / "a", **SMALL, seed=7)
    b = write_synthetic_actionsense(tmp_path / "b", **SMALL, seed=7)
    c = write_synthetic_actionsense(tmp_path / "c", **SMALL, seed=8)
    assert [p.name for p in a] == ["S00.hdf5", "S01.hdf5"]
    for pa, pb, pc in zip(a, b, c):
        da, db, dc = _datasets(pa), _datasets(pb), _datasets(pc)
        assert da.keys() == db.keys()
        assert all(np.array_equal(da[k], db[k]) for k in da)
        assert not np.array_equal(da["myo-left/emg/data"][:1000], dc["myo-left/emg/data"][:1000])
    assert (tmp_path / "a" / "classes.csv").read_text() == (tmp_path / "b" / "classes.csv").read_text()


def test_real_layout_details(tmp_path: Path):
    path = write_synthetic_actionsense(tmp_path, **SMALL, bad_fraction=0.5)[0]
    d = _datasets(path)
    for arm in ("left", "right"):
        x, t = d[f"myo-{arm}/emg/data"], d[f"myo-{arm}/emg/time_s"]
        assert x.ndim == 2 and x.shape[1] == 8 and t.shape == (len(x), 1)
        assert x.min() >= -128 and x.max() <= 127 and np.issubdtype(x.dtype, np.integer)
        assert t.min() > 1.6e9  # epoch seconds
        steps = np.diff(t[:, 0])
        assert (steps >= 0).all() and 0.005 < (steps == 0).mean() < 0.05  # occasional repeated stamps
        assert 160 <= (len(t) - 1) / (t[-1, 0] - t[0, 0]) <= 201
        assert d[f"myo-{arm}/emg/time_str"].shape == (len(x), 1)
    rows = d["experiment-activities/activities/data"]
    assert rows.shape[1] == 4 and rows.dtype.kind == "S"
    assert set(rows[:, 1]) == {b"Start", b"Stop"} and {b"Maybe", b"Bad"} & set(rows[:, 2])
    frames = d["eye-tracking-video-world/frame_timestamp/time_s"][:, 0]  # epoch, the EMG's clock
    assert 29 < 1 / np.median(np.diff(frames)) < 31
    assert abs(frames[0] - d["myo-left/emg/time_s"][0, 0]) < 2.0
    device = d["eye-tracking-video-world/frame_timestamp/data"][:, 0]  # the eye tracker's own clock
    assert 29 < 1 / np.median(np.diff(device)) < 31 and 0 < device[0] < 1e4
    table = pd.read_csv(tmp_path / "classes.csv")
    assert list(table.columns) == ["class_index", "label", "muscle_pattern", "appearance"] and len(table) == 4


def test_shared_muscle_patterns_look_alike_in_emg(tmp_path: Path):
    """Mean per-channel log-RMS profiles (per subject centred) correlate for classes sharing a pattern only."""
    classes = synthetic_classes(10)
    paths = write_synthetic_actionsense(tmp_path, n_subjects=2, n_classes=10, repeats=2, duration_s=(6.0, 8.0),
                                        bad_fraction=0.0, seed=1)
    profiles: dict[str, list[np.ndarray]] = {c.label: [] for c in classes}
    for path in paths:
        rec = read_actionsense(path)
        feats = []
        for act in rec.activities:
            seg = activity_emg(rec, act)
            feats.append(np.concatenate([np.log(np.sqrt(np.mean(seg[arm][0] ** 2, axis=0))) for arm in seg]))
        feats = np.array(feats) - np.mean(feats, axis=0)  # remove the subject's electrode gains
        for act, f in zip(rec.activities, feats):
            profiles[act.label].append(f)
    corr = np.corrcoef(np.array([np.mean(profiles[c.label], axis=0) for c in classes]))
    pairs = list(itertools.combinations(classes, 2))
    same = [corr[a.index, b.index] for a, b in pairs if a.muscle_pattern == b.muscle_pattern]
    diff = [corr[a.index, b.index] for a, b in pairs if a.muscle_pattern != b.muscle_pattern]
    assert len(same) >= 3
    assert min(same) > 0.9, same
    assert max(diff) < 0.8 and np.mean(diff) < 0.2, diff


def test_activity_durations_do_not_depend_on_the_class(tmp_path: Path):
    paths = write_synthetic_actionsense(tmp_path, n_subjects=1, n_classes=4, repeats=12, duration_s=(10.0, 30.0),
                                        seed=2)
    rec = read_actionsense(paths[0])
    means = [np.mean([a.duration_s for a in rec.activities if a.label == c.label]) for c in synthetic_classes(4)]
    assert max(means) - min(means) < 8.0  # all drawn from U(10, 30): sd of a 12-mean ~1.7 s


def test_synthetic_gestures(tmp_path: Path):
    manifest = write_synthetic_gestures(tmp_path / "g", n_subjects=2, n_gestures=4, n_sessions=3, n_cycles=2,
                                        duration_s=2.0, seed=0)
    m = read_manifest(manifest)
    assert len(m) == 2 * 3 * 4 * 2 and m.channels == 8 and m.skipped == []
    assert m.labels == sorted(["neutral", "radial_deviation", "wrist_flexion", "ulnar_deviation"])
    assert m.sessions == ["session0", "session1", "session2"] and m.subjects == ["s00", "s01"]
    assert dict(zip(m.records["session"], m.records["split"])) == {"session0": "train", "session1": "val",
                                                                   "session2": "test"}
    recs = m.load()
    assert all(r.data.shape == (400, 8) and r.sample_rate == 200.0 for r in recs)
    assert all(np.abs(r.data).max() <= 128 for r in recs)
    rms = {label: np.mean([np.sqrt(np.mean(r.data ** 2)) for r in recs if r.label == label]) for label in m.labels}
    assert all(rms["neutral"] < 0.5 * rms[g] for g in m.labels if g != "neutral")  # rest is quiet
    again = write_synthetic_gestures(tmp_path / "h", n_subjects=2, n_gestures=4, n_sessions=3, n_cycles=2,
                                     duration_s=2.0, seed=0)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(recs, read_manifest(again).load()))


def test_synthetic_gestures_one_session_and_many_gestures(tmp_path: Path):
    m = read_manifest(write_synthetic_gestures(tmp_path, n_subjects=1, n_gestures=9, n_sessions=1, n_cycles=3,
                                               duration_s=1.0))
    assert "gesture8" in m.labels and len(m.labels) == 9
    assert set(m.select(split="test").records["cycle"]) == {"2"}
