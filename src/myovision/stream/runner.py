"""The online loop: chunks from a source -> a recogniser -> sinks, until the stream ends or is interrupted.

A recogniser (`myovision.gestures.online.OnlineGestureClassifier`, `myovision.emg_typing.online.OnlineTyping`)
has ``channels``, ``sample_rate``, ``push(chunk (n, C)) -> [record, ...]``, ``finish() -> [record, ...]`` and
``summary() -> dict``. Rows holding NaN or Inf are dropped before the recogniser and reported (the stream goes
on); Ctrl-C or SIGTERM ends the stream like its end does: the recogniser finishes and a summary is returned.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Protocol, TextIO

import numpy as np

from myovision.errors import InputError

#: relative difference allowed between a stream's nominal rate and the one a model was trained at
RATE_TOLERANCE = 0.01


class Recogniser(Protocol):
    channels: int
    sample_rate: float

    def push(self, chunk: np.ndarray) -> list[dict]: ...

    def finish(self) -> list[dict]: ...

    def summary(self) -> dict: ...


def check_layout(source, recogniser: Recogniser) -> None:
    """InputError naming the source when its channel count or sample rate is not the recogniser's."""
    if source.channels != recogniser.channels or abs(source.sample_rate - recogniser.sample_rate) > (
            RATE_TOLERANCE * recogniser.sample_rate):
        raise InputError(f"stream has {source.channels} channels at {source.sample_rate:g} Hz; the model expects "
                         f"{recogniser.channels} channels at {recogniser.sample_rate:g} Hz", source.name)


@contextmanager
def _sigterm_as_interrupt():
    """In the main thread, SIGTERM raises KeyboardInterrupt (as Ctrl-C does) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return None if not seconds else float(np.percentile(seconds, q) * 1000)


def run_stream(source, recogniser: Recogniser, sinks: Iterable, *, log: TextIO | None = None) -> dict:
    """Feed `source`'s chunks to `recogniser` and every record it returns to each sink; return the summary.

    Each record gets ``latency_ms``: the time from the chunk's arrival to the end of its processing. The summary
    holds why the stream ended, the chunks, samples and skipped (non-finite) samples, the records, the
    per-chunk latency p50 / p99 (ms) and the recogniser's own summary. Warnings go to `log` (stderr).
    """
    check_layout(source, recogniser)
    log = log or sys.stderr
    sinks = list(sinks)
    latencies, chunks, samples, skipped, records = [], 0, 0, 0, 0
    reason = None
    wall = time.perf_counter()

    def emit(outputs: list[dict], arrived: float) -> None:
        nonlocal records
        latency = time.perf_counter() - arrived
        for record in outputs:
            record["latency_ms"] = round(latency * 1000, 3)
            for sink in sinks:
                sink.emit(record)
        records += len(outputs)

    with _sigterm_as_interrupt():
        try:
            for chunk in source.chunks():
                arrived = time.perf_counter()
                finite = np.isfinite(chunk).all(axis=1)
                if not finite.all():
                    bad = np.flatnonzero(~finite)
                    log.write(f"{source.name}: skipped {len(bad)} samples with NaN/Inf at stream samples "
                              f"{(samples + bad[:5]).tolist()}{' ...' if len(bad) > 5 else ''}\n")
                    skipped += len(bad)
                    chunk = chunk[finite]
                samples += len(chunk)
                chunks += 1
                emit(recogniser.push(chunk), arrived)
                latencies.append(time.perf_counter() - arrived)
            reason = source.stop_reason or "end of stream"
        except KeyboardInterrupt:
            reason = "interrupted"
        emit(recogniser.finish(), time.perf_counter())
    return {"summary": {
        "source": source.name, "stopped": reason, "chunks": chunks, "samples": samples, "skipped_samples": skipped,
        "signal_seconds": samples / recogniser.sample_rate, "wall_seconds": time.perf_counter() - wall,
        "records": records, "latency_p50_ms": percentile_ms(latencies, 50),
        "latency_p99_ms": percentile_ms(latencies, 99), **recogniser.summary()}}
