"""`myovision demo`: the main job on the embedded synthetic default, end to end.

Writes seeded synthetic ActionSense-layout HDF5 recordings and I3D-shaped RGB clip features (a
FeatureStore), then runs the RGB + sEMG fusion experiment (every row of the paper's Table 2, one seed,
a shortened schedule) and ends with the path of its report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import example_parser


def add_parser(groups) -> None:
    demo = example_parser(groups, "demo", "run the main job on seeded synthetic data in the real formats",
                          "myovision demo --out runs/demo --seed 0")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--iterations", type=int, default=300, help="training steps per row (the full run: 2000)")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from myovision.actions.table2 import TrainConfig
    from myovision.actions.experiment import run_actionsense, write_synthetic_experiment_data

    out = Path(args.out)
    print(f"[1/2] synthetic ActionSense recordings and RGB clip features (seed {args.seed})")
    data = write_synthetic_experiment_data(out / "data", seed=args.seed)
    print("[2/2] Table 2: sEMG CNN backbone, then every single-modality and fusion row")
    run_actionsense(data, out, seeds=1, config=TrainConfig(iterations=args.iterations, backbone_epochs=10))
    return 0
