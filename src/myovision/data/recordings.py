"""One labelled sEMG recording on disk: read and write the generic formats, with clear errors.

Formats (chosen by the file suffix; every reader returns float32 of shape (time, channels)):

- ``.npy``: one numeric array (time, channels); a 1-D array is one channel. Never unpickled.
- ``.npz``: the array named ``emg``, else the only array in the file; ``key=`` picks another one.
- ``.csv`` / ``.txt``: numeric text, one row per sample, columns split by commas (when the first
  line has one) or by whitespace; an optional header line (any non-numeric first line) is skipped,
  as are ``#`` comments and blank lines.
- ``.dat``: raw little-endian int16, channel-interleaved (sample 0 channel 0, sample 0 channel 1, ...),
  as the Myo armband data set stores it. It has no header, so the channel count must be given
  (``channels=``; in a manifest, a ``channels`` column or the ``channels`` argument of `read_manifest`).

Bad input raises `myovision.errors.InputError` naming the file: missing, empty, truncated `.dat`,
unreadable or non-numeric content, NaN/Inf samples (rows and channels named, 0-based data rows),
or a channel count other than the expected one.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from myovision.errors import InputError, excerpt
from myovision.fileio import atomic_path, check_declared_size

RECORDING_SUFFIXES = (".npy", ".npz", ".csv", ".txt", ".dat")
NPZ_KEY = "emg"


@dataclass
class Recording:
    """One labelled recording: `data` (time, channels) float32 plus what the manifest says of it.

    `sample_rate` and `split` are None when the manifest has no such column (or leaves the cell empty);
    `meta` holds the manifest's other columns for this row (e.g. ``cycle``, ``dataset``), as strings.
    """

    data: np.ndarray
    label: str
    subject: str
    session: str
    sample_rate: float | None
    split: str | None
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        """Number of channels (columns of `data`)."""
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float | None:
        """Length in seconds, or None without a sample rate."""
        return None if not self.sample_rate else len(self.data) / self.sample_rate


def read_recording(path: str | PathLike, channels: int | None = None, *, key: str | None = None) -> np.ndarray:
    """Read one recording as float32 (time, channels), checking it (see the module doc for formats).

    `channels` is the expected channel count: required for `.dat` (it sets the reshape), checked for the
    others. `key` names the array of an `.npz` (default: ``emg``, else the only array).
    Raises InputError naming the file: missing, empty, truncated, unreadable (including an OS read
    error), non-finite samples, wrong channel count.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", path=path)
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)", path=path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            data = _read_npy(path)
        elif suffix == ".npz":
            data = _read_npz(path, key)
        elif suffix in (".csv", ".txt"):
            data = _read_text(path)
        elif suffix == ".dat":
            data = _read_dat(path, channels)
        else:
            raise InputError(f"unknown recording format {path.suffix!r}; use one of {', '.join(RECORDING_SUFFIXES)}",
                             path=path)
    except OSError as e:  # e.g. no permission, an I/O error of the disk
        raise InputError(f"cannot read the file ({e.strerror or e})", path=path) from None
    return check_samples(data, path, channels=channels)


def check_samples(data: np.ndarray, path: str | PathLike | None = None, *, channels: int | None = None) -> np.ndarray:
    """Return `data` as float32 (time, channels) after checking shape, channel count and finiteness.

    A 1-D array becomes one channel. Raises InputError (naming `path`) for an array with no samples,
    more than two dimensions, a non-numeric dtype, a channel count other than `channels`, or NaN/Inf
    samples (the message names the first rows and the channels holding them, 0-based).
    """
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise InputError(f"samples must be numbers, found dtype {data.dtype}", path=path)
    if data.ndim == 1:
        data = data[:, None]  # (T,) -> (T, 1)
    if data.ndim != 2:
        raise InputError(f"expected a (time, channels) array, found shape {data.shape}", path=path)
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise InputError(f"no samples (shape {data.shape})", path=path)
    if channels is not None and data.shape[1] != channels:
        raise InputError(f"wrong channel count: {data.shape[1]} channels, expected {channels}", path=path)
    data = data.astype(np.float32, copy=False)
    bad = ~np.isfinite(data)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        kinds = "/".join(k for k, m in (("NaN", np.isnan(data)), ("Inf", np.isinf(data))) if m.any())
        raise InputError(f"{int(bad.sum())} {kinds} samples at rows {_few(rows)} in channels {_few(cols)}",
                         path=path)
    return data


def write_recording(path: str | PathLike, data: np.ndarray, *, key: str = NPZ_KEY, header: bool = False) -> Path:
    """Write a (time, channels) array in the format of `path`'s suffix, atomically; return the path.

    `.npy`/`.npz` keep the dtype (`.npz` stores it under `key`); `.csv` writes commas (with a
    ``ch0,ch1,...`` header when `header`), `.txt` spaces; `.dat` writes int16 interleaved and needs
    integer values within the int16 range (the channel count is not stored: keep it in the manifest).
    """
    path = Path(path)
    data = np.asarray(data)
    if data.ndim == 1:
        data = data[:, None]  # (T,) -> (T, 1)
    if data.ndim != 2:
        raise InputError(f"expected a (time, channels) array to write, found shape {data.shape}", path=path)
    suffix = path.suffix.lower()
    if suffix not in RECORDING_SUFFIXES:
        raise InputError(f"unknown recording format {path.suffix!r}; use one of {', '.join(RECORDING_SUFFIXES)}",
                         path=path)
    if suffix == ".dat":
        rounded = np.rint(data)
        if not np.array_equal(rounded, data) or rounded.min(initial=0) < -32768 or rounded.max(initial=0) > 32767:
            raise InputError(".dat stores int16: values must be integers in [-32768, 32767]", path=path)
        data = rounded.astype("<i2")
    with atomic_path(path) as tmp:
        if suffix in (".npy", ".npz"):
            # a file object: given a name, numpy appends ".npy"/".npz" unless it ends so in lower case
            # (``REC.NPY``), and the data would go to another file than the one replaced into place
            with open(tmp, "wb") as f:
                if suffix == ".npy":
                    np.save(f, data)
                else:
                    np.savez(f, **{key: data})
        elif suffix == ".dat":
            data.tofile(tmp)  # row-major (T, C) -> interleaved
        else:
            delimiter = "," if suffix == ".csv" else " "
            head = delimiter.join(f"ch{i}" for i in range(data.shape[1])) if header else ""
            fmt = "%d" if data.dtype.kind in "biu" else "%.9g"
            np.savetxt(tmp, data, fmt=fmt, delimiter=delimiter, header=head, comments="")
    return path


