"""emg2qwerty training windows served in whole batches from each session's log spectrogram, computed once.

:func:`session_spectrogram` computes a session's log spectrogram once (cached on disk as a memory-mapped
``.npy``, shared by every data-loading process); :class:`SpectrogramWindows` locates a window's frames in it
(its start jitter in whole 16-sample hops, the bands' misalignment as a frame offset) and
:meth:`SpectrogramWindows.gather` copies a batch of windows straight into one ``(N, 2, T, 16, 33)`` array, handed
out as its ``(T, N, 2, 16, 33)`` view: one contiguous copy per band of each window (about 1.3x the rate of
copying into ``(T, N, ...)`` rows), into memory reused from batch to batch (:class:`BatchBuffers`), the windows
shared among ``copy_threads`` threads (numpy releases the GIL while it copies). Band rotation and SpecAugment are
left to the batch on its device (:func:`myovision.signals.augment.rotate_and_mask`).

>>> import tempfile
>>> from myovision.data.synthetic_typing import write_synthetic_typing
>>> paths = write_synthetic_typing(tempfile.mkdtemp(), n_sessions=1, duration_s=16, seed=0)
>>> windows = SpectrogramWindows(paths, window=8000, padding=(1792, 208))
>>> batch = windows.gather([windows.locate(1), windows.locate(2, band_shift=-3)])
>>> tuple(batch["inputs"].shape), batch["input_lengths"].tolist()  # (T, N, bands, electrodes, freq)
((622, 2, 2, 16, 33), [622, 619])
"""

from __future__ import annotations

import bisect
import os
import tempfile
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from myovision.data.emg2qwerty import TypingSession, WindowedSessions
from myovision.errors import InputError
from myovision.signals.spectrogram import log_spectrogram

#: emg2qwerty's log spectrogram: frames of ``N_FFT`` samples every ``HOP`` samples (2 kHz -> 125 frames/s).
N_FFT, HOP = 64, 16


