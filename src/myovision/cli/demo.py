"""`myovision demo`: the main job on the embedded synthetic default, end to end.

Writes seeded synthetic ActionSense-layout HDF5 recordings, exports their activities to the generic
manifest format, and recognises the activities from sEMG alone, leaving one subject out: the baseline
LDA against the default classifier. The RGB + sEMG fusion experiment joins this command with the fusion
system.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from myovision.cli import example_parser


def add_parser(groups) -> None:
    demo = example_parser(groups, "demo", "run the main job on seeded synthetic data in the real formats",
                          "myovision demo --out runs/demo --seed 0")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--subjects", type=int, default=4, help="synthetic subjects")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from myovision.data import read_manifest, write_synthetic_actionsense
    from myovision.data.actionsense_export import export_activities
    from myovision.fileio import atomic_write_text
    from myovision.gestures import DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION
    from myovision.gestures.evaluate import evaluate
    from myovision.report.results import write_classification_report

    out = Path(args.out)
    print(f"[1/3] synthetic ActionSense recordings ({args.subjects} subjects, seed {args.seed})")
    hdf5 = write_synthetic_actionsense(out / "data" / "actionsense", n_subjects=args.subjects, seed=args.seed)
    print("[2/3] activities -> generic manifest (both arms resampled to 160 Hz)")
    manifest = read_manifest(export_activities(hdf5, out / "data" / "activities", fs=160.0).manifest)
    print(f"      {len(manifest)} activities, {len(manifest.labels)} classes, {len(manifest.subjects)} subjects")
    recordings = manifest.load()
    print("[3/3] activity recognition from sEMG, leave one subject out")
    summary = {}
    for name, normalise in (("lda", "none"), (DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION)):
        metrics = evaluate(recordings, protocol="cross-subject", classifier=name, normalise=normalise,
                           seed=args.seed, window_ms=1000.0, step_ms=250.0)
        paths = write_classification_report(metrics, out / "activity" / name)
        summary[name] = {k: metrics[k] for k in ("accuracy", "window_accuracy", "balanced_accuracy", "normalise")}
        print(f"      {name:12s} recording accuracy {metrics['accuracy']:.3f}, window accuracy "
              f"{metrics['window_accuracy']:.3f}  -> {paths['confusion']}")
    print("      classes that share a muscle pattern (peel a cucumber / a potato) are confused by sEMG alone")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    print(out / "summary.json")
    return 0
