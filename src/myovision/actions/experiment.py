"""`myovision experiment actionsense`: from a data folder to results.csv and report.html.

A data folder holds ActionSense HDF5 recordings (`*.hdf5`), optionally the authors' sub-action tables
(`subactions_<subject>.csv`), and I3D RGB clip features in a FeatureStore (`features/`, modality "rgb",
keyed by sub-action uid, (5, 1024) each). `write_synthetic_experiment_data` writes such a folder from
seeded synthetic data (the demo).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from myovision.data import (
    FeatureStore,
    SubActionSamples,
    samples_from_recordings,
    synthetic_rgb_features,
    write_synthetic_actionsense,
)
from myovision.errors import InputError
from myovision.actions.table2 import (
    TABLE2,
    RowResult,
    TrainConfig,
    clip_features,
    pool_folds,
    run_row,
    summarise,
)
from myovision.actions.splits import protocol_folds
from myovision.fileio import atomic_write_text
from myovision.runs import write_metrics
from myovision.actions.report import write_experiment_report

RGB = "rgb"
SOURCE = "SOURCE.md"  # where a data folder says what it is (as ../shared/data/* do)


def write_synthetic_experiment_data(out: str | Path, *, n_subjects: int = 4, n_classes: int = 10, seed: int = 0,
                                    rgb_strength: float = 0.5, log: Callable[[str], None] | None = None) -> Path:
    """Synthetic ActionSense-layout HDF5 recordings plus I3D-shaped RGB features in `out/features`.

    Of the 10 default classes, pairs share a muscle pattern (sEMG alone confuses them) and pairs share an
    appearance (RGB alone confuses them), so each modality alone tops out near 50% and fusion can reach far
    higher. `rgb_strength` scales the appearance signal against subject and instance nuisances. `log` gets a
    line after each step.
    """
    log = log or (lambda line: None)
    out = Path(out)
    paths = write_synthetic_actionsense(out, n_subjects=n_subjects, n_classes=n_classes, seed=seed)
    log(f"  {len(paths)} HDF5 recordings written; cutting sub-actions and their mel-spectrograms")
    samples, _ = samples_from_recordings(paths)
    log(f"  {len(samples)} sub-actions; writing their RGB clip features")
    rgb = synthetic_rgb_features(samples, seed=seed, strength=rgb_strength)
    store = FeatureStore(out / "features")
    with store.writer(RGB) as writer:
        for uid, x in zip(samples.uid, rgb):
            writer.add(str(uid), x)
    atomic_write_text(out / SOURCE, f"Synthetic ActionSense-layout recordings and I3D-shaped RGB clip features "
                                    f"written by myovision (seed {seed}, {n_subjects} subjects, {n_classes} "
                                    f"classes); not the paper's data.\n")
    return out


def data_note(folder: str | Path) -> tuple[str, bool]:
    """(the first line of the data folder's SOURCE.md, or its path; whether the data is synthetic)."""
    source = Path(folder) / SOURCE
    first = source.read_text().strip().splitlines()[0] if source.is_file() and source.read_text().strip() else ""
    return (f"{first} ({folder})" if first else f"ActionSense-layout recordings in {folder}",
            first.lower().startswith("synthetic"))


def load_experiment_data(folder: str | Path) -> tuple[SubActionSamples, np.ndarray, list[tuple[str, str]]]:
    """Sub-action samples of every recording in `folder`, their RGB features (N, 5, 1024), skipped samples."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.hdf5"))
    if not paths:
        raise InputError("no ActionSense recordings (*.hdf5) in the data folder", folder)
    tables = folder if any(folder.glob("subactions_*.csv")) else None
    samples, skipped = samples_from_recordings(paths, subaction_folder=tables)
    store = FeatureStore(folder / "features")
    uids = [str(u) for u in samples.uid]
    store.check(uids, [RGB])
    return samples, store.stack(uids, RGB), skipped


def run_actionsense(folder: str | Path, out: str | Path, *, seeds: int = 3, protocol: str = "activity",
                    config: TrainConfig | None = None, rows=TABLE2, allow_outside_root: bool = False,
                    log: Callable[[str], None] = print, progress: bool = False) -> pd.DataFrame:
    """Train and test every row of Table 2 for `seeds` seeds; write results.csv, per-seed rows and report.html.

    Every trained model is kept: ``out/runs/seed<k>/<fold>/<row>/`` holds its selected weights
    (model.safetensors) and its CSV + TensorBoard logs (logs/); ``.../emg_backbone/`` the sEMG CNN.

    `protocol`: see `myovision.actions.splits` ("loso" runs one fold per subject and pools their test
    sides; "authors" reads split_S04S07S08_{train,test}.csv from `folder`, which must resolve inside it unless
    `allow_outside_root`). Each fold trains its own sEMG CNN
    on its training side only. `log` gets a line per phase and per row; `progress` adds a line at least every
    10 s of training (a bar on a terminal) inside the backbone and each row.
    """
    config = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples, rgb, skipped = load_experiment_data(folder)
    for uid, reason in skipped:
        log(f"skipped sub-action {uid}: {reason}")
    classes = sorted(set(samples.label.tolist()), key=lambda c: int(samples.label_index[samples.label == c][0]))
    num_classes = int(samples.label_index.max()) + 1
    class_names = [next((c for c in classes if samples.label_index[samples.label == c][0] == k), str(k))
                   for k in range(num_classes)]
    log(f"{len(samples)} sub-actions, {len(classes)} classes, subjects {sorted(set(samples.subject.tolist()))}")
    results: list[RowResult] = []
    for seed in range(seeds):
        folds = protocol_folds(protocol, labels=samples.label_index, groups=samples.groups, subjects=samples.subject,
                               seed=seed, uid=samples.uid, label=samples.label, split_folder=folder,
                               allow_outside_root=allow_outside_root)
        per_fold: dict[str, list[RowResult]] = {row.name: [] for row in rows}
        for fold, split in folds:
            log(f"seed {seed}, fold {fold}: {len(split.train)} train / {len(split.val)} val / {len(split.test)} test "
                f"({protocol} split)")
            run_dir = out / "runs" / f"seed{seed}" / _slug(fold)
            log(f"  sEMG CNN backbone: training on {len(split.train)} actions' clips (<= {config.backbone_epochs} "
                f"epochs), then embedding every clip")
            t0 = time.perf_counter()
            features = clip_features(samples.mel_clips, samples.emg_raw_clips, rgb, samples.label_index, split,
                                     num_classes, config, seed, backbone_dir=run_dir / "emg_backbone",
                                     progress=progress)
            log(f"  sEMG CNN backbone done ({time.perf_counter() - t0:.1f} s); {len(rows)} rows:")
            for row in rows:
                r = run_row(row, features, samples.label_index, split, num_classes, config, seed,
                            out=run_dir / _slug(row.name), progress=progress)
                per_fold[row.name].append(r)
                log(f"  {row.name:28s} accuracy {r.accuracy:.3f}  ({r.seconds:.1f} s, {r.steps} steps)")
        results.extend(pool_folds(per_fold[row.name]) for row in rows)
    table = summarise(results, rows)
    atomic_write_text(out / "results.csv", table.to_csv(index=False))
    per_seed = pd.DataFrame([{"model": r.name, "seed": r.seed, "accuracy": r.accuracy, "top5": r.top5,
                              "seconds": r.seconds} for r in results])
    atomic_write_text(out / "results_per_seed.csv", per_seed.to_csv(index=False))
    write_metrics(out, {"protocol": protocol, "seeds": seeds, "actions": len(samples), "classes": num_classes,
                        "rows": {r["model"]: {k: r[k] for k in r.index if k != "model"}
                                 for _, r in table.iterrows()}})
    log("writing report.html")
    report = _report(out, table, results, samples, features, split, class_names, protocol, data_note(folder))
    log(str(report))
    return table


def _slug(name: str) -> str:
    """A folder name for a row or fold: "Late-Fusion (learnable p)" -> "late-fusion-learnable-p"."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _report(out: Path, table: pd.DataFrame, results: list[RowResult], samples: SubActionSamples,
            features: dict[str, np.ndarray], split, class_names: list[str], protocol: str,
            data: tuple[str, bool]) -> Path:
    """report.html from the last seed's details (confusions of all seeds summed)."""
    confusions = {}
    for name in table["model"]:
        cms = [r.confusion for r in results if r.name == name]
        confusions[name] = (np.sum(cms, axis=0), class_names)
    attention_row = next((r for r in reversed(results) if r.attention), None)
    p_row = next((r for r in reversed(results) if r.weight_history), None)
    test = split.test
    example = int(test[0])
    clip_feats = {m: (features[m][test].mean(1), samples.label_index[test], class_names) for m in ("rgb", "emg")}
    notes = [f"Split: {protocol} (see myovision.actions.splits); accuracy on the test side, mean over "
             f"{int(table['n_seeds'].max())} seed(s); model selection on a validation split of the training side.",
             "The paper's numbers come from a random split with test-set model selection; they are shown for "
             "reference, not as a like-for-like target." if not data[1] else
             "Synthetic data: no comparison with the paper's numbers is meaningful, so none is shown."]
    return write_experiment_report(
        out, title="RGB + sEMG action recognition (Table 2)", results=table, protocol=protocol,
        confusions=confusions,
        attention=attention_row.attention if attention_row else None,
        attention_labels=[str(samples.label[i]) for i in test[:6]] if attention_row else None,
        raw_example=(samples.emg_raw[example], str(samples.label[example]),
                     (samples.emg_raw.shape[1] - 1) / max(samples.stop_s[example] - samples.start_s[example], 1e-3)),
        mel_example=(samples.mel[example], str(samples.label[example])),
        clip_features=clip_feats,
        learned_p=[(step, w["rgb"]) for step, w in p_row.weight_history] if p_row else None,
        notes=notes, data_note=f"{data[0]}; {len(samples)} sub-actions, {len(class_names)} classes",
        paper=not data[1], num_classes=len(class_names))
