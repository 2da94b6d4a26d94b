"""What `gestures train` leaves in its run folder: metrics.json, predictions.csv, confusion.png, report.html."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from myovision.fileio import atomic_path, atomic_write_text
from myovision.report import figures
from myovision.report.html import figure, page, table, training_curves_png, write_page
from myovision.runs import write_metrics


def write_gestures_report(metrics: dict, out: str | Path, data_note: str) -> dict[str, Path]:
    """Write `metrics` (from `myovision.gestures.evaluate.evaluate`) under `out`; return the paths.

    metrics.json holds everything but the per-recording predictions, which go to predictions.csv.
    """
    out = Path(out)
    paths = {"metrics": out / "metrics.json", "predictions": out / "predictions.csv",
             "confusion": out / "confusion.png", "report": out / "report.html"}
    write_metrics(out, {k: v for k, v in metrics.items() if k != "predictions"})
    atomic_write_text(paths["predictions"], pd.DataFrame(metrics.get("predictions", [])).to_csv(index=False))
    title = (f"{metrics['classifier']} / {metrics['protocol']} / normalise={metrics['normalise']}: "
             f"recording accuracy {metrics['accuracy']:.1%}")
    confusion = figures.confusion_png(np.array(metrics["confusion_matrix"]), metrics["class_names"], title=title)
    with atomic_path(paths["confusion"]) as tmp:
        tmp.write_bytes(confusion)
    summary = [{"measure": name, "value": metrics[key]} for name, key in (
        ("recording accuracy", "accuracy"), ("balanced recording accuracy", "balanced_accuracy"),
        ("window accuracy", "window_accuracy"), ("recordings", "n_recordings"), ("windows", "n_windows"))]
    sections = [("results", "Results", "<h2>Results</h2>" + table(summary)
                 + "<h3>Per group</h3>" + table([{"group": g, **v} for g, v in metrics["groups"].items()])),
                ("confusion", "Confusion", "<h2>Confusion (recordings)</h2>"
                 + figure(confusion, "confusion matrix", "rows: true class; colour: row-normalised rate"))]
    curves = [(d.parent.name, training_curves_png(d)) for d in sorted((out / "folds").glob("*/logs"))]
    if any(png for _, png in curves):
        sections.append(("training", "Training", "<h2>Training</h2>" + "".join(
            figure(png, f"training curves of fold {name}", f"fold {name}") for name, png in curves if png)))
    write_page(out, page(f"Gesture recognition: {metrics['classifier']}", data_note=data_note, sections=sections,
                         subtitle=f"protocol {metrics['protocol']}, normalise {metrics['normalise']}, "
                                  f"windows {metrics['window_ms']} ms every {metrics['step_ms']} ms"))
    return paths
