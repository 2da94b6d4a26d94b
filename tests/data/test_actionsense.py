"""ActionSense: the HDF5 reader (on synthetic and hand-made files), damaged files, the real segments."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from myovision.data import (
    Activity,
    activity_emg,
    frame_times,
    load_emg_segments,
    read_actionsense,
    write_synthetic_actionsense,
)
from myovision.errors import InputError


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("actionsense")
    return write_synthetic_actionsense(out, n_subjects=1, n_classes=5, repeats=2, duration_s=(4.0, 6.0),
                                       bad_fraction=0.4, seed=3)[0]


def _write_minimal(path: Path, rows: list[tuple[str, str, str]], times: list[float], *, arms=("left", "right"),
                   frames: bool = False) -> Path:
    """A hand-made file in the real layout: 10 s of EMG at 200 Hz from t=1000 s, activity rows as given.

    frames: add a 30 fps world-camera stream holding only ``data`` (times from 1000 s).
    """
    with h5py.File(path, "w") as h5:
        t = 1000.0 + np.arange(2000) / 200.0
        for arm in arms:
            h5.create_dataset(f"myo-{arm}/emg/data", data=np.ones((2000, 8), dtype=np.int32))
            h5.create_dataset(f"myo-{arm}/emg/time_s", data=t[:, None])
        data = np.array([[label.encode(), kind.encode(), rating.encode(), b""] for label, kind, rating in rows])
        h5.create_dataset("experiment-activities/activities/data", data=data.reshape(-1, 4))
        h5.create_dataset("experiment-activities/activities/time_s", data=np.array(times)[:, None])
        if frames:
            h5.create_dataset("eye-tracking-video-world/frame_timestamp/data",
                              data=(1000.0 + np.arange(300) / 30.0)[:, None])
    return path


def test_synthetic_file_is_read(synthetic_file: Path):
    rec = read_actionsense(synthetic_file)
    assert rec.subject == "S00" and rec.left.emg.shape[1] == 8 and rec.right.emg.shape[1] == 8
    assert rec.left.emg.dtype == np.float32 and rec.left.time_s.dtype == np.float64
    assert len(rec.left.emg) != len(rec.right.emg)  # the arms keep their own clocks
    assert len(rec.activities) == 5 * 2 and all(a.rating == "Good" for a in rec.activities)
    assert sorted({a.label for a in rec.activities}) == rec.labels and len(rec.labels) == 5
    assert rec.frame_timestamps is not None and 29 < 1 / np.median(np.diff(rec.frame_timestamps)) < 31


def test_frame_times_are_on_the_emg_clock(synthetic_file: Path):
    """The frame stream's time_s is the EMG's epoch clock; its data (the eye tracker's clock) is not."""
    rec = read_actionsense(synthetic_file)
    with h5py.File(synthetic_file) as h5:
        device_clock = h5["eye-tracking-video-world/frame_timestamp/data"][:, 0]
    first, last = frame_times(rec, [0, len(rec.frame_timestamps) - 1])
    assert abs(first - rec.left.time_s[0]) < 2.0 and abs(last - rec.left.time_s[-1]) < 2.0
    assert abs(frame_times(rec, [0])[0] - device_clock[0]) > 1e6
    act = rec.activities[0]
    inside = (rec.frame_timestamps >= act.start_s) & (rec.frame_timestamps <= act.stop_s)
    assert 29 * act.duration_s < inside.sum() < 31 * act.duration_s + 1


def test_frame_times_prefer_time_s_over_data(tmp_path: Path):
    path = _write_minimal(tmp_path / "S08.hdf5", [("A", "Start", "Good"), ("A", "Stop", "Good")], [1001, 1002],
                          frames=True)
    with h5py.File(path, "a") as h5:  # data: seconds since the tracker started; time_s: epoch receipt times
        h5["eye-tracking-video-world/frame_timestamp/data"][...] -= 990.0
        h5.create_dataset("eye-tracking-video-world/frame_timestamp/time_s",
                          data=(1000.02 + np.arange(300) / 30.0)[:, None])
    np.testing.assert_allclose(frame_times(read_actionsense(path), [0, 30]), [1000.02, 1001.02])


def test_maybe_and_bad_activities_are_dropped(synthetic_file: Path):
    with h5py.File(synthetic_file) as h5:
        rows = np.asarray(h5["experiment-activities/activities/data"])
    ratings = [r[2].decode() for r in rows[::2]]
    assert {"Maybe", "Bad"} & set(ratings), "the synthetic file should hold some Maybe/Bad activities"
    rec = read_actionsense(synthetic_file)
    assert len(rec.dropped) == sum(r != "Good" for r in ratings)
    assert {a.rating for a in rec.dropped} <= {"Maybe", "Bad"} and all(a.notes for a in rec.dropped)
    assert len(read_actionsense(synthetic_file, drop_ratings=()).activities) == len(ratings)


def test_activity_emg_lies_inside_the_activity(synthetic_file: Path):
    rec = read_actionsense(synthetic_file)
    for act in rec.activities:
        segment = activity_emg(rec, act)
        assert set(segment) == {"left", "right"}
        for arm, (x, t) in segment.items():
            assert x.shape == (len(t), 8) and 0.9 * 160 * act.duration_s < len(t) < 1.1 * 200 * act.duration_s
            assert act.start_s <= t.min() and t.max() <= act.stop_s
            outside = rec.arms[arm].time_s
            n_inside = ((outside >= act.start_s) & (outside <= act.stop_s)).sum()
            assert n_inside == len(t)


def test_hand_made_activities(tmp_path: Path):
    rows = [("A", "Start", "Good"), ("A", "Stop", "Good"), ("B", "Start", "Bad"), ("B", "Stop", "Bad"),
            ("C", "Start", "Maybe"), ("C", "Stop", "Maybe"), ("D", "Start", "Good"), ("D", "Stop", "Good")]
    path = _write_minimal(tmp_path / "S09.hdf5", rows, [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1009.5],
                          frames=True)
    rec = read_actionsense(path)
    assert rec.activities == [Activity("A", 1001.0, 1002.0, "Good", ""), Activity("D", 1007.0, 1009.5, "Good", "")]
    assert [a.label for a in rec.dropped] == ["B", "C"]
    x, t = activity_emg(rec, rec.activities[1])["left"]
    assert len(x) == 501 and t[0] == 1007.0 and t[-1] == 1009.5
    np.testing.assert_allclose(frame_times(rec, [0, 30]), [1000.0, 1001.0])  # no time_s: falls back to data
    with pytest.raises(InputError, match="frame index out of range"):
        frame_times(rec, [300])


@pytest.mark.parametrize("rows, times, expected", [
    ([("A", "Start", "Good"), ("B", "Start", "Good"), ("B", "Stop", "Good")], [1, 2, 3],
     "'A' started at 1.000 s has no Stop before the next Start"),
    ([("A", "Stop", "Good")], [1], "Stop of 'A' at 1.000 s has no Start"),
    ([("A", "Start", "Good"), ("A", "Stop", "Good"), ("C", "Start", "Good")], [1, 2, 3],
     "'C' started at 3.000 s has no Stop"),
])
def test_unmatched_start_stop(tmp_path: Path, rows, times, expected):
    path = _write_minimal(tmp_path / "S01.hdf5", rows, times)
    with pytest.raises(InputError, match=f"S01.hdf5: .*{expected}"):
        read_actionsense(path)


def test_stop_before_start(tmp_path: Path):
    path = _write_minimal(tmp_path / "S01.hdf5", [("A", "Start", "Good"), ("A", "Stop", "Good")], [5, 2])
    with pytest.raises(InputError, match="S01.hdf5: activity 'A' stops at 2.000 s, before its Start at 5.000 s"):
        read_actionsense(path)


def _replace(path: Path, name: str, data: np.ndarray) -> Path:
    with h5py.File(path, "a") as h5:
        del h5[name]
        h5.create_dataset(name, data=data)
    return path


_T = 1000.0 + np.arange(2000) / 200.0


@pytest.mark.parametrize("name, data, expected", [
    ("myo-left/emg/data", np.ones((2000, 7)),
     r"stream myo-left/emg: wrong channel count: 7 channels, expected 8"),
    ("myo-right/emg/data", np.where(np.arange(16000).reshape(2000, 8) == 5 * 8 + 3, np.nan, 1.0),
     r"stream myo-right/emg: 1 NaN samples at rows \[5\] in channels \[3\]"),
    ("myo-left/emg/data", np.where(np.arange(16000).reshape(2000, 8) >= 16000 - 2, np.inf, 1.0),
     r"stream myo-left/emg: 2 Inf samples at rows \[1999\] in channels \[6, 7\]"),
    ("myo-left/emg/data", np.full((2000, 8), b"x"), r"stream myo-left/emg: samples must be numbers"),
    ("myo-left/emg/data", np.ones((1999, 8)), r"stream myo-left/emg: data \(1999, 8\) does not match time_s"),
    ("myo-left/emg/time_s", np.where(np.arange(2000) == 7, np.nan, _T)[:, None],
     r"stream myo-left/emg: 1 non-finite \(NaN/Inf\) time_s values, first at row 7"),
    ("myo-right/emg/time_s", np.where(np.arange(2000) == 10, 1000.0, _T)[:, None],
     r"stream myo-right/emg: time_s decreases 1 times, first at row 10 \(1000.000000 s after 1000.045000 s\)"),
    ("myo-left/emg/time_s", np.stack([_T, _T], axis=1), r"stream myo-left/emg: 'time_s' must be \(N, 1\) numbers"),
    ("experiment-activities/activities/time_s", np.array([[1001.0], [np.inf]]),
     r"stream experiment-activities/activities: 1 non-finite \(NaN/Inf\) time_s values, first at row 1"),
])
def test_broken_streams_name_the_file_and_stream(tmp_path: Path, name, data, expected):
    path = _write_minimal(tmp_path / "S03.hdf5", [("A", "Start", "Good"), ("A", "Stop", "Good")], [1001, 1002])
    with pytest.raises(InputError, match=f"S03.hdf5: {expected}"):
        read_actionsense(_replace(path, name, data))


def test_broken_frame_stream_names_the_file(tmp_path: Path):
    path = _write_minimal(tmp_path / "S04.hdf5", [("A", "Start", "Good"), ("A", "Stop", "Good")], [1001, 1002],
                          frames=True)
    _replace(path, "eye-tracking-video-world/frame_timestamp/data", np.array([[1000.0], [np.nan]]))
    with pytest.raises(InputError, match="S04.hdf5: stream eye-tracking-video-world/frame_timestamp: 1 non-finite"):
        read_actionsense(path)
    with h5py.File(path, "a") as h5:
        del h5["eye-tracking-video-world/frame_timestamp/data"]
    with pytest.raises(InputError, match="S04.hdf5: stream eye-tracking-video-world/frame_timestamp has no 'data'"):
        read_actionsense(path)


def test_unmatched_rows_of_dropped_activities_are_ignored(tmp_path: Path):
    rows = [("A", "Start", "Bad"), ("B", "Start", "Good"), ("B", "Stop", "Good")]
    rec = read_actionsense(_write_minimal(tmp_path / "S01.hdf5", rows, [1, 2, 3]))
    assert [a.label for a in rec.activities] == ["B"] and rec.dropped == []


def test_missing_streams(tmp_path: Path):
    path = _write_minimal(tmp_path / "S02.hdf5", [("A", "Start", "Good"), ("A", "Stop", "Good")], [1, 2],
                          arms=("left",))
    with pytest.raises(InputError, match="S02.hdf5: missing stream myo-right/emg"):
        read_actionsense(path)
    assert read_actionsense(path, arms=["left"]).frame_timestamps is None
    with h5py.File(path, "a") as h5:
        del h5["experiment-activities"]
    with pytest.raises(InputError, match="S02.hdf5: missing stream experiment-activities/activities"):
        read_actionsense(path, arms=["left"])


def test_truncated_and_corrupt_hdf5(synthetic_file: Path, tmp_path: Path):
    data = synthetic_file.read_bytes()
    cut = tmp_path / "S05_truncated.hdf5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="S05_truncated.hdf5: unreadable HDF5 file, truncated or corrupt"):
        read_actionsense(cut)
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(InputError, match="junk.hdf5: unreadable HDF5"):
        read_actionsense(junk)
    with pytest.raises(InputError, match="missing.hdf5: file not found"):
        read_actionsense(tmp_path / "missing.hdf5")


@pytest.mark.real
def test_real_emg_segments(shared_data: Path):
    X, labels, verb_class, subjects = load_emg_segments(shared_data / "actionsense" / "emg_segments")
    assert X.shape == (2780, 374, 16) and X.dtype == np.float32
    assert labels.shape == verb_class.shape == subjects.shape == (2780,)
    assert labels.dtype.kind == "U" and verb_class.dtype == np.int64
    assert sorted(set(subjects)) == ["S00", "S01", "S02", "S03", "S05", "S06", "S07"]
    assert np.isfinite(X).all() and np.abs(X).max() <= 1.0 + 1e-6
    assert len(set(verb_class)) <= 21
    # one label text per verb class
    assert all(len(set(labels[verb_class == v])) == 1 for v in set(verb_class))
    s02 = load_emg_segments(shared_data / "actionsense" / "emg_segments", subjects=["S02"])
    assert len(s02.X) == 200 + 120 + 200 and set(s02.subjects) == {"S02"}


def test_segment_files_without_pickle(tmp_path: Path):
    np.savez(tmp_path / "S01.npz", emg=np.zeros((2, 374, 16), np.float32), label=np.array(["a", "b"]),
             verb_class=np.array([0, 1]))
    np.savez(tmp_path / "S02_1.npz", emg=np.zeros((1, 374, 16), np.float32), label=np.array(["a"]),
             verb_class=np.array([0]))
    seg = load_emg_segments(tmp_path)
    assert seg.X.shape == (3, 374, 16) and list(seg.subjects) == ["S01", "S01", "S02"]
    np.savez(tmp_path / "S03.npz", emg=np.zeros((1, 374, 16), np.float32), label=np.array(["a"], dtype=object),
             verb_class=np.array([0]))
    with pytest.raises(InputError, match="S03.npz: an array holds Python objects"):
        load_emg_segments(tmp_path)
    np.savez(tmp_path / "S03.npz", emg=np.zeros((1, 374, 16), np.float32), verb_class=np.array([0]))
    with pytest.raises(InputError, match=r"S03.npz: missing arrays \['label'\]"):
        load_emg_segments(tmp_path)
    np.savez(tmp_path / "S03.npz", emg=np.zeros((1, 300, 16), np.float32), label=np.array(["a"]),
             verb_class=np.array([0]))
    with pytest.raises(InputError, match=r"S03.npz: segments of shape \(300, 16\)"):
        load_emg_segments(tmp_path)
    with pytest.raises(InputError, match="no <subject>.npz segment files"):
        load_emg_segments(tmp_path, subjects=["S09"])


@pytest.mark.parametrize("arrays, expected", [
    (dict(emg=np.where(np.arange(16).reshape(1, 2, 8) == 11, np.nan, 0.0), label=np.array(["a"]),
          verb_class=np.array([0])), "1 NaN/Inf emg samples, first in segment 0 at row 1, channel 3"),
    (dict(emg=np.zeros((1, 2, 8)), label=np.array(["a"]), verb_class=np.array([0.5])),
     "emg must hold numbers and verb_class integers"),
    (dict(emg=np.full((1, 2, 8), "x"), label=np.array(["a"]), verb_class=np.array([0])),
     "emg must hold numbers and verb_class integers"),
])
def test_bad_segment_contents(tmp_path: Path, arrays, expected):
    np.savez(tmp_path / "S01.npz", **arrays)
    with pytest.raises(InputError, match=f"S01.npz: {expected}"):
        load_emg_segments(tmp_path)


def test_truncated_segment_file(tmp_path: Path):
    np.savez(tmp_path / "S01.npz", emg=np.zeros((4, 374, 16), np.float32), label=np.array(["a"] * 4),
             verb_class=np.zeros(4, int))
    data = (tmp_path / "S01.npz").read_bytes()
    (tmp_path / "S01.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="S01.npz: not a readable .npz file, truncated or corrupt"):
        load_emg_segments(tmp_path)
