"""`myovision lipread`: train a lip reader on a GRID- or LRS2-layout folder, and evaluate it (WER).

`train`'s options are generated from `myovision.lipread.config.LipReadTrainConfig` (defaults stated there)."""

from __future__ import annotations

from pathlib import Path

from myovision.cli import command_group, example_parser, train_parser

TRAIN_EXAMPLE = ("myovision lipread train --data ../shared/data/grid-s1 --frontend stires3d --objective hmm "
                 "--mmi-weight 1 --splice 0.5 --out runs/lip")


def add_parser(groups) -> None:
    from myovision.lipread.config import LipReadTrainConfig

    sub = command_group(groups, "lipread", "lip reading: hybrid HMM and CTC lip readers on mouth-region video",
                        TRAIN_EXAMPLE)
    t = train_parser(sub, "train", "train a lip reader (hybrid HMM states and/or CTC characters) on --data; "
                     "writes a run folder (model, lipread.json, lm.arpa, checkpoints, metrics on the validation "
                     "split, report.html)", TRAIN_EXAMPLE, LipReadTrainConfig)
    t.set_defaults(func=_train)
    e = example_parser(sub, "eval", "decode every video of --data and score it: OUT/metrics.json (wer as a "
                       "fraction, with error counts) and OUT/report.html",
                       "myovision lipread eval --checkpoint runs/lip --data ../shared/data/grid-s1 --decoder hmm "
                       "--out runs/lip-eval")
    e.add_argument("--checkpoint", required=True, nargs="+",
                   help="a run folder written by `lipread train`; several: decode their ensemble (averaged "
                        "log-posteriors; same units, objective and mouth crop)")
    e.add_argument("--data", required=True, help="GRID- or LRS2-layout folder")
    e.add_argument("--decoder", required=True, choices=("hmm", "ctc", "ctc-lm"),
                   help="hmm: hybrid HMM Viterbi with the lexicon and grammar; ctc: greedy CTC; ctc-lm: CTC beam "
                        "search with a character LM")
    e.add_argument("--out", required=True, help="folder for metrics.json and report.html")
    e.add_argument("--lm", default=None, help="character ARPA LM for ctc-lm (default: the run's lm.arpa)")
    e.add_argument("--cache", default=None, help="mouth-crop cache folder (default OUT/mouth_cache)")
    e.add_argument("--device", default="auto", help="where the network runs: auto (a GPU when present), cpu, cuda")
    e.set_defaults(func=_eval)


def read_utterances(folder: str):
    from myovision.data.grid import read_grid
    from myovision.data.lrs2 import read_lrs2
    from myovision.errors import InputError

    if not Path(folder).is_dir():
        raise InputError("data folder not found", folder)
    return read_grid(folder) if (Path(folder) / "video").is_dir() else read_lrs2(folder)


def _train(args) -> int:
    from myovision.cli import global_rank, start_train_run
    from myovision.config import config_from_args
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text
    from myovision.lipread.config import LipReadTrainConfig
    from myovision.lipread.data import split_validation
    from myovision.lipread.evaluate import LipDecoder, estimate_word_lm, evaluate
    from myovision.lipread.report import data_note, write_report
    from myovision.lipread.run import save_run
    from myovision.lipread.training import fit_lipreader, validation_decoder
    from myovision.runs import write_metrics
    from myovision.training.options import device_name
    from myovision.video.mouth import MouthCache

    config = config_from_args(LipReadTrainConfig, args)
    utterances = None
    if not args.print_config:
        if not config.data:
            raise InputError("--data is required (a GRID- or LRS2-layout folder)")
        utterances = read_utterances(config.data)  # bad data fails before a run folder is made
    started = start_train_run(args, config, data=[config.data] if config.data else [],
                              device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    train, val = split_validation(utterances, config.val_fraction, config.seed)
    cache = MouthCache(config.cache or out / "mouth_cache", config.crop)
    print(f"training {config.frontend} ({config.objective}) on {len(train)} videos, validating on {len(val)}, "
          f"for {config.epochs} epochs", flush=True)
    stats: dict = {}
    run = fit_lipreader(train, config, cache, validation=val, out=out, resume=args.resume, progress=None,
                        stats=stats)
    if global_rank() != 0:
        return 0
    save_run(run, out)
    atomic_write_text(out / "lm.arpa", estimate_word_lm(train))
    split = f"{len(train)} training, {len(val)} validation"
    metrics = {"split": "validation" if val else None, "epochs": len(run.history), "steps": stats["steps"],
               "final_train_loss": run.history[-1]["train_loss"] if run.history else None}
    result = None
    if val:
        decoder = validation_decoder(config)
        print(f"decoding the {len(val)} validation videos ({decoder})", flush=True)
        result = evaluate(run, val, cache, {decoder: LipDecoder(run, decoder)}, progress=True)[decoder]
        metrics.update(result)
    write_metrics(out, metrics)
    write_report(out, title=f"Lip reading: {config.frontend}, objective {config.objective}",
                 data=data_note(config.data, len(utterances), split), result=result, split="validation",
                 notes=() if val else ("--val-fraction 0: no validation videos, so no WER here; "
                                       "score the run with `myovision lipread eval`.",))
    if result is not None:
        print(f"validation WER {result['wer']:.2%} ({result['substitutions']} S, {result['deletions']} D, "
              f"{result['insertions']} I of {result['reference_words']} words)")
    print(f"wrote {out}")
    return 0


def _eval(args) -> int:
    import torch

    from myovision.decoding.lm import NgramLM
    from myovision.lipread.evaluate import LipDecoder, ensemble, evaluate
    from myovision.lipread.report import data_note, write_report
    from myovision.lipread.run import load_run
    from myovision.runs import LOGS, write_metrics
    from myovision.video.mouth import MouthCache

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    runs = [load_run(c, device) for c in args.checkpoint]
    run = runs[0] if len(runs) == 1 else ensemble(runs)
    lm = None
    if args.decoder == "ctc-lm":
        lm = NgramLM.read_arpa(args.lm or Path(args.checkpoint[0]) / "lm.arpa")
    decoder = LipDecoder(run, args.decoder, lm=lm)
    utterances = read_utterances(args.data)
    out = Path(args.out)
    cache = MouthCache(args.cache or out / "mouth_cache", run.config.crop)
    print(f"decoding {len(utterances)} videos ({args.decoder}) on {device}", flush=True)
    result = evaluate(run, utterances, cache, {args.decoder: decoder}, progress=True)[args.decoder]
    write_metrics(out, {"split": "evaluation", "checkpoints": [str(c) for c in args.checkpoint], **result})
    write_report(out, title=f"Lip reading evaluation: {args.decoder} decoder", data=data_note(args.data, len(utterances)),
                 result=result, split="evaluation", logs=Path(args.checkpoint[0]) / LOGS)
    print(f"WER {result['wer']:.2%} ({result['substitutions']} S, {result['deletions']} D, "
          f"{result['insertions']} I of {result['reference_words']} words); wrote {out}/metrics.json and report.html")
    return 0
