"""`myovision experiment`: reproduce a paper's table with one command (options from `myovision.actions.config`)."""

from __future__ import annotations

import argparse

from myovision.cli import command_group, train_parser

ACTIONSENSE_EXAMPLE = "myovision experiment actionsense --data data/actionsense --out runs/table2 --seeds 3"


def add_parser(groups) -> None:
    from myovision.actions.config import ActionSenseConfig, EpicConfig

    sub = command_group(groups, "experiment", "reproduce a published results table end to end", ACTIONSENSE_EXAMPLE)
    exp = train_parser(sub, "actionsense", "the RGB + sEMG fusion paper's Table 2: every row trained and tested; "
                       "writes config.yaml, run.json, results.csv, results_per_seed.csv, metrics.json, the models "
                       "(runs/) and report.html under --out", ACTIONSENSE_EXAMPLE, ActionSenseConfig)
    exp.set_defaults(func=_actionsense)
    epic = train_parser(sub, "epic", "EPIC-Kitchens verb recognition from I3D clip features: linear, LSTM and "
                        "Transformer heads; writes results.csv (verb accuracy, top-5) and metrics.json under --out",
                        "myovision experiment epic --train D1_train.csv --test D1_test.csv --features store "
                        "--out runs/epic", EpicConfig)
    epic.set_defaults(func=_epic)


def _actionsense(args: argparse.Namespace) -> int:
    from myovision.actions.config import ActionSenseConfig
    from myovision.actions.experiment import run_actionsense
    from myovision.cli import start_train_run
    from myovision.config import config_from_args
    from myovision.errors import InputError

    config = config_from_args(ActionSenseConfig, args)
    if not config.data and not args.print_config:
        raise InputError("--data is required")
    started = start_train_run(args, config, data=[config.data] if config.data else [])
    if started is None:
        return 0
    config, out = started
    table = run_actionsense(config.data, out, seeds=config.seeds, protocol=config.protocol,
                            config=config.training.heads(), allow_outside_root=config.allow_outside_root)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _epic(args: argparse.Namespace) -> int:
    from myovision.actions.config import EpicConfig
    from myovision.actions.epic import run_epic
    from myovision.cli import start_train_run
    from myovision.config import config_from_args
    from myovision.errors import InputError

    config = config_from_args(EpicConfig, args)
    missing = [name for name in ("train", "test", "features") if not getattr(config, name)]
    if missing and not args.print_config:
        raise InputError(f"--{', --'.join(missing)} required")
    started = start_train_run(args, config, data=[config.train, config.test, config.features] if not missing else [])
    if started is None:
        return 0
    config, out = started
    table = run_epic(config.train, config.test, config.features, out, seeds=config.seeds,
                     config=config.training.heads())
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
