"""Real Myo armband gestures (Côté-Allard et al. 2019): our classifiers against the LDA baseline, one run.

Within-subject (EvaluationDataset: train on training0, test on Test0 and on Test1, per person, mean of
window accuracies, each 200 ms window classified alone) and cross-subject (leave one person out over the
training0 sessions of all people). The baseline is LDA on log-MAV, log-WL, ZC and SSC per channel,
200 ms windows, 50 ms step, measured in the same run. Results go to stdout and --json.

Before the accuracies, the cost of the classifiers' feature inputs over the same recordings: per file (what
evaluation computes: one `signals.features` call over each recording) against per window (the windows
materialised, then the features of each window, the previous path), same run, median of --repeats.

    python benchmarks/bench_myo_gestures.py                     # full run (about an hour on 2 cores)
    python benchmarks/bench_myo_gestures.py --quick             # CI: 3 people, LDA and the default
    python benchmarks/bench_myo_gestures.py --inputs-only       # the input cost ratios alone (under a minute)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_features import timed
from shared_data import SHARED_DATA

from myovision.data import import_myo_armband, read_manifest
from myovision.gestures import DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION
from myovision.gestures.classifiers import CLASSIFIERS
from myovision.gestures.evaluate import evaluate
from myovision.signals.windows import sliding_windows

DATA = SHARED_DATA / "myo-armband-7gestures"
BASELINE = ("lda", "none")
FEATURE_INPUTS = ("lda", "feature_lda")  # the baseline's 4 features and the rich set (feature_mlp's too)
WINDOW_MS, STEP_MS = 200.0, 50.0


def input_costs(recordings, repeats: int) -> list[dict]:
    """Seconds to compute each feature classifier's inputs of every recording, per window and per file."""
    signals = [(np.asarray(r.data, dtype=np.float32), r.sample_rate) for r in recordings]
    rows = []
    for name in FEATURE_INPUTS:
        clf = CLASSIFIERS[name]()
        jobs = [(x, fs, round(WINDOW_MS * fs / 1000), round(STEP_MS * fs / 1000)) for x, fs in signals]
        clf.transform_recording(*jobs[0])  # warm-up
        per_window = timed(lambda: [clf.transform(np.ascontiguousarray(sliding_windows(x, size, step)), fs)
                                    for x, fs, size, step in jobs], repeats)  # windows (n, size, C)
        per_file = timed(lambda: [clf.transform_recording(*job) for job in jobs], repeats)
        rows.append({"inputs": name, "features": len(clf.transform.names), "per_window_s": per_window,
                     "per_file_s": per_file, "ratio": per_window / per_file})
    return rows


def run(recordings, protocol, model, normalise):
    t0 = time.perf_counter()
    m = evaluate(recordings, protocol=protocol, classifier=model, normalise=normalise, progress=False)
    return m, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--quick", action="store_true", help="3 people, baseline and default only (CI)")
    p.add_argument("--models", nargs="+", default=["lda", "feature_lda", "feature_mlp", "spectrogram_cnn"],
                   help="models for within-subject; cross-subject (40 folds of 39 people) runs --cross-models")
    p.add_argument("--cross-models", nargs="+", default=["lda", "feature_lda"])
    p.add_argument("--normalise", nargs="+", default=["none", "session"])
    p.add_argument("--protocols", nargs="+", default=["within-subject", "cross-subject"])
    p.add_argument("--json", type=Path, default=None, help="write all results here")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of the input costs; the median counts")
    p.add_argument("--inputs-only", action="store_true",
                   help="time the feature inputs (per window vs per file) on the first protocol's recordings and stop")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} is absent (the real Myo data set from ../shared/data)")
        return 0

    def configs(protocol):
        if args.quick:
            return [BASELINE, (DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION)]
        models = args.models if protocol == "within-subject" else args.cross_models
        return [BASELINE] + [(m, n) for m in models for n in args.normalise if (m, n) != BASELINE]

    with tempfile.TemporaryDirectory() as tmp:
        manifest = read_manifest(import_myo_armband(args.data, tmp).manifest)
        results = []
        for protocol in args.protocols:
            if protocol == "within-subject":
                subset = manifest.select(subjects=[s for s in manifest.subjects if s.startswith("EvaluationDataset/")])
            else:
                subset = manifest.select(sessions=["training0"])
            if args.quick:
                subset = subset.select(subjects=subset.subjects[:3])
            recordings = subset.load()
            print(f"\n{protocol}: {len(subset.subjects)} people, {len(recordings)} recordings")
            if protocol == args.protocols[0]:
                for row in input_costs(recordings, args.repeats):
                    print(f"inputs of {row['inputs']} ({row['features']} features): per window {row['per_window_s']:.2f} s, "
                          f"per file {row['per_file_s']:.2f} s -> {row['ratio']:.2f}x")
                    results.append({"protocol": protocol, "people": len(subset.subjects), **row})
                if args.inputs_only:
                    break
            print(f"{'model':16s} {'normalise':9s} {'group':16s} {'window acc':>10s} {'vs LDA':>7s} "
                  f"{'recording acc':>13s} {'seconds':>8s}")
            base = {}
            for model, normalise in configs(protocol):
                m, seconds = run(recordings, protocol, model, normalise)
                for group, g in m["groups"].items():
                    if (model, normalise) == BASELINE:
                        base[group] = g["window_accuracy_mean"]
                    delta = g["window_accuracy_mean"] - base.get(group, float("nan"))
                    print(f"{model:16s} {normalise:9s} {group:16s} {g['window_accuracy_mean']:10.4f} {delta:+7.4f} "
                          f"{g['accuracy_mean']:13.4f} {seconds:8.1f}")
                    results.append({"protocol": protocol, "model": model, "normalise": normalise, "group": group,
                                    "people": len(subset.subjects), "seconds": seconds, **g})
                sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
