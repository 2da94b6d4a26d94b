"""`myovision lipread`: train a lip reader on a GRID- or LRS2-layout folder, and evaluate it (WER)."""

from __future__ import annotations

import json
from pathlib import Path

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "lipread", "lip reading: hybrid HMM and CTC lip readers on mouth-region video",
                        "myovision lipread train --data ../shared/data/grid-s1 --frontend stires3d --out runs/lip")
    t = example_parser(sub, "train", "train a lip reader (hybrid HMM states and/or CTC characters) on DIR",
                       "myovision lipread train --data ../shared/data/grid-s1 --frontend stires3d --out runs/lip "
                       "--epochs 15 --widths 16,32,64,128")
    t.add_argument("--data", required=True, help="GRID layout (video/ + align/) or LRS2 layout (<id>.mp4 + <id>.txt)")
    t.add_argument("--frontend", default="stires3d", help="resnet18_3dstem, all3d, p3d, sti3d or stires3d")
    t.add_argument("--out", required=True, help="run folder: model.safetensors, config.json, lm.arpa")
    t.add_argument("--objective", default="joint", choices=("hmm", "ctc", "joint"))
    t.add_argument("--units", default="phones", choices=("phones", "characters", "words"), help="HMM units")
    t.add_argument("--states-per-unit", type=int, default=1, help="left-to-right HMM states per unit")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate (one-cycle schedule)")
    t.add_argument("--weight-decay", type=float, default=1e-2)
    t.add_argument("--shift", type=int, default=2, help="augmentation: random shift of the crops in pixels")
    t.add_argument("--time-masks", type=int, default=0, help="augmentation: spans of up to 8 frames masked")
    t.add_argument("--speed-change", type=float, default=0.0,
                   help="augmentation: play each training video at a random rate in 1 +- this (e.g. 0.1)")
    t.add_argument("--mixup", type=float, default=0.0,
                   help="augmentation: Beta(alpha, alpha) mixup between the videos of a batch (e.g. 0.4; 0: off)")
    t.add_argument("--mmi-weight", type=float, default=0.0,
                   help="add this x lattice-free MMI over GRID's grammar to the HMM head's frame cross-entropy "
                        "(sequence-discriminative training; GRID transcripts only)")
    t.add_argument("--mmi-boost", type=float, default=0.0,
                   help="boosted MMI: competing paths gain this per frame off the state targets (0: plain MMI)")
    t.add_argument("--splice", type=float, default=0.0,
                   help="augmentation: this fraction of training draws are sentences spliced from the aligned "
                        "words of random training videos (needs word alignments; 0: off)")
    t.add_argument("--no-realign", action="store_true",
                   help="keep the first targets (from the word alignments) instead of re-aligning with the model")
    t.add_argument("--omega", type=float, default=None, help="width factor of sti3d / stires3d (default 2)")
    t.add_argument("--widths", default=None, help="trunk stage widths, e.g. 16,32,64,128 (default 64,128,256,512)")
    t.add_argument("--backend", default="transformer", choices=("transformer", "gru"),
                   help="the paper's Transformer, or a bidirectional GRU (LipNet's back-end)")
    t.add_argument("--layers", type=int, default=6, help="back-end layers (default 6, the paper's)")
    t.add_argument("--d-model", type=int, default=512,
                   help="back-end width (default 512; the GRU's two directions give half each)")
    t.add_argument("--crop-size", default=None, help="mouth crop HEIGHT,WIDTH in pixels, at most 88 (default 44,44)")
    t.add_argument("--crop-box", default=None,
                   help="fixed mouth box TOP,LEFT,HEIGHT,WIDTH in source pixels (default: GRID speaker 1's)")
    t.add_argument("--cache", default=None, help="mouth-crop cache folder (default OUT/mouth_cache)")
    t.add_argument("--progress", action="store_true", help="show Lightning's progress bar")
    t.set_defaults(func=_train)
    e = example_parser(sub, "eval", "decode every video of DIR and score it: OUT/metrics.json (wer as a fraction)",
                       "myovision lipread eval --checkpoint runs/lip --data ../shared/data/grid-s1 --decoder hmm "
                       "--out runs/lip-eval")
    e.add_argument("--checkpoint", required=True, nargs="+",
                   help="a run folder written by `lipread train`; several: decode their ensemble (averaged "
                        "log-posteriors; same units, objective and mouth crop)")
    e.add_argument("--data", required=True, help="GRID- or LRS2-layout folder")
    e.add_argument("--decoder", required=True, choices=("hmm", "ctc", "ctc-lm"))
    e.add_argument("--out", required=True)
    e.add_argument("--lm", default=None, help="character ARPA LM for ctc-lm (default: the run's lm.arpa)")
    e.add_argument("--cache", default=None, help="mouth-crop cache folder (default OUT/mouth_cache)")
    e.set_defaults(func=_eval)


