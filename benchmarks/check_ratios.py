"""Performance guard: re-run each benchmark's ``--quick`` mode and fail when a ratio falls below half its
recorded value.

Every benchmark that makes a speed or memory claim writes its ratios (measured in one run, both sides on
the same input) into one machine-readable file, ``benchmarks/ratios.json``::

    {"features_vs_libemg": {"full": 25.1, "quick": 11.3, "higher_is_better": true,
                            "means": "...", "command": "python benchmarks/bench_features.py"}, ...}

``full`` is the claim's run (e.g. one hour of signal), ``quick`` the CI run (recorded by running a benchmark
with ``--quick --ratios benchmarks/ratios.json``; a plain ``--quick`` run writes nothing). This script runs the quick
benchmarks with ``--ratios`` pointing at a scratch file and compares each new quick ratio with the recorded
one: a speed-up (``higher_is_better``) must stay above half of it, a cost ratio (time or memory over a
floor) below twice it. Timings on a shared machine are noisy; a factor of 2 catches real regressions
(a lost fast path is 5-50x) without flaking.

    python benchmarks/check_ratios.py             # CI: exit 1 on a regression
    python benchmarks/check_ratios.py --list      # print the recorded ratios
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIOS = HERE / "ratios.json"
# The quick benchmarks that write ratios, with the arguments they run with in CI.
QUICK_BENCHMARKS: tuple[tuple[str, ...], ...] = (
    ("bench_features.py", "--quick"),
    ("bench_memory.py", "--quick"),
    ("bench_preprocess.py", "--quick"),
    ("bench_typing.py", "--quick"),
    ("bench_video.py", "--quick"),
    # one thread, as its ratio was recorded: two threads on a loaded 2-core machine made it 2-5x (OpenMP waits)
    ("bench_lipread_frontends.py", "--quick", "--threads", "1"),
)


RATIOS_HELP = ("json file the ratios are written to (default: benchmarks/ratios.json for a full run; a --quick run "
               "writes only when given one, so CI's quick runs never overwrite the recorded values)")


def ratios_path(arg: str | None, quick: bool) -> Path | None:
    """Where a benchmark writes its ratios: ``--ratios`` if given, else ratios.json for a full run, else nowhere."""
    if arg is not None:
        return Path(arg)
    return None if quick else RATIOS


def record(path: str | Path | None, name: str, value: float, *, quick: bool, higher_is_better: bool,
           means: str, command: str) -> None:
    """Store one ratio under ``name`` in the json file ``path`` (``quick`` or ``full`` slot); no-op for None."""
    if path is None:
        return
    path = Path(path)
    table = json.loads(path.read_text()) if path.exists() else {}
    entry = table.setdefault(name, {})
    entry.update({"higher_is_better": higher_is_better, "means": means, "command": command})
    entry["quick" if quick else "full"] = round(float(value), 4)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)  # atomic: a crash never leaves half a file


def regressions(recorded: dict, measured: dict) -> list[str]:
    """Lines describing each quick ratio that is worse than half (or twice) its recorded value, and each
    recorded quick ratio the run did not measure (a benchmark skipped it: a peer library missing)."""
    bad = [f"{name}: recorded, not measured by this run (is its peer library installed? bash scripts/setup.sh "
           f"test,peers)" for name, entry in recorded.items() if "quick" in entry and name not in measured]
    for name, entry in measured.items():
        old = recorded.get(name, {}).get("quick")
        new = entry.get("quick")
        if old is None or new is None:
            continue
        if entry["higher_is_better"] and new < old / 2:
            bad.append(f"{name}: {new:g} < half of the recorded {old:g} ({entry['means']})")
        if not entry["higher_is_better"] and new > old * 2:
            bad.append(f"{name}: {new:g} > twice the recorded {old:g} ({entry['means']})")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratios", default=str(RATIOS), help="the recorded ratios (default benchmarks/ratios.json)")
    parser.add_argument("--list", action="store_true", help="print the recorded ratios and exit")
    args = parser.parse_args(argv)
    recorded = json.loads(Path(args.ratios).read_text())
    if args.list:
        for name, entry in sorted(recorded.items()):
            print(f"{name:32s} full {entry.get('full', '-'):>10} quick {entry.get('quick', '-'):>10}  {entry['means']}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        measured_path = Path(scratch) / "ratios.json"
        for script, *script_args in QUICK_BENCHMARKS:
            cmd = [sys.executable, str(HERE / script), *script_args, "--ratios", str(measured_path)]
            print("+", " ".join(cmd[1:]), flush=True)
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL)
            if done.returncode != 0:
                print(f"FAIL: {script} exited {done.returncode}", file=sys.stderr)
                return 1
        measured = json.loads(measured_path.read_text()) if measured_path.exists() else {}
    for name, entry in sorted(measured.items()):
        print(f"{name:32s} quick {entry['quick']:>10g} recorded {recorded.get(name, {}).get('quick', '-')!s:>10}")
    bad = regressions(recorded, measured)
    for line in bad:
        print("FAIL:", line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
