"""Where a stream's samples come from: a recording replayed (`ArrayReplay`, `replay_source`) or an LSL inlet
(`LSLSource`). `open_source("replay:FILE" | "lsl:NAME", ...)` reads the command line's ``--source``.

A source has ``name``, ``channels``, ``sample_rate`` and ``chunks()``: an iterator of float32 (n, C) arrays that
ends when the stream does; ``stop_reason`` then says why ("end of recording", "timeout: ...").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np

from myovision.errors import InputError
from myovision.stream.lsl import import_pylsl, resolve_stream

#: file suffixes read as emg2qwerty sessions (2 kHz, left then right band: 32 channels)
SESSION_SUFFIXES = (".hdf5", ".h5")


class ArrayReplay:
    """A (T, C) array as a stream of `chunk_ms` chunks, `paced` at `sample_rate` or as fast as possible."""

    def __init__(self, data: np.ndarray, sample_rate: float, *, name: str = "replay", chunk_ms: float = 50.0,
                 paced: bool = True):
        self.data = np.asarray(data, dtype=np.float32)
        if self.data.ndim != 2:
            raise InputError(f"a replayed recording must be (time, channels), got shape {self.data.shape}", name)
        if not sample_rate or sample_rate <= 0:
            raise InputError("a replayed recording needs its sample rate (--rate)", name)
        self.name, self.sample_rate, self.paced = name, float(sample_rate), paced
        self.channels = self.data.shape[1]
        self.step = max(1, round(chunk_ms * self.sample_rate / 1000))
        self.stop_reason = None

    def chunks(self) -> Iterator[np.ndarray]:
        start = time.perf_counter()
        for i in range(0, len(self.data), self.step):
            chunk = self.data[i:i + self.step]
            if self.paced:
                time.sleep(max(0.0, start + (i + len(chunk)) / self.sample_rate - time.perf_counter()))
            yield chunk
        self.stop_reason = "end of recording"


def read_stream_file(path: str | Path, *, sample_rate: float | None = None,
                     channels: int | None = None) -> tuple[np.ndarray, float]:
    """(samples (T, C) float32, sample rate) of a recording the readers know: an emg2qwerty session (.hdf5: 32
    channels at 2 kHz) or a `myovision.data.read_recording` format (.npy .npz .csv .txt .dat; `sample_rate`
    required, `channels` required for .dat)."""
    from myovision.data.recordings import read_recording

    path = Path(path)
    if path.suffix.lower() in SESSION_SUFFIXES:
        from myovision.data.emg2qwerty import FS, read_session

        emg = read_session(path).emg()  # (T, 2, 16)
        return emg.reshape(len(emg), -1), float(sample_rate or FS)  # (T, 32): left band first
    if not sample_rate:
        raise InputError("give the recording's sample rate (--rate)", path)
    try:
        return read_recording(path, channels), float(sample_rate)
    except InputError:
        with_gaps = _read_with_nonfinite(path, channels)  # None: the refusal was for something else
        if with_gaps is None:
            raise
        return with_gaps, float(sample_rate)


def _read_with_nonfinite(path: Path, channels: int | None) -> np.ndarray | None:
    """The samples (T, C) float32 of a recording `myovision.data.read_recording` refuses only for its NaN/Inf
    samples, with them kept (a replay reports and skips them as a live stream's, `myovision.stream.run_stream`);
    None when the file has none (its refusal stands). Every other check is `read_recording`'s own."""
    from myovision.data.recordings import _read_dat, _read_npy, _read_npz, _read_text, check_samples

    readers = {".npy": _read_npy, ".npz": lambda p: _read_npz(p, None), ".csv": _read_text, ".txt": _read_text,
               ".dat": lambda p: _read_dat(p, channels)}
    reader = readers.get(path.suffix.lower())
    if reader is None or not path.is_file():
        return None
    try:
        raw = np.asarray(reader(path))
    except (OSError, InputError):  # read_recording's refusal of the same file stands
        return None
    if raw.dtype.kind != "f" or np.isfinite(raw).all():
        return None
    finite = np.isfinite(raw)
    samples = check_samples(np.where(finite, raw, 0), path, channels=channels)  # shape and channel checks
    return np.where(finite.reshape(samples.shape), samples, np.float32(np.nan))  # (T, C)


def replay_source(path: str | Path, *, sample_rate: float | None = None, channels: int | None = None,
                  chunk_ms: float = 50.0, paced: bool = True) -> ArrayReplay:
    data, fs = read_stream_file(path, sample_rate=sample_rate, channels=channels)
    return ArrayReplay(data, fs, name=str(path), chunk_ms=chunk_ms, paced=paced)


class LSLSource:
    """An LSL inlet on the stream named (or typed) `name`; ends after `timeout` seconds without a sample, or when
    the outlet is lost."""

    def __init__(self, name: str, *, timeout: float = 5.0, max_chunk: int = 4096):
        pylsl = import_pylsl()
        from pylsl.util import LostError

        info = resolve_stream(name, timeout)
        self.name = f"lsl:{name}"
        self.channels, self.sample_rate = info.channel_count(), float(info.nominal_srate())
        self.timeout, self.max_chunk = timeout, max_chunk
        self.inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False)
        self.inlet.open_stream(timeout)
        self._lost = LostError
        self.stop_reason = None

    def chunks(self) -> Iterator[np.ndarray]:
        last = time.perf_counter()
        try:
            while True:
                samples, stamps = self.inlet.pull_chunk(timeout=0.05, max_samples=self.max_chunk, min_samples=1,
                                                        as_numpy=True)  # (n, C) in the stream's dtype
                if len(stamps):
                    last = time.perf_counter()
                    yield np.asarray(samples, dtype=np.float32)
                elif time.perf_counter() - last > self.timeout:
                    self.stop_reason = f"timeout: no samples for {self.timeout:g} s"
                    return
        except self._lost:
            self.stop_reason = "stream lost"
        finally:
            self.inlet.close_stream()


def open_source(spec: str, *, sample_rate: float | None = None, channels: int | None = None, chunk_ms: float = 50.0,
                paced: bool = True, timeout: float = 5.0):
    """``replay:FILE`` (`replay_source`) or ``lsl:NAME`` (`LSLSource`); InputError for anything else."""
    kind, _, target = spec.partition(":")
    if kind == "replay" and target:
        return replay_source(target, sample_rate=sample_rate, channels=channels, chunk_ms=chunk_ms, paced=paced)
    if kind == "lsl" and target:
        return LSLSource(target, timeout=timeout)
    raise InputError(f"unknown source {spec!r}: use replay:FILE or lsl:NAME")
