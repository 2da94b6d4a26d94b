"""The generic labelled-recording format: a ``manifest.csv`` table plus one file per recording.

Columns (header names, any order; other columns are kept and passed on as `Recording.meta`):

=============  ========  ==================================================================
column         required  meaning
=============  ========  ==================================================================
path           yes       recording file, relative to the manifest's folder (absolute allowed), and
                         inside that folder once links and ``..`` are resolved (unless
                         ``allow_outside_root``); formats: see `myovision.data.recordings`
label          yes       class name (text)
subject        yes       who was recorded (text, unique over the data set)
session        yes       which recording session of that subject (text)
sample_rate    no        Hz (a positive number); empty cell = unknown
split          no        train, val or test; empty cell = unassigned
channels       no        channel count; needed by ``.dat`` files (else pass ``channels=``)
=============  ========  ==================================================================

`read_manifest` checks the table and, by default, reads every recording once to check it (missing,
empty, truncated, NaN/Inf, a channel count that differs from the expected one or from the other
recordings). Every problem raises `myovision.errors.InputError` naming the file, or, with
``skip_bad=True``, drops that recording and lists it in `Manifest.skipped`.

Importers (`import_myo_armband`, `export_activities`) end with `write_import`: they write
``skipped.csv`` (columns path, problem: the inputs left out with ``skip_bad``; header only when none),
then ``manifest.csv``, and return an `ImportResult`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from myovision.data.recordings import RECORDING_SUFFIXES, Recording, read_recording
from myovision.errors import InputError, excerpt
from myovision.fileio import atomic_path

REQUIRED_COLUMNS = ("path", "label", "subject", "session")
OPTIONAL_COLUMNS = ("sample_rate", "split", "channels")
SPLITS = ("train", "val", "test")


@dataclass
class Manifest:
    """A checked manifest: the table of usable recordings and what was skipped.

    `records` has one row per usable recording, in manifest order, indexed 0..n-1, with the manifest's
    columns: `path` as written (relative to `root`), text `label`/`subject`/`session`, float
    `sample_rate` (NaN when unknown), `split` (None when unassigned), `channels` (nullable int), and any
    other column as text. Iterating (or `load()`) reads the recordings in that order, so row `i` of
    `records` is recording `i`.
    """

    path: Path
    records: pd.DataFrame
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    channels: int | None = None
    label_set: tuple[str, ...] | None = None

    @property
    def root(self) -> Path:
        """The folder that relative recording paths start from (the manifest's folder)."""
        return self.path.parent

    @property
    def labels(self) -> list[str]:
        """Class names: the `labels=` given to `read_manifest` in their order, else the sorted names found."""
        if self.label_set is not None:
            return list(self.label_set)
        return sorted(self.records["label"].unique().tolist())

    @property
    def label_index(self) -> dict[str, int]:
        """Class name -> integer class index (position in `labels`)."""
        return {name: i for i, name in enumerate(self.labels)}

    @property
    def subjects(self) -> list[str]:
        """Sorted subject ids."""
        return sorted(self.records["subject"].unique().tolist())

    @property
    def sessions(self) -> list[str]:
        """Sorted session names."""
        return sorted(self.records["session"].unique().tolist())

    @property
    def paths(self) -> list[Path]:
        """Absolute recording paths, in row order."""
        return [self._resolve(p) for p in self.records["path"]]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Recording]:
        """Read the recordings one at a time, in row order."""
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> Recording:
        """Read recording `i` (row `i` of `records`)."""
        row = self.records.iloc[i]
        path = self._resolve(row["path"])
        data = read_recording(path, channels=_row_channels(row) or self.channels)
        rate = row.get("sample_rate")
        split = row.get("split")
        meta = {k: row[k] for k in self.records.columns if k not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        return Recording(data=data, label=row["label"], subject=row["subject"], session=row["session"],
                         sample_rate=None if rate is None or pd.isna(rate) else float(rate),
                         split=split if isinstance(split, str) and split else None, path=path, meta=meta)

    def load(self) -> list[Recording]:
        """All recordings, read into memory, in row order."""
        return list(self)

    def select(self, *, split: str | Iterable[str] | None = None, subjects: Iterable[str] | None = None,
               sessions: Iterable[str] | None = None, labels: Iterable[str] | None = None) -> Manifest:
        """The rows matching every given filter (a value or a collection of values), as a new Manifest.

        The label set is kept, so class indices stay the same in the subset.
        """
        mask = np.ones(len(self.records), dtype=bool)
        for column, wanted in (("split", split), ("subject", subjects), ("session", sessions), ("label", labels)):
            if wanted is None:
                continue
            if column not in self.records.columns:
                raise InputError(f"cannot select by {column}: the manifest has no {column!r} column", path=self.path)
            wanted = {wanted} if isinstance(wanted, str) else set(wanted)
            mask &= self.records[column].isin(wanted).to_numpy()
        return replace(self, records=self.records[mask].reset_index(drop=True),
                       label_set=tuple(self.labels))

    def write(self, path: str | PathLike) -> Path:
        """Write these records as a manifest at `path` (paths rebased onto its folder), atomically."""
        return write_manifest(self.records, path, root=self.root)

    def _resolve(self, p: str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p


class ImportResult(NamedTuple):
    """What an importer wrote: `manifest` (the manifest.csv path; pass it to `read_manifest`) and
    `skipped`, one ``(input file, problem)`` per input left out with ``skip_bad``, in input order (also
    in ``skipped.csv`` beside the manifest)."""

    manifest: Path
    skipped: list[tuple[Path, str]]


def write_import(rows: list[dict[str, Any]], skipped: list[tuple[Path, str]], out: Path, *,
                 nothing: str, source: str | PathLike) -> ImportResult:
    """Write ``out/skipped.csv`` (path, problem), then ``out/manifest.csv`` from `rows`; return both.

    The manifest is written last (atomically), so an interrupted import never leaves one pointing at
    missing files; ``skipped.csv`` is always written, so it never describes an earlier run. With no
    rows, raises InputError(`nothing`, naming `source`), adding the first skipped input when there is one.
    """
    if not rows:
        first = f"; all {len(skipped)} inputs were skipped, first {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise InputError(nothing + first, path=source)
    table = pd.DataFrame([(str(f), problem) for f, problem in skipped], columns=["path", "problem"])
    with atomic_path(out / "skipped.csv") as tmp:
        table.to_csv(tmp, index=False)
    return ImportResult(write_manifest(rows, out / "manifest.csv"), list(skipped))


def inside_root(file: Path, root: Path, allow_outside_root: bool = False) -> str | None:
    """None when `file` resolves (links and ``..`` followed) inside `root`, else the problem to report."""
    if allow_outside_root:
        return None
    resolved, base = Path(os.path.realpath(file)), Path(os.path.realpath(root))
    if resolved == base or base in resolved.parents:
        return None
    return f"path resolves outside {base} (a '..', an absolute path or a link); pass --allow-outside-root to allow it"


def read_manifest(path: str | PathLike, *, channels: int | None = None, labels: Iterable[str] | None = None,
                  skip_bad: bool = False, check_data: bool = True, allow_outside_root: bool = False) -> Manifest:
    """Read and check a manifest.csv (columns: see the module doc); return a `Manifest`.

    channels: expected channel count of every recording, and the channel count of ``.dat`` files whose
        row has no ``channels`` cell. Without it, the most common count among the recordings is expected.
    labels: the allowed class names (an unknown label is an error); also fixes `Manifest.labels`' order.
    skip_bad: drop bad recordings (listed in `Manifest.skipped` as ``(path, problem)``) instead of raising.
    check_data: read every recording once to check it; with False only the table and the files'
        existence are checked (bad data then surfaces when a recording is read).
    allow_outside_root: accept recording paths that resolve outside the manifest's folder.

    Raises InputError naming the manifest (missing, unreadable, required columns missing, no rows, no
    usable recordings) or the recording (missing/empty/truncated/unreadable file, NaN/Inf samples, wrong
    channel count, unknown label, bad split, bad sample_rate/channels cell).
    """
    path = Path(path)
    table = _read_table(path)
    label_set = None if labels is None else tuple(dict.fromkeys(labels))
    allowed = None if label_set is None else set(label_set)
    keep: list[int] = []
    counts: dict[int, int] = {}
    skipped: list[tuple[int, Path, str]] = []
    rates, row_channels = [], []

    def bad(i: int, file: Path, problem: str) -> None:
        if not skip_bad:
            raise InputError(f"{problem} ({path.name} row {i + 2})", path=file)
        skipped.append((i, file, problem))

    def file_of(cell: str) -> Path:
        file = Path(cell) if cell else path
        return file if file.is_absolute() else path.parent / file

    for i, row in enumerate(table.to_dict("records")):
        file = file_of(row["path"])
        rate, n_ch = np.nan, None
        try:
            problem = _row_problem(row, allowed) or inside_root(file, path.parent, allow_outside_root)
            rate = _positive(row.get("sample_rate", ""), "sample_rate", float)
            n_ch = _positive(row.get("channels", ""), "channels", int)
        except ValueError as e:
            problem = str(e)
        if problem is None:
            try:
                if check_data:
                    counts[i] = read_recording(file, channels=n_ch or channels).shape[1]
                elif not file.is_file():
                    raise InputError("file not found", path=file)
            except InputError as e:
                problem = e.problem
        rates.append(rate)
        row_channels.append(n_ch)
        if problem is not None:
            bad(i, file, problem)
            continue
        keep.append(i)

    expected = channels
    if expected is None and counts:
        expected = Counter(counts[i] for i in keep).most_common(1)[0][0]
    if check_data and expected is not None:
        for i in list(keep):
            if counts[i] != expected:
                bad(i, file_of(table["path"].iloc[i]),
                    f"wrong channel count: {counts[i]} channels, the other recordings in {path.name} have {expected}")
                keep.remove(i)
    skipped_files = [(file, problem) for _, file, problem in sorted(skipped, key=lambda s: s[0])]  # row order
    if not keep:
        first = f" (first: {skipped_files[0][0]}: {skipped_files[0][1]})" if skipped_files else ""
        raise InputError(f"no usable recordings: all {len(table)} were skipped{first}", path=path)

    records = table.copy()
    if "sample_rate" in records.columns:
        records["sample_rate"] = pd.Series(rates, dtype=float)
    if "channels" in records.columns:
        records["channels"] = pd.array(row_channels, dtype="Int64")
    if "split" in records.columns:
        records["split"] = records["split"].map(lambda s: s if s else None).astype(object)
    records = records.iloc[keep].reset_index(drop=True)
    return Manifest(path=path, records=records, skipped=skipped_files, channels=expected, label_set=label_set)


def write_manifest(records: pd.DataFrame | Iterable[Mapping[str, Any]], path: str | PathLike, *,
                   root: str | PathLike | None = None) -> Path:
    """Write records (a DataFrame or dicts with at least path,label,subject,session) as a manifest.csv.

    Paths may be str or Path; absolute ones, and relative ones resolved against `root` when it is given,
    are written relative to the manifest's folder (POSIX separators). Split values must be train, val,
    test or empty. The file is written atomically (temporary file, then os.replace). Returns `path`.
    """
    path = Path(path)
    table = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"cannot write a manifest without columns {missing}", path=path)
    if table.empty:
        raise InputError("cannot write a manifest with no records", path=path)
    if "split" in table.columns:
        wrong = sorted({str(s) for s in table["split"] if isinstance(s, str) and s and s not in SPLITS})
        if wrong:
            raise InputError(f"bad split values {wrong}; use {', '.join(SPLITS)} or leave empty", path=path)
    base = path.parent.resolve()

    def rebase(p: Any) -> str:
        p = Path(str(p))
        if not p.is_absolute() and root is not None:
            p = Path(root) / p
        if p.is_absolute():
            try:
                p = Path(os.path.relpath(p.resolve(), base))
            except ValueError:  # another drive (Windows): keep it absolute
                pass
        return p.as_posix()

    table["path"] = table["path"].map(rebase)
    order = [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c in table.columns]
    table = table[order + [c for c in table.columns if c not in order]]
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("manifest not found" if not path.exists() else "manifest is not a file", path=path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError("empty manifest (no header line)", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise InputError(f"not a readable CSV table ({excerpt(str(e), 80)})", path=path) from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing and any(Path(c).suffix.lower() in RECORDING_SUFFIXES for c in table.columns):
        raise InputError(f"has no header line: its first line looks like a recording row "
                         f"({excerpt(','.join(table.columns), 60)}); add the line "
                         f"{','.join(REQUIRED_COLUMNS)}", path=path)
    if missing:
        raise InputError(f"manifest is missing required columns {missing} (found {list(table.columns)}; "
                         f"required: {', '.join(REQUIRED_COLUMNS)})", path=path)
    if table.empty:
        raise InputError("manifest lists no recordings", path=path)
    return table.apply(lambda col: col.str.strip())


def _row_problem(row: dict[str, str], allowed: set[str] | None) -> str | None:
    empty = [c for c in REQUIRED_COLUMNS if not row[c]]
    if empty:
        return f"empty {', '.join(empty)} cell"
    if allowed is not None and row["label"] not in allowed:
        return f"unknown label {row['label']!r}; expected one of {sorted(allowed)}"
    split = row.get("split", "")
    if split and split not in SPLITS:
        return f"bad split value {split!r}; use {', '.join(SPLITS)} or leave empty"
    return None


def _positive(cell: str, name: str, kind: type) -> Any:
    if not cell:
        return np.nan if kind is float else None
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"bad {name} value {cell!r}: not a number") from None
    if not np.isfinite(value) or value <= 0 or (kind is int and value != int(value)):
        raise ValueError(f"bad {name} value {cell!r}: expected a positive {'integer' if kind is int else 'number'}")
    return kind(value)


def _row_channels(row: pd.Series) -> int | None:
    value = row.get("channels")
    return None if value is None or pd.isna(value) else int(value)


def data_set_problems(manifest: Manifest) -> list[str]:
    """What looks wrong with a data set before training on it (each a one-line description; [] when none):
    duplicate rows, one recording in two splits, a single class, and labels one or two edits apart (a typo
    that made a new class: 'hand_open' / 'hand_opn'; two edits only between labels of 8 or more characters)."""
    from rapidfuzz.distance import Levenshtein

    records, found = manifest.records, []
    files = [str(Path(os.path.realpath(p))) for p in manifest.paths]
    counts = Counter(files)
    repeated = [f for f, n in counts.items() if n > 1]
    if repeated:
        found.append(f"{len(repeated)} recordings listed more than once (first {excerpt(repeated[0], 80)})")
    if "split" in records.columns:
        splits: dict[str, set] = {}
        for f, split in zip(files, records["split"]):
            if split:
                splits.setdefault(f, set()).add(split)
        crossing = [f for f, s in splits.items() if len(s) > 1]
        if crossing:
            found.append(f"{len(crossing)} recordings are in two splits (first {excerpt(crossing[0], 80)}: "
                         f"{', '.join(sorted(splits[crossing[0]]))})")
    labels = manifest.labels
    if len(labels) < 2:
        found.append(f"a single class ({', '.join(map(repr, labels))}): accuracy would be 1.0 by construction")
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            distance = Levenshtein.distance(a.lower(), b.lower())
            if distance <= (2 if min(len(a), len(b)) >= 8 else 1):
                found.append(f"labels {excerpt(a)} and {excerpt(b)} differ by {distance} edit"
                             f"{'s' if distance > 1 else ''} (a typo making a new class?)")
    return found
