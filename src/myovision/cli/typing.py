"""`myovision typing`: sEMG typing (emg2qwerty): synthetic sessions, CTC training, evaluation and decoding.

``train`` writes a run folder (config.yaml, run.json, model.safetensors + model.json so that
``create_model(checkpoint=RUN)`` rebuilds the network, checkpoints for ``--resume``, logs, a character n-gram
LM estimated from the training text unless ``--lm`` is given (``lm.arpa``), metrics.json, decoded.csv and
report.html). ``eval`` and ``decode`` score a trained model (a run folder, or Meta's .ckpt with ``--model
tds_conv_ctc``) on whole sessions: metrics.json (CER per decoder, fractions with counts), decoded.csv
(reference and decoded text per session), report.html.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import command_group, example_parser

SYNTH_EXAMPLE = "myovision typing synth --out data/typing --sessions 6 --duration 60"
TRAIN_EXAMPLE = "myovision typing train --data data/typing --model tds_conv_ctc --epochs 30 --out runs/typing"
EXPERIMENT_EXAMPLE = "myovision typing experiment --table study-1 --data data/typing --epochs 30 --out runs/study-1"


def add_parser(groups) -> None:
    from myovision.cli import train_parser
    from myovision.config import add_config_arguments
    from myovision.emg_typing.config import DecodingOptions, TypingConfig
    from myovision.emg_typing.study import STUDY_TABLES

    sub = command_group(groups, "typing", "sEMG typing: emg2qwerty sessions to text (CTC, LM beam search)",
                        TRAIN_EXAMPLE)
    synth = example_parser(sub, "synth", "write synthetic emg2qwerty sessions and split.yaml", SYNTH_EXAMPLE)
    synth.add_argument("--out", required=True, help="folder for the session files and split.yaml")
    synth.add_argument("--sessions", type=int, default=6, help="sessions to write (default: 6)")
    synth.add_argument("--duration", type=float, default=60.0, help="seconds per session")
    synth.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    synth.add_argument("--words", default=None, help="comma-separated vocabulary (default: 300 common English words)")
    synth.set_defaults(func=_synth)

    train = train_parser(sub, "train", "train a typing model with CTC (emg2qwerty's recipe), then decode the test "
                         "sessions; writes the run folder", TRAIN_EXAMPLE, TypingConfig)
    train.set_defaults(func=_train)

    experiment = train_parser(sub, "experiment", "train and score every row of the CNN+BiLSTM study's Table 1 "
                              "(augmentation, dimensionality reduction) or Table 2 (models); writes results.csv "
                              "and report.html", EXPERIMENT_EXAMPLE, TypingConfig)
    experiment.add_argument("--table", required=True, choices=sorted(STUDY_TABLES),
                            help="study-1: Table 1's rows; study-2: Table 2's rows")
    experiment.add_argument("--quick", action="store_true",
                            help="tiny models, 2 steps a row, 2,000-sample windows: a smoke run (CI)")
    experiment.set_defaults(func=_experiment)

    for name, help_text, example in (
        ("eval", "score a trained model (a run folder, or Meta's .ckpt with --model tds_conv_ctc) on sessions",
         "myovision typing eval --data data/typing --checkpoint runs/typing --out runs/eval"),
        ("decode", "decode whole sessions to text with greedy and LM beam search",
         "myovision typing decode --sessions data/typing/synthetic-005.hdf5 --checkpoint runs/typing "
         "--lm runs/typing/lm.arpa --out runs/decode"),
    ):
        cmd = example_parser(sub, name, help_text, example)
        cmd.add_argument("--data", default=None, help="folder of session files with split.yaml (scores its test split)")
        cmd.add_argument("--split", default=None, help="emg2qwerty split YAML, or a bundled split (generic, "
                         "user0..user7); default: DATA/split.yaml")
        cmd.add_argument("--sessions", nargs="*", default=None, help="session files to score (instead of the test split)")
        cmd.add_argument("--checkpoint", required=True,
                         help="a run folder (or its model.safetensors, with model.json beside it), or a .ckpt")
        cmd.add_argument("--model", default=None, help="model name when there is no model.json (e.g. tds_conv_ctc)")
        cmd.add_argument("--out", required=True, help="output folder")
        add_config_arguments(cmd, DecodingOptions, title="decoding")
        cmd.set_defaults(func=_evaluate)


def _synth(args: argparse.Namespace) -> int:
    from myovision.data.synthetic_typing import WORDS, write_synthetic_typing

    words = tuple(w.strip() for w in args.words.split(",") if w.strip()) if args.words else WORDS
    paths = write_synthetic_typing(args.out, n_sessions=args.sessions, duration_s=args.duration, seed=args.seed,
                                   words=words, punctuation=args.words is None, progress=True)
    print(f"wrote {len(paths)} sessions under {args.out}")
    return 0


def _read_split(data: str | None, split: str | None) -> dict[str, list[Path]]:
    """Session files of `split` (a split YAML or a bundled name such as user3) or of DATA/split.yaml."""
    from myovision.data.emg2qwerty import read_split
    from myovision.emg_typing.splits import FOLDER, resolve_split
    from myovision.errors import InputError

    path = resolve_split(split) if split else Path(data) / "split.yaml"
    if path.parent == FOLDER and data is None:
        raise InputError(f"the bundled split {split!r} needs --data: the folder of emg2qwerty's session files")
    return read_split(path, root=data)


def _config_and_split(args: argparse.Namespace):
    """A train command's TypingConfig and its split (train/val/test session paths; {} with --print-config)."""
    from myovision.config import config_from_args
    from myovision.emg_typing.config import TypingConfig
    from myovision.errors import InputError

    config = config_from_args(TypingConfig, args)
    if not (config.data or config.split) and not args.print_config:
        raise InputError("give --data (a folder with split.yaml) or --split")
    split = _read_split(config.data, config.split) if (config.data or config.split) else {}
    if split and (not split["train"] or not split["test"]):
        raise InputError("the split needs train and test sessions", config.split or config.data)
    return config, split


