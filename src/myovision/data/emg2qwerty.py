"""emg2qwerty sessions: the HDF5 reader, split files, 4 s training windows and whole-session evaluation.

A session file (Sivakumar et al. 2024, "emg2qwerty") holds group ``emg2qwerty`` with a table
``timeseries`` (one row per sample at 2 kHz: ``time`` in seconds, ``emg_left`` and ``emg_right`` with 16
channels each) and attributes ``keystrokes`` (JSON list of ``{key, start, end}``), ``prompts`` (JSON list of
``{name, start, end, payload: {text}}``), ``session_name``, ``user``, ``condition`` and ``duration_mins``.
A group with three separate datasets ``time``, ``emg_left``, ``emg_right`` is read too.

Labels are the keystrokes whose key-down time (``start``) lies inside a window, as emg2qwerty's
``WindowedEMGDataset``: training windows are 8,000 samples with 1,800 past and 200 future samples of
context; evaluation feeds whole sessions. EMG comes as ``(T, bands=2, electrodes=16)`` float32, left first.
Windows served in whole batches from each session's spectrogram computed once:
:mod:`myovision.data.spectrogram_windows`.

>>> import tempfile
>>> from myovision.data.synthetic_typing import write_synthetic_typing
>>> paths = write_synthetic_typing(tempfile.mkdtemp(), n_sessions=1, duration_s=16, seed=0)
>>> s = read_session(paths[0])
>>> s.emg().shape, len(s.key_labels) > 10
((32000, 2, 16), True)
>>> ds = WindowedSessions(paths, window=8000, padding=(1800, 200))
>>> x, y = ds[1]
>>> tuple(x.shape)  # (T', bands, electrodes, freq) log spectrogram of 200 + 8000 + 200 samples
(622, 2, 16, 33)
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from myovision.data.charset import CHARSET
from myovision.errors import InputError, excerpt
from myovision.fileio import read_yaml
from myovision.signals.spectrogram import log_spectrogram

GROUP = "emg2qwerty"
FS = 2000.0
SPLITS = ("train", "val", "test")
#: The shortest session read: one emg2qwerty training window (4 s at 2 kHz); whole-session decoding needs the
#: models' receptive field (about a second) too.
MIN_SESSION_SAMPLES = 8000


@dataclass
class TypingSession:
    """One session: key-down times and labels in memory, EMG read from the file on demand."""

    path: Path
    n_samples: int
    time: np.ndarray  # (T,) seconds
    key_times: np.ndarray  # (K,) key-down times of the keys in the character set, sorted
    key_labels: np.ndarray  # (K,) int64 labels (myovision.data.charset)
    prompts: list[dict] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def emg(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """EMG samples ``start:stop`` as float32 ``(T, bands=2, electrodes=16)``, left band first."""
        stop = self.n_samples if stop is None else stop
        with h5py.File(self.path, "r") as f:
            group = f[GROUP]
            if "timeseries" in group:
                rows = group["timeseries"][start:stop]
                left, right = rows["emg_left"], rows["emg_right"]
            else:
                left, right = group["emg_left"][start:stop], group["emg_right"][start:stop]
        x = np.stack([left, right], axis=1).astype(np.float32, copy=False)  # (T, 2, 16)
        if not np.isfinite(x).all():
            bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))[:5] + start
            raise InputError(f"EMG has NaN or infinite samples at rows {bad.tolist()}", self.path)
        return x

    def labels_between(self, start_t: float, end_t: float) -> np.ndarray:
        """Labels of the keystrokes with ``start_t <= key-down <= end_t``."""
        lo = np.searchsorted(self.key_times, start_t, side="left")
        hi = np.searchsorted(self.key_times, end_t, side="right")
        return self.key_labels[lo:hi]

    @property
    def text(self) -> str:
        """The keystrokes as text (backspace, enter, shift shown as ``⌫``, ``⏎``, ``⇧``)."""
        return CHARSET.labels_to_str(self.key_labels)


def read_session(path: str | Path) -> TypingSession:
    """Open an emg2qwerty session file, check its layout and read its keystrokes (EMG stays on disk)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("session file not found", path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"not a readable HDF5 file ({exc})", path) from exc
    with f:
        if GROUP not in f:
            raise InputError(f"no '{GROUP}' group (found {sorted(f.keys())})", path)
        group = f[GROUP]
        time, n_samples = _read_time(group, path)
        attrs = _text_attributes(group, path)
    if n_samples < MIN_SESSION_SAMPLES:
        raise InputError(f"session has {n_samples} samples, fewer than one {MIN_SESSION_SAMPLES / FS:g} s window "
                         f"({MIN_SESSION_SAMPLES} samples at {FS:g} Hz)", path)
    key_times, key_labels = _keystroke_labels(attrs.get("keystrokes"), path)
    prompts = _json_list(attrs["prompts"], "prompts", path) if "prompts" in attrs else []
    meta = {k: v for k, v in attrs.items() if k not in ("keystrokes", "prompts")}
    return TypingSession(path, n_samples, time, key_times, key_labels, prompts, meta)


