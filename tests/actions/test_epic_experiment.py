"""EPIC-Kitchens verb recognition on synthetic annotation tables and I3D-shaped features."""

import numpy as np
import pandas as pd
import pytest

from myovision.cli import main
from myovision.data import FeatureStore
from myovision.errors import InputError
from myovision.actions.table2 import TrainConfig
from myovision.actions.epic import EPIC_ROWS, run_epic

HEADER = "uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,verb_class"
VERBS = ["take", "put", "open", "close"]


def write_epic(folder, n_train=96, n_test=40, dim=32, seed=0):
    """Tables of 4 verbs over 8 videos; features = verb prototype + noise (clips, dim) per uid."""
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((len(VERBS), dim))
    store = FeatureStore(folder / "features")
    paths = []
    with store.writer("rgb") as writer:
        uid = 0
        for side, n in (("train", n_train), ("test", n_test)):
            lines = [HEADER]
            for i in range(n):
                verb = int(rng.integers(len(VERBS)))
                video = f"P01_{(i % 8) + (0 if side == 'train' else 10):02d}"
                lines.append(f"{uid},P01,{video},{VERBS[verb]} thing,00:00:0{i % 9}.00,00:00:0{i % 9}.50,"
                             f"{i * 30},{i * 30 + 15},{VERBS[verb]},{verb}")
                writer.add(str(uid), (prototypes[verb] + 1.5 * rng.standard_normal((5, dim))).astype(np.float32))
                uid += 1
            path = folder / f"D1_{side}.csv"
            path.write_text("\n".join(lines) + "\n")
            paths.append(path)
    return paths[0], paths[1], folder / "features"


def test_verb_accuracy_and_top5_are_written(tmp_path):
    train, test, features = write_epic(tmp_path)
    config = TrainConfig(iterations=150, batch_size=16, patience=None)
    table = run_epic(train, test, features, tmp_path / "out", seeds=2, config=config, rows=EPIC_ROWS[:1],
                     log=lambda s: None)
    saved = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(saved.columns) == ["model", "verb_accuracy_mean", "verb_accuracy_std", "verb_top5_mean", "n_seeds"]
    assert saved["n_seeds"].tolist() == [2]
    assert table["verb_accuracy_mean"].iloc[0] > 0.6  # chance is about 0.25
    assert table["verb_top5_mean"].iloc[0] == pytest.approx(1.0)  # only 4 verbs: every top-5 holds the truth
    per_seed = pd.read_csv(tmp_path / "out" / "results_per_seed.csv")
    assert len(per_seed) == 2 and per_seed["verb_accuracy"].between(0, 1).all()


def test_bad_tables_and_features_are_named(tmp_path, capsys):
    train, test, features = write_epic(tmp_path, n_train=16, n_test=8)
    overlap = tmp_path / "overlap.csv"
    overlap.write_text(train.read_text())
    with pytest.raises(InputError, match="both the training and the test table"):
        run_epic(train, overlap, features, tmp_path / "o1", seeds=1, log=lambda s: None)
    lines = test.read_text().splitlines()
    extra = lines + [lines[-1].replace(lines[-1].split(",")[0], "999", 1)]
    test.write_text("\n".join(extra) + "\n")
    code = main(["experiment", "epic", "--train", str(train), "--test", str(test), "--features", str(features),
                 "--out", str(tmp_path / "o2"), "--seeds", "1"])
    assert code == 2 and "999" in capsys.readouterr().err
