"""Optional numba compilation of the project's plain-Python kernels (numba is the `fast` extra)."""

from __future__ import annotations

from typing import Callable

_COMPILED: dict[Callable, Callable | None] = {}


def compiled(kernel: Callable, *callees: Callable) -> Callable | None:
    """`kernel` compiled by numba (cached on disk, compiled once per process), or None when numba is not
    installed. `callees` are functions of the kernel's module that it calls: each is compiled and put in place
    of the module's global of the same name, as numba needs."""
    if kernel not in _COMPILED:
        try:
            import numba
        except ImportError:
            _COMPILED[kernel] = None
        else:
            jit = numba.njit(cache=True)
            for callee in callees:
                kernel.__globals__[callee.__name__] = jit(callee)
            _COMPILED[kernel] = jit(kernel)
    return _COMPILED[kernel]