def _train(args: argparse.Namespace) -> int:
    from myovision.cli import global_rank, start_train_run
    from myovision.decoding import estimate_arpa
    from myovision.emg_typing.evaluate import decoders, evaluate_typing, training_text_words
    from myovision.emg_typing.report import data_note
    from myovision.emg_typing.training import fit_typing
    from myovision.fileio import atomic_write_text
    from myovision.runs import save_model
    from myovision.training.options import device_name

    config, split = _config_and_split(args)
    started = start_train_run(args, config, data=[p for files in split.values() for p in files],
                              device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    if global_rank() == 0:
        print(f"training {config.model} on {len(split['train'])} sessions ({len(split['val'])} validation), "
              f"{config.epochs} epochs", flush=True)
    fit = fit_typing(config, split["train"], split["val"], out=out, resume=args.resume, progress=True)
    if not fit.is_global_zero:
        return 0  # outputs, evaluation and the report are written by global rank 0
    save_model(out, fit.model, config.model, config.model_kwargs,
               extra={"system": "emg_typing", "padding": list(fit.padding)})
    lm_path = config.decoding.lm
    if lm_path is None and config.lm_order > 0:
        print(f"estimating a character {config.lm_order}-gram LM from the text of {len(split['train'])} training "
              f"sessions", flush=True)
        lm_path = atomic_write_text(out / "lm.arpa", estimate_arpa(training_text_words(split["train"]),
                                                                   order=config.lm_order))
    print(f"evaluating on {len(split['test'])} test sessions", flush=True)
    result = evaluate_typing(fit.model, split["test"], decoders(config.decoding, lm_path), progress=True)
    extra = {"best_val_cer": fit.best_val_cer, "epochs": fit.epochs, "steps": fit.steps,
             "test_sessions": len(split["test"]), "lm": str(lm_path) if lm_path else None}
    _write_outputs(result, out, extra, title=f"sEMG typing: {config.model} trained on {len(split['train'])} sessions",
                   data=data_note(split, config.data), history=fit.history)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from myovision.cli import start_train_run
    from myovision.emg_typing.report import data_note
    from myovision.emg_typing.study import run_study_table
    from myovision.training.options import device_name

    config, split = _config_and_split(args)
    if args.quick:
        config = replace(config, epochs=1, window=2000, batch_size=4, warmup_epochs=0)
    started = start_train_run(args, config, data=[p for files in split.values() for p in files],
                              device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    run_study_table(args.table, config, split, out, quick=args.quick, max_steps=2 if args.quick else -1,
                    progress=True, data=data_note(split, config.data))
    print(out / "results.csv")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from myovision.config import config_from_args, print_config_if_asked
    from myovision.data.emg2qwerty import read_session
    from myovision.emg_typing.config import DecodingOptions
    from myovision.emg_typing.evaluate import decoders, evaluate_typing, load_typing_model
    from myovision.emg_typing.report import data_note
    from myovision.errors import InputError

    options = config_from_args(DecodingOptions, args)
    if print_config_if_asked(options, args):
        return 0
    if args.split or args.data:
        split = _read_split(args.data, args.split)
    elif args.sessions:
        split = {}
    else:
        raise InputError("give --data (with split.yaml), --split or --sessions")
    paths = [Path(s) for s in args.sessions] if args.sessions else split["test"]
    if not paths:
        raise InputError("no sessions to score", args.split or args.data)
    sessions = [read_session(p) for p in paths]  # every session checked before the model is loaded
    model, described = load_typing_model(args.checkpoint, args.model)
    print(f"evaluating {described} on {len(sessions)} sessions", flush=True)
    result = evaluate_typing(model, sessions, decoders(options, options.lm), progress=True)
    _write_outputs(result, Path(args.out), {"sessions_scored": len(sessions), "lm": options.lm},
                   title=f"sEMG typing: {described}", data=data_note({"test": paths}, args.data))
    return 0


def _write_outputs(result: dict, out: Path, extra: dict, *, title: str, data: str, history=()) -> None:
    import pandas as pd

    from myovision.emg_typing.report import write_typing_report
    from myovision.fileio import atomic_write_text
    from myovision.runs import write_metrics

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "decoded.csv", pd.DataFrame(result["sessions"]).to_csv(index=False))
    write_metrics(out, {**{k: v for k, v in result.items() if k != "sessions"}, **extra})
    write_typing_report(out, result, title=title, data=data, history=history)
    print(out / "metrics.json")
