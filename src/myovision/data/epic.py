"""EPIC-Kitchens-style annotation tables: the D1/D2/D3 action tables, read from CSV (never unpickled).

The course repositories of the RGB+sEMG fusion paper ship these tables as pickled DataFrames
(``train_val/D1_train.pkl`` ...); a pickle can run code, so myovision reads CSV versions only (convert
once with a trusted tool). Columns (one row per action)::

    uid                  int    unique action id
    participant_id       str    e.g. P08
    video_id             str    e.g. P08_09
    narration            str    free text, e.g. "open fridge"
    start_timestamp      str    "HH:MM:SS.ff" from the start of the video
    stop_timestamp       str
    start_frame          int    frame index in the video (>= 0)
    stop_frame           int    >= start_frame
    verb                 str
    verb_class           int    >= 0 (D1/D2/D3 use the 8 classes 0..7)

`read_epic_annotations` adds ``start_s`` / ``stop_s`` (float seconds). The generic `read_annotation_csv`
validates any such table against a column spec; ActionSense's split and sub-action tables use it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from myovision.errors import InputError

#: Column kinds: "int" (integer), "nonneg" (integer >= 0), "str" (text, no missing values).
EPIC_COLUMNS: dict[str, str] = {
    "uid": "int", "participant_id": "str", "video_id": "str", "narration": "str",
    "start_timestamp": "str", "stop_timestamp": "str", "start_frame": "nonneg", "stop_frame": "nonneg",
    "verb": "str", "verb_class": "nonneg",
}
_TIMESTAMP = re.compile(r"^\s*(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)\s*$")


def parse_timestamp(text: str) -> float:
    """``"HH:MM:SS.ff"`` (hours may exceed 2 digits, fraction optional) -> seconds; ValueError otherwise.

    >>> parse_timestamp("00:01:02.61")
    62.61
    """
    m = _TIMESTAMP.match(str(text))
    if m is None:
        raise ValueError(f"not an HH:MM:SS.ff timestamp: {text!r}")
    h, mi, s = m.groups()
    return round(int(h) * 3600 + int(mi) * 60 + float(s), 9)


def read_annotation_csv(path: str | PathLike, columns: Mapping[str, str], *, unique: str | None = "uid",
                        frame_pair: tuple[str, str] | None = None) -> pd.DataFrame:
    """Read a CSV table and check it against `columns` (name -> "int" | "nonneg" | "str").

    Returns the columns in file order with int64 / str (object) dtypes; extra columns are kept as read.
    unique: a column whose values must not repeat; frame_pair: (start, stop) columns with stop >= start.
    Raises InputError naming the file: missing file or columns, empty table, unparsable CSV, missing or
    non-integer values (first bad row named, 0-based data row), negatives in "nonneg" columns, repeated
    `unique` values, stop before start.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", path=path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"not a readable CSV table ({str(e).strip()})", path=path) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"missing columns {missing} (found {list(df.columns)})", path=path)
    if df.empty:
        raise InputError("the table has no rows", path=path)
    for name, kind in columns.items():
        values = df[name].str.strip()
        empty = np.flatnonzero((values == "").to_numpy())
        if len(empty):
            raise InputError(f"column {name!r}: {len(empty)} empty values, first in row {empty[0]}", path=path)
        if kind == "str":
            df[name] = df[name].astype(str)
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero((numbers.isna() | (numbers != numbers.round())).to_numpy())
        if len(bad):
            raise InputError(f"column {name!r} must hold integers; row {bad[0]} has {values.iloc[bad[0]]!r}",
                             path=path)
        df[name] = numbers.astype(np.int64)
        if kind == "nonneg" and (df[name] < 0).any():
            row = int(np.flatnonzero((df[name] < 0).to_numpy())[0])
            raise InputError(f"column {name!r} must be >= 0; row {row} has {df[name].iloc[row]}", path=path)
    if unique is not None and df[unique].duplicated().any():
        dup = df[unique][df[unique].duplicated()].iloc[0]
        raise InputError(f"column {unique!r} repeats values, e.g. {dup!r}", path=path)
    if frame_pair is not None:
        _check_order(df, *frame_pair, path)
    return df


def read_epic_annotations(path: str | PathLike) -> pd.DataFrame:
    """Read an EPIC-Kitchens D1/D2/D3 annotation CSV -> DataFrame with `EPIC_COLUMNS` plus start_s, stop_s.

    Timestamps ``"HH:MM:SS.ff"`` are parsed to float seconds (``start_s``, ``stop_s``); the rows keep file
    order. Raises InputError naming the file for missing columns, repeated uids, bad integers, a
    timestamp that does not parse (row named), or a stop (frame or time) before its start.
    """
    df = read_annotation_csv(path, EPIC_COLUMNS, unique="uid", frame_pair=("start_frame", "stop_frame"))
    for col, out in (("start_timestamp", "start_s"), ("stop_timestamp", "stop_s")):
        seconds = np.empty(len(df))
        for i, text in enumerate(df[col]):
            try:
                seconds[i] = parse_timestamp(text)
            except ValueError:
                raise InputError(f"column {col!r}, row {i}: {text!r} is not an HH:MM:SS.ff timestamp",
                                 path=path) from None
        df[out] = seconds
    _check_order(df, "start_s", "stop_s", Path(path))
    return df


def _check_order(df: pd.DataFrame, start: str, stop: str, path: Path) -> None:
    back = np.flatnonzero((df[stop] < df[start]).to_numpy())
    if len(back):
        i = int(back[0])
        raise InputError(f"{len(back)} rows stop before they start, first row {i} ({stop} {df[stop].iloc[i]} < "
                         f"{start} {df[start].iloc[i]})", path=path)
