"""The Myo armband importer: on a subset of the real data set, and on small fake trees for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myovision.data import MYO_GESTURES, import_myo_armband, read_manifest
from myovision.errors import InputError

SUBJECTS = ["EvaluationDataset/Male0", "PreTrainingDataset/Female0"]


@pytest.mark.real
def test_import_real_subset(shared_data: Path, tmp_path: Path):
    root = shared_data / "myo-armband-7gestures"
    manifest, skipped = import_myo_armband(root, tmp_path / "out", subjects=SUBJECTS)
    assert skipped == [] and manifest == tmp_path / "out" / "manifest.csv"
    table = pd.read_csv(manifest)
    assert len(table) == 28 * 3 + 28  # Male0: training0, Test0, Test1; Female0: training0
    assert sorted(table["subject"].unique()) == sorted(SUBJECTS)
    assert set(table["session"]) == {"training0", "Test0", "Test1"}
    assert (table["sample_rate"] == 200).all() and (table["channels"] == 8).all()
    for row in table.itertuples():
        i = int(re.search(r"classe_(\d+)", row.path).group(1))
        dataset, subject = row.subject.split("/")
        src = root / dataset / subject / row.session / f"classe_{i}.dat"
        x = np.load(tmp_path / "out" / row.path)
        assert x.dtype == np.int16 and x.shape == (src.stat().st_size // 16, 8)
        np.testing.assert_array_equal(x, np.fromfile(src, dtype="<i2").reshape(-1, 8))
        assert (row.label, row.gesture, row.cycle) == (MYO_GESTURES[i % 7], i % 7, i // 7)
        assert row.split == ("train" if row.session == "training0" else "test")
    m = read_manifest(manifest, labels=MYO_GESTURES)
    assert len(m) == 112 and m.channels == 8 and m.skipped == []
    assert m.labels == list(MYO_GESTURES)
    rec = m.select(subjects="EvaluationDataset/Male0", sessions="Test1")[9]
    assert rec.path.name == "classe_9.npy" and rec.label == "wrist_flexion" and rec.meta["cycle"] == "1"
    assert 700 < len(rec.data) < 1100


@pytest.mark.real
def test_bare_subject_name_matches_every_dataset(shared_data: Path, tmp_path: Path):
    manifest = import_myo_armband(shared_data / "myo-armband-7gestures", tmp_path, subjects=["Female1"],
                                  split=False).manifest
    table = pd.read_csv(manifest)
    assert sorted(table["subject"].unique()) == ["EvaluationDataset/Female1", "PreTrainingDataset/Female1"]
    assert "split" not in table.columns


def _fake_tree(root: Path, n_bytes: int = 160) -> Path:
    session = root / "EvaluationDataset" / "Male0" / "training0"
    session.mkdir(parents=True)
    for i in range(14):
        (session / f"classe_{i}.dat").write_bytes(np.arange(n_bytes // 2, dtype="<i2").tobytes())
    return session


def test_fake_tree_labels_and_cycles(tmp_path: Path):
    _fake_tree(tmp_path / "src")
    result = import_myo_armband(tmp_path / "src", tmp_path / "out")
    table = pd.read_csv(result.manifest)
    assert len(table) == 14 and result.skipped == []
    assert pd.read_csv(tmp_path / "out" / "skipped.csv").columns.tolist() == ["path", "problem"]
    by_index = {int(re.search(r"classe_(\d+)", p).group(1)): row for p, row in zip(table["path"], table.itertuples())}
    assert [by_index[i].label for i in range(14)] == list(MYO_GESTURES) * 2
    assert [by_index[i].cycle for i in range(14)] == [0] * 7 + [1] * 7
    assert np.load(tmp_path / "out" / by_index[0].path).shape == (10, 8)


def test_progress_line_on_stderr_only_when_asked(tmp_path: Path, capsys):
    _fake_tree(tmp_path / "src")
    import_myo_armband(tmp_path / "src", tmp_path / "quiet")
    assert capsys.readouterr().err == ""
    import_myo_armband(tmp_path / "src", tmp_path / "out", progress=True)
    assert capsys.readouterr().err.startswith("importing: 1/1 subject")  # not a terminal: one final line


def test_truncated_dat_is_named(tmp_path: Path):
    session = _fake_tree(tmp_path / "src")
    (session / "classe_5.dat").write_bytes(b"\x00" * 170)
    with pytest.raises(InputError, match=r"classe_5\.dat: truncated \.dat: 170 bytes"):
        import_myo_armband(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_skip_bad_lists_unreadable_files(tmp_path: Path):
    session = _fake_tree(tmp_path / "src")
    (session / "classe_5.dat").write_bytes(b"\x00" * 170)
    (session / "classe_9.dat").write_bytes(b"")
    result = import_myo_armband(tmp_path / "src", tmp_path / "out", skip_bad=True)
    assert [(p.name, problem.split(":")[0]) for p, problem in result.skipped] == [
        ("classe_5.dat", "truncated .dat"), ("classe_9.dat", "empty file (0 bytes)")]
    table = pd.read_csv(result.manifest)
    assert len(table) == 12 and not table["path"].str.contains("classe_5|classe_9").any()
    listed = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert listed["path"].tolist() == [str(session / "classe_5.dat"), str(session / "classe_9.dat")]
    assert listed["problem"].tolist() == [problem for _, problem in result.skipped]
    assert len(read_manifest(result.manifest)) == 12


def test_skip_bad_with_nothing_left_names_the_first_problem(tmp_path: Path):
    session = _fake_tree(tmp_path / "src")
    for f in session.iterdir():
        f.write_bytes(b"\x00" * 17)
    with pytest.raises(InputError, match=r"all 14 inputs were skipped, first .*classe_0\.dat: truncated"):
        import_myo_armband(tmp_path / "src", tmp_path / "out", skip_bad=True)
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_bad_roots_and_filters(tmp_path: Path):
    with pytest.raises(InputError, match="nowhere: Myo armband data folder not found"):
        import_myo_armband(tmp_path / "nowhere", tmp_path / "out")
    _fake_tree(tmp_path / "src")
    with pytest.raises(InputError, match=r"no such subjects \['Male9'\]"):
        import_myo_armband(tmp_path / "src", tmp_path / "out", subjects=["Male9"])
    with pytest.raises(InputError, match="unknown datasets"):
        import_myo_armband(tmp_path / "src", tmp_path / "out", datasets=["TestDataset"])
    with pytest.raises(InputError, match="no classe_\\*.dat recordings under PreTrainingDataset"):
        import_myo_armband(tmp_path / "src", tmp_path / "out", datasets=["PreTrainingDataset"])
