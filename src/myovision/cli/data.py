"""`myovision data`: write seeded synthetic data sets in the real on-disk formats, and convert between formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "data", "synthetic data in real formats; format conversion",
                        "myovision data synthetic actionsense --out data/synth --seed 0")

    syn = example_parser(sub, "synthetic", "write a seeded synthetic data set in a real on-disk layout",
                         "myovision data synthetic gestures --out data/synth-gestures --subjects 6")
    syn.add_argument("kind", choices=["actionsense", "gestures"],
                     help="actionsense: one ActionSense-layout HDF5 per subject; gestures: a manifest of recordings")
    syn.add_argument("--out", required=True, help="folder for the HDF5 recordings")
    syn.add_argument("--subjects", type=int, default=4, help="synthetic subjects, one recording each (default: 4)")
    syn.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    syn.set_defaults(func=_synthetic)

    exp = example_parser(sub, "actionsense-to-manifest", "export ActionSense activities (both arms, resampled) "
                         "as generic recordings with a manifest", "myovision data actionsense-to-manifest "
                         "data/synth/*.hdf5 --out data/activities --fs 160")
    exp.add_argument("hdf5", nargs="+", help="ActionSense HDF5 recordings")
    exp.add_argument("--out", required=True, help="folder for manifest.csv and one .npy per activity")
    exp.add_argument("--fs", type=float, default=160.0, help="common sample rate of both arms, Hz")
    exp.add_argument("--labels", default=None, help="allowed activity labels, comma-separated")
    exp.add_argument("--skip-bad", action="store_true", help="skip unreadable files and unknown labels, and list them")
    exp.set_defaults(func=_export)


def _synthetic(args: argparse.Namespace) -> int:
    from myovision.data import write_synthetic_actionsense, write_synthetic_gestures

    if args.kind == "actionsense":
        for path in write_synthetic_actionsense(args.out, n_subjects=args.subjects, seed=args.seed):
            print(path)
    else:
        print(write_synthetic_gestures(args.out, n_subjects=args.subjects, seed=args.seed))
    return 0


def _export(args: argparse.Namespace) -> int:
    from myovision.data.actionsense_export import export_activities

    labels = None if args.labels is None else [x.strip() for x in args.labels.split(",") if x.strip()]
    result = export_activities([Path(p) for p in args.hdf5], args.out, fs=args.fs, labels=labels,
                               skip_bad=args.skip_bad)
    print_import(result)
    return 0


def print_import(result) -> None:
    """The skipped files of an import, one line each, then the manifest path."""
    for path, problem in result.skipped:
        print(f"skipped {path}: {problem}")
    print(result.manifest)