def _few(idx: np.ndarray, n: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:n])
    return f"[{shown}]" if len(idx) <= n else f"[{shown}, ...] ({len(idx)} in all)"


def _npy_header(fh, path: Path, available: int, what: str = "") -> None:
    """Check an .npy header before its array is allocated: the declared shape within the limits
    (`myovision.fileio.limit`), and no more bytes declared than the `available` ones after the header."""
    try:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fh, max_header_size=10_000)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"not a readable .npy file{what} ({excerpt(str(e), 80)})", path=path) from None
    elements = int(np.prod(shape, dtype=object))
    check_declared_size(path, elements=elements, nbytes=elements * dtype.itemsize, what=f"the array{what} declares")
    if dtype.hasobject:
        return  # refused with its own message by np.load(allow_pickle=False)
    if elements * dtype.itemsize > available - fh.tell():
        raise InputError(f"truncated .npy{what}: shape {tuple(shape)} of {dtype} needs "
                         f"{elements * dtype.itemsize} bytes, the file holds {available - fh.tell()}", path=path)


def _read_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise InputError("not a readable .npy file (no NumPy header)", path=path)
        f.seek(0)
        _npy_header(f, path, path.stat().st_size)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError("holds Python objects (needs pickle, which is never loaded); save a numeric array",
                             path=path) from None
        raise InputError(f"not a readable .npy file ({excerpt(str(e), 80)})", path=path) from None
    except (OSError, EOFError) as e:
        raise InputError(f"not a readable .npy file ({excerpt(str(e), 80)})", path=path) from None


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    if not zipfile.is_zipfile(path):
        raise InputError("not a readable .npz file (not a zip archive)", path=path)
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if key is None:
                if NPZ_KEY in names:
                    key = NPZ_KEY
                elif len(names) == 1:
                    key = names[0]
                else:
                    raise InputError(f"holds arrays {names}: store the recording as {NPZ_KEY!r} or name its key",
                                     path=path)
            if key not in names:
                raise InputError(f"has no array {key!r} (arrays: {names})", path=path)
            return npz[key]
    except InputError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError(f"array {key!r} holds Python objects (needs pickle, which is never loaded)",
                             path=path) from None
        raise InputError(f"not a readable .npz file ({excerpt(str(e), 80)})", path=path) from None
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        raise InputError(f"not a readable .npz file ({type(e).__name__}: {excerpt(str(e), 80)})",
                         path=path) from None


def _check_npz_sizes(path: Path) -> None:
    """Before anything is inflated: the archive's declared uncompressed size within the byte limit, and each
    member's .npy header within the limits and no larger than the member's declared size."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        check_declared_size(path, nbytes=sum(i.file_size for i in infos), what="its arrays inflate to")
        for info in infos:
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    _npy_header(member, path, info.file_size, what=f" {info.filename!r}")


def _read_text(path: Path) -> np.ndarray:
    check_declared_size(path, nbytes=path.stat().st_size, what="is")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise InputError("not a text file (cannot decode as UTF-8)", path=path) from None
    content = [(i, ln) for i, ln in enumerate(lines) if ln.split("#", 1)[0].strip()]
    if not content:
        raise InputError("no samples (only blank lines, comments or a header)", path=path)
    first = content[0][1]
    delimiter = "," if "," in first else None
    header = not _is_numeric_row(first, delimiter)
    body = [ln for _, ln in content[1:]] if header else [ln for _, ln in content]
    if not body:
        raise InputError("no samples (only a header line)", path=path)
    try:
        return np.loadtxt(body, delimiter=delimiter, dtype=np.float64, ndmin=2, comments="#")
    except ValueError as e:
        raise InputError(f"not a numeric table ({excerpt(str(e), 80)})", path=path) from None


def _is_numeric_row(line: str, delimiter: str | None) -> bool:
    try:
        [float(tok) for tok in line.split("#", 1)[0].split(delimiter)]
    except ValueError:
        return False
    return True


def _read_dat(path: Path, channels: int | None) -> np.ndarray:
    if not channels:
        raise InputError("a .dat recording has no header: give its channel count "
                         "(a 'channels' manifest column or channels=)", path=path)
    size = path.stat().st_size
    check_declared_size(path, nbytes=size * 2, what="as float32 samples needs")
    if size % (2 * channels):
        raise InputError(f"truncated .dat: {size} bytes is not a multiple of 2 bytes x {channels} channels "
                         f"({size % (2 * channels)} extra bytes)", path=path)
    return np.fromfile(path, dtype="<i2").reshape(-1, channels)  # interleaved -> (T, C)
