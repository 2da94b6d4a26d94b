"""Where a stream's outputs go: JSON lines (stdout by default) and an LSL string outlet."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from myovision.stream.lsl import open_outlet


class JsonLines:
    """One JSON object per line, flushed at once (so a consumer reading a pipe sees each decision as it comes)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def emit(self, record: dict) -> None:
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


class LSLStringOutlet:
    """An irregular-rate, one-channel string LSL outlet (a marker stream, type ``Markers``); each record is sent
    as its JSON text."""

    def __init__(self, name: str):
        self.outlet = open_outlet(name, 1, 0.0, kind="Markers", channel_format="string")

    def emit(self, record: dict) -> None:
        self.outlet.push_sample([json.dumps(record)])
