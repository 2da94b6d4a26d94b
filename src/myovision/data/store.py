"""FeatureStore: per-sample clip features, float32 (clips, dim), keyed by uid, for one or more modalities.

A store is a folder::

    index.json                  the table of what is stored: one record per (uid, modality) with its shard and shape
    shard-00000.safetensors     several samples' tensors under the keys "<modality>/<uid>"
    shard-00001.safetensors     ...

Writing goes through `FeatureStore.writer`, which buffers samples and flushes a shard every `shard_size`
of them: first the shard file is written atomically, then the index is rewritten atomically (a stop signal
waits until both are done). The index is the only source of truth, so a build interrupted at any point (an
exception, a kill) leaves a consistent store: a shard written but not yet indexed is an orphan that readers
ignore and the next flush reuses by name. On restart, samples already indexed are skipped
(`FeatureStore.has`, or `add` returning False).

One writer per store at a time: a writer holds the advisory lock `.writer.lock` (its pid and host inside);
a second writer gets an InputError naming the holder, and a lock left by a killed writer is taken over and
reported (`FeatureWriter.took_over`). The index records each shard's size and SHA-256: `verify` finds
missing, truncated or altered shards, and `repair` drops their uids from the index so a resume recomputes
them. Index entries are confined to the store: a shard name is a plain ``shard-NNNNN.safetensors`` (never a
path), and declared shapes are checked against `myovision.fileio.limit`.

Reading opens shards with `safetensors.safe_open`, which memory-maps the file and materialises only the
tensors asked for; open handles are cached. Readers may be many.

>>> import tempfile, numpy as np
>>> store = FeatureStore(tempfile.mkdtemp())
>>> with store.writer("rgb", shard_size=2) as w:
...     for uid in ["a", "b", "c"]:
...         _ = w.add(uid, np.full((5, 8), 0.5, np.float32))
>>> store.uids("rgb"), store.stack(["c", "a"], "rgb").shape, store.has("b", "rgb"), store.has("b", "emg")
(['a', 'b', 'c'], (2, 5, 8), True, False)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from myovision.errors import InputError, excerpt, signals_deferred
from myovision.fileio import WriterLock, atomic_path, atomic_write_text, check_declared_size

INDEX_NAME = "index.json"
LOCK_NAME = ".writer.lock"
FORMAT = "myovision-feature-store"
VERSION = 1
_SHARD_RE = re.compile(r"^shard-(\d{5,})\.safetensors$")
_MAX_OPEN_SHARDS = 64
_SHOW = 5  # how many uids an error message lists


@dataclass(frozen=True)
class _Entry:
    shard: str
    shape: tuple[int, int]


@dataclass(frozen=True)
class ShardProblem:
    """A shard `verify` found damaged: its name, what is wrong, and the (modality, uid) pairs it held."""

    shard: str
    problem: str
    uids: tuple[tuple[str, str], ...]


def _digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex digest, size in bytes) of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), path.stat().st_size


def _uid(uid: Any) -> str:
    """A uid as the string it is stored under (ints, numpy ints and strings are accepted)."""
    if isinstance(uid, (bool, np.bool_)) or not isinstance(uid, (str, int, np.integer)):
        raise InputError(f"uid {uid!r} must be a string or an integer, not {type(uid).__name__}")
    uid = str(uid)
    if not uid:
        raise InputError("uid must not be empty")
    return uid


def _check_modality(modality: str) -> str:
    if not isinstance(modality, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", modality):
        raise InputError(f"modality {modality!r} must be a non-empty name of letters, digits, '_', '.' or '-'")
    return modality


def _listing(items: Sequence[str], show: int = _SHOW) -> str:
    """`'a', 'b', 'c' and 12 more`."""
    head = ", ".join(repr(x) for x in items[:show])
    return head if len(items) <= show else f"{head} and {len(items) - show} more"


def _write_shard(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write one shard atomically (a module-level function so tests can intercept it)."""
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def _write_index(path: Path, text: str) -> None:
    """Rewrite the index atomically (a module-level function so tests can intercept it)."""
    atomic_write_text(path, text)


