"""`myovision experiment`: reproduce a paper's table with one command."""

from __future__ import annotations

import argparse

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "experiment", "reproduce a published results table end to end",
                        "myovision experiment actionsense --data data/actionsense --out runs/table2 --seeds 3")
    exp = example_parser(sub, "actionsense", "the RGB + sEMG fusion paper's Table 2: every row trained and tested; "
                         "writes results.csv, results_per_seed.csv and report.html under --out",
                         "myovision experiment actionsense --data data/actionsense --out runs/table2 --seeds 3")
    exp.add_argument("--data", required=True, help="folder with ActionSense *.hdf5, optional subactions_<S>.csv, "
                     "and a FeatureStore of RGB clip features in features/ (modality rgb, keyed by sub-action uid)")
    exp.add_argument("--out", required=True)
    exp.add_argument("--seeds", type=int, default=3)
    exp.add_argument("--protocol", default="activity", choices=["activity", "subject", "loso", "random", "authors"],
                     help="activity-grouped split (default); held-out subjects; leave-one-subject-out (one fold "
                     "per subject, test sides pooled); a random split of sub-actions (the authors' style); or the "
                     "authors' own 799/343 split (needs split_S04S07S08_{train,test}.csv in --data)")
    exp.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"], help="sgd: the paper's (lr 0.01, momentum 0.9)")
    exp.add_argument("--lr", type=float, default=None, help="default: 0.01 for sgd, 0.001 for adam")
    exp.add_argument("--iterations", type=int, default=2000, help="training steps per row (paper: 2000, batch 32)")
    exp.add_argument("--backbone-epochs", type=int, default=30, help="epochs of the sEMG CNN")
    exp.set_defaults(func=_actionsense)

    epic = example_parser(sub, "epic", "EPIC-Kitchens verb recognition from I3D clip features: linear, LSTM and "
                          "Transformer heads; writes results.csv (verb accuracy, top-5) under --out",
                          "myovision experiment epic --train D1_train.csv --test D1_test.csv --features store "
                          "--out runs/epic")
    epic.add_argument("--train", required=True, help="training annotation CSV (D1/D2/D3 columns)")
    epic.add_argument("--test", required=True, help="test annotation CSV")
    epic.add_argument("--features", required=True, help="FeatureStore with (clips, dim) RGB features per uid "
                      "(modality rgb), e.g. from `myovision video extract`")
    epic.add_argument("--out", required=True)
    epic.add_argument("--seeds", type=int, default=3)
    epic.add_argument("--iterations", type=int, default=2000, help="training steps per head (batch 32)")
    epic.set_defaults(func=_epic)


def _actionsense(args: argparse.Namespace) -> int:
    from myovision.actions.table2 import TrainConfig
    from myovision.actions.experiment import run_actionsense

    lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "sgd" else 1e-3)
    config = TrainConfig(optimizer=args.optimizer, lr=lr, iterations=args.iterations,
                         backbone_epochs=args.backbone_epochs)
    table = run_actionsense(args.data, args.out, seeds=args.seeds, protocol=args.protocol, config=config)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _epic(args: argparse.Namespace) -> int:
    from myovision.actions.table2 import TrainConfig
    from myovision.actions.epic import run_epic

    table = run_epic(args.train, args.test, args.features, args.out, seeds=args.seeds,
                     config=TrainConfig(iterations=args.iterations))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
