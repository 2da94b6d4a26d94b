"""Training-window loading speed: per-window spectrograms (HDF5 read + log spectrogram per window, before) against
windows sliced from each session's spectrogram computed once (``--cached-spectrograms``, after), both with the
training augmentation, through the training DataLoader (batch 32), in the same run.

    OMP_NUM_THREADS=1 python benchmarks/bench_typing_loader.py [--quick] [--workers 2] [--sessions 4]

Synthetic sessions of 60 s, 4 s windows with emg2qwerty's (1800, 200) context. Goal: >= 2,000 training
windows/s on 2 cores (the issue measured ~21 before).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from myovision.data.emg2qwerty import SpectrogramWindows, WindowedSessions, collate_windows
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.training import CachedTrainingWindows, EpochWindows, TrainingWindows


def windows_per_second(dataset, workers: int, min_windows: int) -> float:
    """Windows/s through one DataLoader kept across epochs (persistent workers), timed from its first batch."""
    sampler = EpochWindows(len(dataset), 0)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler, collate_fn=collate_windows, num_workers=workers,
                        persistent_workers=workers > 0)
    loaded, epoch, start = 0, 0, None
    while loaded < min_windows:
        sampler.set_epoch(epoch)
        for batch in loader:
            if start is None:  # workers started and warm: time from here
                start = time.perf_counter()
                continue
            loaded += batch["inputs"].shape[1]
        epoch += 1
    return loaded / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4, help="synthetic sessions of 60 s (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2: the 2 cores)")
    parser.add_argument("--quick", action="store_true", help="2 sessions, fewer windows timed")
    args = parser.parse_args()
    n_sessions, before_min, after_min = (2, 30, 300) if args.quick else (args.sessions, 100, 3000)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_synthetic_typing(Path(tmp) / "data", n_sessions=n_sessions, duration_s=60, seed=0)
        before = TrainingWindows(WindowedSessions(paths, window=8000, padding=(1800, 200), jitter=True), 0)
        cached = SpectrogramWindows(paths, window=8000, padding=(1800, 200), jitter=True,
                                    cache_dir=Path(tmp) / "cache")
        t0 = time.perf_counter()
        for k in range(len(cached.sessions)):
            cached.spectrogram(k)
        cache_s = time.perf_counter() - t0
        after = CachedTrainingWindows(cached, 0)
        print(f"{len(paths)} sessions, {len(before)} windows of 4 s per epoch; spectrogram cache built once in "
              f"{cache_s:.2f} s")
        rate_before = windows_per_second(before, args.workers, before_min)
        rate_after = windows_per_second(after, args.workers, after_min)
    print(f"per-window spectrograms (before): {rate_before:8.1f} windows/s ({args.workers} workers)")
    print(f"cached spectrograms (after):      {rate_after:8.1f} windows/s ({args.workers} workers)")
    print(f"ratio {rate_after / rate_before:.1f}x; goal >= 2,000 windows/s: {'met' if rate_after >= 2000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
