"""Import the clip-feature pickles of the egocentric action-recognition course repos, without trusting them.

Those repos save I3D features as ``{'features': [{'uid': int, 'video_name': str, 'features_RGB': (5, 1024)},
...]}`` (sometimes with ``features_EMG`` and other keys next to ``features_RGB``, sometimes as a pandas
DataFrame with those columns). Unpickling runs whatever callables the file names, so a pickle from
elsewhere is read with `RestrictedUnpickler`: its `find_class` hands out only what rebuilding numpy arrays
and pandas tables needs, and refuses every other global (``os.system``, ``builtins.eval``,
``subprocess.Popen``...) with an InputError before anything is called.

What is allowed is exactly what the course repos' pickles name (numpy arrays and scalars, and pandas
tables of int, float, string, categorical and naive datetime columns, pickle protocols 0-5), and why it is safe:

- numpy: ``ndarray``, ``dtype``, ``_reconstruct``, ``scalar``, ``_frombuffer`` (under ``numpy.core`` and
  ``numpy._core``): they build arrays from shapes, dtypes and bytes.
- the standard library: ``slice`` and ``object`` (pandas block placement, protocol 0-1 object rebuilds),
  ``_codecs.encode`` (protocol 2 stores bytes through it) and ``copyreg._reconstructor`` (protocols 0-1
  rebuild objects through it; it only calls ``__new__`` of classes that themselves passed this check).
  Nothing else: no ``bytearray`` (``bytearray(10**12)`` is a memory bomb from 30 bytes), no ``datetime``.
- pandas: the classes ``DataFrame``, ``Series``, ``Index``, ``RangeIndex``, the two block managers,
  ``Categorical``/``CategoricalDtype``, ``StringArray``/``StringDtype``, ``DatetimeArray`` and
  ``NumpyExtensionArray``, wherever a pandas version keeps them (``pandas.core.frame.DataFrame`` and
  ``pandas.DataFrame`` are one class: the check is on the object, not the name), and the four
  reconstruction functions in `_PANDAS_FUNCTIONS`. Module ``pandas.io`` is never imported. Refused by
  design: every dtype or index that takes a time zone (``DatetimeTZDtype('ns', 'dateutil//etc/passwd')``
  opens that file), ``Timestamp`` rebuilders, and functions such as ``pandas.eval`` or ``read_pickle``.

The file is read into memory before unpickling (at most `MAX_PICKLE_BYTES`), so a length field that
declares more bytes than the file holds cannot make the reader allocate it.

>>> import io, pickle, numpy as np
>>> data = pickle.dumps({"features": [{"uid": 7, "video_name": "P01_01", "features_RGB": np.zeros((5, 4))}]})
>>> entries = feature_entries(restricted_loads(data), source="x.pkl")
>>> entries[0]["uid"], entries[0]["features_RGB"].shape
(7, (5, 4))
>>> restricted_loads(pickle.dumps(print))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
myovision.errors.InputError: refused to unpickle global 'builtins.print': only numpy arrays and pandas ...
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from myovision.data.store import FeatureStore
from myovision.errors import InputError

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
_STDLIB_GLOBALS = {
    ("builtins", "slice"), ("builtins", "object"), ("_codecs", "encode"), ("copyreg", "_reconstructor"),
}
_PANDAS_FUNCTIONS = {
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.blocks", "new_block"),  # pandas 1.3-1.5
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
}
MAX_PICKLE_BYTES = 16 * 2**30  # a feature pickle larger than this is refused before it is read
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _is_pandas_module(module: str) -> bool:
    return module in ("pandas", "pandas.arrays") or module.startswith(("pandas.core.", "pandas._libs."))


def _pandas_classes() -> tuple[type, ...]:
    """The pandas classes a feature table is rebuilt from (exact classes: no subclass such as DatetimeIndex)."""
    import pandas as pd
    from pandas.core.internals.managers import BlockManager, SingleBlockManager

    return (pd.DataFrame, pd.Series, pd.Index, pd.RangeIndex, BlockManager, SingleBlockManager, pd.Categorical,
            pd.CategoricalDtype, pd.arrays.StringArray, pd.StringDtype, pd.arrays.DatetimeArray,
            pd.arrays.NumpyExtensionArray)


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose `find_class` allows only numpy/pandas reconstruction (see the module docstring)."""

    def __init__(self, file: Any, source: str | Path | None = None):
        # latin1: the documented way to read numpy arrays from Python 2 pickles; no effect on Python 3 ones
        super().__init__(file, encoding="latin1")
        self.source = source

    def _refuse(self, module: str, name: str) -> InputError:
        return InputError(f"refused to unpickle global '{module}.{name}': only numpy arrays and pandas "
                          "tables may be rebuilt from a feature pickle", path=self.source)

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if module.startswith("numpy.core."):  # numpy < 2 wrote these; numpy 2 warns on the old path
            module = "numpy._core." + module[len("numpy.core."):]
        if "." in name:
            raise self._refuse(module, name)
        if (module, name) in _NUMPY_GLOBALS:
            try:
                return getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):  # numpy < 2 has no numpy._core
                return getattr(importlib.import_module(module.replace("numpy._core.", "numpy.core.")), name)
        if (module, name) in _STDLIB_GLOBALS:
            return getattr(importlib.import_module(module), name)
        if _is_pandas_module(module):
            try:
                obj = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                raise InputError(f"the pickle names '{module}.{name}', which this pandas version lacks "
                                 "(written by another pandas version?)", path=self.source) from None
            if (module, name) in _PANDAS_FUNCTIONS:
                return obj
            if isinstance(obj, type) and obj in _pandas_classes():
                return obj
        raise self._refuse(module, name)