class FeatureStore:
    """A folder of clip features: `FeatureStore(path)` opens it, or creates it when absent."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InputError("a feature store must be a folder, this is a file", path=self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._entries: dict[str, dict[str, _Entry]] = {}
        self._sums: dict[str, dict[str, Any]] = {}  # shard -> {"sha256": hex, "bytes": n}
        self._handles: OrderedDict[str, Any] = OrderedDict()
        self._load_index()

    # ----------------------------------------------------------------- index
    @property
    def index_path(self) -> Path:
        return self.path / INDEX_NAME

    def _load_index(self) -> None:
        """Read index.json (again: a writer re-reads it once it holds the lock)."""
        self._entries, self._sums = {}, {}
        self._handles.clear()
        if not self.index_path.exists():
            return
        try:
            doc = json.loads(self.index_path.read_text())
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"format is {excerpt(str(doc.get('format') if isinstance(doc, dict) else doc))}"
                                 f", expected {FORMAT!r}")
            for rec in doc["entries"]:
                shape = tuple(int(n) for n in rec["shape"])
                if len(shape) != 2 or min(shape) < 1:
                    raise ValueError(f"shape {list(shape)} of uid {excerpt(str(rec['uid']))} is not (clips, dim)")
                check_declared_size(self.index_path, elements=shape[0] * shape[1],
                                    what=f"uid {excerpt(str(rec['uid']))} declares")
                if not isinstance(rec["uid"], str) or not _SHARD_RE.match(str(rec["shard"])):
                    raise ValueError(f"entry {excerpt(json.dumps(rec))} names a shard outside the store")
                self._entries.setdefault(_check_modality(rec["modality"]), {})[rec["uid"]] = _Entry(rec["shard"], shape)
            self._sums = {name: {"sha256": str(v["sha256"]), "bytes": int(v["bytes"])}
                          for name, v in doc.get("shards", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"unreadable feature-store index: {e}", path=self.index_path) from None

    def _index_text(self, entries: dict[str, dict[str, _Entry]]) -> str:
        records = [
            {"uid": uid, "modality": modality, "shard": e.shard, "shape": list(e.shape)}
            for modality, by_uid in entries.items()
            for uid, e in by_uid.items()
        ]
        used = {e.shard for by_uid in entries.values() for e in by_uid.values()}
        sums = {name: v for name, v in sorted(self._sums.items()) if name in used}
        head = json.dumps({"format": FORMAT, "version": VERSION, "dtype": "float32", "shards": sums})[:-1]
        rows = ",\n".join(json.dumps(r) for r in records)  # one record per line: readable, diffable
        return f'{head}, "entries": [\n{rows}\n]}}\n'

    def _next_shard_name(self) -> str:
        """One past the highest indexed shard: an orphan (written, never indexed) of that name is reused."""
        numbers = [int(m.group(1)) for by_uid in self._entries.values() for e in by_uid.values()
                   if (m := _SHARD_RE.match(e.shard))]
        return f"shard-{max(numbers, default=-1) + 1:05d}.safetensors"

    def _commit(self, modality: str, samples: dict[str, np.ndarray]) -> None:
        """Write `samples` as one new shard, then add them to the index (shard first, index second)."""
        name = self._next_shard_name()
        tensors = {f"{modality}/{uid}": x for uid, x in samples.items()}
        with signals_deferred():
            _write_shard(self.path / name, tensors, {"format": FORMAT, "modality": modality})
            digest, size = _digest(self.path / name)
            previous = self._sums.get(name)
            self._sums[name] = {"sha256": digest, "bytes": size}
            entries = {m: dict(by_uid) for m, by_uid in self._entries.items()}
            entries.setdefault(modality, {}).update({uid: _Entry(name, x.shape) for uid, x in samples.items()})
            try:
                _write_index(self.index_path, self._index_text(entries))
            except BaseException:
                if previous is None:
                    self._sums.pop(name)
                else:
                    self._sums[name] = previous
                raise
            self._handles.pop(name, None)  # a reused orphan's name: drop a handle on the old file
            self._entries = entries  # only once both files are on disk

    # ----------------------------------------------------------------- queries
    def modalities(self) -> list[str]:
        """The modalities that hold at least one sample."""
        return [m for m, by_uid in self._entries.items() if by_uid]

    def uids(self, modality: str) -> list[str]:
        """The uids stored for `modality`, in the order they were written."""
        return list(self._entries.get(modality, {}))

    def shards(self, modality: str) -> list[str]:
        """The shard files holding `modality`, in write order."""
        return list(dict.fromkeys(e.shard for e in self._entries.get(modality, {}).values()))

    def has(self, uid: Any, modality: str) -> bool:
        """Whether `uid` is stored (indexed) for `modality`."""
        return _uid(uid) in self._entries.get(modality, {})

    def shape(self, uid: Any, modality: str) -> tuple[int, int]:
        """(clips, dim) of one sample, from the index (nothing is read)."""
        return self._lookup([_uid(uid)], modality)[0].shape

    def dim(self, modality: str) -> int | None:
        """The feature dimension of `modality`, or None when it holds nothing yet."""
        first = next(iter(self._entries.get(modality, {}).values()), None)
        return None if first is None else first.shape[1]

    def __len__(self) -> int:
        return sum(len(by_uid) for by_uid in self._entries.values())

    def __repr__(self) -> str:
        parts = [f"{m}: {len(u)} uids, dim {self.dim(m)}" for m, u in self._entries.items() if u]
        return f"FeatureStore({str(self.path)!r}; {'; '.join(parts) or 'empty'})"

    def _lookup(self, uids: Sequence[str], modality: str) -> list[_Entry]:
        by_uid = self._entries.get(modality, {})
        missing = [u for u in uids if u not in by_uid]
        if missing:
            raise InputError(f"{len(missing)} of {len(uids)} uids missing from modality {modality!r}: "
                             f"{_listing(missing)}", path=self.path)
        return [by_uid[u] for u in uids]

    # ----------------------------------------------------------------- reading
    def _handle(self, shard: str) -> Any:
        handle = self._handles.get(shard)
        if handle is not None:
            self._handles.move_to_end(shard)
            return handle
        path = self.path / shard
        if not path.is_file():
            raise InputError("shard listed in the index is missing", path=path)
        try:
            handle = safe_open(str(path), framework="numpy")
        except (SafetensorError, OSError) as e:
            raise InputError(f"corrupt or unreadable shard: {e}", path=path) from None
        self._handles[shard] = handle
        if len(self._handles) > _MAX_OPEN_SHARDS:
            self._handles.popitem(last=False)
        return handle

    def _read(self, uid: str, modality: str, entry: _Entry) -> np.ndarray:
        try:
            x = self._handle(entry.shard).get_tensor(f"{modality}/{uid}")
        except SafetensorError as e:
            raise InputError(f"corrupt shard, cannot read uid {uid!r} ({modality}): {e}",
                             path=self.path / entry.shard) from None
        if x.dtype != np.float32 or x.shape != entry.shape:
            raise InputError(f"uid {uid!r} ({modality}) is {x.dtype} {x.shape}, the index says float32 "
                             f"{entry.shape}", path=self.path / entry.shard)
        return x

    def get(self, uid: Any, modality: str) -> np.ndarray:
        """One sample's features, float32 (clips, dim)."""
        uid = _uid(uid)
        return self._read(uid, modality, self._lookup([uid], modality)[0])

    def stack(self, uids: Iterable[Any], modality: str) -> np.ndarray:
        """Features of `uids` (in that order) as one float32 array (N, clips, dim); reads only those samples."""
        uids = [_uid(u) for u in uids]
        entries = self._lookup(uids, modality)
        shapes = sorted({e.shape for e in entries})
        if len(shapes) > 1:
            by_shape = {s: [u for u, e in zip(uids, entries) if e.shape == s] for s in shapes}
            detail = "; ".join(f"{s}: {_listing(us, 3)}" for s, us in by_shape.items())
            raise InputError(f"samples of modality {modality!r} differ in shape (clips, dim): {detail}",
                             path=self.path)
        out = np.empty((len(uids), *(shapes[0] if shapes else (0, self.dim(modality) or 0))), np.float32)
        for i, (uid, entry) in enumerate(zip(uids, entries)):
            out[i] = self._read(uid, modality, entry)  # (clips, dim)
        return out

    def check(self, uids: Iterable[Any], modalities: Sequence[str]) -> None:
        """Raise InputError unless every uid is stored for every modality with one clip count across them."""
        uids = [_uid(u) for u in uids]
        missing = {m: [u for u in uids if u not in self._entries.get(m, {})] for m in modalities}
        missing = {m: us for m, us in missing.items() if us}
        if missing:
            detail = "; ".join(f"{m}: {len(us)} missing ({_listing(us)})" for m, us in missing.items())
            raise InputError(f"uids missing from the feature store: {detail}", path=self.path)
        mismatched = [u for u in uids if len({self._entries[m][u].shape[0] for m in modalities}) > 1]
        if mismatched:
            detail = ", ".join(
                f"{u!r} (" + ", ".join(f"{m} {self._entries[m][u].shape[0]}" for m in modalities) + ")"
                for u in mismatched[:_SHOW])
            more = f" and {len(mismatched) - _SHOW} more" if len(mismatched) > _SHOW else ""
            raise InputError(f"clip counts differ between modalities for {len(mismatched)} uids: {detail}{more}",
                             path=self.path)

    def stack_modalities(self, uids: Iterable[Any], modalities: Sequence[str]) -> dict[str, np.ndarray]:
        """`check` then `stack` each modality: {modality: (N, clips, dim_m)}, rows aligned by uid."""
        uids = [_uid(u) for u in uids]
        self.check(uids, modalities)
        return {m: self.stack(uids, m) for m in modalities}

    # ----------------------------------------------------------------- writing
    def writer(self, modality: str, shard_size: int = 256) -> FeatureWriter:
        """A buffered writer for one modality; use it as a context manager (`with store.writer("rgb") as w`)."""
        return FeatureWriter(self, modality, shard_size)

    def orphans(self) -> list[Path]:
        """Shard files no index entry points to, and temporary files an interrupted write left behind."""
        indexed = {e.shard for by_uid in self._entries.values() for e in by_uid.values()}
        return sorted(p for p in self.path.iterdir() if p.is_file() and (
            (_SHARD_RE.match(p.name) and p.name not in indexed)
            or p.name.startswith((".shard-", f".{Path(INDEX_NAME).stem}.tmp."))) and p.name != LOCK_NAME)

    def clean(self) -> list[Path]:
        """Remove `orphans()` (under the writer lock, so never while a writer runs); returns what was removed."""
        with WriterLock(self.path / LOCK_NAME):
            self._load_index()
            removed = self.orphans()
            for p in removed:
                p.unlink()
        return removed

    # ----------------------------------------------------------------- integrity
    def verify(self) -> list[ShardProblem]:
        """Every indexed shard checked: present, the size and SHA-256 the index recorded (or, for a store written
        before checksums, readable with every indexed tensor of the indexed shape). [] when all is well."""
        held: dict[str, list[tuple[str, str]]] = {}
        for modality, by_uid in self._entries.items():
            for uid, e in by_uid.items():
                held.setdefault(e.shard, []).append((modality, uid))
        problems = []
        for shard, uids in held.items():
            problem = self._shard_problem(shard, uids)
            if problem:
                problems.append(ShardProblem(shard, problem, tuple(uids)))
        return problems

    def _shard_problem(self, shard: str, uids: list[tuple[str, str]]) -> str | None:
        path = self.path / shard
        if not path.is_file():
            return "missing"
        recorded = self._sums.get(shard)
        if recorded is not None:
            digest, size = _digest(path)
            if size != recorded["bytes"]:
                return f"{size} bytes, the index recorded {recorded['bytes']}"
            return None if digest == recorded["sha256"] else "content differs from its recorded SHA-256"
        try:
            for modality, uid in uids:
                self._read(uid, modality, self._entries[modality][uid])
        except InputError as e:
            return e.problem
        return None

    def repair(self) -> list[ShardProblem]:
        """`verify`, then drop the damaged shards' uids from the index (under the writer lock) so that a resume
        recomputes them; the damaged files become orphans (`clean` removes them). Returns what was dropped."""
        with WriterLock(self.path / LOCK_NAME):
            self._load_index()
            problems = self.verify()
            if problems:
                bad = {p.shard for p in problems}
                entries = {m: {u: e for u, e in by_uid.items() if e.shard not in bad}
                           for m, by_uid in self._entries.items()}
                _write_index(self.index_path, self._index_text(entries))
                self._entries = entries
                self._handles.clear()
        return problems

    def close(self) -> None:
        """Drop the cached shard handles (they also close when the store is garbage-collected)."""
        self._handles.clear()


