"""`myovision gestures`: import labelled sEMG recordings and train/evaluate gesture or activity classifiers."""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "gestures", "gesture and activity recognition from sEMG recordings",
                        "myovision gestures train --manifest data/manifest.csv --protocol cross-subject --out runs/g")

    imp = example_parser(sub, "import", "convert a public data set to the generic manifest format",
                         "myovision gestures import myo-armband ../shared/data/myo-armband-7gestures --out data/myo")
    imp.add_argument("dataset", choices=["myo-armband"], help="layout of ROOT")
    imp.add_argument("root", help="folder of the data set as published")
    imp.add_argument("--out", required=True, help="folder for manifest.csv and the converted recordings")
    imp.add_argument("--subjects", nargs="*", default=None, help="only these subject folders (default: all)")
    imp.add_argument("--skip-bad", action="store_true", help="skip unreadable recordings and list them")
    imp.set_defaults(func=_import)

    from myovision.cli import train_parser
    from myovision.gestures.config import GesturesConfig

    train = train_parser(sub, "train", "train and evaluate a window classifier under a protocol; writes the run "
                         "folder (config.yaml, run.json, metrics.json, predictions.csv, confusion.png, report.html, "
                         "a model per fold under folds/)",
                         "myovision gestures train --manifest data/myo/manifest.csv --protocol within-subject "
                         "--subjects 'EvaluationDataset/*' --out runs/myo", GesturesConfig)
    train.set_defaults(func=_train)


def _import(args: argparse.Namespace) -> int:
    from myovision.cli.data import print_import
    from myovision.data.myo_armband import import_myo_armband

    print_import(import_myo_armband(args.root, args.out, subjects=args.subjects, skip_bad=args.skip_bad,
                                    progress=True))
    return 0


def _train(args: argparse.Namespace) -> int:
    from myovision.cli import start_train_run
    from myovision.config import config_from_args
    from myovision.data import read_manifest
    from myovision.data.manifest import data_set_problems
    from myovision.errors import InputError
    from myovision.gestures.config import GesturesConfig
    from myovision.gestures.evaluate import evaluate
    from myovision.gestures.report import write_gestures_report
    from myovision.training.options import device_name

    config = config_from_args(GesturesConfig, args)
    if not config.manifest and not args.print_config:
        raise InputError("--manifest is required")
    started = start_train_run(args, config, data=[config.manifest] if config.manifest else [],
                              device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    manifest = read_manifest(config.manifest, skip_bad=config.skip_bad, labels=_labels(config.labels),
                             allow_outside_root=config.allow_outside_root)
    for path, problem in manifest.skipped:
        print(f"skipped {path}: {problem}")
    warnings = data_set_problems(manifest)
    if warnings and config.strict:
        raise InputError(f"{warnings[0]}" + (f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else "")
                         + "; --strict stops here", config.manifest)
    for warning in warnings:
        print(f"warning: {config.manifest}: {warning}")
    subjects = None
    if config.subjects:
        subjects = [s for s in manifest.subjects if fnmatch.fnmatchcase(s, config.subjects)]
        if not subjects:
            raise InputError(f"no subject matches {config.subjects!r}", config.manifest)
    recordings = manifest.select(subjects=subjects,
                                 sessions=config.sessions.split(",") if config.sessions else None).load()
    metrics = evaluate(recordings, protocol=config.protocol, classifier=config.model, window_ms=config.window_ms,
                       step_ms=config.step_ms, normalise=config.normalise, default_rate=config.sample_rate,
                       train_session=config.train_session, class_names=manifest.labels, seed=config.trainer.seed,
                       trainer=config.trainer, out=out, resume=args.resume, epochs=config.epochs)
    metrics["skipped"] = [{"path": str(path), "problem": problem} for path, problem in manifest.skipped]
    metrics["data_warnings"] = warnings
    paths = write_gestures_report(metrics, out, data_note=f"{len(recordings)} recordings of {config.manifest}")
    print(f"{config.model} / {config.protocol} / normalise={config.normalise}: recording accuracy "
          f"{metrics['accuracy']:.4f}, window accuracy {metrics['window_accuracy']:.4f}, "
          f"balanced {metrics['balanced_accuracy']:.4f}")
    for group, g in metrics["groups"].items():
        print(f"  {group}: window accuracy {g['window_accuracy_mean']:.4f}, recording accuracy "
              f"{g['accuracy_mean']:.4f} (mean over {g['n_folds']} folds)")
    print(paths["report"])
    return 0


def _labels(spec: str | None) -> list[str] | None:
    """--labels: a text file with one class name per line, or a comma-separated list."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [name.strip() for name in spec.split(",") if name.strip()]
