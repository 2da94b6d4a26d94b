"""Lab Streaming Layer (LSL) through pylsl, imported on first use (the ``[lsl]`` extra): inlets, outlets, publish.

pylsl's wheel ships liblsl, and LSL works over loopback, so a recording published here can be read by an inlet
in another program on the same machine (`myovision stream publish` and `myovision stream gestures --source
lsl:NAME`).
"""

from __future__ import annotations

import time

import numpy as np

from myovision.errors import InputError


def import_pylsl():
    """The pylsl module; InputError naming the extra when it (or its liblsl) is missing."""
    try:
        import pylsl
    except (ImportError, OSError, RuntimeError) as exc:
        raise InputError(f"LSL streams need pylsl (pip install 'myovision[lsl]'): {exc}") from None
    return pylsl


def resolve_stream(name: str, timeout: float):
    """The first LSL stream whose name, else whose type, is `name`; InputError after `timeout` seconds."""
    pylsl = import_pylsl()
    for prop in ("name", "type"):
        found = pylsl.resolve_byprop(prop, name, 1, timeout / 2)
        if found:
            return found[0]
    raise InputError(f"no LSL stream named or typed {name!r} found within {timeout:g} s")


def open_outlet(name: str, channels: int, sample_rate: float, *, kind: str = "EMG", channel_format: str = "float32"):
    """A new LSL outlet; `sample_rate` 0 means irregular (markers)."""
    pylsl = import_pylsl()
    info = pylsl.StreamInfo(name, kind, channels, sample_rate, channel_format, f"myovision-{name}")
    return pylsl.StreamOutlet(info)


def publish(data: np.ndarray, sample_rate: float, name: str, *, kind: str = "EMG", chunk_ms: float = 50.0,
            paced: bool = True, wait_s: float = 10.0, linger_s: float = 5.0) -> int:
    """Replay `data` (T, C) as an LSL outlet called `name`, in chunks of `chunk_ms`; return the samples sent.

    Waits up to `wait_s` for a consumer before sending (so an inlet opened just after gets every sample);
    `paced` sends each chunk when its last sample is due at `sample_rate`, else as fast as possible. After the
    last chunk the outlet stays open until the consumers leave, or `linger_s` seconds.
    """
    data = np.ascontiguousarray(data, dtype=np.float32)
    outlet = open_outlet(name, data.shape[1], sample_rate, kind=kind)
    if not outlet.wait_for_consumers(wait_s):
        raise InputError(f"no consumer connected to LSL stream {name!r} within {wait_s:g} s")
    step = max(1, round(chunk_ms * sample_rate / 1000))
    start = time.perf_counter()
    for i in range(0, len(data), step):
        chunk = data[i:i + step]
        if paced:
            due = start + (i + len(chunk)) / sample_rate
            time.sleep(max(0.0, due - time.perf_counter()))
        outlet.push_chunk(chunk)
    end = time.perf_counter() + linger_s
    while outlet.have_consumers() and time.perf_counter() < end:
        time.sleep(0.05)
    return len(data)