def _load(fh: Any, source: str | Path | None) -> Any:
    from myovision.errors import excerpt

    try:
        return RestrictedUnpickler(fh, source=source).load()
    except InputError:
        raise
    except (Exception, MemoryError) as e:  # noqa: BLE001 - truncated or garbled files raise many kinds of errors
        raise InputError(f"not a readable pickle ({type(e).__name__}: {excerpt(str(e))})", path=source) from None


def restricted_loads(data: bytes, source: str | Path | None = None) -> Any:
    """Unpickle bytes with `RestrictedUnpickler`; `source` names them in errors."""
    return _load(io.BytesIO(data), source)


def restricted_load(path: str | Path) -> Any:
    """Unpickle a file with `RestrictedUnpickler` (numpy and pandas objects only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such feature pickle", path=path)
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise InputError(f"{path.stat().st_size} bytes, above the limit of {MAX_PICKLE_BYTES} for a feature pickle",
                         path=path)
    return _load(io.BytesIO(path.read_bytes()), path)


def feature_entries(obj: Any, source: str | Path | None = None) -> list[dict[str, Any]]:
    """The list of per-sample dicts in an unpickled feature file (dict of list, or DataFrame, layouts)."""
    table = obj.get("features") if isinstance(obj, dict) else obj
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # a pandas DataFrame
        table = table.to_dict(orient="records")
    if not isinstance(table, list) or not all(isinstance(e, dict) for e in table):
        what = f"a dict with keys {sorted(map(str, obj))}" if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"expected {{'features': [{{'uid': ..., 'features_RGB': ...}}, ...]}} or a DataFrame "
                         f"of those columns, found {what}", path=source)
    return table


def import_feature_pickle(path: str | Path, store: FeatureStore, modality: str = "rgb",
                          key: str = "features_RGB", shard_size: int = 256) -> int:
    """Write every entry's `key` array into `store` under `modality` (uid as a string); returns how many were new.

    Entries whose uid the store already holds are skipped, so an interrupted import resumes.
    """
    path = Path(path)
    entries = feature_entries(restricted_load(path), source=path)
    with store.writer(modality, shard_size=shard_size) as writer:
        for i, entry in enumerate(entries):
            if "uid" not in entry or key not in entry:
                absent = [k for k in ("uid", key) if k not in entry]
                raise InputError(f"entry {i} lacks {absent}; its keys are {sorted(map(str, entry))}", path=path)
            uid = entry["uid"]
            if isinstance(uid, (float, np.floating)) and float(uid).is_integer():
                uid = int(uid)  # DataFrames with a missing value turn an int column into floats
            try:
                writer.add(uid, entry[key])
            except InputError as e:
                raise InputError(f"entry {i}: {e.problem}", path=path) from None
    return writer.written