def session_spectrogram(session: TypingSession, cache_dir: str | Path | None = None,
                        chunk: int = 1 << 16) -> np.ndarray:
    """The whole session's log spectrogram, band-major ``(bands=2, frames, 16, 33)`` float32, frame ``f`` covering
    samples ``16 f .. 16 f + 63`` (so a window starting at a multiple of 16 samples is a slice of it, exactly).

    Band-major, so that one band of a window is one contiguous block of the file (the bands of a window start at
    different frames when they are misaligned). Computed in chunks of ``chunk`` samples read from the session
    file. With ``cache_dir`` each chunk is written straight to ``NAME-SIZE-MTIME.bands.npy`` there (so memory
    stays one chunk whatever the session's length) and the file is returned memory-mapped (read-only), shared by
    every data-loading process; without it, the array is returned.
    """
    frames = 1 + (session.n_samples - N_FFT) // HOP
    if frames < 1:
        raise InputError(f"the session has {session.n_samples} samples, fewer than one {N_FFT}-sample frame",
                         session.path)
    shape = (2, frames, 16, N_FFT // 2 + 1)
    if cache_dir is None:
        out = np.empty(shape, dtype=np.float32)
        for first, spec in _spectrogram_chunks(session, frames, chunk):  # spec (chunk frames, 2, 16, 33)
            out[:, first:first + len(spec)] = spec.transpose(1, 0, 2, 3)
        return out
    stat = session.path.stat()
    target = Path(cache_dir) / f"{session.path.stem}-{stat.st_size}-{stat.st_mtime_ns}.bands.npy"
    if not target.is_file():
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        band_bytes = frames * 16 * (N_FFT // 2 + 1) * 4
        fd, partial = tempfile.mkstemp(dir=cache_dir, prefix=f"{target.name}.", suffix=".tmp")  # one per writer
        try:
            with os.fdopen(fd, "wb") as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
                data = f.tell()
                f.truncate(data + 2 * band_bytes)
                for first, spec in _spectrogram_chunks(session, frames, chunk):
                    for band in range(2):
                        f.seek(data + band * band_bytes + first * (band_bytes // frames))
                        f.write(np.ascontiguousarray(spec[:, band], dtype="<f4").data)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return np.load(target, mmap_mode="r")


def _spectrogram_chunks(session: TypingSession, frames: int, chunk: int):
    """``(first frame, its log spectrogram (chunk frames, 2, 16, 33))`` over the session, ``chunk`` samples a time."""
    step = (chunk // HOP) * HOP
    for first in range(0, frames, step // HOP):
        start = first * HOP
        emg = session.emg(start, min(start + step + N_FFT - HOP, session.n_samples))
        yield first, log_spectrogram(emg)[:frames - first]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class BatchBuffers:
    """Output arrays reused from batch to batch: an array is handed out again only once nothing refers to the
    last batch made from it (the view given out is watched with a weak reference; tensors made from it with
    ``torch.from_numpy``, and their views, keep it alive), so a batch still held is never overwritten.

    Fresh memory costs a page fault per page on first write: on the 2-core VM of ``benchmarks/RESULTS.md``
    filling a new 84 MB batch took about 2.5x (a numpy array) to 10x (a torch tensor) as long as refilling a
    reused one. Keeps at most ``keep`` arrays.
    """

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.arrays: list[tuple[np.ndarray, weakref.ref | None]] = []

    def take(self, shape: Sequence[int], rows: int) -> np.ndarray:
        """The first ``rows`` along axis 2 of a float32 C-contiguous array of ``shape``, of undefined content."""
        shape = tuple(shape)
        free = [i for i, (_, given) in enumerate(self.arrays) if given is None or given() is None]
        match = [i for i in free if self.arrays[i][0].shape == shape]
        if match:
            i, array = match[0], self.arrays[match[0]][0]
        else:
            array = np.empty(shape, dtype=np.float32)
            i = len(self.arrays) if len(self.arrays) < self.keep else (free[0] if free else None)
            if i is None:  # every kept array is still in use: this one is not kept
                return array[:, :, :rows]
            self.arrays[i:i + 1] = [(array, None)]
        view = array[:, :, :rows]
        self.arrays[i] = (array, weakref.ref(view))
        return view

    def __getstate__(self) -> dict:
        """A copy for another process starts with no arrays."""
        return {"keep": self.keep, "arrays": []}


@dataclass
class WindowFrames:
    """Where one window's log spectrogram frames lie: session ``session``, ``length`` frames from frame
    ``first[b]`` for band ``b`` (the bands differ when they are misaligned), and the window's labels."""

    session: int
    first: tuple[int, int]
    length: int
    labels: np.ndarray


class SpectrogramWindows(WindowedSessions):
    """:class:`~myovision.data.emg2qwerty.WindowedSessions` served from each session's log spectrogram computed
    once (:func:`session_spectrogram`) instead of one spectrogram per window.

    A window's first frame is the one starting at its first (padded) sample rounded down to a multiple of 16
    samples (the hop): equal to the per-window spectrogram when the start and the past padding are multiples of
    16 (``jitter`` draws window starts in whole hops), otherwise at most 15 samples (7.5 ms) earlier.
    ``window[i]`` is one plain window ``(inputs (T', 2, 16, 33), labels (S,))``; :meth:`gather` serves batches.

    copy_threads: threads that copy a batch's windows (default: the CPUs this process may use, at most 4).
    """

    def __init__(self, sessions: Sequence[str | Path | TypingSession], *, cache_dir: str | Path | None = None,
                 copy_threads: int | None = None, **kwargs):
        super().__init__(sessions, **kwargs)
        self.cache_dir = cache_dir
        self.buffers = BatchBuffers()
        self.copy_threads = copy_threads or min(4, usable_cpus())
        self._specs: dict[int, np.ndarray] = {}
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # (the process it belongs to, the pool)

    def __getstate__(self) -> dict:
        """Data-loading workers re-map the cached files instead of receiving copies of the spectrograms, and
        start their own copy threads."""
        state = dict(self.__dict__)
        state["_specs"] = {} if self.cache_dir is not None else self._specs
        state["_pool"] = None
        return state

    def spectrogram(self, k: int) -> np.ndarray:
        """Session ``k``'s log spectrogram ``(2, frames, 16, 33)`` (computed or mapped on first use)."""
        if k not in self._specs:
            self._specs[k] = session_spectrogram(self.sessions[k], self.cache_dir)
        return self._specs[k]

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.gather([self.locate(idx)], reuse=False)
        return batch["inputs"][:, 0], batch["targets"][0]

    def locate(self, idx: int, rng: np.random.Generator | None = None, band_shift: int = 0) -> WindowFrames:
        """The frames of window ``idx`` with its context, and its labels.

        With ``jitter`` the start moves by a whole number of hops drawn from ``rng`` (default: the dataset's
        generator). ``band_shift`` ``m`` frames misaligns the bands as
        :class:`~myovision.signals.augment.TemporalJitter` does by ``16 m`` samples (``m > 0`` pairs band 0's
        frames ``m:`` with band 1's ``:-m``; the window loses ``|m|`` frames; ``|m|`` is capped one frame short
        of the window).
        """
        if not 0 <= idx < len(self):
            raise IndexError(idx)
        k = bisect.bisect_right(self.offsets, idx) - 1
        session = self.sessions[k]
        if self.window is None:
            f0, n_frames, labels = 0, 1 + (session.n_samples - N_FFT) // HOP, session.key_labels
        else:
            start = (idx - int(self.offsets[k])) * self.stride
            leftover = session.n_samples - (start + self.window)
            if self.jitter and leftover >= HOP:
                start += HOP * int((self.rng if rng is None else rng).integers(0, min(self.stride, leftover) // HOP))
            stop = start + self.window
            first, end = max(start - self.padding[0], 0), min(stop + self.padding[1], session.n_samples)
            f0, n_frames = first // HOP, 1 + (end - first - N_FFT) // HOP
            labels = session.labels_between(session.time[start], session.time[stop - 1])
        m = max(-(n_frames - 1), min(n_frames - 1, int(band_shift)))
        return WindowFrames(k, (f0 + max(m, 0), f0 + max(-m, 0)), n_frames - abs(m), labels)

    def gather(self, windows: Sequence[WindowFrames], reuse: bool = True) -> dict[str, torch.Tensor]:
        """A CTC batch of ``windows`` (as :func:`~myovision.data.emg2qwerty.collate_windows` makes): ``inputs
        (T, N, 2, 16, 33)`` zero-padded in time, ``targets (N, S)``, ``input_lengths`` and ``target_lengths``.

        One copy per band of each window from the (memory-mapped) session spectrogram into one array, taken
        from :class:`BatchBuffers` when ``reuse`` (else new memory).
        """
        n_time = max(w.length for w in windows)
        n_bands, _, *rest = self.spectrogram(windows[0].session).shape
        shape = (len(windows), n_bands, n_time, *rest)  # (N, 2, T, 16, 33): each band of a window is one block
        if reuse and self.window is not None:
            longest = 1 + (self.window + sum(self.padding) - N_FFT) // HOP
            out = self.buffers.take((*shape[:2], max(longest, n_time), *rest), n_time)
        else:
            out = np.empty(shape, dtype=np.float32)
        specs = [self.spectrogram(w.session) for w in windows]  # mapped here, before any copy thread reads them

        def copy(n: int) -> None:
            w = windows[n]
            for band, first in enumerate(w.first):
                out[n, band, :w.length] = specs[n][band, first:first + w.length]  # one contiguous block to another
            out[n, :, w.length:] = 0.0

        if self.copy_threads > 1 and len(windows) > 1:
            if self._pool is None or self._pool[0] != os.getpid():  # a forked worker has none of its parent's threads
                self._pool = (os.getpid(), ThreadPoolExecutor(self.copy_threads, thread_name_prefix="myovision-gather"))
            list(self._pool[1].map(copy, range(len(windows))))
        else:
            for n in range(len(windows)):
                copy(n)
        labels = [torch.from_numpy(w.labels.copy()) for w in windows]
        return {"inputs": torch.from_numpy(out).permute(2, 0, 1, 3, 4),  # (N, 2, T, 16, 33) -> (T, N, 2, 16, 33)
                "targets": torch.nn.utils.rnn.pad_sequence(labels, batch_first=True),  # (N, S)
                "input_lengths": torch.tensor([w.length for w in windows], dtype=torch.int64),
                "target_lengths": torch.tensor([len(y) for y in labels], dtype=torch.int64)}
