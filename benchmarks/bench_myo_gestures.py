"""Real Myo armband gestures (Côté-Allard et al. 2019): our classifiers against the LDA baseline, one run.

Within-subject (EvaluationDataset: train on training0, test on Test0 and on Test1, per person, mean of
window accuracies, each 200 ms window classified alone) and cross-subject (leave one person out over the
training0 sessions of all people). The baseline is LDA on log-MAV, log-WL, ZC and SSC per channel,
200 ms windows, 50 ms step, measured in the same run. Results go to stdout and --json.

    python benchmarks/bench_myo_gestures.py                     # full run (about an hour on 2 cores)
    python benchmarks/bench_myo_gestures.py --quick             # CI: 3 people, LDA and the default
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from shared_data import SHARED_DATA

from myovision.data import import_myo_armband, read_manifest
from myovision.gestures import DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION
from myovision.gestures.evaluate import evaluate

DATA = SHARED_DATA / "myo-armband-7gestures"
BASELINE = ("lda", "none")


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
