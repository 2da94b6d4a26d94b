"""Speed of the fusion paper's Table 2 suite at ActionSense size: every row, time per row, per seed.

Inputs have the paper's shapes: 799 training and 343 test actions (a validation split of 15% is carved
from the 799, as our protocols do), 20 classes, 5 clips per action, RGB and sEMG clip features of 1024
dims each, raw sEMG clips of 160 samples x 16 channels (2560 per clip). The features are seeded Gaussian
class prototypes plus noise, so training converges and early stopping behaves as on real features.
Training uses the defaults of `myovision experiment actionsense` (the paper's SGD, 2,000 iterations at
most, early stopping after 30 epochs without validation gain). The sEMG CNN backbone is timed separately
(it runs once per seed, before the rows; two epochs are timed), on (N, 5, 16, 10, 81) mel clips.

Two references are measured in the same run, so the times can be read on a loaded machine:
- the floor of each row: its training steps x 3 x (forward multiply-adds of one batch, counted by
  `myovision.profiling.count_macs`) x 2 FLOPs, divided by this CPU's float32 matrix-multiply throughput;
- the data path before it was batched (a DataLoader that collates 32 items per step) on one row.

Two schedules: "paper" (SGD lr 0.01, momentum 0.9, up to 2,000 iterations, patience 30 epochs) and "short"
(Adam lr 1e-3, up to 150 iterations = 7 epochs, patience 3; `myovision experiment actionsense --optimizer adam
--iterations 150`), each with its accuracy, so the cost of the shorter schedule is visible.

    python benchmarks/bench_fusion_table.py --schedule paper short   # full: claim: 11 rows < 60 s per seed
    python benchmarks/bench_fusion_table.py --quick                  # CI: 2 linear rows, short schedule
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from myovision.actions.table2 import TABLE2, TrainConfig, run_row
from myovision.actions.splits import Split
from myovision.actions.backbone import train_emg_backbone
from myovision.profiling import count_macs
from myovision.registry import create_model

N_TRAIN, N_TEST, N_CLASSES, N_CLIPS, DIM = 799, 343, 20, 5, 1024
CLAIM_S = 60.0
SCHEDULES = {"paper": TrainConfig(),
             "short": TrainConfig(optimizer="adam", lr=1e-3, iterations=150, patience=3)}


def features(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, Split]:
    """ActionSense-sized clip features {"rgb", "emg", "emg_raw"} (N, 5, dim), labels (N,), a 799/343 split."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    labels = rng.integers(0, N_CLASSES, n)
    out = {}
    for name, dim, signal in (("rgb", DIM, 0.05), ("emg", DIM, 0.04), ("emg_raw", 160 * 16, 0.01)):
        prototypes = rng.standard_normal((N_CLASSES, dim)).astype(np.float32)
        noise = rng.standard_normal((n, N_CLIPS, dim)).astype(np.float32)
        out[name] = signal * prototypes[labels][:, None, :] + noise  # (N, clips, dim)
    order = rng.permutation(N_TRAIN)
    n_val = int(round(0.15 * N_TRAIN))
    split = Split(np.sort(order[n_val:]), np.sort(order[:n_val]), np.arange(N_TRAIN, n))
    return out, labels, split


