"""ActionSense HDF5 -> generic manifest: both arms on one grid, bad files and unknown labels raised or skipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from myovision.data import ImportResult, read_actionsense, read_manifest, synthetic_classes, write_synthetic_actionsense
from myovision.data.actionsense_export import export_activities
from myovision.errors import InputError


@pytest.fixture(scope="module")
def hdf5(tmp_path_factory) -> list[Path]:
    return write_synthetic_actionsense(tmp_path_factory.mktemp("as"), n_subjects=2, n_classes=3, repeats=1,
                                       duration_s=(3.0, 4.0), bad_fraction=0.0, seed=5)


def _truncated(path: Path, folder: Path) -> Path:
    cut = folder / "S07.hdf5"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_export_writes_both_arms_on_one_grid(hdf5: list[Path], tmp_path: Path):
    result = export_activities(hdf5, tmp_path / "out", fs=100.0)
    assert isinstance(result, ImportResult) and result.skipped == []
    assert result.manifest == tmp_path / "out" / "manifest.csv"
    assert pd.read_csv(tmp_path / "out" / "skipped.csv").empty
    m = read_manifest(result.manifest)
    assert len(m) == 2 * 3 and m.channels == 16 and m.subjects == ["S00", "S01"]
    rec = read_actionsense(hdf5[0])
    first = m.select(subjects="S00")[0]
    act = rec.activities[0]
    assert first.label == act.label and first.sample_rate == 100.0
    assert abs(len(first.data) - 100.0 * act.duration_s) < 3  # the arms' overlap, nearly the whole activity


def test_bad_file_raises_or_is_skipped(hdf5: list[Path], tmp_path: Path):
    cut = _truncated(hdf5[1], tmp_path)
    with pytest.raises(InputError, match="S07.hdf5: unreadable HDF5 file"):
        export_activities([hdf5[0], cut], tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.csv").exists()
    result = export_activities([hdf5[0], cut], tmp_path / "out", skip_bad=True)
    assert [p for p, _ in result.skipped] == [cut] and "unreadable HDF5 file" in result.skipped[0][1]
    assert read_manifest(result.manifest).subjects == ["S00"]
    listed = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert listed["path"].tolist() == [str(cut)] and listed["problem"].tolist() == [result.skipped[0][1]]
    with pytest.raises(InputError, match=r"all 1 inputs were skipped, first .*S07.hdf5: unreadable HDF5"):
        export_activities([cut], tmp_path / "none", skip_bad=True)


def test_unknown_labels_raise_or_are_skipped(hdf5: list[Path], tmp_path: Path):
    allowed = [c.label for c in synthetic_classes(2)]
    unknown = synthetic_classes(3)[2].label
    with pytest.raises(InputError, match=f"S00.hdf5: activity \\d+ .* has unknown label '{unknown}'"):
        export_activities(hdf5, tmp_path / "out", labels=allowed)
    result = export_activities(hdf5, tmp_path / "out", labels=allowed, skip_bad=True)
    assert [p.name for p, _ in result.skipped] == ["S00.hdf5", "S01.hdf5"]
    assert all(f"unknown label '{unknown}'" in problem for _, problem in result.skipped)
    assert read_manifest(result.manifest).labels == sorted(allowed)
    assert len(export_activities(hdf5, tmp_path / "all", labels=allowed + [unknown]).skipped) == 0


def test_decreasing_timestamps_name_the_file(hdf5: list[Path], tmp_path: Path):
    import h5py

    broken = tmp_path / "S09.hdf5"
    broken.write_bytes(hdf5[0].read_bytes())
    with h5py.File(broken, "a") as h5:
        t = h5["myo-left/emg/time_s"]
        t[100, 0] = t[0, 0]
    with pytest.raises(InputError, match="S09.hdf5: stream myo-left/emg: time_s decreases 1 times, first at row 100"):
        export_activities([broken], tmp_path / "out")


@pytest.mark.parametrize("kwargs, expected", [
    (dict(fs=0.0), "fs must be a positive number"),
    (dict(fs=float("nan")), "fs must be a positive number"),
    (dict(min_duration_s=0.0), "min_duration_s must be a positive number"),
])
def test_bad_arguments(hdf5: list[Path], tmp_path: Path, kwargs, expected):
    with pytest.raises(InputError, match=expected):
        export_activities(hdf5, tmp_path / "out", **kwargs)

