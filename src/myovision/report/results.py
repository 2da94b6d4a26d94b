"""Write an evaluation's results: metrics.json, predictions.csv and confusion.png, each atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from myovision.fileio import atomic_write_text
from myovision.report.plots import save_confusion_png


def write_classification_report(metrics: dict, out: str | Path) -> dict[str, Path]:
    """Write `metrics` (from `myovision.gestures.evaluate.evaluate`) under `out`; return the paths.

    metrics.json holds everything but the per-recording predictions, which go to predictions.csv.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "predictions": out / "predictions.csv", "confusion": out / "confusion.png"}
    summary = {k: v for k, v in metrics.items() if k != "predictions"}
    atomic_write_text(paths["metrics"], json.dumps(summary, indent=2))
    atomic_write_text(paths["predictions"], pd.DataFrame(metrics.get("predictions", [])).to_csv(index=False))
    save_confusion_png(np.array(metrics["confusion_matrix"]), metrics["class_names"], paths["confusion"],
                       title=f"{metrics['classifier']} / {metrics['protocol']} / normalise={metrics['normalise']}: "
                             f"recording accuracy {metrics['accuracy']:.1%}")
    return paths
