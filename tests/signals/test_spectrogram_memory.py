"""log_spectrogram's working memory: its output plus a fixed scratch, whatever the recording's length (issue 21's
bounded-memory goal; benchmarks/bench_memory.py measures the hour-long case in resident memory)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from myovision.signals.spectrogram import log_spectrogram


def traced_peak_beyond_output(n_time: int) -> int:
    """Peak bytes numpy allocates during one call on (n_time, 32) float32 noise, less the output's bytes."""
    x = np.random.default_rng(n_time).standard_normal((n_time, 32), dtype=np.float32)
    tracemalloc.start()
    try:
        out = log_spectrogram(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - out.nbytes


def test_log_spectrogram_needs_no_memory_that_grows_with_the_recording():
    short, long = traced_peak_beyond_output(20_000), traced_peak_beyond_output(200_000)  # 10 s and 100 s at 2 kHz
    assert long <= short + (1 << 20), (short, long)  # input 25.6 MB, output 52.8 MB: no whole-signal temporary
    assert short < 32 << 20  # the per-thread blocks of frames
