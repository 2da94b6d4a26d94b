"""Session files: reading, labels of windows, split YAML, whole sessions, and clear errors on bad files."""

import json

import h5py
import numpy as np
import pytest
import torch

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import WindowedSessions, collate_windows, read_session, read_split
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.errors import InputError

FS = 2000


def write_session(path, n=20000, keystrokes=None, prompts=(), left_channels=16, separate=False, right_n=None):
    """A session by hand: EMG = sample index in every channel, times from 100 s."""
    time = 100.0 + np.arange(n) / FS
    emg = np.tile(np.arange(n, dtype=np.float32)[:, None], (1, 16))
    with h5py.File(path, "w") as f:
        g = f.create_group("emg2qwerty")
        if separate:
            g["time"] = time
            g["emg_left"] = emg[:, :left_channels]
            g["emg_right"] = -emg[: right_n or n]
        else:
            dt = np.dtype([("time", "<f8"), ("emg_left", "<f4", (left_channels,)), ("emg_right", "<f4", (16,))])
            table = np.empty(n, dtype=dt)
            table["time"], table["emg_left"], table["emg_right"] = time, emg[:, :left_channels], -emg
            g["timeseries"] = table
        if keystrokes is not None:
            g.attrs["keystrokes"] = json.dumps(keystrokes)
        g.attrs["prompts"] = json.dumps(list(prompts))
        g.attrs["condition"] = "on_keyboard"
    return path


STROKES = [{"key": k, "start": t, "end": t + 0.05} for k, t in
           [("h", 100.5), ("i", 101.0), ("Key.space", 103.9995), ("Key.tab", 104.5), ("Key.shift", 104.6),
            ("T", 104.7), ("!", 105.0), ("Key.enter", 109.0)]]


def test_session_reads_emg_time_and_keystrokes(tmp_path):
    s = read_session(write_session(tmp_path / "s.hdf5", keystrokes=STROKES))
    emg = s.emg(10, 13)
    assert emg.shape == (3, 2, 16) and emg.dtype == np.float32
    assert emg[:, 0, 0].tolist() == [10, 11, 12] and emg[:, 1, 5].tolist() == [-10, -11, -12]
    assert s.text == "hi \u21e7T!\u23ce"  # Key.tab is a known key outside the set: dropped
    assert s.key_times.tolist() == [100.5, 101.0, 103.9995, 104.6, 104.7, 105.0, 109.0]


def test_separate_dataset_layout_reads_the_same(tmp_path):
    a = read_session(write_session(tmp_path / "a.hdf5", keystrokes=STROKES))
    b = read_session(write_session(tmp_path / "b.hdf5", keystrokes=STROKES, separate=True))
    np.testing.assert_array_equal(a.emg(), b.emg())


def test_window_labels_are_the_keys_pressed_inside_the_unpadded_window(tmp_path):
    path = write_session(tmp_path / "s.hdf5", keystrokes=STROKES)
    ds = WindowedSessions([path], window=8000, padding=(1800, 200), transform=torch.from_numpy)
    assert len(ds) == 2  # (20000 - 8000) // 8000 + 1
    x0, y0 = ds[0]  # samples 0..7999 = 100.0 s .. 103.9995 s, context 0..8199
    assert CHARSET.labels_to_str(y0.tolist()) == "hi "  # the space at exactly the last sample counts
    assert x0.shape == (8200, 2, 16) and x0[0, 0, 0] == 0
    x1, y1 = ds[1]  # 8000..15999 = 104.0 s .. 107.9995 s, context 6200..16199
    assert CHARSET.labels_to_str(y1.tolist()) == "\u21e7T!"
    assert x1.shape == (10000, 2, 16) and x1[0, 0, 0] == 6200 and x1[-1, 0, 0] == 16199


