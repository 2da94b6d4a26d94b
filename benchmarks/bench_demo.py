"""Cost of the README's main job, `myovision demo`: wall time, CPU time and peak memory, with its result.

Claim: on an idle 2-core machine the demo (seeded synthetic ActionSense data, the sEMG CNN backbone and every
row of Table 2 under `DEMO_SCHEDULE`) finishes in under 90 s wall and 180 CPU-seconds (user + system), and
every fusion row of its results.csv beats both single-modality rows of each modality (`SINGLE_MODALITY`).

Each schedule runs `myovision demo` in a fresh subprocess with OMP_NUM_THREADS=2 (`--threads`); CPU time and
peak resident memory are the child's (`resource.getrusage(RUSAGE_CHILDREN)` before and after). The baseline,
`myovision demo --full` (the demo's earlier schedule: SGD, 300 steps a row, 10 backbone epochs), runs in the
same invocation so the ratio holds on a loaded machine too.

    python benchmarks/bench_demo.py            # demo + --full baseline (~5 min on 2 idle cores)
    python benchmarks/bench_demo.py --quick    # CI: the demo only, against the goals
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from myovision.actions.table2 import SINGLE_MODALITY, TABLE2

GOAL_WALL_S, GOAL_CPU_S = 90.0, 180.0


def fusion_margin(results: pd.DataFrame) -> tuple[float, list[str]]:
    """(smallest fusion accuracy minus the best single-modality accuracy, fusion rows not above it)."""
    acc = dict(zip(results["model"], results["accuracy_mean"]))
    best_single = max(acc[name] for names in SINGLE_MODALITY.values() for name in names)
    fusion = [r.name for r in TABLE2 if len(r.modalities) > 1]
    return min(acc[name] for name in fusion) - best_single, [n for n in fusion if acc[n] <= best_single]


def run_demo(out: Path, extra: list[str], threads: int) -> dict:
    """Run `myovision demo --out OUT EXTRA` in a subprocess; wall, CPU (user + sys) and peak RSS of that child."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "myovision", "demo", "--out", str(out), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, stamps = [], [0.0]
    for line in proc.stdout:  # stdout is a pipe, so the demo prints plain progress lines
        lines.append(line.rstrip("\n"))
        stamps.append(time.perf_counter() - t0)
    proc.wait()
    wall = time.perf_counter() - t0
    stamps.append(wall)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]  # gaps[i]: silence after line i (0: the start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(lines[-30:]))
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mb": after.ru_maxrss / 1024,  # Linux: kB; the largest child so far
            "results": pd.read_csv(out / "results.csv"), "lines": len(lines),
            "report_printed": bool(lines) and lines[-1].endswith("report.html"),
            "longest_silence": max(gaps), "silent_after": (["(start)"] + lines)[gaps.index(max(gaps))][:60]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the demo only (no --full baseline), for CI")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the demo (default: 2)")
    args = p.parse_args(argv)
    schedules = [("demo", [])] if args.quick else [("demo", []), ("demo --full (baseline)", ["--full"])]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.threads} threads a run")
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in schedules:
            m = measured[name] = run_demo(Path(tmp) / name.split()[-1].strip("()-"), extra, args.threads)
            margin, failing = fusion_margin(m["results"])
            print(f"{name:24s} wall {m['wall']:6.1f} s  CPU {m['cpu']:6.1f} s  peak RSS {m['peak_mb']:6.0f} MB  "
                  f"{m['lines']} lines, longest silence {m['longest_silence']:4.1f} s (after {m['silent_after']!r})  "
                  f"fusion - best single {100 * margin:+5.1f} pp{'' if not failing else '  NOT ABOVE: ' + ', '.join(failing)}"
                  f"{'' if m['report_printed'] else '  (no report path printed)'}", flush=True)
            print("    " + "  ".join(f"{r.model} {r.accuracy_mean:.3f}" for r in m["results"].itertuples()), flush=True)
    demo = measured["demo"]
    ok = demo["wall"] < GOAL_WALL_S and demo["cpu"] < GOAL_CPU_S and not fusion_margin(demo["results"])[1]
    print(f"goals: wall {demo['wall']:.1f} / {GOAL_WALL_S:.0f} s = {demo['wall'] / GOAL_WALL_S:.2f}x, "
          f"CPU {demo['cpu']:.1f} / {GOAL_CPU_S:.0f} s = {demo['cpu'] / GOAL_CPU_S:.2f}x, "
          f"every fusion row above both single-modality rows: {not fusion_margin(demo['results'])[1]} "
          f"-> {'meets' if ok else 'MISSES'} the claim (idle 2-core machine; load inflates both times)")
    if "demo --full (baseline)" in measured:
        base = measured["demo --full (baseline)"]
        print(f"baseline --full: {base['wall'] / demo['wall']:.1f}x the wall time, {base['cpu'] / demo['cpu']:.1f}x "
              f"the CPU time of the demo")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
