"""Data-set sanity checks before training: duplicate rows, one recording in two splits, a single class, label
typos (warnings, or a stop with --strict), split values and paths outside the manifest's folder refused, a
header-less manifest named; skipped recordings and warnings recorded in metrics.json."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from myovision.cli import main
from myovision.data import read_manifest, write_synthetic_gestures
from myovision.data.manifest import data_set_problems
from myovision.errors import InputError


@pytest.fixture
def manifest(tmp_path):
    return write_synthetic_gestures(tmp_path / "g", n_subjects=2, n_gestures=3, n_sessions=2, n_cycles=2,
                                    duration_s=1.0, seed=3)


def test_a_clean_data_set_has_no_problems(manifest):
    assert data_set_problems(read_manifest(manifest)) == []


def test_duplicates_split_leaks_single_class_and_typos_are_named(manifest):
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    first = table.iloc[[0]].copy()
    first["split"] = "test" if table["split"].iloc[0] != "test" else "train"
    typo = table.iloc[[1]].copy()
    typo["label"] = table["label"].iloc[1][:-1] + "x"  # one edit away
    pd.concat([table, first, typo]).to_csv(manifest, index=False)
    problems = data_set_problems(read_manifest(manifest))
    assert any("listed more than once" in p for p in problems)
    assert any("are in two splits" in p for p in problems)
    assert any("differ by 1 edit" in p for p in problems)
    table[table["label"] == table["label"].iloc[0]].to_csv(manifest, index=False)
    assert any("a single class" in p for p in data_set_problems(read_manifest(manifest)))


def test_split_values_outside_paths_and_headerless_manifests_are_refused(manifest, tmp_path):
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    bad = table.copy()
    bad.loc[0, "split"] = "training"
    bad.to_csv(manifest, index=False)
    with pytest.raises(InputError, match=r"bad split value 'training'"):
        read_manifest(manifest)
    outside = table.copy()
    outside.loc[0, "path"] = "../../" + str(tmp_path.name) + "/elsewhere.npy"
    (tmp_path / "elsewhere.npy").write_bytes(b"")
    outside.to_csv(manifest, index=False)
    with pytest.raises(InputError, match="path resolves outside"):
        read_manifest(manifest)
    table.to_csv(manifest, index=False, header=False)
    with pytest.raises(InputError, match="has no header line: its first line looks like a recording row"):
        read_manifest(manifest)


def test_gestures_train_warns_or_stops_with_strict_and_records_skips_in_metrics(manifest, tmp_path, capsys):
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    broken = manifest.parent / "broken.npy"
    broken.write_bytes(b"\x93NUMPY garbage")
    extra = table.iloc[[0]].copy()
    extra["path"] = "broken.npy"
    pd.concat([table, table.iloc[[1]], extra]).to_csv(manifest, index=False)
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "split", "--model", "lda",
            "--skip-bad"]
    assert main([*argv, "--strict", "--out", str(tmp_path / "strict")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "listed more than once" in err[0] and "--strict stops here" in err[0]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    assert "warning: " in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [s["path"].endswith("broken.npy") for s in metrics["skipped"]] == [True]
    assert any("listed more than once" in w for w in metrics["data_warnings"])