def test_whole_session_item_and_collate(tmp_path):
    path = write_session(tmp_path / "s.hdf5", keystrokes=STROKES)
    whole = WindowedSessions([path, path], window=None)
    x, y = whole[1]
    assert x.shape == (1 + (20000 - 64) // 16, 2, 16, 33) and len(y) == 7
    batch = collate_windows([whole[0], (x[:100], y[:3])])
    assert batch["inputs"].shape == (x.shape[0], 2, 2, 16, 33)
    assert batch["targets"].shape == (2, 7)
    assert batch["input_lengths"].tolist() == [x.shape[0], 100] and batch["target_lengths"].tolist() == [7, 3]
    assert (batch["inputs"][100:, 1] == 0).all()


def test_synthetic_sessions_and_split(tmp_path):
    paths = write_synthetic_typing(tmp_path, n_sessions=4, duration_s=15, seed=3)
    split = read_split(tmp_path / "split.yaml")
    assert split == {"train": paths[:2], "val": [paths[2]], "test": [paths[3]]}
    s = read_session(paths[0])
    assert s.n_samples == 15 * FS and s.metadata["condition"] == "on_keyboard"
    assert "\u23ce" in s.text and s.key_times.min() > s.time[0] + 1.0
    again = write_synthetic_typing(tmp_path / "again", n_sessions=4, duration_s=15, seed=3)
    np.testing.assert_array_equal(read_session(again[0]).emg(), s.emg())  # seeded
    assert read_session(paths[1]).text != s.text  # each session types its own prompts


def test_synth_command_shows_progress(tmp_path, capsys):
    from myovision.cli import main

    assert main(["typing", "synth", "--out", str(tmp_path), "--sessions", "2", "--duration", "15"]) == 0
    out, err = capsys.readouterr()
    assert "wrote 2 sessions" in out and err.startswith("synthesising sessions: 2/2 session")


def test_split_accepts_top_level_lists_and_plain_names(tmp_path):
    write_session(tmp_path / "a.hdf5", keystrokes=STROKES)
    (tmp_path / "split.yaml").write_text("train: [a]\ntest:\n  - session: a\n")
    assert read_split(tmp_path / "split.yaml") == {"train": [tmp_path / "a.hdf5"], "val": [],
                                                   "test": [tmp_path / "a.hdf5"]}


@pytest.mark.parametrize("text, problem", [
    ("train: [missing]\n", "'missing' of 'train' not found"),
    ("just text\n", "expected a mapping"),
    ("other: [a]\n", "expected lists under"),
    ("train: [a\n", "not valid YAML"),
    ("train: {a: 1}\n", "must be a list"),
])
def test_bad_split_files(tmp_path, text, problem):
    write_session(tmp_path / "a.hdf5", keystrokes=STROKES)
    (tmp_path / "split.yaml").write_text(text)
    with pytest.raises(InputError, match=problem) as exc:
        read_split(tmp_path / "split.yaml")
    assert exc.value.path == str(tmp_path / "split.yaml")


@pytest.mark.parametrize("kwargs, problem", [
    ({"keystrokes": []}, "no keystrokes"),
    ({}, "no 'keystrokes' attribute"),
    ({"keystrokes": STROKES, "separate": True, "right_n": 19000}, "differ in length: 20000, 19000"),
    ({"keystrokes": STROKES, "left_channels": 8}, "expected 16 channels per band"),
    ({"keystrokes": [{"key": "Key.warp", "start": 100.2}]}, "unknown key name 'Key.warp'"),
    ({"keystrokes": [{"key": "a"}]}, "keystroke 0 must be an object"),
])
def test_bad_sessions_are_input_errors_naming_the_file(tmp_path, kwargs, problem):
    path = write_session(tmp_path / "bad.hdf5", **kwargs)
    with pytest.raises(InputError, match=problem) as exc:
        read_session(path)
    assert exc.value.path == str(path)


def test_not_hdf5_and_missing_group(tmp_path):
    (tmp_path / "x.hdf5").write_text("hello")
    with pytest.raises(InputError, match="not a readable HDF5"):
        read_session(tmp_path / "x.hdf5")
    with h5py.File(tmp_path / "y.hdf5", "w") as f:
        f.create_group("other")
    with pytest.raises(InputError, match="no 'emg2qwerty' group"):
        read_session(tmp_path / "y.hdf5")


def test_nan_samples_are_reported_with_rows(tmp_path):
    path = write_session(tmp_path / "s.hdf5", keystrokes=STROKES)
    with h5py.File(path, "r+") as f:
        rows = f["emg2qwerty/timeseries"][:]
        rows["emg_right"][7, 3] = np.nan
        f["emg2qwerty/timeseries"][...] = rows
    with pytest.raises(InputError, match=r"rows \[7\]"):
        read_session(path).emg()


def _non_utf8_keystrokes(group):
    del group.attrs["keystrokes"]
    group.attrs["keystrokes"] = np.bytes_(b'[{"key": "\xff\xfe", "start": 100.5}]')


def _non_utf8_string_keystrokes(group):
    del group.attrs["keystrokes"]
    group.attrs.create("keystrokes", b'[{"key": "\xff", "start": 100.5}]', dtype=h5py.string_dtype("utf-8"))


@pytest.mark.parametrize("n, strokes, change, problem", [
    (20000, STROKES, _non_utf8_keystrokes, "attribute 'keystrokes' is not UTF-8 text"),
    (20000, STROKES, _non_utf8_string_keystrokes, "attribute 'keystrokes' is not UTF-8 text"),
    (100, STROKES, None, r"session has 100 samples, fewer than one 4 s window \(8000 samples"),
    (20000, [*STROKES[:3], {"key": "a", "start": float("nan")}], None, "keystroke 3 has key-down time nan"),
    (20000, [*STROKES[:3], {"key": "a", "start": 1e400}], None, "keystroke 3 has key-down time inf"),
    (20000, [STROKES[1], STROKES[0]], None, r"keystroke 1 goes down at 100.5 s, before keystroke 0 \(101.0 s\)"),
])
def test_bad_keystrokes_and_short_sessions_are_one_line(tmp_path, n, strokes, change, problem):
    path = write_session(tmp_path / "bad.hdf5", n=n, keystrokes=strokes)
    if change is not None:
        with h5py.File(path, "r+") as f:
            change(f["emg2qwerty"])
    with pytest.raises(InputError, match=problem) as exc:
        read_session(path)
    assert exc.value.path == str(path) and "\n" not in str(exc.value)