def time_backbone(labels: np.ndarray, split: Split, epochs: int, seed: int = 0) -> float:
    """Seconds to train the sEMG CNN on the training side's mel clips (N, 5, 16, 10, 81)."""
    rng = np.random.default_rng(seed)
    mel = rng.gamma(2.0, 1.0, (len(labels), N_CLIPS, 16, 10, 81)).astype(np.float32)
    t0 = time.perf_counter()
    train_emg_backbone(mel[split.train], labels[split.train], N_CLASSES,
                       val=(mel[split.val], labels[split.val]), epochs=epochs, seed=seed)
    return time.perf_counter() - t0


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    """float32 matrix-multiply throughput of this CPU at torch's thread count (best of `repeats`)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def train_step_gflop(row, feats: dict[str, np.ndarray], batch_size: int) -> float:
    """FLOPs of one training step of `row`: 3 x forward (forward + two backward matmuls) x 2 per MAC."""
    model = create_model(row.model, inputs={m: feats[m].shape[-1] for m in row.modalities}, num_classes=N_CLASSES,
                         **row.kwargs)
    batch = {m: torch.from_numpy(feats[m][:batch_size]) for m in row.modalities}
    return 3 * 2 * count_macs(model, batch) / 1e9


def collated_fit_seconds(row, feats, labels, split, config: TrainConfig) -> tuple[float, float]:
    """(ours, per-item collation) seconds for 5 epochs of `row`: the data path's gain, in one run."""
    from torch.utils.data import DataLoader

    import myovision.training.classifier as classifier

    short = TrainConfig(iterations=5 * (len(split.train) // config.batch_size), patience=None)
    ours = run_row(row, feats, labels, split, N_CLASSES, short, seed=0).seconds
    batched = classifier.batch_loader
    classifier.batch_loader = lambda ds, batch_size, shuffle=False, seed=0, drop_last=False: DataLoader(
        _ItemDataset(ds), batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed),
        drop_last=drop_last)
    try:
        plain = run_row(row, feats, labels, split, N_CLASSES, short, seed=0).seconds
    finally:
        classifier.batch_loader = batched
    return ours, plain


class _ItemDataset:
    """One sample per __getitem__ (the usual map-style Dataset), collated by the DataLoader."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        x, y = self.ds[[i]]
        return ({k: v[0] for k, v in x.items()} if isinstance(x, dict) else x[0]), y[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--schedule", nargs="+", default=["paper", "short"], choices=list(SCHEDULES))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [r for r in TABLE2 if r.name in ("Linear RGB", "Self-Attention Late-Fusion")] if args.quick else TABLE2
    schedules = ["short"] if args.quick else args.schedule
    feats, labels, split = features()
    print(f"{len(split.train)} train / {len(split.val)} val / {len(split.test)} test actions, {N_CLASSES} classes, "
          f"{N_CLIPS} clips x {DIM} x 2 modalities; torch threads {torch.get_num_threads()}")
    epochs = 1 if args.quick else 2
    backbone_split = Split(split.train[:100], split.val[:20], split.test) if args.quick else split
    per_epoch = time_backbone(labels, backbone_split, epochs) / epochs
    print(f"{'sEMG CNN backbone':30s} {per_epoch:8.1f} s per epoch on {len(backbone_split.train)} actions "
          f"(x {TrainConfig.backbone_epochs} epochs by default, once per seed)")
    gflops = matmul_gflops()
    print(f"float32 matmul throughput: {gflops:.1f} GFLOP/s")
    ours, plain = collated_fit_seconds(rows[0], feats, labels, split, SCHEDULES["paper"])
    print(f"data path, 5 epochs of {rows[0].name}: batched {ours:.2f} s vs per-item collation {plain:.2f} s "
          f"= {plain / ours:.1f}x faster")
    for name in schedules:
        config = SCHEDULES[name]
        print(f"\nschedule {name}: {config.optimizer} lr {config.lr}, <= {config.iterations} iterations, "
              f"patience {config.patience} epochs")
        print(f"{'row':30s} {'seconds':>8s} {'steps':>6s} {'floor s':>8s} {'x floor':>8s}  accuracy")
        total = floor_total = 0.0
        for row in rows:
            r = run_row(row, feats, labels, split, N_CLASSES, config, seed=0)
            floor = r.steps * train_step_gflop(row, feats, config.batch_size) / gflops
            total, floor_total = total + r.seconds, floor_total + floor
            print(f"{row.name:30s} {r.seconds:8.1f} {r.steps:6d} {floor:8.1f} {r.seconds / floor:8.1f}  {r.accuracy:.3f}")
            sys.stdout.flush()
        verdict = "meets" if total < CLAIM_S else "MISSES"
        print(f"{'all rows':30s} {total:8.1f} s = {total / CLAIM_S:.2f}x the {CLAIM_S:.0f} s budget ({verdict} it"
              f"{'; quick run, not the claim' if args.quick else ''}); FLOP floor {floor_total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
