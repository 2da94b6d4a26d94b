"""Options of the `myovision stream` commands shared by every recogniser: where samples come from and go."""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.errors import InputError


@dataclass
class SourceOptions:
    """The stream's source and sinks."""

    source: str = option("", "replay:FILE (a recording, paced at its sample rate) or lsl:NAME (an LSL stream by "
                         "name or type)", metavar="SRC")
    rate: float | None = option(None, "sample rate (Hz) of a replayed recording that does not store it "
                                "(default: the model's)")
    channels: int | None = option(None, "channel count of a replayed .dat recording")
    chunk_ms: float = option(50.0, "chunk length of a replay (ms)")
    as_fast_as_possible: bool = option(False, "replay without waiting for each chunk's real time")
    timeout: float = option(5.0, "seconds to find an LSL stream, and without a sample before it counts as stopped")
    lsl_out: str | None = option(None, "also send each record (JSON text) to an LSL string outlet of this name",
                                 metavar="NAME")

    def __post_init__(self):
        if self.chunk_ms <= 0 or self.timeout <= 0:
            raise InputError(f"--chunk-ms and --timeout must be positive, got {self.chunk_ms}, {self.timeout}")


@dataclass
class PublishOptions:
    """How `myovision stream publish` replays a recording as an LSL outlet."""

    name: str = option("myovision", "LSL stream name")
    type: str = option("EMG", "LSL stream type")
    rate: float | None = option(None, "sample rate (Hz) of a recording that does not store it")
    channels: int | None = option(None, "channel count of a .dat recording")
    chunk_ms: float = option(50.0, "samples sent per push (ms)")
    as_fast_as_possible: bool = option(False, "send without waiting for each chunk's real time")
    wait: float = option(30.0, "seconds to wait for a consumer before sending")
    linger: float = option(5.0, "seconds to keep the outlet open after the last sample while consumers remain")


@dataclass
class DecisionOptions:
    """How a classifier's window decisions become the stream's labels (LibEMG's online post-processing)."""

    smoothing: float = option(0.0, "weight of the past in the moving average of class probabilities (0: none, "
                              "0.8: about the last 5 windows)")
    vote: int = option(1, "majority vote over the last VOTE window decisions (1: none)")
    threshold: float = option(0.0, "reject (label null) a decision whose smoothed probability is below this")

    def __post_init__(self):
        if not 0 <= self.smoothing < 1 or self.vote < 1 or not 0 <= self.threshold <= 1:
            raise InputError(f"need 0 <= smoothing < 1, vote >= 1 and 0 <= threshold <= 1; got {self.smoothing}, "
                             f"{self.vote}, {self.threshold}")