def _read_time(group: h5py.Group, path: Path) -> tuple[np.ndarray, int]:
    """Timestamps of the session, after checking the EMG fields; ``(time (T,), T)``."""
    if "timeseries" in group:
        table = group["timeseries"]
        fields = table.dtype.fields or {}
        missing = [n for n in ("time", "emg_left", "emg_right") if n not in fields]
        if missing:
            raise InputError(f"timeseries lacks fields {missing} (has {sorted(fields)})", path)
        shapes = {n: fields[n][0].shape for n in ("emg_left", "emg_right")}
        lengths = {n: len(table) for n in shapes}
        time = table["time"]
    else:
        missing = [n for n in ("time", "emg_left", "emg_right") if n not in group]
        if missing:
            raise InputError(f"no 'timeseries' table and no datasets {missing}", path)
        shapes = {n: group[n].shape[1:] for n in ("emg_left", "emg_right")}
        lengths = {n: group[n].shape[0] for n in shapes}
        time = group["time"][:]
    if lengths["emg_left"] != lengths["emg_right"] or lengths["emg_left"] != len(time):
        raise InputError(f"emg_left, emg_right and time differ in length: {lengths['emg_left']}, "
                         f"{lengths['emg_right']}, {len(time)} samples", path)
    if shapes["emg_left"] != (16,) or shapes["emg_right"] != (16,):
        raise InputError(f"expected 16 channels per band, got emg_left {shapes['emg_left']}, "
                         f"emg_right {shapes['emg_right']}", path)
    time = np.asarray(time, dtype=np.float64)
    if len(time) and not (np.diff(time) >= 0).all():
        raise InputError(f"timestamps are not monotonic (first at row {int(np.argmax(np.diff(time) < 0)) + 1})", path)
    return time, len(time)


def _text_attributes(group: h5py.Group, path: Path) -> dict[str, Any]:
    """The group's attributes, byte strings decoded; text that is not UTF-8 is an InputError naming the attribute."""
    attrs = {}
    for name in group.attrs:
        try:
            value = group.attrs[name]
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            elif isinstance(value, str):
                value.encode("utf-8")  # h5py keeps undecodable bytes as lone surrogates
        except UnicodeError:
            raise InputError(f"attribute {name!r} is not UTF-8 text", path) from None
        attrs[name] = value
    return attrs


def _json_list(raw: Any, name: str, path: Path) -> list:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"attribute '{name}' is not JSON ({exc})", path) from exc
    if not isinstance(value, list):
        raise InputError(f"attribute '{name}' must be a JSON list, got {type(value).__name__}", path)
    return value


