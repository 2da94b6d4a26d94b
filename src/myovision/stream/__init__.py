"""Real-time sEMG: stateful causal processing, windows across chunks, sources, sinks and the online loop.

Fed a recording in chunks of any sizes, every stage here gives exactly the offline causal result over the
whole recording (the tests in tests/stream check it over random chunkings):

>>> import numpy as np
>>> from myovision.stream import WindowBuffer
>>> buf = WindowBuffer(size=4, step=2, channels=1)
>>> [len(buf.push(np.ones((n, 1)))) for n in (3, 1, 5)]  # windows start at 0 | 2, 4 (9 samples in all)
[0, 1, 2]

Names load their module on first use (PEP 562), so the command line can read `myovision.stream.options`
without importing the signal stack.
"""

from importlib import import_module

_HOMES = {
    "filters": ("CausalSOSFilter", "FrozenMinMax", "FrozenZScore", "MovingRMS", "butter_sos", "notch_sos"),
    "runner": ("Recogniser", "check_layout", "run_stream"),
    "sinks": ("JsonLines", "LSLStringOutlet"),
    "sources": ("ArrayReplay", "LSLSource", "open_source", "read_stream_file", "replay_source"),
    "windows": ("OnlineFeatures", "WindowBuffer"),
    "options": ("DecisionOptions", "PublishOptions", "SourceOptions"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'myovision.stream' has no attribute {name!r}")
    return getattr(import_module(f"myovision.stream.{_MODULE_OF[name]}"), name)
