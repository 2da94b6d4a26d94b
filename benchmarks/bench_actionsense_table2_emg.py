"""The sEMG rows of the fusion paper's Table 2 on REAL ActionSense sEMG segments (no RGB exists for them here).

The shared segments (2,780 x 2.5 s, both arms, 16 channels, 21 classes; see ../shared/data/actionsense/SOURCE.md)
are already rectified, low-passed and normalised by another team, so only the paper's later steps run:
interpolate each segment to 800 samples, split into 5 clips of 160, mel-spectrograms per clip (16 x 10 x 81,
`emg_mel_spectrograms`), train the sEMG CNN on the training side and embed every clip (5 x 1024), then train
and test the rows "LSTM sEMG (raw)", "Linear sEMG" and "LSTM sEMG" exactly as `myovision experiment actionsense`
does (the paper's SGD, early stopping on validation accuracy). The sEMG CNN trains with each recipe asked for
(`--recipes`: "paper", the paper's SGD on mel power, and "myovision", AdamW on log mel power), side by side on
the same splits. The raw row reads the segments as they are: these segments hold no signal from before
preprocessing (on ActionSense HDF5 recordings the experiment feeds that row the raw sEMG). Two protocols, each
trains its own CNN:

- subject-wise: the test side is whole people never seen in training; validation holds out
  (subject, activity) groups of the training people, the closest thing to activity instances these
  segments record;
- random: a random 70/30 split of segments, the authors' style; neighbouring segments of one activity
  instance land on both sides, so it measures memorisation as much as recognition.

    python benchmarks/bench_actionsense_table2_emg.py --backbone-epochs 10 --seeds 0 1 2   # RESULTS.md
    (or the same with --protocols subject, and with --protocols random, in two processes; --rows leaves out
    rows, e.g. the raw row, which does not depend on the CNN recipe)
    python benchmarks/bench_actionsense_table2_emg.py --quick                # CI: 1/8 of 3 people, short training
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from shared_data import SHARED_DATA

from myovision.data import load_emg_segments
from myovision.data.actionsense_samples import emg_mel_spectrograms
from myovision.actions.config import BACKBONE_RECIPES
from myovision.actions.table2 import TABLE2, TrainConfig, clip_features, run_row
from myovision.actions.splits import make_split
from myovision.signals import interpolate_to_length, split_clips

DATA = SHARED_DATA / "actionsense" / "emg_segments"
EMG_ROWS = [r for r in TABLE2 if r.modalities in (("emg",), ("emg_raw",))]
FS = 160.0  # the paper's assumed rate, which sets its mel frequency scale


def segment_clips(folder: Path, subjects=None):
    """(emg_clips (N, 5, 160, 16), mel_clips (N, 5, 16, 10, 81), labels (N,), class names, subjects (N,))."""
    seg = load_emg_segments(folder, subjects=subjects)
    emg = interpolate_to_length(seg.X, 800)  # (N, 374, 16) -> (N, 800, 16)
    mel_clips, _ = emg_mel_spectrograms(emg, 5, FS)
    names, labels = np.unique(seg.labels, return_inverse=True)
    return split_clips(emg.astype(np.float32), 5), mel_clips, labels, names, seg.subjects


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA, help="folder of the ActionSense sEMG segments")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="split seeds, one split per protocol each")
    p.add_argument("--rows", nargs="+", choices=[r.name for r in EMG_ROWS], default=[r.name for r in EMG_ROWS],
                   help="Table 2 rows to train (default: every sEMG row)")
    p.add_argument("--backbone-epochs", type=int, default=TrainConfig.backbone_epochs, help="sEMG CNN epochs")
    p.add_argument("--recipes", nargs="+", choices=sorted(BACKBONE_RECIPES), default=["paper", "myovision"],
                   help="sEMG CNN recipes to compare on the same splits")
    p.add_argument("--protocols", nargs="+", choices=["subject", "random"], default=["subject", "random"],
                   help="splits to run (one process per protocol runs them side by side)")
    p.add_argument("--quick", action="store_true", help="CI: 1/8 of 3 people, one seed, short training")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: {args.data} is absent (the real ActionSense segments from ../shared/data)")
        return 0
    emg_clips, mel_clips, labels, names, subjects = segment_clips(args.data)
    if args.quick:  # every 8th segment of three people
        keep = np.flatnonzero(np.isin(subjects, ["S00", "S01", "S02"]))[::8]
        emg_clips, mel_clips, labels, subjects = emg_clips[keep], mel_clips[keep], labels[keep], subjects[keep]
    configs = {recipe: TrainConfig(iterations=60, backbone_epochs=1, backbone_recipe=recipe) if args.quick else
               TrainConfig(backbone_epochs=args.backbone_epochs, backbone_recipe=recipe) for recipe in args.recipes}
    n_classes = int(labels.max()) + 1
    print(f"{len(labels)} segments, {n_classes} classes, subjects {sorted(set(subjects.tolist()))}; chance (majority class) "
          f"{np.bincount(labels).max() / len(labels):.3f}")
    instance = np.char.add(np.char.add(subjects.astype(str), "/"), labels.astype(str))  # (subject, activity)
    results = {}
    for protocol, groups in (("subject", instance), ("random", np.arange(len(labels)))):
        if protocol not in args.protocols:
            continue
        for seed in args.seeds[:1] if args.quick else args.seeds:
            split = make_split(protocol, labels=labels, groups=groups, subjects=subjects, seed=seed,
                               test_fraction=0.3)
            for recipe, config in configs.items():
                t0 = time.perf_counter()
                feats = clip_features(mel_clips, emg_clips, np.zeros((len(labels), 5, 1), np.float32), labels,
                                      split, n_classes, config, seed)
                print(f"{protocol} seed {seed}, {recipe} recipe: {len(split.train)}/{len(split.val)}/{len(split.test)} "
                      f"train/val/test, test subjects "
                      f"{sorted(set(subjects[split.test].tolist())) if protocol == 'subject' else 'all'}; "
                      f"CNN {time.perf_counter() - t0:.0f} s", flush=True)
                for row in (r for r in EMG_ROWS if r.name in args.rows):
                    if row.modalities == ("emg_raw",) and recipe != args.recipes[0]:
                        continue  # the raw row does not use the CNN: once per split
                    r = run_row(row, feats, labels, split, n_classes, config, seed)
                    key = (protocol, row.name if row.modalities == ("emg_raw",) else f"{row.name} ({recipe})")
                    results.setdefault(key, []).append(r.accuracy)
                    print(f"  {key[1]:30s} accuracy {r.accuracy:.3f}  top-5 {r.top5:.3f}  ({r.seconds:.0f} s)")
                    sys.stdout.flush()
    print("\n| protocol | row | accuracy mean | std | seeds |\n|---|---|---|---|---|")
    for (protocol, name), acc in results.items():
        print(f"| {protocol} | {name} | {np.mean(acc):.3f} | {np.std(acc, ddof=1) if len(acc) > 1 else 0:.3f} "
              f"| {len(acc)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
