"""The fusion paper's Table 2 end to end: I3D RGB clip features + two-arm sEMG on ActionSense.

Bracci, Caruso, Clemente, "Integrating RGB and sEMG Signals for Egocentric Action Recognition". Per seed:
split the sub-actions (activity-grouped by default; see `splits`), train the sEMG 2D CNN on the training
side's mel-spectrogram clips and embed every clip (5 x 1024 per action), then train and test every row of
Table 2 on (rgb, emg) clip features. Model selection uses the validation side only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from myovision.actions.config import TrainConfig
from myovision.actions.splits import Split
from myovision.metrics import confusion_matrix, top_k_accuracy
from myovision.actions.backbone import raw_clip_features, train_emg_backbone, training_progress
from myovision.registry import create_model
from myovision.runs import save_model
from myovision.training import fit_classifier


@dataclass(frozen=True)
class Row:
    """One row of Table 2: which clip features it reads and which registered model it trains."""

    name: str
    modalities: tuple[str, ...]
    model: str
    kwargs: dict = field(default_factory=dict)


TABLE2: tuple[Row, ...] = (
    Row("Linear RGB", ("rgb",), "late_fusion", {"head": "clip_linear"}),
    Row("LSTM RGB", ("rgb",), "late_fusion", {"head": "clip_lstm"}),
    Row("LSTM sEMG (raw)", ("emg_raw",), "late_fusion", {"head": "clip_lstm"}),
    Row("Linear sEMG", ("emg",), "late_fusion", {"head": "clip_linear"}),
    Row("LSTM sEMG", ("emg",), "late_fusion", {"head": "clip_lstm"}),
    Row("Late-Fusion", ("rgb", "emg"), "late_fusion", {"head": "clip_linear"}),
    Row("Late-Fusion (learnable p)", ("rgb", "emg"), "late_fusion", {"head": "clip_linear", "weighting": "learnable"}),
    Row("Late-Fusion LSTM", ("rgb", "emg"), "late_fusion", {"head": "clip_lstm"}),
    Row("Mid-Fusion", ("rgb", "emg"), "mid_fusion", {}),
    Row("Self-Attention Late-Fusion", ("rgb", "emg"), "attention_late_fusion", {"head": "clip_linear"}),
    Row("Self-Attention LF LSTM", ("rgb", "emg"), "attention_late_fusion", {"head": "clip_lstm"}),
)
SINGLE_MODALITY = {"rgb": ("Linear RGB", "LSTM RGB"), "emg": ("Linear sEMG", "LSTM sEMG")}




@dataclass
class RowResult:
    """Test-side outcome of one row for one seed."""

    name: str
    seed: int
    accuracy: float
    top5: float
    seconds: float
    confusion: np.ndarray
    attention: dict[str, np.ndarray] | None = None
    weight_history: list | None = None
    steps: int = 0


def clip_features(mel_clips: np.ndarray, raw_clips: np.ndarray, rgb: np.ndarray, labels: np.ndarray, split: Split,
                  num_classes: int, config: TrainConfig, seed: int,
                  backbone_dir: Path | None = None, progress: bool = False) -> dict[str, np.ndarray]:
    """{"rgb", "emg", "emg_raw"} clip features (N, clips, dim); the sEMG CNN sees training and validation only
    (saved to `backbone_dir` when given; reload with `EmgBackbone.load`). progress: show its training steps.

    mel_clips: (N, clips, channels, mels, frames) of the preprocessed sEMG; raw_clips: (N, clips, samples,
    channels) sEMG before preprocessing, only resampled to the sub-action length (the paper's raw row)."""
    backbone = train_emg_backbone(mel_clips[split.train], labels[split.train], num_classes,
                                  val=(mel_clips[split.val], labels[split.val]) if len(split.val) else None,
                                  epochs=config.backbone_epochs, recipe=config.backbone_recipe, seed=seed,
                                  progress=progress)
    if backbone_dir is not None:
        backbone.save(backbone_dir)
    return {"rgb": rgb.astype(np.float32), "emg": backbone.embed(mel_clips), "emg_raw": raw_clip_features(raw_clips)}


def _batch(features: dict[str, np.ndarray], modalities: tuple[str, ...], index: np.ndarray) -> dict[str, torch.Tensor]:
    return {m: torch.from_numpy(np.ascontiguousarray(features[m][index])) for m in modalities}


def run_row(row: Row, features: dict[str, np.ndarray], labels: np.ndarray, split: Split, num_classes: int,
            config: TrainConfig, seed: int, n_attention: int = 6, out: Path | None = None,
            progress: bool = False) -> RowResult:
    """Train `row` on the training side (validation selects the epoch) and test it.

    out: a run folder for its CSV + TensorBoard logs and the selected model (``model.safetensors`` +
    ``model.json``).
    progress: show its training steps (a line at least every 10 s on stdout, a bar on a terminal).
    """
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    dims = {m: features[m].shape[-1] for m in row.modalities}
    model = create_model(row.model, inputs=dims, num_classes=num_classes, **row.kwargs)
    y = torch.from_numpy(labels.astype(np.int64))
    history: list = []
    stats: dict = {}
    val = (_batch(features, row.modalities, split.val), y[split.val]) if len(split.val) else (None, None)
    epochs = config.epochs(len(split.train))
    steps = epochs * max(1, len(split.train) // config.batch_size)
    with training_progress(model, steps, f"  {row.name}", enabled=progress):
        fit_classifier(model, _batch(features, row.modalities, split.train), y[split.train], *val,
                       epochs=epochs, batch_size=config.batch_size, lr=config.lr,
                       weight_decay=config.weight_decay, optimizer=config.optimizer, momentum=config.momentum,
                       seed=seed, weight_history=history, patience=config.patience, stats=stats, out=out)
    if out is not None:  # a run folder: create_model(checkpoint=out) rebuilds the row's model
        save_model(out, model, row.model, {"inputs": dims, "num_classes": num_classes, **row.kwargs},
                   extra={"row": row.name, "modalities": list(row.modalities)})
    test = _batch(features, row.modalities, split.test)
    with torch.no_grad():
        scores = model(test).numpy()
        attention = None
        if row.model == "attention_late_fusion":
            details = model.forward_details({m: v[:n_attention] for m, v in test.items()})
            attention = {m: details.clip_weights[:, i].numpy() for i, m in enumerate(details.modalities)}
    y_test = labels[split.test]
    pred = scores.argmax(1)
    return RowResult(row.name, seed, float(np.mean(pred == y_test)), top_k_accuracy(scores, y_test, 5),
                     time.perf_counter() - t0, confusion_matrix(y_test, pred, num_classes), attention,
                     history if row.kwargs.get("weighting") == "learnable" else None, stats["steps"])


def pool_folds(results: list[RowResult]) -> RowResult:
    """One row's results over the folds of one seed (e.g. leave-one-subject-out) as one result: every fold's
    test samples counted once (confusions summed, accuracy and top-5 weighted by fold size, seconds added);
    attention and learned weights from the last fold."""
    if len(results) == 1:
        return results[0]
    sizes = np.array([r.confusion.sum() for r in results], dtype=np.float64)
    confusion = np.sum([r.confusion for r in results], axis=0)
    last = results[-1]
    return RowResult(last.name, last.seed, float(np.trace(confusion) / confusion.sum()),
                     float(np.dot(sizes, [r.top5 for r in results]) / sizes.sum()),
                     float(sum(r.seconds for r in results)), confusion, last.attention, last.weight_history,
                     sum(r.steps for r in results))


def summarise(results: list[RowResult], rows: tuple[Row, ...] = TABLE2) -> pd.DataFrame:
    """One line per row: model, accuracy_mean, accuracy_std, n_seeds, top5_mean, seconds_mean (rows' order)."""
    table = []
    for row in rows:
        mine = [r for r in results if r.name == row.name]
        if not mine:
            continue
        acc = np.array([r.accuracy for r in mine])
        table.append({"model": row.name, "accuracy_mean": float(acc.mean()),
                      "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, "n_seeds": len(acc),
                      "top5_mean": float(np.mean([r.top5 for r in mine])),
                      "seconds_mean": float(np.mean([r.seconds for r in mine]))})
    return pd.DataFrame(table)
