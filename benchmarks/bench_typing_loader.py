"""Training-window loading speed, in the same run: per-window spectrograms (HDF5 read + log spectrogram + the
augmentation per window, collated into batches of 32: the path without ``--cached-spectrograms``) against whole
batches gathered from each session's spectrogram computed once (``--cached-spectrograms``), alone (band rotation
and SpecAugment then run on the training device) and with that augmentation run here on the CPU too.

    OMP_NUM_THREADS=1 python benchmarks/bench_typing_loader.py [--quick] [--workers 0] [--sessions 4]

Synthetic sessions of 60 s, 4 s windows with emg2qwerty's (1800, 200) context, the training DataLoader (one
persistent loader, timed from its first batch). Goal: >= 2,000 training windows/s on 2 cores (the issue
measured ~21 before).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from myovision.data.emg2qwerty import WindowedSessions, collate_windows
from myovision.data.spectrogram_windows import SpectrogramWindows
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.training import EpochWindows, SpectrogramBatches, TrainingWindows, augment_batch

BATCH = 32


def windows_per_second(dataset, workers: int, min_windows: int, augment_here: bool = False) -> tuple[float, float]:
    """Windows per second of wall time and per second of this process's CPU time (nearer what an idle core gives
    on a loaded machine; with workers most of the work is theirs) through one DataLoader kept across epochs (persistent workers),
    timed from its first batch; ``augment_here``: :func:`augment_batch` on each batch in this process, as a
    CPU-only training run does."""
    batched = isinstance(dataset, SpectrogramBatches)
    sampler = EpochWindows(len(dataset), 0, batch_size=BATCH if batched else None)
    loader = DataLoader(dataset, batch_size=None if batched else BATCH, sampler=sampler,
                        collate_fn=None if batched else collate_windows, num_workers=workers,
                        persistent_workers=workers > 0)
    loaded, epoch, start, cpu = 0, 0, None, 0.0
    while loaded < min_windows:
        sampler.set_epoch(epoch)
        for batch in loader:
            if augment_here:
                batch = augment_batch(batch)
            if start is None:  # workers started and warm: time from here
                start, cpu = time.perf_counter(), time.process_time()
                continue
            loaded += batch["inputs"].shape[1]
            del batch  # as a training loop lets go of the batch it has used
        epoch += 1
    return loaded / (time.perf_counter() - start), loaded / (time.process_time() - cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4, help="synthetic sessions of 60 s (default 4)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0: in-process)")
    parser.add_argument("--quick", action="store_true", help="2 sessions, fewer windows timed")
    args = parser.parse_args()
    n_sessions, before_min, after_min = (2, 30, 600) if args.quick else (args.sessions, 100, 6000)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_synthetic_typing(Path(tmp) / "data", n_sessions=n_sessions, duration_s=60, seed=0)
        before = TrainingWindows(WindowedSessions(paths, window=8000, padding=(1800, 200), jitter=True), 0)
        cached = SpectrogramWindows(paths, window=8000, padding=(1800, 200), jitter=True,
                                    cache_dir=Path(tmp) / "cache")
        one_thread = SpectrogramWindows(paths, window=8000, padding=(1800, 200), jitter=True,
                                        cache_dir=Path(tmp) / "cache", copy_threads=1)
        t0 = time.perf_counter()
        for k in range(len(cached.sessions)):
            cached.spectrogram(k)
        cache_s = time.perf_counter() - t0
        after = SpectrogramBatches(cached, 0)
        print(f"{len(paths)} sessions, {len(before)} windows of 4 s per epoch, batches of {BATCH}, {args.workers} "
              f"workers, {cached.copy_threads} copy threads; spectrogram cache built once in {cache_s:.2f} s")
        rates = {"per-window spectrograms (before)": windows_per_second(before, args.workers, before_min),
                 "cached batches, one copy thread": windows_per_second(SpectrogramBatches(one_thread, 0),
                                                                       args.workers, after_min),
                 "cached batches, augmentation on the device (after)": windows_per_second(after, args.workers,
                                                                                          after_min),
                 "cached batches + augmentation on this CPU (after)": windows_per_second(
                     after, args.workers, after_min // 4, augment_here=True)}
    for name, (wall, cpu) in rates.items():
        per_cpu = f" ({cpu:8.1f} per CPU-second)" if args.workers == 0 else ""  # workers' CPU time is not counted
        print(f"{name:52s} {wall:8.1f} windows/s{per_cpu}")
    best = rates["cached batches, augmentation on the device (after)"][0]
    print(f"ratio {best / rates['per-window spectrograms (before)'][0]:.1f}x; goal >= 2,000 windows/s: "
          f"{'met' if best >= 2000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