def _keystroke_labels(raw: Any, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Key-down times and labels of the keystrokes in the character set, in the file's (time) order.

    A key-down time that is not finite, or earlier than the keystroke before it, is an InputError naming it."""
    if raw is None:
        raise InputError("session has no 'keystrokes' attribute: nothing to learn or score", path)
    keystrokes = _json_list(raw, "keystrokes", path)
    if not keystrokes:
        raise InputError("session has no keystrokes (the 'keystrokes' list is empty)", path)
    times, labels, previous = [], [], -np.inf
    for i, stroke in enumerate(keystrokes):
        if not isinstance(stroke, dict) or "key" not in stroke or not isinstance(stroke.get("start"), (int, float)):
            raise InputError(f"keystroke {i} must be an object with 'key' and a numeric 'start', "
                             f"got {excerpt(repr(stroke))}", path)
        start = float(stroke["start"])
        if not np.isfinite(start):
            raise InputError(f"keystroke {i} has key-down time {start} (not a finite number)", path)
        if start < previous:
            raise InputError(f"keystroke {i} goes down at {start} s, before keystroke {i - 1} ({previous} s): "
                             f"key-down times must not decrease", path)
        previous = start
        label = CHARSET.keystroke_label(stroke["key"], path)
        if label is not None:
            times.append(start)
            labels.append(label)
    return np.asarray(times, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def read_split(path: str | Path, root: str | Path | None = None) -> dict[str, list[Path]]:
    """Session files of each split in an emg2qwerty split YAML: ``{"train": [...], "val": [...], "test": [...]}``.

    Accepts emg2qwerty's layout (``dataset: {train: [{user, session}, ...], val: ..., test: ...}``) or the
    same lists at the top level; an entry is ``{session: NAME}`` or a plain name. Files are
    ``ROOT/NAME.hdf5`` (ROOT defaults to the YAML's folder); missing files are an InputError.
    """
    path = Path(path)
    doc = read_yaml(path)
    doc = doc.get("dataset", doc)
    if not isinstance(doc, dict) or not any(k in doc for k in SPLITS):
        raise InputError("expected lists under 'train', 'val' and 'test' (optionally inside 'dataset')", path)
    root = path.parent if root is None else Path(root)
    splits: dict[str, list[Path]] = {}
    for split in SPLITS:
        entries = doc.get(split) or []
        if not isinstance(entries, list):
            raise InputError(f"'{split}' must be a list of sessions", path)
        files = []
        for entry in entries:
            name = entry.get("session") if isinstance(entry, dict) else entry
            if not isinstance(name, str):
                raise InputError(f"bad entry in '{split}': {entry!r} (expected a session name)", path)
            file = root / (name if name.endswith(".hdf5") else f"{name}.hdf5")
            if not file.is_file():
                raise InputError(f"session {name!r} of '{split}' not found at {file}", path)
            files.append(file)
        splits[split] = files
    return splits


def spectrogram_transform(emg: np.ndarray) -> torch.Tensor:
    """emg2qwerty's evaluation transform: ``(T, 2, 16)`` -> log spectrogram ``(T', 2, 16, 33)`` tensor."""
    return torch.from_numpy(log_spectrogram(emg))


class WindowedSessions(Dataset):
    """Training windows over sessions: ``(inputs (T', 2, 16, 33), labels (S,))`` per window.

    Windows of ``window`` samples every ``stride`` (default: ``window``) samples, extended by ``padding =
    (past, future)`` samples of context (clipped at the session's ends); labels are the keystrokes whose
    key-down time lies in the unpadded window. ``window=None`` gives one item per whole session
    (evaluation). ``jitter`` moves each window start by up to ``stride`` samples at random (training).
    ``transform`` maps EMG ``(T, 2, 16)`` to the model's input (default: :func:`spectrogram_transform`).
    """

    def __init__(self, sessions: Sequence[str | Path | TypingSession], *, window: int | None = 8000,
                 stride: int | None = None, padding: tuple[int, int] = (1800, 200), jitter: bool = False,
                 transform: Callable[[np.ndarray], torch.Tensor] = spectrogram_transform, seed: int = 0):
        self.sessions = [s if isinstance(s, TypingSession) else read_session(s) for s in sessions]
        self.window, self.padding, self.jitter, self.transform = window, padding, jitter, transform
        self.stride = stride or window
        self.rng = np.random.default_rng(seed)
        counts = []
        for s in self.sessions:
            if window is None:
                counts.append(1)
            elif s.n_samples < window:
                raise InputError(f"session has {s.n_samples} samples, fewer than one window of {window}", s.path)
            else:
                counts.append((s.n_samples - window) // self.stride + 1)
        self.offsets = np.cumsum([0] + counts)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        emg, labels = self.window_emg(idx)
        return self.transform(emg), torch.from_numpy(labels.copy())

    def window_emg(self, idx: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw EMG ``(T, 2, 16)`` of window ``idx`` with its context, and its labels ``(S,)``, before ``transform``.

        The jitter is drawn from ``rng`` when given (e.g. a generator derived from (seed, epoch, idx), so that a
        resumed run draws what the uninterrupted run drew), else from the dataset's own generator.
        """
        if not 0 <= idx < len(self):
            raise IndexError(idx)
        k = bisect.bisect_right(self.offsets, idx) - 1
        session = self.sessions[k]
        if self.window is None:
            return session.emg(), session.key_labels
        start = (idx - int(self.offsets[k])) * self.stride
        leftover = session.n_samples - (start + self.window)
        if self.jitter and leftover > 0:
            start += int((self.rng if rng is None else rng).integers(0, min(self.stride, leftover)))
        stop = start + self.window
        emg = session.emg(max(start - self.padding[0], 0), min(stop + self.padding[1], session.n_samples))
        return emg, session.labels_between(session.time[start], session.time[stop - 1])


def collate_windows(items: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad a list of ``(inputs (T_i, ...), labels (S_i,))`` into a CTC batch.

    Returns ``inputs (T, N, ...)`` (zero-padded in time), ``targets (N, S)``, ``input_lengths (N,)`` and
    ``target_lengths (N,)``.
    """
    inputs = torch.nn.utils.rnn.pad_sequence([x for x, _ in items])  # (T, N, ...)
    targets = torch.nn.utils.rnn.pad_sequence([y for _, y in items], batch_first=True)  # (N, S)
    return {"inputs": inputs, "targets": targets,
            "input_lengths": torch.tensor([len(x) for x, _ in items], dtype=torch.int64),
            "target_lengths": torch.tensor([len(y) for _, y in items], dtype=torch.int64)}
