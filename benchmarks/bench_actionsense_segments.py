"""Real ActionSense sEMG segments (2,780 x 2.5 s, both arms): activity accuracy, honest vs random split.

Two protocols, each with the LDA baseline (log-MAV, log-WL, ZC, SSC per channel; 200 ms windows, 50 ms
step) measured in the same run next to our classifiers:
- leave one subject out (cross-subject): no segment of the test person is seen in training;
- a random 70/30 split of segments (the fusion paper authors' style): neighbouring, overlapping
  segments of ONE activity instance land on both sides, so the score measures memorisation of that
  instance, not recognition of the activity.
A segment's label is the vote of its windows (`accuracy`); `window accuracy` counts windows alone.

    python benchmarks/bench_actionsense_segments.py            # full run
    python benchmarks/bench_actionsense_segments.py --quick    # CI: 2 subjects' files, LDA only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from shared_data import SHARED_DATA

from myovision.data import Recording, load_emg_segments
from myovision.gestures.evaluate import evaluate

DATA = SHARED_DATA / "actionsense" / "emg_segments"
SAMPLE_RATE = 150.0  # 374 samples per 2.5 s segment (SOURCE.md: "resampled to about 150 Hz")


def segment_recordings(folder: Path, subjects=None, seed: int = 0, test_fraction: float = 0.3) -> list[Recording]:
    """One Recording per segment; `split` is a seeded random 70/30 split stratified by label."""
    seg = load_emg_segments(folder, subjects=subjects)
    rng = np.random.default_rng(seed)
    split = np.empty(len(seg.X), dtype=object)
    for label in np.unique(seg.labels):
        idx = rng.permutation(np.flatnonzero(seg.labels == label))
        n_test = int(round(test_fraction * len(idx)))
        split[idx[:n_test]], split[idx[n_test:]] = "test", "train"
    return [Recording(data=seg.X[i], label=str(seg.labels[i]), subject=str(seg.subjects[i]), session="0",
                      sample_rate=SAMPLE_RATE, split=split[i], path=folder / f"{seg.subjects[i]}#{i}")
            for i in range(len(seg.X))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--models", nargs="+", default=["lda", "feature_lda", "feature_mlp"])
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} is absent (the real ActionSense segments from ../shared/data)")
        return 0
    recordings = segment_recordings(args.data, subjects=["S00", "S01"] if args.quick else None)
    models = ["lda"] if args.quick else args.models
    subjects = sorted({r.subject for r in recordings})
    print(f"{len(recordings)} segments, {len({r.label for r in recordings})} classes, subjects {subjects}")
    print(f"{'protocol':14s} {'model':12s} {'normalise':9s} {'accuracy':>8s} {'vs LDA':>7s} {'window acc':>10s} "
          f"{'seconds':>8s}")
    results = []
    for protocol in ("cross-subject", "split"):
        base = None
        for model in models:
            for normalise in ("none",) if model == "lda" else ("none", "session"):
                t0 = time.perf_counter()
                m = evaluate(recordings, protocol=protocol, classifier=model, normalise=normalise, progress=False)
                seconds = time.perf_counter() - t0
                base = m["accuracy"] if model == "lda" else base
                print(f"{protocol:14s} {model:12s} {normalise:9s} {m['accuracy']:8.4f} {m['accuracy'] - base:+7.4f} "
                      f"{m['window_accuracy']:10.4f} {seconds:8.1f}")
                sys.stdout.flush()
                results.append({"protocol": protocol, "model": model, "normalise": normalise, "seconds": seconds,
                                **{k: m[k] for k in ("accuracy", "balanced_accuracy", "window_accuracy", "groups")}})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