def _ints(text: str, n: int, option: str) -> tuple[int, ...]:
    from myovision.errors import InputError

    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise InputError(f"{option} expects {n} comma-separated integers, got {text!r}")
    return values


def read_utterances(folder: str):
    from myovision.data.grid import read_grid
    from myovision.data.lrs2 import read_lrs2

    return read_grid(folder) if (Path(folder) / "video").is_dir() else read_lrs2(folder)


def _train(args) -> int:
    from myovision.fileio import atomic_write_text
    from myovision.lipread.training import LipReadConfig, fit_lipreader, save_run
    from myovision.lipread.evaluate import estimate_word_lm
    from myovision.video.mouth import MouthCache

    kwargs = {} if args.omega is None else {"omega": args.omega}
    if args.widths:
        kwargs["widths"] = _ints(args.widths, 4, "--widths")
    if args.backend == "gru":
        backend = {"backend": "lip_gru", "num_layers": args.layers, "hidden": args.d_model // 2}
    else:
        backend = {"num_layers": args.layers, "d_model": args.d_model, "dim_feedforward": 4 * args.d_model,
                   "num_heads": 8 if args.d_model % 8 == 0 else 1}
    crop = {}
    if args.crop_box:
        crop["crop_box"] = _ints(args.crop_box, 4, "--crop-box")
    if args.crop_size:
        crop["crop_size"] = _ints(args.crop_size, 2, "--crop-size")
    config = LipReadConfig(frontend=args.frontend, frontend_kwargs=kwargs, backend_kwargs=backend,
                           objective=args.objective, units=args.units,
                           states_per_unit=args.states_per_unit, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, weight_decay=args.weight_decay, shift=args.shift, time_masks=args.time_masks,
                           mmi_weight=args.mmi_weight, mmi_boost=args.mmi_boost, speed_change=args.speed_change,
                           mixup=args.mixup, splice=args.splice,
                           realign_after=args.epochs + 1 if args.no_realign else max(1, args.epochs // 2),
                           realign_every=max(1, args.epochs // 4), **crop)
    utterances = read_utterances(args.data)
    cache = MouthCache(args.cache or Path(args.out) / "mouth_cache", config.crop)
    print(f"training {args.frontend} ({args.objective}) on {len(utterances)} videos for {args.epochs} epochs")
    run = fit_lipreader(utterances, config, cache, progress=args.progress)
    save_run(run, args.out)
    atomic_write_text(Path(args.out) / "lm.arpa", estimate_word_lm(utterances))
    print(f"final training loss {run.history[-1]['train_loss']:.3f}; wrote {args.out}")
    return 0


def _eval(args) -> int:
    from myovision.decoding.lm import NgramLM
    from myovision.fileio import atomic_write_text
    from myovision.lipread.training import load_run
    from myovision.lipread.evaluate import LipDecoder, ensemble, evaluate
    from myovision.video.mouth import MouthCache

    runs = [load_run(c) for c in args.checkpoint]
    run = runs[0] if len(runs) == 1 else ensemble(runs)
    lm = None
    if args.decoder == "ctc-lm":
        lm = NgramLM.read_arpa(args.lm or Path(args.checkpoint[0]) / "lm.arpa")
    decoder = LipDecoder(run, args.decoder, lm=lm)
    utterances = read_utterances(args.data)
    cache = MouthCache(args.cache or Path(args.out) / "mouth_cache", run.config.crop)
    result = evaluate(run, utterances, cache, {args.decoder: decoder})[args.decoder]
    atomic_write_text(Path(args.out) / "metrics.json", json.dumps(result, indent=1))
    print(f"WER {result['wer']:.2%} ({result['substitutions']} S, {result['deletions']} D, "
          f"{result['insertions']} I of {result['reference_words']} words); wrote {args.out}/metrics.json")
    return 0