class FeatureWriter:
    """Buffers samples of one modality and writes a shard (then the index) every `shard_size` samples.

    Leaving the `with` block flushes what is buffered, also when the block raised, so only the sample being
    computed is lost; a failure inside a flush itself leaves the store as it was before that flush.
    The writer holds the store's lock from its creation to the end of the `with` block (`close`);
    `took_over` says whose lock it took over when the previous writer was killed (None otherwise).
    """

    def __init__(self, store: FeatureStore, modality: str, shard_size: int = 256):
        if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
            raise InputError(f"shard_size must be a positive integer, got {shard_size!r}")
        self.store = store
        self.modality = _check_modality(modality)
        self.shard_size = int(shard_size)
        self._lock = WriterLock(store.path / LOCK_NAME).acquire()
        self.took_over = self._lock.took_over
        store._load_index()  # what another writer added before this one got the lock
        self.written = 0  # samples flushed by this writer
        self.skipped = 0  # samples already in the store
        self._pending: dict[str, np.ndarray] = {}
        self._flush_failed = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, uid: Any, features: Any) -> bool:
        """Buffer one sample (clips, dim); False (and nothing done) when `uid` is already stored."""
        uid = _uid(uid)
        if self.store.has(uid, self.modality):
            self.skipped += 1
            return False
        if uid in self._pending:
            raise InputError(f"uid {uid!r} ({self.modality}) was added twice", path=self.store.path)
        x = np.asarray(features)
        if x.dtype.kind not in "fiu":
            raise InputError(f"features of uid {uid!r} ({self.modality}) are {x.dtype}, not numbers",
                             path=self.store.path)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported just below
            x = np.array(x, dtype=np.float32, order="C", copy=True)
        if x.ndim != 2 or 0 in x.shape:
            raise InputError(f"features of uid {uid!r} ({self.modality}) have shape {x.shape}, "
                             "expected (clips, dim)", path=self.store.path)
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise InputError(f"features of uid {uid!r} ({self.modality}) hold {bad} NaN/Inf values "
                             "(after conversion to float32)", path=self.store.path)
        dim = self.store.dim(self.modality) or next((p.shape[1] for p in self._pending.values()), None)
        if dim is not None and x.shape[1] != dim:
            raise InputError(f"features of uid {uid!r} ({self.modality}) have dim {x.shape[1]}, the "
                             f"modality's other samples have {dim}", path=self.store.path)
        self._pending[uid] = x
        if len(self._pending) >= self.shard_size:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the buffered samples as one shard and index them (nothing to do when the buffer is empty)."""
        samples = {u: x for u, x in self._pending.items() if not self.store.has(u, self.modality)}
        if samples:
            try:
                self.store._commit(self.modality, samples)
            except BaseException:
                self._flush_failed = True
                raise
            self.written += len(samples)
        self._pending.clear()

    def __enter__(self) -> FeatureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is None:
                self.flush()
            elif not self._flush_failed and self._pending:
                try:
                    self.flush()  # keep the samples finished before the error
                except Exception as e:  # noqa: BLE001 - the original error is the one to report
                    if hasattr(exc, "add_note"):  # Python >= 3.11
                        exc.add_note(f"(the buffered samples could not be saved either: {e})")
        finally:
            self.close()
        return False

    def close(self) -> None:
        """Release the store's lock (buffered samples not flushed are dropped)."""
        self._lock.release()

    def __del__(self) -> None:
        if hasattr(self, "_lock"):
            self._lock.release()
