"""Claim: ``preprocess(preset="paper")`` on one hour of 32-channel 2 kHz float32 sEMG peaks at <= 3x the input's
size in resident memory (and ``log_spectrogram`` at input + output + a bounded working set: its float32 output
alone is 33/16 = 2.06x the input, so input + output is 3.06x and a 3x peak cannot hold without changing the output),
and the typing loader's cache of an emg2qwerty session (`session_spectrogram`: the session read from its HDF5
file chunk by chunk, the spectrogram written chunk by chunk to the cache file) needs working memory of one
chunk, whatever the session's length (measured on one length here; tests/typing/test_spectrogram_windows.py
compares two).

Each operation runs in a fresh subprocess that builds the input in float32 chunks (so building it costs no
more than the input), then calls the operation once; the peak resident set size is the process's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the call, which includes the interpreter, numpy, scipy
and torch (measured alone as "baseline" and printed). Ratios are peak / input bytes, and the working memory
(peak minus the resident size before the call, i.e. output plus temporaries) / input bytes: the quick run's
guard, since on 2 minutes the interpreter dominates the peak.

    python benchmarks/bench_memory.py            # one hour of 32-ch 2 kHz (879 MiB float32)
    python benchmarks/bench_memory.py --quick    # CI: 2 minutes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from check_ratios import RATIOS_HELP, ratios_path, record

FS, CHANNELS = 2000, 32

CHILD = r"""
import json, resource, sys
import numpy as np
import torch  # loaded by both operations' modules; part of every run's baseline
from myovision.signals import log_spectrogram, preprocess
op, minutes = sys.argv[1], float(sys.argv[2])
n = int(minutes * 60 * {fs})
x = np.empty((n, {channels}), np.float32)
rng = np.random.default_rng(0)
for a in range(0, n, 1 << 16):  # chunked, so building the input costs no more than the input
    b = min(a + (1 << 16), n)
    x[a:b] = rng.standard_normal((b - a, {channels}), dtype=np.float32) * 30.0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if op == "preprocess":
    y = preprocess(x, {fs}, preset="paper")
elif op == "log_spectrogram":
    y = log_spectrogram(x)
else:
    y = x[:0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"input": x.nbytes, "output": y.nbytes, "before": before, "peak": peak}}))
""".format(fs=FS, channels=CHANNELS)

#: the typing cache: an emg2qwerty-format session file (written beforehand) to its band-major spectrogram file
CACHE_CHILD = r"""
import json, resource, sys
from myovision.data.emg2qwerty import read_session
from myovision.data.spectrogram_windows import session_spectrogram
session = read_session(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
spec = session_spectrogram(session, sys.argv[2])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"input": session.n_samples * 32 * 4, "output": spec.nbytes, "before": before, "peak": peak}))
"""
WRITE_SESSION = r"""
import sys
from myovision.data.synthetic_typing import write_synthetic_typing
print(write_synthetic_typing(sys.argv[1], n_sessions=1, duration_s=float(sys.argv[2]) * 60, seed=0)[0])
"""


def run_child(script: str, *args: str) -> str:
    """The last line a fresh interpreter running ``script`` with ``args`` prints."""
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def measure(op: str, minutes: float) -> dict:
    return json.loads(run_child(CHILD, op, str(minutes)))


def measure_cache(minutes: float) -> dict:
    """Peak RSS of caching the spectrogram of a ``minutes``-long emg2qwerty session read from its HDF5 file."""
    with tempfile.TemporaryDirectory() as tmp:
        session = run_child(WRITE_SESSION, str(Path(tmp) / "data"), str(minutes))
        return json.loads(run_child(CACHE_CHILD, session, str(Path(tmp) / "cache")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of 32-channel 2 kHz signal (default 60)")
    parser.add_argument("--quick", action="store_true", help="CI mode: 2 minutes")
    parser.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = parser.parse_args(argv)
    ratios_file = ratios_path(args.ratios, args.quick)  # None: a quick run without --ratios writes nothing
    minutes = 2.0 if args.quick else args.minutes
    mib = 2.0**20
    base = measure("baseline", minutes)
    print(f"input: {minutes:g} min of {CHANNELS}-ch {FS} Hz float32 = {base['input'] / mib:.0f} MiB; "
          f"interpreter + libraries + input: {base['peak'] / mib:.0f} MiB")
    cmd = "python benchmarks/bench_memory.py" + (" --quick" if args.quick else "")
    for op in ("preprocess", "log_spectrogram"):
        m = measure(op, minutes)
        ratio = m["peak"] / m["input"]
        floor = (base["peak"] + m["output"]) / m["input"]  # what holding input and output alone costs
        print(f"{op:16s} peak {m['peak'] / mib:7.0f} MiB = {ratio:.2f}x the input "
              f"(output {m['output'] / mib:.0f} MiB; interpreter + input + output = {floor:.2f}x)")
        working = (m["peak"] - m["before"]) / m["input"]
        print(f"{'':16s} working memory beyond interpreter + input: {working:.2f}x the input; "
              f"input + output alone: {(m['input'] + m['output']) / m['input']:.2f}x")
        record(ratios_file, f"{op}_peak_memory_vs_input", ratio, quick=args.quick, higher_is_better=False,
               command=cmd, means=f"peak RSS / input bytes, {op}, 32-ch 2 kHz float32 (full: 60 min, quick: 2 min)")
        record(ratios_file, f"{op}_working_memory_vs_input", working, quick=args.quick, higher_is_better=False,
               command=cmd, means=f"(peak RSS - RSS before the call) / input bytes, {op} (full: 60 min, quick: 2 min)")
    m = measure_cache(minutes)
    ratio, working = m["peak"] / m["input"], (m["peak"] - m["before"]) / m["input"]
    print(f"{'typing cache':16s} peak {m['peak'] / mib:7.0f} MiB = {ratio:.2f}x the input, a {minutes:g} min "
          f"emg2qwerty session read from HDF5 ({m['input'] / mib:.0f} MiB of EMG) and its spectrogram written to "
          f"the cache file ({m['output'] / mib:.0f} MiB); working memory {working:.3f}x the input")
    record(ratios_file, "typing_cache_peak_memory_vs_input", ratio, quick=args.quick, higher_is_better=False,
           command=cmd, means="peak RSS / the session's EMG bytes, caching an emg2qwerty session's log spectrogram "
           "from its HDF5 file to disk (session_spectrogram; full: 60 min, quick: 2 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
