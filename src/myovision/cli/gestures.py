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

    from myovision.gestures import CLASSIFIER_NAMES, DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION, NORMALISATIONS
    from myovision.gestures.protocols import PROTOCOLS

    train = example_parser(sub, "train", "train and evaluate a window classifier under a protocol; writes "
                           "metrics.json, predictions.csv and confusion.png under --out",
                           "myovision gestures train --manifest data/myo/manifest.csv --protocol within-subject "
                           "--subjects 'EvaluationDataset/*' --out runs/myo")
    train.add_argument("--manifest", required=True, help="manifest.csv (columns path,label,subject,session[,sample_rate,split])")
    train.add_argument("--protocol", required=True, choices=PROTOCOLS)
    train.add_argument("--model", default=DEFAULT_CLASSIFIER, choices=CLASSIFIER_NAMES,
                       help=f"window classifier (default: {DEFAULT_CLASSIFIER})")
    train.add_argument("--out", required=True, help="output folder")
    train.add_argument("--normalise", default=DEFAULT_NORMALISATION, choices=NORMALISATIONS,
                       help="standardise inputs per subject or per session with its own unlabelled windows "
                            f"(default: {DEFAULT_NORMALISATION}; 'none' for a fully inductive evaluation)")
    train.add_argument("--window-ms", type=float, default=200.0)
    train.add_argument("--step-ms", type=float, default=50.0)
    train.add_argument("--sample-rate", type=float, default=None, help="Hz, for manifests without a sample_rate column")
    train.add_argument("--subjects", default=None, help="glob over the subject column, e.g. 'EvaluationDataset/*'")
    train.add_argument("--sessions", default=None, help="comma-separated sessions to keep, e.g. training0")
    train.add_argument("--train-session", default=None, help="within-subject: the session to train on")
    train.add_argument("--labels", default=None,
                       help="allowed class names, comma-separated or a text file with one per line; fixes the "
                            "class order; a recording with another label is an error (or skipped with --skip-bad)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--skip-bad", action="store_true", help="skip unreadable recordings and list them")
    train.set_defaults(func=_train)


def _import(args: argparse.Namespace) -> int:
    from myovision.cli.data import print_import
    from myovision.data.myo_armband import import_myo_armband

    print_import(import_myo_armband(args.root, args.out, subjects=args.subjects, skip_bad=args.skip_bad,
                                    progress=True))
    return 0


def _train(args: argparse.Namespace) -> int:
    from myovision.data import read_manifest
    from myovision.errors import InputError
    from myovision.gestures.evaluate import evaluate
    from myovision.report.results import write_classification_report

    labels = _labels(args.labels)
    manifest = read_manifest(args.manifest, skip_bad=args.skip_bad, labels=labels)
    for path, problem in manifest.skipped:
        print(f"skipped {path}: {problem}")
    subjects = None
    if args.subjects:
        subjects = [s for s in manifest.subjects if fnmatch.fnmatchcase(s, args.subjects)]
        if not subjects:
            raise InputError(f"no subject matches {args.subjects!r}", args.manifest)
    recordings = manifest.select(subjects=subjects,
                                 sessions=args.sessions.split(",") if args.sessions else None).load()
    metrics = evaluate(recordings, protocol=args.protocol, classifier=args.model, window_ms=args.window_ms,
                       step_ms=args.step_ms, normalise=args.normalise, default_rate=args.sample_rate,
                       train_session=args.train_session, class_names=manifest.labels, seed=args.seed)
    paths = write_classification_report(metrics, args.out)
    print(f"{args.model} / {args.protocol} / normalise={args.normalise}: recording accuracy {metrics['accuracy']:.4f}, "
          f"window accuracy {metrics['window_accuracy']:.4f}, balanced {metrics['balanced_accuracy']:.4f}")
    for group, g in metrics["groups"].items():
        print(f"  {group}: window accuracy {g['window_accuracy_mean']:.4f}, recording accuracy "
              f"{g['accuracy_mean']:.4f} (mean over {g['n_folds']} folds)")
    print(paths["metrics"])
    return 0


def _labels(spec: str | None) -> list[str] | None:
    """--labels: a text file with one class name per line, or a comma-separated list."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [name.strip() for name in spec.split(",") if name.strip()]
