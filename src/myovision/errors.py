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
