"""Safe outputs: atomic writes (a reader never sees a half-written file, an interrupted run never loses the
last good one), written with the permissions the umask allows, and output paths checked before any work
(never an input, never an existing file unless the user asked to overwrite, in a folder that can be written)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator


def _umask() -> int:
    """The process umask (read by setting and restoring it: os offers no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target_error(exc: OSError, tmp: str, path: Path) -> OSError:
    """`exc` with the temporary file's name replaced by the final target's, so errors name what the user asked for."""
    if str(exc.filename) in (tmp, str(path.parent)) or (tmp and tmp in str(exc)):
        return type(exc)(exc.errno, exc.strerror or str(exc), str(path))
    return exc


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is flushed to disk and replaces `path`.

    The new file gets the mode an ordinary `open(path, "w")` would give (0666 less the umask), or the mode
    of the file it replaces. On error the temporary file is removed and `path` keeps its previous content;
    an OSError names `path`, never the temporary file.
    """
    path = Path(path)
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the real suffix stays last, so np.save / savefig keep the name they are given
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp.", suffix=path.suffix)
        os.close(fd)
        try:
            yield Path(tmp)
            mode = path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as exc:
        raise _target_error(exc, tmp or str(path), path) from None


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def check_output(path: str | Path, *, inputs: Iterable[str | Path] = (), overwrite: bool = False,
                 suffixes: Iterable[str] = ()) -> Path:
    """Check an output file before any work is done; InputError naming it when it would destroy something.

    Refused: an output that is one of `inputs` (also through a link; whatever `overwrite` says), an existing
    file unless `overwrite`, a folder, a suffix outside `suffixes` (when given, e.g. (".npy",)), and a place
    that cannot be written (the nearest existing folder above it is not writable).
    """
    from myovision.errors import InputError

    path = Path(path)
    suffixes = tuple(suffixes)
    if path.is_dir():
        raise InputError("--out is a folder; give a file name", path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"this command writes {' or '.join(suffixes)}; give --out a name ending in it", path)
    resolved = path.resolve()
    for item in inputs:
        if Path(item).exists() and Path(item).resolve() == resolved:
            raise InputError("--out is an input of this command; it is never overwritten", path)
    if path.exists() and not overwrite:
        raise InputError("already exists; pass --overwrite to replace it", path)
    check_writable_folder(path.parent)
    return path


def check_writable_folder(folder: str | Path) -> Path:
    """InputError unless `folder` exists and can be written, or could be created (its nearest existing
    ancestor is a writable folder)."""
    from myovision.errors import InputError

    folder = Path(folder).absolute()
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"cannot create a folder here: {probe} is a file", folder)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError("output folder is not writable" if probe == folder else
                         f"cannot create the output folder: {probe} is not writable", folder)
    return folder


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


def limit(name: str) -> int:
    """A resource limit: `MAX_SAMPLES` (elements of one declared array, default 2**31) or `MAX_BYTES` (bytes one
    input may declare or inflate to, default 16 GiB); the environment variable MYOVISION_<NAME> overrides it."""
    defaults = {"MAX_SAMPLES": 2**31, "MAX_BYTES": 16 * 2**30}
    value = os.environ.get(f"MYOVISION_{name}")
    return int(value) if value else defaults[name]


def check_declared_size(path: str | Path, *, elements: int | None = None, nbytes: int | None = None,
                        what: str = "declares") -> None:
    """InputError naming `path` and the limit when a declared element count or byte size is above the limits
    (checked before anything of that size is allocated)."""
    from myovision.errors import InputError

    if elements is not None and elements > limit("MAX_SAMPLES"):
        raise InputError(f"{what} {elements} elements, above the limit of {limit('MAX_SAMPLES')} "
                         "(MYOVISION_MAX_SAMPLES raises it)", path)
    if nbytes is not None and nbytes > limit("MAX_BYTES"):
        raise InputError(f"{what} {nbytes} bytes, above the limit of {limit('MAX_BYTES')} "
                         "(MYOVISION_MAX_BYTES raises it)", path)


class WriterLock:
    """An exclusive advisory lock on a file (`fcntl.flock`), holding the holder's pid and host.

    `acquire()` raises InputError naming the holder when another process holds it. The kernel drops the lock
    when its holder dies (a kill, a crash), but the file keeps the dead holder's line: the next `acquire()`
    takes the lock over and reports it in `took_over` ("pid 123 on host h, not running"). `release()` empties
    the file, so a lock file with a line in it and no holder always means an unclean stop.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.took_over: str | None = None
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        import fcntl
        import platform

        from myovision.errors import InputError

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise InputError(f"locked by a running writer ({holder}); wait for it to finish, or write to "
                             "another folder", self.path) from None
        previous = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if previous:
            self.took_over = f"{previous}, which stopped without releasing it"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {platform.node()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int, wait_s: float = 0.5) -> str:
        """The holder's line; a holder that has just taken the lock writes it a moment later, so an empty file
        is read again for up to `wait_s` before it counts as "another process"."""
        import time

        deadline = time.monotonic() + wait_s
        while True:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            if holder or time.monotonic() > deadline:
                return holder or "another process"
            time.sleep(0.01)

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
