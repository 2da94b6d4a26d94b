"""The training harness's cost per step against a bare PyTorch loop on the same model, data and optimiser.

Both train the sEMG spectrogram CNN (`emg_cnn`, 16 channels x 10 mels x 81 frames, widths 32/64, the
gestures and fusion systems' CNN) on the same seeded in-memory batches with AdamW and a per-epoch cosine
schedule. The harness run is the full production path: `fit_classifier` through `build_trainer` and
Lightning, with a run folder (CSV + TensorBoard logs, a Lightning checkpoint after every epoch) and a
validation pass per epoch for best-weights selection; the bare loop does only the steps. The goal (<= 1.2x) is
on the time per training step (each epoch from its first batch to its last); the whole fit, with its set-up,
validation and checkpoints, is printed beside it.

    python benchmarks/bench_harness.py            # 4 epochs x 20 steps of 32, 3 repeats (median)
    python benchmarks/bench_harness.py --quick    # CI: 2 epochs x 4 steps of 16, 1 repeat
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time

import torch
from lightning.pytorch.callbacks import Callback
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


class StepClock(Callback):
    """Seconds spent from each epoch's first training batch to its last (fetching, forward, backward, optimiser
    step, logging: what every step costs), leaving out set-up and the epoch-end validation and checkpoint."""

    def __init__(self):
        self.seconds, self._start = 0.0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == trainer.num_training_batches - 1:
            self.seconds += time.perf_counter() - self._start


def harness(x, y, xv, yv, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    """(seconds of the epochs' training steps, seconds of the whole `fit_classifier` call with a run folder,
    per-epoch checkpoints and validation)."""
    model = make_model(seed)
    clock = StepClock()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        fit_classifier(model, x, y, xv, yv, epochs=epochs, batch_size=batch_size, lr=1e-3, seed=seed, out=out,
                       checkpoints=True, callbacks=[clock])
        return clock.seconds, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI: a short run that checks the path, not the claim")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs, steps, repeats, batch_size = (2, 4, 1, 16) if args.quick else (4, 20, 3, 32)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * batch_size, 16, 10, 81, generator=g)
    y = torch.randint(0, 8, (steps * batch_size,), generator=g)
    xv, yv = x[:batch_size], y[:batch_size]
    harness(x[:batch_size * 2], y[:batch_size * 2], xv, yv, 1, batch_size, 0)  # warm-up: imports, first fit
    bare, steps_s, whole = [], [], []
    for r in range(repeats):
        bare.append(bare_loop(x, y, epochs, batch_size, r))
        stepping, total = harness(x, y, xv, yv, epochs, batch_size, r)
        steps_s.append(stepping)
        whole.append(total)
    b, h, w = statistics.median(bare), statistics.median(steps_s), statistics.median(whole)
    n = epochs * steps
    ratio = h / b
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"emg_cnn, batch {batch_size}, {epochs} epochs x {steps} steps, {args.threads} threads, median of {repeats}")
    print(f"bare PyTorch loop            {1e3 * b / n:8.2f} ms/step")
    print(f"harness, its training steps  {1e3 * h / n:8.2f} ms/step")
    print(f"harness, whole fit           {1e3 * w / n:8.2f} ms/step (+ set-up, validation, logs, a checkpoint an epoch)")
    print(f"per step: harness / bare = {ratio:.3f}x ({verdict} the <= {GOAL}x goal"
          f"{'; quick run, not the claim' if args.quick else ''}); whole fit / bare = {w / b:.2f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
