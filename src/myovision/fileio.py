"""Atomic file writes: a reader never sees a half-written file, and an interrupted run never loses the last good one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is flushed to disk and replaces `path`.

    On error the temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the real suffix stays last, so np.save / savefig keep the name they are given
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_yaml(path: str | Path) -> dict:
    """The mapping in a YAML file; InputError naming the file when it is missing, malformed or not a mapping."""
    import yaml

    from myovision.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({str(exc).splitlines()[0]})", path) from None
    if not isinstance(doc, dict):
        raise InputError(f"expected a mapping of key: value, found {type(doc).__name__}", path)
    return doc
