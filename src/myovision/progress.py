"""Progress on long work: a tqdm bar when stderr is a terminal, otherwise a plain line on stderr
(description, done/total, rate, elapsed) at least every `INTERVAL_S` seconds of work and once at the end,
so logs of CI jobs and redirected runs show that a command is alive without a bar's carriage returns.

Library functions take ``progress=False`` (or a callback) and the command line turns it on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

#: Seconds between two plain progress lines (non-terminal stderr).
INTERVAL_S = 10.0


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Heartbeat:
    """Progress of a loop that is not an iterable: ``with Heartbeat(total, desc=...) as beat: ... beat.update()``.

    `update(n)` counts `n` more units done; `set_description(text)` renames the work shown; `disable` shows
    nothing (so a library function can take ``progress=False`` without two code paths). On a terminal
    a tqdm bar; elsewhere a line such as ``profiling: 3/10 pass, 0.52 pass/s, 5.8 s elapsed`` on stderr when
    `interval_s` seconds have passed since the last line, and a final line on exit (unless by an exception).
    """

    def __init__(self, total: int | None = None, *, desc: str = "", unit: str = "it",
                 interval_s: float = INTERVAL_S, stream: TextIO | None = None, disable: bool = False):
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.disable = disable
        self.interval_s = interval_s
        self.stream = stream if stream is not None else sys.stderr
        self._bar = None
        if not disable and _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)
        self._start = self._last = time.monotonic()
        self._shown = None  # the count of the last plain line
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif not self.disable and time.monotonic() - self._last >= self.interval_s:
            self._print_line()

    def set_description(self, desc: str) -> None:
        self.desc = desc
        if self._bar is not None:
            self._bar.set_description(desc)

    def line(self) -> str:
        """The plain progress line: ``desc: done/total unit, rate unit/s, elapsed``."""
        elapsed = time.monotonic() - self._start
        done = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        rate = f", {self.n / elapsed:.3g} {self.unit}/s" if elapsed > 0 else ""
        return f"{self.desc + ': ' if self.desc else ''}{done} {self.unit}{rate}, {elapsed:.1f} s elapsed"

    def _print_line(self) -> None:
        print(self.line(), file=self.stream, flush=True)
        self._last, self._shown = time.monotonic(), self.n

    def close(self, final_line: bool = True) -> None:
        """Close the bar, or print the final line (unless the last line already showed the final count)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif final_line and not self.disable and self._shown != self.n:
            self._print_line()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(final_line=exc_type is None)  # on an error, its message is the last line


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
             disable: bool = False) -> Iterator[T]:
    """Yield the items of `iterable` while showing progress (see `Heartbeat`); `total` defaults to its len()."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Heartbeat(total, desc=desc, unit=unit, disable=disable) as beat:
        for item in iterable:
            yield item
            beat.update()
