"""ActionSense -> sub-action samples: the authors' window rule, whole-activity preprocessing, mels, npz, skips,
tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myovision.data import Activity, ArmEMG, activity_emg, read_actionsense, write_synthetic_actionsense
from myovision.data.actionsense_samples import (
    SubActionSamples,
    actionsense_samples,
    read_authors_split,
    read_subaction_table,
    read_subaction_tables,
    samples_from_recordings,
    subaction_windows,
)
from myovision.errors import InputError
from myovision.signals import interpolate_to_length, mel_spectrogram, preprocess, split_clips


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("as_samples")
    return write_synthetic_actionsense(out, n_subjects=2, n_classes=3, repeats=1, duration_s=(20.0, 25.0),
                                       bad_fraction=0.0, seed=5)


def _with_activities(rec, spec: list[tuple[str, int, int]]):
    """The recording with activities covering exactly `n` world-camera frames from frame `k`: [(label, k, n)]."""
    ft = rec.frame_timestamps
    acts = [Activity(label, float(ft[k]) - 0.005, float(ft[k + n - 1]) + 0.005) for label, k, n in spec]
    return dataclasses.replace(rec, activities=acts)


@pytest.fixture(scope="module")
def rec(files):
    rec = read_actionsense(files[0])
    k0 = int(np.searchsorted(rec.frame_timestamps, rec.left.time_s[0] + 2.0))
    return _with_activities(rec, [("a", k0, 460), ("b", k0 + 500, 450), ("a", k0 + 1000, 100)])


@pytest.mark.parametrize(("n", "keep_short", "count"), [(460, True, 3), (450, True, 2), (451, True, 3),
                                                        (150, True, 0), (151, True, 1), (100, True, 1),
                                                        (100, False, 0), (0, True, 0), (1, True, 1)])
def test_window_rule_drops_even_an_exact_fit_tail(n, keep_short, count):
    windows = subaction_windows(n, 150, keep_short=keep_short)
    assert len(windows) == count
    assert all(b - a == min(150, n) for a, b in windows)
    assert all(w[1] == nxt[0] for w, nxt in zip(windows, windows[1:]))  # consecutive, non-overlapping


def test_counts_shapes_and_times(rec):
    s, skipped = actionsense_samples(rec)
    assert skipped == []
    assert s.activity_index.tolist() == [0, 0, 0, 1, 1, 2]  # 460 -> 3, 450 -> 2, 100 -> 1 whole
    assert s.uid.tolist() == [f"{rec.subject}_{k:03d}" for k in range(1, 7)]
    assert s.label.tolist() == ["a"] * 3 + ["b"] * 2 + ["a"] and s.label_index.tolist() == [0] * 3 + [1] * 2 + [0]
    assert s.emg.shape == (6, 800, 16) and s.emg.dtype == np.float32
    assert s.emg_clips.shape == (6, 5, 160, 16) and np.shares_memory(s.emg_clips, s.emg)
    assert s.mel_clips.shape == (6, 5, 16, 10, 81) and s.mel.shape == (6, 16, 10, 201)
    ft = rec.frame_timestamps
    k0 = int(np.flatnonzero(ft >= rec.activities[0].start_s)[0])
    assert s.start_s[1] == ft[k0 + 150] and s.stop_s[1] == ft[k0 + 299]  # first and last frame of window 2
    assert np.allclose(s.stop_s[:5] - s.start_s[:5], 149 / 30, rtol=0.03)
    assert np.isclose(s.stop_s[5] - s.start_s[5], 99 / 30, rtol=0.03)
    assert s.groups.tolist() == [f"{rec.subject}/{a}" for a in (0, 0, 0, 1, 1, 2)]


def test_preprocessing_runs_on_the_whole_activity(rec):
    s, _ = actionsense_samples(rec)
    i = 1  # the second sub-action of activity 0
    parts, local, raw = [], [], []
    for arm, (x, t) in activity_emg(rec, rec.activities[0]).items():
        mask = (t >= s.start_s[i]) & (t <= s.stop_s[i])
        y = preprocess(x.astype(np.float64), 160, preset="authors-code")  # whole activity first
        parts.append(interpolate_to_length(y[mask], 800))
        raw.append(interpolate_to_length(x[mask].astype(np.float64), 800))  # the raw row: resampled only
        local.append(interpolate_to_length(preprocess(x[mask].astype(np.float64), 160, preset="authors-code"), 800))
    expected = np.concatenate(parts, axis=1)  # (800, 16): left then right
    np.testing.assert_allclose(s.emg[i], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(np.concatenate(local, axis=1) - expected).max() > 1e-2  # preprocessing the window alone differs
    np.testing.assert_allclose(s.emg_raw[i], np.concatenate(raw, axis=1), rtol=1e-5, atol=1e-4)
    assert s.emg_raw_clips.shape == (6, 5, 160, 16) and np.shares_memory(s.emg_raw_clips, s.emg_raw)
    assert np.abs(s.emg_raw[i] - s.emg[i]).max() > 1.0  # raw Myo units, not the preprocessed [0, 1] signal
    # the mels are those of the clips and of the whole sub-action, with the authors' settings
    clips = split_clips(expected, 5)  # (5, 160, 16)
    mel_c = mel_spectrogram(clips, fs=160, n_mels=10, n_fft=16, hop_length=2, f_max=80, normalized=True)
    mel_a = mel_spectrogram(expected, fs=160, n_mels=10, n_fft=32, hop_length=4, f_max=80, normalized=True)
    np.testing.assert_allclose(s.mel_clips[i], mel_c, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(s.mel[i], mel_a, rtol=1e-4, atol=1e-6)


def test_other_settings_are_used(rec):
    s, _ = actionsense_samples(rec, preset="paper", window_frames=200, keep_short=False, length=400, n_clips=4)
    assert s.activity_index.tolist() == [0, 0, 1, 1]  # 460 -> 2, 450 -> 2, 100 dropped
    assert s.emg.shape == (4, 400, 16) and s.emg_clips.shape == (4, 4, 100, 16)
    assert s.mel_clips.shape == (4, 4, 16, 10, 51) and s.mel.shape == (4, 16, 10, 101)
    with pytest.raises(InputError, match="preset"):
        actionsense_samples(rec, preset="nope")
    with pytest.raises(InputError, match="keyword"):
        actionsense_samples(rec, rms=3)
    with pytest.raises(InputError, match="different settings"):
        SubActionSamples.concat([s, actionsense_samples(rec)[0]])


def test_npz_round_trip_and_damaged_files(rec, tmp_path):
    s, _ = actionsense_samples(rec)
    path = s.save(tmp_path / "samples.npz")
    back = SubActionSamples.load(path)
    for f in dataclasses.fields(SubActionSamples):
        np.testing.assert_array_equal(getattr(back, f.name), getattr(s, f.name))
    assert back.uid.dtype.kind == "U" and back.label.dtype.kind == "U"
    with np.load(path, allow_pickle=False) as npz:
        assert "emg" in npz.files
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind
    sub = back.select(back.activity_index == 1)
    assert len(sub) == 2 and len(SubActionSamples.concat([sub, back.select([0])])) == 3
    with pytest.raises(InputError, match="uids repeat"):
        SubActionSamples.concat([sub, sub])
    (tmp_path / "bad.npz").write_bytes(path.read_bytes()[:500])
    with pytest.raises(InputError, match="bad.npz"):
        SubActionSamples.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", uid=np.array(["x"]))
    with pytest.raises(InputError, match="missing arrays"):
        SubActionSamples.load(tmp_path / "partial.npz")
    with pytest.raises(InputError, match="not found"):
        SubActionSamples.load(tmp_path / "absent.npz")


def test_sub_actions_without_emg_are_skipped_and_reported(rec):
    s0, _ = actionsense_samples(rec)
    left = rec.left
    gap = (left.time_s > s0.start_s[4] - 0.1) & (left.time_s < s0.stop_s[4] + 0.1)  # no left EMG in sub-action 5
    holed = dataclasses.replace(rec, arms={**rec.arms, "left": ArmEMG(left.emg[~gap], left.time_s[~gap])})
    ft = rec.frame_timestamps
    k = int(np.searchsorted(ft, rec.activities[2].stop_s)) + 30
    tiny = dataclasses.replace(holed, activities=[*holed.activities, Activity("b", ft[k] - 0.005, ft[k + 4] + 0.005)])
    s, skipped = actionsense_samples(tiny)
    assert s.uid.tolist() == ["S00_001", "S00_002", "S00_003", "S00_004", "S00_006"]
    reasons = dict(skipped)
    assert set(reasons) == {"S00_005", "S00_007"}
    assert "0 EMG samples on the left arm" in reasons["S00_005"]
    assert "cannot be preprocessed" in reasons["S00_007"]  # 5 frames: fewer samples than the RMS window


def test_sub_action_table_gives_the_windows(rec):
    ft = rec.frame_timestamps
    k0 = int(np.flatnonzero(ft >= rec.activities[1].start_s)[0])
    table = pd.DataFrame({"uid": [1, 2, 3], "video_id": ["S00_001", "S00_002", "S00_003"],
                          "narration": ["b", "b", "a"], "start_frame": [k0, k0 + 150, k0 - 35],
                          "stop_frame": [k0 + 149, k0 + 299, k0 - 5], "verb": [7, 7, 3], "verb_class": [7, 7, 3]})
    s, skipped = actionsense_samples(rec, subactions=table)
    assert s.uid.tolist() == ["S00_001", "S00_002"] and s.label_index.tolist() == [7, 7]
    assert s.activity_index.tolist() == [1, 1] and s.start_s[1] == ft[k0 + 150]
    assert skipped == [("S00_003", "not inside any kept activity")]
    auto, _ = actionsense_samples(rec)
    np.testing.assert_allclose(s.emg, auto.emg[3:5])  # the same windows as the automatic split
    s2, _ = actionsense_samples(rec, subactions=table, classes=["a", "b"])
    assert s2.label_index.tolist() == [1, 1]


def test_several_recordings_share_one_class_index(files):
    s, skipped = samples_from_recordings(files)
    assert set(s.subject.tolist()) == {"S00", "S01"} and len(set(s.uid.tolist())) == len(s)
    assert skipped == []
    pairs = set(zip(s.label.tolist(), s.label_index.tolist()))
    assert len(pairs) == 3 and sorted(i for _, i in pairs) == [0, 1, 2]


def test_bad_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "S09.hdf5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(InputError, match="S09.hdf5"):
        actionsense_samples(bad)
    table = tmp_path / "subactions_S00.csv"
    table.write_text("uid,video_id,narration,start_frame,stop_frame,verb,verb_class\n1,S00_001,a,10,5,0,0\n")
    with pytest.raises(InputError, match="subactions_S00.csv.*stop before"):
        read_subaction_table(table)


def test_authors_split_and_subaction_tables(shared_data):
    folder = shared_data / "actionsense"
    train, test = read_authors_split(folder)
    assert (len(train), len(test)) == (799, 343)
    assert set(train.uid) | set(test.uid) == set(range(1142)) and not set(train.uid) & set(test.uid)
    both = pd.concat([train, test])
    assert both.verb_class.nunique() == 20 and both.label.nunique() == 20
    assert (both.groupby("label").verb_class.nunique() == 1).all()  # one class per label
    tables = read_subaction_tables(folder)
    assert tables.groupby("subject").size().to_dict() == {"S04": 365, "S07": 384, "S08": 393}
    frames = tables.stop_frame - tables.start_frame + 1
    assert frames.max() == 150 and (frames == 150).mean() > 0.95  # 5-s windows; short activities kept whole
    merged = both.merge(tables, left_on="uid", right_on="global_uid")
    assert len(merged) == 1142 and (merged.label == merged.narration).all()
    assert (merged.verb_class_x == merged.verb_class_y).all()
