"""The CNN+BiLSTM study's tables as experiments: Table 1's augmentation reaches the training transform, and
`myovision typing experiment --table study-1|study-2 --quick` runs every row end to end on synthetic sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myovision.cli import main
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import AugmentOptions, TypingConfig
from myovision.emg_typing.study import STUDY_TABLES, row_config
from myovision.emg_typing.training import train_transform
from myovision.errors import InputError
from myovision.signals.augment import BandRotation, MagnitudeWarping


def steps_of(augment: AugmentOptions) -> dict:
    return {type(s).__name__: s for s in train_transform(0, augment).transforms if hasattr(s, "rng")}


def test_table1_rows_configure_the_augmentation():
    rows = {r.index: row_config(TypingConfig(), r) for r in STUDY_TABLES["study-1"]}
    spec = {i: steps_of(c.augment)["SpecAugment"] for i, c in rows.items()}
    assert (spec["1"].n_time_masks, spec["1"].time_mask_param, spec["1"].n_freq_masks, spec["1"].freq_mask_param) == (3, 25, 2, 4)
    assert (spec["2"].n_time_masks, spec["2"].n_freq_masks) == (4, 3) and (spec["3"].n_time_masks, spec["3"].n_freq_masks) == (2, 1)
    warp = {i: steps_of(rows[i].augment).get("MagnitudeWarping") for i in ("1", "4", "5", "6")}
    assert warp["1"] is None
    assert (warp["4"].knots, warp["4"].sigma, warp["4"].shared_curve) == (4, 0.2, True)
    assert (warp["5"].knots, warp["5"].sigma) == (3, 0.1) and spec["6"].n_time_masks == 4 and warp["6"].knots == 4
    assert [rows[i].model_kwargs for i in ("7", "8", "9")] == [{"kernel": 32}, {"kernel": 16}, {"kernel": 16, "expand": True}]


def test_augmentation_switches_and_bad_values():
    steps = steps_of(AugmentOptions(band_rotation=False, jitter=0))
    assert "BandRotation" not in steps and "TemporalJitter" not in steps
    defaults = steps_of(AugmentOptions())
    assert isinstance(defaults["BandRotation"], BandRotation) and defaults["TemporalJitter"].max_offset == 120
    with pytest.raises(InputError, match="--warp-sigma"):
        AugmentOptions(warp_sigma=-0.1)


def test_magnitude_warping_in_training_is_one_curve_for_all_32_channels():
    emg = np.random.default_rng(0).standard_normal((4000, 2, 16)).astype(np.float32) + 3.0
    warp = MagnitudeWarping(sigma=0.2, knots=4, time_dim=0, rng=1, shared_curve=True)
    ratio = warp(emg) / emg
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1], ratio.shape), rtol=1e-5)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("study-data")
    write_synthetic_typing(out, n_sessions=3, duration_s=15, seed=5, words=("sad", "dad", "as"), punctuation=False)
    return out


@pytest.mark.parametrize("table", ["study-1", "study-2"])
def test_experiment_quick_runs_every_row(data, tmp_path, table):
    out = tmp_path / table
    assert main(["typing", "experiment", "--table", table, "--quick", "--data", str(data), "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv", dtype={"row": str})
    assert list(results["row"]) == [r.index for r in STUDY_TABLES[table]]
    assert list(results["model"]) == [r.model for r in STUDY_TABLES[table]]
    assert (results["steps"] == 2).all() and results["test_cer_percent"].notna().all()
    assert list(results["study_cer_percent"]) == [r.study_cer for r in STUDY_TABLES[table]]
    assert "study CER %" in (out / "report.html").read_text()
