"""`myovision lipread`: train a lip reader on a GRID- or LRS2-layout folder, and evaluate it (WER).

`train`'s options are generated from `myovision.lipread.config.LipReadTrainConfig` (defaults stated there)."""

from __future__ import annotations

from pathlib import Path

from myovision.cli import command_group, example_parser, train_parser

WORD_LM_ORDER = 3  # the word n-gram `lipread train` estimates from its training transcripts for hmm-lm

TRAIN_EXAMPLE = "myovision lipread train --data ../shared/data/grid-s1 --out runs/lip"


def add_parser(groups) -> None:
    from myovision.lipread.config import LipReadTrainConfig

    sub = command_group(groups, "lipread", "lip reading: hybrid HMM and CTC lip readers on mouth-region video",
                        TRAIN_EXAMPLE)
    t = train_parser(sub, "train", "train a lip reader (hybrid HMM states and/or CTC characters) on --data; "
                     "writes a run folder (model, lipread.json, lm.arpa (characters), words.arpa (word 3-gram), "
                     "decoding.json (kappa and LM weights chosen on the validation split), checkpoints, metrics on "
                     "the validation split, report.html)", TRAIN_EXAMPLE, LipReadTrainConfig)
    t.set_defaults(func=_train)
    e = example_parser(sub, "eval", "decode every video of --data and score it: OUT/metrics.json (wer as a "
                       "fraction, with error counts) and OUT/report.html",
                       "myovision lipread eval --checkpoint runs/lip --data ../shared/data/grid-s1 --decoder hmm "
                       "--out runs/lip-eval")
    e.add_argument("--checkpoint", required=True, nargs="+",
                   help="a run folder written by `lipread train`; several: decode their ensemble (averaged "
                        "log-posteriors; same units, objective and mouth crop)")
    e.add_argument("--data", required=True, help="GRID- or LRS2-layout folder")
    e.add_argument("--decoder", required=True, choices=("hmm", "hmm-lm", "ctc", "ctc-lm"),
                   help="hmm: hybrid HMM beam search over GRID's grammar; hmm-lm: the same over an open-vocabulary "
                        "word loop with a word n-gram LM (--word-lm); ctc: greedy CTC; ctc-lm: CTC beam search with "
                        "a character LM (--lm). kappa and LM weights: the run's decoding.json (chosen on its "
                        "validation split) when present")
    e.add_argument("--out", required=True, help="folder for metrics.json and report.html")
    e.add_argument("--lm", default=None, help="character ARPA LM for ctc-lm (default: the run's lm.arpa)")
    e.add_argument("--word-lm", default=None, help="word ARPA LM for hmm-lm, e.g. from `myovision lm build` "
                   "(default: the run's words.arpa); words outside the run's lexicon are pronounced from CMUdict")
    e.add_argument("--nbest", type=int, default=1, help="hmm / hmm-lm: also write each video's N best word sequences "
                   "with their scores into metrics.json, and the oracle WER (the closest of the N); default 1: none")
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
    import json

    from myovision.cli import global_rank, start_train_run
    from myovision.config import config_from_args
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text
    from myovision.lipread.config import LipReadTrainConfig
    from myovision.lipread.data import split_validation
    from myovision.decoding.kneser_ney import estimate_kneser_ney
    from myovision.decoding.lm import NgramLM
    from myovision.decoding.word_lm import read_arpa
    from myovision.lipread.evaluate import LipDecoder, estimate_word_lm, evaluate, select_decoding
    from myovision.lipread.report import data_note, write_report
    from myovision.lipread.run import DECODING_FILE, WORD_LM_FILE, save_run
    from myovision.lipread.training import fit_lipreader, validation_decoder
    from myovision.runs import write_metrics
    from myovision.training.options import device_name
    from myovision.models.mtcnn import load_mtcnn
    from myovision.video.crop_settings import MTCNN_WEIGHTS_ENV, AlignedCropSettings
    from myovision.video.mouth import MouthCache

    config = config_from_args(LipReadTrainConfig, args)
    utterances = None
    if not args.print_config:
        if not config.data:
            raise InputError("--data is required (a GRID- or LRS2-layout folder)")
        utterances = read_utterances(config.data)  # bad data fails before a run folder is made
        if isinstance(config.crop, AlignedCropSettings):  # so do missing or unreadable MTCNN weights
            load_mtcnn(config.crop.weights)
    started = start_train_run(args, config, data=[config.data] if config.data else [],
                              device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    train, val = split_validation(utterances, config.val_fraction, config.seed)
    cache = MouthCache(config.cache or out / "mouth_cache", config.crop)
    print(f"mouth crops aligned by MTCNN (weights in {config.crop_weights})" if config.mouth_crop == "mtcnn" else
          f"mouth crops from the fixed box {tuple(config.crop_box)}; MTCNN-aligned crops, the best measured recipe, "
          f"need MTCNN's weights: --crop-weights DIR or ${MTCNN_WEIGHTS_ENV}", flush=True)
    print(f"training {config.frontend} ({config.objective}) on {len(train)} videos, validating on {len(val)}, "
          f"for {config.epochs} epochs", flush=True)
    stats: dict = {}
    run = fit_lipreader(train, config, cache, validation=val, out=out, resume=args.resume, progress=None,
                        stats=stats)
    if global_rank() != 0:
        return 0
    save_run(run, out)
    atomic_write_text(out / "lm.arpa", estimate_word_lm(train))
    atomic_write_text(out / WORD_LM_FILE, estimate_kneser_ney([u.words for u in train], WORD_LM_ORDER)[0])
    split = f"{len(train)} training, {len(val)} validation"
    metrics = {"split": "validation" if val else None, "epochs": len(run.history), "steps": stats["steps"],
               "final_train_loss": run.history[-1]["train_loss"] if run.history else None}
    result = None
    if val:
        print(f"choosing kappa and the LM weights on the {len(val)} validation videos", flush=True)
        chosen = select_decoding(run, val, cache, word_lm=read_arpa(out / WORD_LM_FILE),
                                 char_lm=NgramLM.read_arpa(out / "lm.arpa"))
        atomic_write_text(out / DECODING_FILE, json.dumps(chosen, indent=1) + "\n")
        for name, settings in chosen.items():
            print(f"  {name}: {settings}")
        decoder = validation_decoder(config)
        settings = {k: v for k, v in chosen[decoder].items() if k != "validation_wer"}
        result = evaluate(run, val, cache, {decoder: LipDecoder(run, decoder, **settings)})[decoder]
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
    import json

    import torch

    from myovision.decoding.lm import NgramLM
    from myovision.decoding.word_lm import read_arpa
    from myovision.errors import InputError
    from myovision.lipread.evaluate import LipDecoder, ensemble, evaluate
    from myovision.lipread.report import data_note, write_report
    from myovision.lipread.run import DECODING_FILE, WORD_LM_FILE, load_run
    from myovision.runs import LOGS, write_metrics
    from myovision.video.mouth import MouthCache

    if args.nbest < 1 or (args.nbest > 1 and args.decoder not in ("hmm", "hmm-lm")):
        raise InputError(f"--nbest needs N >= 1 and, above 1, the hmm or hmm-lm decoder (got {args.nbest}, "
                         f"{args.decoder})")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    runs = [load_run(c, device) for c in args.checkpoint]
    run = runs[0] if len(runs) == 1 else ensemble(runs)
    lm = word_lm = None
    first = Path(args.checkpoint[0])
    if args.decoder == "ctc-lm":
        lm = NgramLM.read_arpa(args.lm or first / "lm.arpa")
    if args.decoder == "hmm-lm":
        word_lm = read_arpa(args.word_lm or first / WORD_LM_FILE)
    chosen = json.loads((first / DECODING_FILE).read_text()) if (first / DECODING_FILE).is_file() else {}
    settings = {k: v for k, v in chosen.get(args.decoder, {}).items() if k != "validation_wer"}
    if settings:
        print(f"{args.decoder} settings chosen on the run's validation split: {settings}")
    decoder = LipDecoder(run, args.decoder, lm=lm, word_lm=word_lm, **settings)
    utterances = read_utterances(args.data)
    out = Path(args.out)
    cache = MouthCache(args.cache or out / "mouth_cache", run.config.crop)
    print(f"decoding {len(utterances)} videos ({args.decoder}) on {device}", flush=True)
    result = evaluate(run, utterances, cache, {args.decoder: decoder}, progress=True, nbest=args.nbest)[args.decoder]
    write_metrics(out, {"split": "evaluation", "checkpoints": [str(c) for c in args.checkpoint], **result})
    write_report(out, title=f"Lip reading evaluation: {args.decoder} decoder", data=data_note(args.data, len(utterances)),
                 result=result, split="evaluation", logs=Path(args.checkpoint[0]) / LOGS)
    oracle = f"; oracle WER of the {args.nbest}-best lists {result['oracle_wer']:.2%}" if "oracle_wer" in result else ""
    print(f"WER {result['wer']:.2%} ({result['substitutions']} S, {result['deletions']} D, "
          f"{result['insertions']} I of {result['reference_words']} words){oracle}; wrote {out}/metrics.json and "
          "report.html")
    return 0
