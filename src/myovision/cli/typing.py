"""`myovision typing`: sEMG typing (emg2qwerty): synthetic sessions, CTC training, evaluation and decoding.

Every command writes under ``--out``: ``metrics.json`` (CER and its substitution / insertion / deletion
rates per decoder), ``decoded.csv`` (reference and decoded text per session) and a self-contained
``report.html``; ``train`` also writes the weights (``model.safetensors`` + ``model.json``) and, unless
``--lm`` is given, a character n-gram LM estimated from the training sessions' text (``lm.arpa``).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
from pathlib import Path

from myovision.cli import command_group, example_parser

SYNTH_EXAMPLE = "myovision typing synth --out data/typing --sessions 6 --duration 60"
TRAIN_EXAMPLE = "myovision typing train --data data/typing --model tds_conv_ctc --epochs 30 --out runs/typing"


def add_parser(groups) -> None:
    sub = command_group(groups, "typing", "sEMG typing: emg2qwerty sessions to text (CTC, LM beam search)",
                        TRAIN_EXAMPLE)
    synth = example_parser(sub, "synth", "write synthetic emg2qwerty sessions and split.yaml", SYNTH_EXAMPLE)
    synth.add_argument("--out", required=True)
    synth.add_argument("--sessions", type=int, default=6)
    synth.add_argument("--duration", type=float, default=60.0, help="seconds per session")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--words", default=None, help="comma-separated vocabulary (default: 300 common English words)")
    synth.set_defaults(func=_synth)

    train = example_parser(sub, "train", "train a typing model with CTC, then evaluate it on the test sessions",
                           TRAIN_EXAMPLE)
    _data_args(train)
    train.add_argument("--model", default="tds_conv_ctc", help="registered model (myovision.list_models('*ctc*'))")
    train.add_argument("--model-kwargs", default="{}", help='JSON builder arguments, e.g. \'{"mlp_features": [64]}\'')
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--warmup-epochs", type=int, default=2)
    train.add_argument("--window", type=int, default=8000, help="training window in samples (2 kHz)")
    train.add_argument("--magnitude-warping", action="store_true")
    train.add_argument("--blank-bias", type=float, default=None,
                       help="start the output layer's blank bias here (from scratch; e.g. 5)")
    train.add_argument("--lm-order", type=int, default=4, help="order of the LM estimated from training text")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=_train)

    for name, help_text, example in (
        ("eval", "score a trained model (ours, or Meta's .ckpt with --model tds_conv_ctc) on sessions",
         "myovision typing eval --data data/typing --checkpoint runs/typing/model.safetensors --out runs/eval"),
        ("decode", "decode whole sessions to text with greedy and LM beam search",
         "myovision typing decode --sessions data/typing/synthetic-005.hdf5 --checkpoint "
         "runs/typing/model.safetensors --lm runs/typing/lm.arpa --out runs/decode"),
    ):
        cmd = example_parser(sub, name, help_text, example)
        _data_args(cmd)
        cmd.add_argument("--checkpoint", required=True, help="model.safetensors (with model.json beside it) or a .ckpt")
        cmd.add_argument("--model", default=None, help="model name when there is no model.json (e.g. tds_conv_ctc)")
        cmd.set_defaults(func=_evaluate)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="folder of session files with split.yaml")
    p.add_argument("--split", default=None, help="emg2qwerty split YAML (default: DATA/split.yaml)")
    p.add_argument("--sessions", nargs="*", default=None, help="session files to score (instead of the test split)")
    p.add_argument("--lm", default=None, help="ARPA character LM for beam search")
    p.add_argument("--lm-weight", type=float, default=2.0)
    p.add_argument("--insertion-bonus", type=float, default=2.0)
    p.add_argument("--beam-size", type=int, default=50)
    p.add_argument("--out", required=True, help="output folder")


def _synth(args: argparse.Namespace) -> int:
    from myovision.data.synthetic_typing import WORDS, write_synthetic_typing

    words = tuple(w.strip() for w in args.words.split(",") if w.strip()) if args.words else WORDS
    paths = write_synthetic_typing(args.out, n_sessions=args.sessions, duration_s=args.duration, seed=args.seed,
                                   words=words, punctuation=args.words is None, progress=True)
    print(f"wrote {len(paths)} sessions under {args.out}")
    return 0


def _splits(args: argparse.Namespace) -> dict[str, list[Path]]:
    from myovision.data.emg2qwerty import read_split
    from myovision.errors import InputError

    if args.split or args.data:
        split = read_split(args.split or Path(args.data) / "split.yaml", root=args.data)
    elif args.sessions:
        split = {"train": [], "val": [], "test": []}
    else:
        raise InputError("give --data (with split.yaml), --split or --sessions")
    if args.sessions:
        split["test"] = [Path(s) for s in args.sessions]
    return split


def _decoders(args: argparse.Namespace, lm_path: str | Path | None) -> dict:
    from myovision.data.charset import CHARSET
    from myovision.decoding import CTCBeamDecoder, NgramLM

    decoders = {"greedy": None, "beam": CTCBeamDecoder(beam_size=args.beam_size)}
    if lm_path:
        chars = [None if i in (CHARSET.blank, CHARSET.key_to_label("Key.backspace")) else CHARSET.label_to_char(i)
                 for i in range(CHARSET.num_classes)]
        decoders["beam_lm"] = CTCBeamDecoder(beam_size=args.beam_size, lm=NgramLM.read_arpa(lm_path), label_chars=chars,
                                             lm_weight=args.lm_weight, insertion_bonus=args.insertion_bonus)
    return decoders


def _train(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_file

    from myovision import create_model
    from myovision.data.charset import CHARSET
    from myovision.data.emg2qwerty import read_session
    from myovision.decoding import estimate_arpa
    from myovision.errors import InputError
    from myovision.fileio import atomic_path, atomic_write_text
    from myovision.emg_typing.training import evaluate_typing, fit_typing

    split = _splits(args)
    if not split["train"] or not split["test"]:
        raise InputError("the split needs train and test sessions", args.split or args.data)
    try:
        kwargs = json.loads(args.model_kwargs)
    except ValueError as exc:
        raise InputError(f"--model-kwargs is not JSON ({exc})") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = create_model(args.model, **kwargs)
    fit = fit_typing(model, split["train"], split["val"], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     warmup_epochs=args.warmup_epochs, window=args.window, magnitude_warping=args.magnitude_warping,
                     blank_bias=args.blank_bias, seed=args.seed, progress=True, log_dir=out / "logs")
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in fit.model.state_dict().items()}, str(tmp))
    atomic_write_text(out / "model.json", json.dumps({"model": args.model, "kwargs": kwargs}))
    lm_path = args.lm
    if lm_path is None and args.lm_order > 0:
        words = [list(w) for p in split["train"] for w in CHARSET.edited(read_session(p).text).split()]
        lm_path = atomic_write_text(out / "lm.arpa", estimate_arpa(words, order=args.lm_order))
    torch.set_grad_enabled(False)
    result = evaluate_typing(fit.model, split["test"], _decoders(args, lm_path))
    result["training"] = {"model": args.model, "kwargs": kwargs, "best_val_CER": fit.best_val_cer,
                          "history": fit.history, "lm": str(lm_path) if lm_path else None}
    _write_outputs(result, out, title=f"{args.model}: trained on {len(split['train'])} sessions")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from myovision import create_model
    from myovision.errors import InputError
    from myovision.registry import load_checkpoint
    from myovision.emg_typing.training import evaluate_typing

    checkpoint = Path(args.checkpoint)
    spec_file = checkpoint.with_name("model.json")
    spec = json.loads(spec_file.read_text()) if spec_file.is_file() and args.model is None else \
        {"model": args.model or "tds_conv_ctc", "kwargs": {}}
    if checkpoint.suffix == ".ckpt":
        model = load_checkpoint(create_model(spec["model"], **spec["kwargs"]), checkpoint)
    else:
        model = create_model(spec["model"], checkpoint=checkpoint, **spec["kwargs"])
    sessions = _splits(args)["test"]
    if not sessions:
        raise InputError("no sessions to score", args.split or args.data)
    result = evaluate_typing(model, sessions, _decoders(args, args.lm))
    _write_outputs(result, Path(args.out), title=f"{spec['model']} ({checkpoint.name})")
    return 0


def _write_outputs(result: dict, out: Path, title: str) -> None:
    import pandas as pd

    from myovision.fileio import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    names = [k for k in result if k not in ("sessions", "training")]
    atomic_write_text(out / "decoded.csv", pd.DataFrame(result["sessions"]).to_csv(index=False))
    metrics = {k: v for k, v in result.items() if k != "sessions"}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write_text(out / "report.html", _report_html(result, names, title))
    for name in names:
        r = result[name]
        print(f"{name:8s} CER {r['CER']:6.2f}%  (sub {r['substitution_rate']:.2f}, ins {r['insertion_rate']:.2f}, "
              f"del {r['deletion_rate']:.2f})  {r['frames_per_s']:.0f} frames/s")
    print(out / "metrics.json")


def _report_html(result: dict, names: list[str], title: str) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(n)}</td><td>{result[n]['CER']:.2f}</td><td>{result[n]['substitution_rate']:.2f}</td>"
                   f"<td>{result[n]['insertion_rate']:.2f}</td><td>{result[n]['deletion_rate']:.2f}</td>"
                   f"<td>{result[n]['frames_per_s']:.0f}</td></tr>" for n in names)
    samples = "".join(f"<h3>{e(s['session'])}</h3>" + "".join(
        f"<p><b>{e(k)}</b><br><code>{e(s[k][:400])}</code></p>" for k in ["reference", *names]) for s in result["sessions"][:3])
    curve = ""
    history = [h for h in result.get("training", {}).get("history", []) if "val_CER" in h]
    if history:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot([h["epoch"] for h in history], [h["val_CER"] for h in history], marker="o")
        ax.set(xlabel="epoch", ylabel="validation CER (%, greedy)")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        curve = f'<img alt="validation CER" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title></head><body>"
            f"<h1>{e(title)}</h1><table border='1' cellpadding='4'><tr><th>decoder</th><th>CER %</th><th>sub %</th>"
            f"<th>ins %</th><th>del %</th><th>frames/s</th></tr>{rows}</table>{curve}<h2>Decoded text</h2>"
            f"{samples}</body></html>")
