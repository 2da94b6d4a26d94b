"""`myovision demo`: the main job on the embedded synthetic default, end to end.

Writes seeded synthetic ActionSense-layout HDF5 recordings and I3D-shaped RGB clip features (a
FeatureStore), then runs the RGB + sEMG fusion experiment (every row of the paper's Table 2, one seed)
and ends with the path of its report. The default schedule (`DEMO_SCHEDULE`) is short: Adam with early
stopping on validation accuracy, under 90 s on two idle cores; `--full` runs the longer `DEMO_FULL_SCHEDULE`.
It prints a line per phase and per row, and a line at least every 10 s inside one (a bar on a terminal).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from myovision.cli import example_parser


def add_parser(groups) -> None:
    from myovision.actions.config import DEMO_FULL_SCHEDULE, DEMO_SCHEDULE

    demo = example_parser(groups, "demo", "run the main job on seeded synthetic data in the real formats",
                          "myovision demo --out runs/demo --seed 0")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    demo.add_argument("--full", action="store_true",
                      help=f"the demo's earlier, longer schedule: {DEMO_FULL_SCHEDULE.describe()} (several minutes; "
                           f"the paper's own runs up to 2000 steps: `myovision experiment actionsense`). "
                           f"Default: {DEMO_SCHEDULE.describe()}")
    demo.add_argument("--iterations", type=int, default=None,
                      help="at most this many training steps per row (default: the schedule's)")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from myovision.actions.experiment import run_actionsense, write_synthetic_experiment_data
    from myovision.actions.config import DEMO_FULL_SCHEDULE, DEMO_SCHEDULE

    t0 = time.perf_counter()
    config = DEMO_FULL_SCHEDULE if args.full else DEMO_SCHEDULE
    if args.iterations is not None:
        config = replace(config, iterations=args.iterations)
    out = Path(args.out)
    log = partial(print, flush=True)
    log(f"[1/2] synthetic ActionSense recordings and RGB clip features (seed {args.seed})")
    data = write_synthetic_experiment_data(out / "data", seed=args.seed, log=log)
    log(f"[2/2] Table 2: sEMG CNN backbone, then every single-modality and fusion row; {config.describe()}")
    run_actionsense(data, out, seeds=1, config=config, log=log, progress=True)
    log(f"done in {time.perf_counter() - t0:.0f} s; results: {out / 'results.csv'}; report: {out / 'report.html'}")
    return 0
