"""The Table 2 experiment on tiny synthetic data: every row trains, results and report are written."""

import numpy as np
import pandas as pd
import pytest

from myovision.actions.table2 import TABLE2, TrainConfig, run_row, summarise
from myovision.actions.experiment import load_experiment_data, run_actionsense, write_synthetic_experiment_data
from myovision.actions.splits import make_split


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_experiment_data(tmp_path_factory.mktemp("exp"), n_subjects=3, n_classes=4, seed=1)


def test_table2_rows_are_the_issue_names():
    assert [r.name for r in TABLE2] == [
        "Linear RGB", "LSTM RGB", "LSTM sEMG (raw)", "Linear sEMG", "LSTM sEMG", "Late-Fusion",
        "Late-Fusion (learnable p)", "Late-Fusion LSTM", "Mid-Fusion", "Self-Attention Late-Fusion",
        "Self-Attention LF LSTM"]


def test_experiment_writes_results_and_report(data, tmp_path):
    config = TrainConfig(iterations=20, backbone_epochs=1, batch_size=16)
    table = run_actionsense(data, tmp_path / "out", seeds=1, config=config, log=lambda s: None)
    saved = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(saved["model"]) == [r.name for r in TABLE2]
    assert {"model", "accuracy_mean", "accuracy_std", "n_seeds"} <= set(saved.columns)
    assert saved["accuracy_mean"].between(0, 1).all() and (saved["n_seeds"] == 1).all()
    np.testing.assert_allclose(saved["accuracy_mean"], table["accuracy_mean"])
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Self-Attention LF LSTM" in html and "data:image/png;base64," in html


def test_every_trained_model_is_kept_with_its_logs(data, tmp_path):
    import torch

    from myovision.actions.backbone import EmgBackbone
    from myovision.registry import create_model

    config = TrainConfig(iterations=20, backbone_epochs=1, batch_size=16)
    run_actionsense(data, tmp_path, seeds=1, config=config, rows=TABLE2[6:7], log=lambda s: None)
    run = tmp_path / "runs" / "seed0" / "activity"
    row_dir = run / "late-fusion-learnable-p"
    logged = pd.read_csv(row_dir / "logs" / "metrics.csv")
    assert {"train_loss", "val_accuracy"} <= set(logged.columns)
    assert list((row_dir / "logs").glob("events.out.tfevents.*"))  # TensorBoard
    samples, rgb, _ = load_experiment_data(data)
    k = int(samples.label_index.max()) + 1
    model = create_model(checkpoint=row_dir).eval()  # the row's folder is a checkpoint
    backbone = EmgBackbone.load(run / "emg_backbone")
    batch = {"rgb": torch.from_numpy(rgb[:4]), "emg": torch.from_numpy(backbone.embed(samples.mel_clips[:4]))}
    assert model(batch).shape == (4, k) and 0 < model.weight_dict()["rgb"] < 1
    again = create_model("late_fusion", inputs={"rgb": 1024, "emg": 1024}, num_classes=k, head="clip_linear",
                         weighting="learnable", checkpoint=row_dir / "model.safetensors").eval()
    assert torch.equal(model(batch), again(batch))


def test_missing_rgb_features_are_named(data, tmp_path):
    import shutil

    from myovision.data import FeatureStore
    from myovision.errors import InputError

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "features")
    FeatureStore(copy / "features")
    with pytest.raises(InputError, match="missing"):
        load_experiment_data(copy)


def test_rows_see_only_training_labels(data):
    """Scrambling test labels cannot change what a row learns: the test side is used only for scoring."""
    samples, rgb, _ = load_experiment_data(data)
    split = make_split("activity", labels=samples.label_index, groups=samples.groups, subjects=samples.subject)
    k = int(samples.label_index.max()) + 1
    features = {"rgb": rgb, "emg": rgb[..., :64] * 0 + np.random.default_rng(0).normal(size=(len(rgb), 5, 64)).astype(np.float32)}
    labels = samples.label_index.copy()
    config = TrainConfig(iterations=30, batch_size=16)
    row = TABLE2[0]
    a = run_row(row, features, labels, split, k, config, seed=0)
    scrambled = labels.copy()
    scrambled[split.test] = np.random.default_rng(1).permutation(scrambled[split.test])
    b = run_row(row, features, scrambled, split, k, config, seed=0)
    pred_a = a.confusion.sum(0)  # predictions per class, whatever the truth
    pred_b = b.confusion.sum(0)
    np.testing.assert_array_equal(pred_a, pred_b)
    assert summarise([a]).loc[0, "model"] == "Linear RGB"


def test_pool_folds_counts_every_test_sample_once():
    from myovision.actions.table2 import RowResult, pool_folds

    a = RowResult("x", 0, 0.5, 1.0, 2.0, np.array([[1, 1], [0, 0]]), steps=10)  # 2 samples, 1 right
    b = RowResult("x", 0, 0.75, 0.5, 3.0, np.array([[0, 1], [0, 3]]), steps=5)  # 4 samples, 3 right
    pooled = pool_folds([a, b])
    assert pooled.accuracy == pytest.approx(4 / 6)  # not the mean of 0.5 and 0.75
    assert pooled.top5 == pytest.approx((2 * 1.0 + 4 * 0.5) / 6)
    assert pooled.seconds == 5.0 and pooled.steps == 15
    np.testing.assert_array_equal(pooled.confusion, [[1, 2], [0, 3]])


def test_leave_one_subject_out_runs_a_fold_per_subject(data, tmp_path):
    lines = []
    config = TrainConfig(iterations=10, backbone_epochs=1, batch_size=16)
    table = run_actionsense(data, tmp_path / "loso", seeds=1, protocol="loso", config=config, rows=TABLE2[:1],
                            log=lines.append)
    folds = [line for line in lines if line.startswith("seed 0, fold")]
    assert [f.split(":")[0] for f in folds] == ["seed 0, fold S00", "seed 0, fold S01", "seed 0, fold S02"]
    assert list(table["model"]) == ["Linear RGB"] and table["n_seeds"].iloc[0] == 1


def test_experiment_is_repeatable_for_a_seed(data, tmp_path):
    """Two runs with one seed and one thread count give identical accuracies and per-seed rows (the raw-sEMG
    row, whose LSTM reads the raw signal, and the paper's mid fusion)."""
    config = TrainConfig(iterations=20, backbone_epochs=1, batch_size=16)
    rows = (TABLE2[2], TABLE2[8])
    for name in ("a", "b"):
        run_actionsense(data, tmp_path / name, seeds=1, config=config, rows=rows, log=lambda s: None)
    a, b = (pd.read_csv(tmp_path / name / "results_per_seed.csv") for name in ("a", "b"))
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
