"""EPIC-Kitchens verb recognition from I3D clip features: the RGB rows of the fusion paper, verb accuracy and top-5.

Inputs are an annotation table for training and one for testing (D1/D2/D3 layout, `read_epic_annotations`)
and a FeatureStore holding (clips, 1024) RGB features per action uid (`myovision video extract` writes one).
Validation is carved from the training table with whole videos held out (neighbouring actions of one video
look alike), never from the test table. Each head trains with the Table 2 recipe (`TrainConfig`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from myovision.data import FeatureStore, read_epic_annotations
from myovision.errors import InputError
from myovision.actions.table2 import Row, RowResult, TrainConfig, run_row
from myovision.actions.splits import Split, grouped_holdout
from myovision.fileio import atomic_write_text

RGB = "rgb"
EPIC_ROWS: tuple[Row, ...] = (
    Row("Linear RGB", (RGB,), "late_fusion", {"head": "clip_linear"}),
    Row("LSTM RGB", (RGB,), "late_fusion", {"head": "clip_lstm"}),
    Row("Transformer RGB", (RGB,), "late_fusion", {"head": "clip_transformer"}),
)


def run_epic(train_csv: str | Path, test_csv: str | Path, features: str | Path, out: str | Path, *, seeds: int = 3,
             config: TrainConfig | None = None, rows: tuple[Row, ...] = EPIC_ROWS, val_fraction: float = 0.15,
             log: Callable[[str], None] = print) -> pd.DataFrame:
    """Train every head of `rows` on `train_csv`, test on `test_csv`; write ``out/results.csv`` (model,
    verb_accuracy_mean, verb_accuracy_std, verb_top5_mean, n_seeds) and ``results_per_seed.csv``."""
    config = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = read_epic_annotations(train_csv), read_epic_annotations(test_csv)
    both = sorted(set(train.uid) & set(test.uid))
    if both:
        raise InputError(f"{len(both)} uids are in both the training and the test table, e.g. {both[:5]}", test_csv)
    store = FeatureStore(features)
    uids = [str(u) for u in pd.concat([train.uid, test.uid])]
    store.check(uids, [RGB])
    x = store.stack(uids, RGB)  # (N_train + N_test, clips, dim)
    labels = np.concatenate([train.verb_class.to_numpy(), test.verb_class.to_numpy()]).astype(np.int64)
    videos = np.concatenate([train.video_id.to_numpy(), test.video_id.to_numpy()]).astype(str)
    num_classes = int(labels.max()) + 1
    n_train = len(train)
    log(f"{n_train} training / {len(test)} test actions, {num_classes} verb classes, features {x.shape[1:]}")
    results: list[RowResult] = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        val = grouped_holdout(videos[:n_train], labels[:n_train], val_fraction, rng)
        split = Split(np.setdiff1d(np.arange(n_train), val), val, np.arange(n_train, len(labels)))
        for row in rows:
            r = run_row(row, {RGB: x}, labels, split, num_classes, config, seed,
                        out=out / "runs" / f"seed{seed}" / row.name.lower().replace(" ", "-"))
            results.append(r)
            log(f"seed {seed}  {row.name:16s} verb accuracy {r.accuracy:.3f}  top-5 {r.top5:.3f}  ({r.seconds:.1f} s)")
    per_seed = pd.DataFrame([{"model": r.name, "seed": r.seed, "verb_accuracy": r.accuracy, "verb_top5": r.top5}
                             for r in results])
    table = (per_seed.groupby("model", sort=False)
             .agg(verb_accuracy_mean=("verb_accuracy", "mean"), verb_accuracy_std=("verb_accuracy", "std"),
                  verb_top5_mean=("verb_top5", "mean"), n_seeds=("seed", "count"))
             .reset_index().fillna({"verb_accuracy_std": 0.0}))
    atomic_write_text(out / "results.csv", table.to_csv(index=False))
    atomic_write_text(out / "results_per_seed.csv", per_seed.to_csv(index=False))
    return table
