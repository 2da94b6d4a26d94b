"""The training harness's cost per step against a bare PyTorch loop on the same model, data and optimiser.

Both train the sEMG spectrogram CNN (`emg_cnn`, 16 channels x 10 mels x 81 frames, widths 32/64, the
gestures and fusion systems' CNN) on the same seeded in-memory batches with AdamW and a per-epoch cosine
schedule. The harness run is the full production path: `fit_classifier` through `build_trainer` and
Lightning, with a run folder (CSV + TensorBoard logs, a Lightning checkpoint after every epoch) and a
validation pass per epoch for best-weights selection; the bare loop does only the steps. Goal: <= 1.2x.

    python benchmarks/bench_harness.py            # 6 epochs x 40 steps, 3 repeats (median)
    python benchmarks/bench_harness.py --quick    # CI: 2 epochs x 4 steps of 16, 1 repeat
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time

import torch
from torch import nn

import myovision as mv
from myovision.training.classifier import fit_classifier

GOAL = 1.2


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return mv.create_model("emg_cnn", in_channels=16, num_classes=8, input_size=(10, 81), widths=(32, 64))


def bare_loop(x, y, epochs: int, batch_size: int, seed: int) -> float:
    """Seconds of a plain PyTorch training loop (shuffle, forward, loss, backward, step; cosine per epoch)."""
    model = make_model(seed).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        for i in range(0, len(y) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
    return time.perf_counter() - t0


def harness(x, y, xv, yv, epochs: int, batch_size: int, seed: int) -> float:
    """Seconds of `fit_classifier` with a run folder, per-epoch checkpoints and validation."""
    model = make_model(seed)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        fit_classifier(model, x, y, xv, yv, epochs=epochs, batch_size=batch_size, lr=1e-3, seed=seed, out=out,
                       checkpoints=True)
        return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI: a short run that checks the path, not the claim")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs, steps, repeats, batch_size = (2, 4, 1, 16) if args.quick else (6, 40, 3, 64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * batch_size, 16, 10, 81, generator=g)
    y = torch.randint(0, 8, (steps * batch_size,), generator=g)
    xv, yv = x[:batch_size], y[:batch_size]
    harness(x[:batch_size * 2], y[:batch_size * 2], xv, yv, 1, batch_size, 0)  # warm-up: imports, first fit
    bare, ours = [], []
    for r in range(repeats):
        bare.append(bare_loop(x, y, epochs, batch_size, r))
        ours.append(harness(x, y, xv, yv, epochs, batch_size, r))
    b, h = statistics.median(bare), statistics.median(ours)
    n = epochs * steps
    ratio = h / b
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"emg_cnn, batch {batch_size}, {epochs} epochs x {steps} steps, {args.threads} threads, median of {repeats}")
    print(f"bare PyTorch loop   {1e3 * b / n:7.2f} ms/step")
    print(f"harness (Lightning) {1e3 * h / n:7.2f} ms/step (incl. validation, logs, a checkpoint per epoch)")
    print(f"harness / bare = {ratio:.3f}x ({verdict} the <= {GOAL}x goal{'; quick run, not the claim' if args.quick else ''})")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
