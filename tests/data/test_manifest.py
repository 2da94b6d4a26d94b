"""manifest.csv: reading, iterating, selecting, writing, and every bad-input case (raise or skip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myovision.data import Manifest, Recording, read_manifest, read_recording, write_manifest, write_recording
from myovision.errors import InputError


def _make(root: Path, n_subjects: int = 2, channels: int = 8, split: bool = True) -> Path:
    """A small valid data set: 2 labels x n_subjects x 2 sessions, mixed formats."""
    rng = np.random.default_rng(0)
    rows = []
    formats = [".npy", ".csv", ".npz", ".txt", ".dat"]
    for s in range(n_subjects):
        for k, session in enumerate(("day1", "day2")):
            for j, label in enumerate(("rest", "fist")):
                suffix = formats[len(rows) % len(formats)]  # row 4 is the .dat
                rel = f"s{s}/{session}/{label}{suffix}"
                write_recording(root / rel, rng.integers(-100, 100, size=(40 + j, channels)))
                row = {"path": rel, "label": label, "subject": f"s{s}", "session": session, "sample_rate": 200,
                       "channels": channels if suffix == ".dat" else None, "note": f"n{s}{k}{j}"}
                if split:
                    row["split"] = "test" if session == "day2" else "train"
                rows.append(row)
    return write_manifest(rows, root / "manifest.csv")


def _edit(manifest: Path, row: int, **cells) -> None:
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    for key, value in cells.items():
        table.loc[row, key] = value
    table.to_csv(manifest, index=False)


def test_read_and_iterate(tmp_path: Path):
    m = read_manifest(_make(tmp_path))
    assert isinstance(m, Manifest) and len(m) == 8 and m.skipped == [] and m.channels == 8
    assert m.labels == ["fist", "rest"] and m.label_index == {"fist": 0, "rest": 1}
    assert m.subjects == ["s0", "s1"] and m.sessions == ["day1", "day2"]
    recs = m.load()
    assert all(isinstance(r, Recording) for r in recs)
    first = recs[0]
    assert first.data.dtype == np.float32 and first.data.shape == (40, 8)
    assert (first.label, first.subject, first.session, first.sample_rate, first.split) == ("rest", "s0", "day1", 200.0,
                                                                                          "train")
    assert first.path == tmp_path / "s0/day1/rest.npy" and first.meta == {"note": "n000"}
    assert [r.label for r in m] == m.records["label"].tolist()
    assert m.paths[3] == tmp_path / m.records["path"][3]


def test_optional_columns_may_be_absent_or_empty(tmp_path: Path):
    x = np.zeros((10, 2))
    np.save(tmp_path / "a.npy", x)
    (tmp_path / "m.csv").write_text("label,path,subject,session\nA,a.npy,s,1\n")
    rec = read_manifest(tmp_path / "m.csv")[0]
    assert rec.sample_rate is None and rec.split is None and rec.session == "1"
    (tmp_path / "m.csv").write_text("path,label,subject,session,split,sample_rate\na.npy,A,s,1,,\n")
    rec = read_manifest(tmp_path / "m.csv")[0]
    assert rec.sample_rate is None and rec.split is None


def test_select_keeps_label_indices(tmp_path: Path):
    m = read_manifest(_make(tmp_path))
    test = m.select(split="test", labels=["rest"])
    assert len(test) == 2 and set(test.records["session"]) == {"day2"}
    assert test.labels == ["fist", "rest"]
    assert len(m.select(subjects=["s1"], sessions="day1")) == 2


def test_select_by_missing_column(tmp_path: Path):
    m = read_manifest(_make(tmp_path, split=False))
    with pytest.raises(InputError, match="no 'split' column"):
        m.select(split="train")


def test_given_label_set_fixes_order(tmp_path: Path):
    m = read_manifest(_make(tmp_path), labels=["rest", "fist", "open"])
    assert m.labels == ["rest", "fist", "open"] and m.label_index["open"] == 2


def test_write_rebases_paths_and_is_atomic(tmp_path: Path):
    m = read_manifest(_make(tmp_path / "data"))
    out = m.select(split="train").write(tmp_path / "elsewhere" / "train.csv")
    text = out.read_text()
    assert "../data/s0/day1/rest.npy" in text
    assert [p.name for p in out.parent.iterdir()] == ["train.csv"]  # no temporary file left
    with pytest.raises(InputError, match="path resolves outside .*elsewhere .*--allow-outside-root"):
        read_manifest(out)  # its rows point out of its folder
    again = read_manifest(out, allow_outside_root=True)
    assert len(again) == 4 and again.paths[0].resolve() == (tmp_path / "data/s0/day1/rest.npy").resolve()


def test_write_manifest_absolute_paths_and_bad_input(tmp_path: Path):
    np.save(tmp_path / "a.npy", np.zeros((3, 2)))
    out = write_manifest([{"path": tmp_path / "a.npy", "label": "x", "subject": "s", "session": "1"}],
                         tmp_path / "m.csv")
    assert out.read_text().splitlines()[1].startswith("a.npy,")
    with pytest.raises(InputError, match="without columns \\['session'\\]"):
        write_manifest([{"path": "a.npy", "label": "x", "subject": "s"}], tmp_path / "m2.csv")
    with pytest.raises(InputError, match="bad split values \\['training'\\]"):
        write_manifest([{"path": "a.npy", "label": "x", "subject": "s", "session": "1", "split": "training"}],
                       tmp_path / "m3.csv")
    assert not (tmp_path / "m3.csv").exists()


# --- bad input ----------------------------------------------------------------------------------------

def test_missing_manifest(tmp_path: Path):
    with pytest.raises(InputError, match="nope.csv: manifest not found"):
        read_manifest(tmp_path / "nope.csv")


def test_unreadable_manifest(tmp_path: Path, monkeypatch):
    (tmp_path / "m.csv").write_text("path,label,subject,session\na.npy,x,s,t\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_csv", denied)
    with pytest.raises(InputError, match="m.csv: not a readable CSV table"):
        read_manifest(tmp_path / "m.csv")


def test_missing_required_columns(tmp_path: Path):
    (tmp_path / "m.csv").write_text("path,label\na.npy,x\n")
    with pytest.raises(InputError, match=r"m.csv: manifest is missing required columns \['subject', 'session'\]"):
        read_manifest(tmp_path / "m.csv")


def test_empty_manifest(tmp_path: Path):
    (tmp_path / "m.csv").write_text("")
    with pytest.raises(InputError, match="m.csv: empty manifest"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("path,label,subject,session\n")
    with pytest.raises(InputError, match="m.csv: manifest lists no recordings"):
        read_manifest(tmp_path / "m.csv")


@pytest.mark.parametrize("case, cells, expected", [
    ("missing file", {"path": "s0/day1/gone.npy"}, r"gone\.npy: file not found \(manifest\.csv row 2\)"),
    ("bad split", {"split": "training"}, r"rest\.npy: bad split value 'training'"),
    ("bad rate", {"sample_rate": "fast"}, r"rest\.npy: bad sample_rate value 'fast'"),
    ("bad channels", {"channels": "-1"}, r"rest\.npy: bad channels value '-1'"),
    ("empty label", {"label": ""}, r"rest\.npy: empty label cell"),
])
def test_bad_row_raises_naming_the_file(tmp_path: Path, case: str, cells: dict, expected: str):
    manifest = _make(tmp_path)
    _edit(manifest, 0, **cells)
    with pytest.raises(InputError, match=expected):
        read_manifest(manifest)


def test_unknown_label(tmp_path: Path):
    with pytest.raises(InputError, match=r"fist\.\w+: unknown label 'fist'; expected one of \['open', 'rest'\]"):
        read_manifest(_make(tmp_path), labels=["rest", "open"])


def test_bad_data_files(tmp_path: Path):
    manifest = _make(tmp_path)
    m = read_manifest(manifest)
    nan_file, empty_file = m.paths[1], m.paths[2]
    x = read_recording(nan_file)
    x[5, 3] = np.nan
    write_recording(nan_file, x)
    with pytest.raises(InputError, match=rf"{nan_file.name}: 1 NaN samples at rows \[5\] in channels \[3\]"):
        read_manifest(manifest)
    write_recording(nan_file, np.nan_to_num(x))
    empty_file.write_bytes(b"")
    with pytest.raises(InputError, match=rf"{empty_file.name}: empty file"):
        read_manifest(manifest)


def test_truncated_dat_in_manifest(tmp_path: Path):
    manifest = _make(tmp_path)
    dat = next(p for p in read_manifest(manifest).paths if p.suffix == ".dat")
    dat.write_bytes(dat.read_bytes()[:-3])
    with pytest.raises(InputError, match=rf"{dat.name}: truncated \.dat"):
        read_manifest(manifest)


def test_dat_without_channel_count(tmp_path: Path):
    np.zeros((4, 2), dtype="<i2").tofile(tmp_path / "a.dat")
    (tmp_path / "m.csv").write_text("path,label,subject,session\na.dat,x,s,1\n")
    with pytest.raises(InputError, match="a.dat: a .dat recording has no header"):
        read_manifest(tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv", channels=2)[0].data.shape == (4, 2)


def test_inconsistent_channel_count(tmp_path: Path):
    manifest = _make(tmp_path)
    odd = read_manifest(manifest).paths[3]
    write_recording(odd, np.zeros((40, 7)))
    with pytest.raises(InputError, match=rf"{odd.name}: wrong channel count: 7 channels, the other recordings in "
                                         r"manifest.csv have 8"):
        read_manifest(manifest)
    with pytest.raises(InputError, match="wrong channel count: 8 channels, expected 7"):
        read_manifest(manifest, channels=7)


def test_skip_bad_lists_each_skipped_file(tmp_path: Path):
    manifest = _make(tmp_path)
    paths = read_manifest(manifest).paths
    write_recording(paths[0], np.zeros((40, 7)))       # wrong channel count
    paths[2].write_bytes(b"")                          # empty
    _edit(manifest, 6, split="holdout")                # bad split
    _edit(manifest, 7, path="s1/day2/missing.npy")     # missing file
    m = read_manifest(manifest, skip_bad=True)
    assert len(m) == 4 and list(m.records.index) == [0, 1, 2, 3]
    skipped = dict(m.skipped)
    assert list(skipped) == [paths[0], paths[2], paths[6], tmp_path / "s1/day2/missing.npy"]  # row order
    assert "empty file" in skipped[paths[2]] and "wrong channel count" in skipped[paths[0]]
    assert "bad split value 'holdout'" in skipped[paths[6]]
    assert skipped[tmp_path / "s1/day2/missing.npy"] == "file not found"
    assert [r.path for r in m] == [paths[1], paths[3], paths[4], paths[5]]


def test_skip_bad_unknown_labels_and_nothing_left(tmp_path: Path):
    manifest = _make(tmp_path)
    m = read_manifest(manifest, labels=["rest"], skip_bad=True)
    assert set(m.records["label"]) == {"rest"} and len(m.skipped) == 4
    with pytest.raises(InputError, match="manifest.csv: no usable recordings: all 8 were skipped"):
        read_manifest(manifest, labels=["open"], skip_bad=True)


def test_check_data_false_only_checks_existence(tmp_path: Path):
    manifest = _make(tmp_path)
    paths = read_manifest(manifest).paths
    paths[0].write_bytes(b"")
    m = read_manifest(manifest, check_data=False)
    assert len(m) == 8
    with pytest.raises(InputError, match="empty file"):
        m[0]
    paths[1].unlink()
    with pytest.raises(InputError, match="file not found"):
        read_manifest(manifest, check_data=False)
