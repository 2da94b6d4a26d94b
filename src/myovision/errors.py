"""One error type for bad user input: it names the file (when there is one) and what is wrong.

The CLI turns it into a one-line message and a non-zero exit; library users can catch it.
"""

from __future__ import annotations

from os import PathLike


class InputError(ValueError):
    """Bad input: a missing or malformed file, wrong shapes, NaN samples, an unknown label.

    >>> str(InputError("NaN samples at rows [3, 4]", path="s1/rest.npy"))
    's1/rest.npy: NaN samples at rows [3, 4]'
    """

    def __init__(self, problem: str, path: str | PathLike | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


def excerpt(text: str | bytes, limit: int = 40) -> str:
    """A short, printable, escaped excerpt of file content for an error message: at most `limit` characters
    of it, non-printable characters escaped, '...' when cut.

    >>> excerpt("root:x:0:0:root:/root:/bin/bash\\ndaemon:x:1:1", limit=12)
    "'root:x:0:0:r'..."
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    head = text[:limit]
    return repr(head) + ("..." if len(text) > limit else "")


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal (SIGINT, SIGTERM, SIGHUP): long commands keep their finished work and exit
    with a summary; `code` is the conventional exit status 128 + the signal number."""

    def __init__(self, signal_name: str = "SIGINT", code: int = 130):
        self.signal_name, self.code = signal_name, code
        super().__init__(signal_name)


_deferring: list[int] = []  # depth of `signals_deferred` sections; a signal raised inside one waits at [1:]


def _raise_interrupted(signum: int, frame) -> None:
    import signal

    if _deferring and _deferring[0] > 0:
        _deferring.append(signum)
        return
    raise Interrupted(signal.Signals(signum).name, 128 + signum)


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP (what schedulers, `timeout` and `docker stop` send, and a closed terminal) stop
    the program as SIGINT does, by raising `Interrupted` in the main thread (nothing done outside it)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)


class signals_deferred:  # noqa: N801  (a context manager, named like one)
    """A section a stop signal must not cut in two (a shard and its index entry): `Interrupted` is raised when
    it ends instead of inside it."""

    def __enter__(self):
        if not _deferring:
            _deferring.append(0)
        _deferring[0] += 1
        return self

    def __exit__(self, *exc):
        _deferring[0] -= 1
        if _deferring[0] == 0 and len(_deferring) > 1:
            signum = _deferring.pop()
            del _deferring[1:]
            if exc[0] is None:
                import signal

                raise Interrupted(signal.Signals(signum).name, 128 + signum)
        return False
