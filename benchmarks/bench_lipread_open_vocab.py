"""Claim (issue 18): one network, every choice made on a validation split of GRID's 200 training videos, decoded
three ways on the 50 test videos: hybrid HMM search over GRID's grammar ("hmm"), over an open-vocabulary word
loop with a word 3-gram of the training transcripts ("hmm-lm", interpolated modified Kneser-Ney), and CTC (greedy
and with a character LM), with kappa, the LM weights and the word penalty chosen on the validation videos
(`myovision.lipread.evaluate.select_decoding`); plus the paper's Table 3 (training and validation loss at the
kept epoch) from the run's log, and each run's front-end size and multiply-adds per frame (the axes of its
Fig. 3, the omega sweep, when the runs are StiRes3D at several omegas).

The networks come from `myovision lipread train` run folders trained on a folder holding only the 200
training videos (test = every 5th video by sorted id, as `bench_lipread_grid.py`); each run's validation
split is rebuilt with the same seeded `split_validation` the command used, so nothing here sees a test video
before the final scoring.

    myovision lipread train --data GRID200 --out runs/lip-seed0 --seed 0 [--objective joint]
    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_open_vocab.py --runs runs/lip-seed0 runs/lip-seed1 --out runs/ov
    # the omega sweep (Fig. 3) and All3D against StiRes3D (Table 3): one run per front-end, then one bench call
    myovision lipread train --data GRID200 --out runs/sti-w0.5 --frontend stires3d \
        --frontend-kwargs '{"widths": [16, 32, 64, 128], "omega": 0.5}'       # also omega 1, 1.5, 2
    myovision lipread train --data GRID200 --out runs/all3d --frontend all3d
    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_open_vocab.py --runs runs/sti-w* runs/all3d --out runs/omega
    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_open_vocab.py --quick   # CI: a tiny network, 16 videos
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from myovision.data.grid import read_grid
from myovision.decoding.kneser_ney import estimate_kneser_ney
from myovision.decoding.lm import NgramLM
from myovision.decoding.word_lm import read_arpa
from myovision.fileio import atomic_write_text
from myovision.lipread.config import LipReadConfig, LipReadTrainConfig
from myovision.lipread.data import split_validation
from myovision.lipread.evaluate import LipDecoder, estimate_word_lm, evaluate, select_decoding
from myovision.lipread.run import load_run
from myovision.lipread.training import fit_lipreader
from myovision.profiling import count_macs, count_params, param_memory_mb
from myovision.runs import CONFIG, LOGS, read_config
from myovision.video.mouth import MouthCache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_data import SHARED_DATA  # noqa: E402


def loss_table(run_folder: Path) -> dict | None:
    """Table 3: the training and validation loss of the epoch with the lowest validation WER (the kept one)."""
    log = run_folder / LOGS / "metrics.csv"
    if not log.is_file():
        return None
    rows = list(csv.DictReader(log.open()))
    epochs: dict[int, dict] = {}
    for row in rows:
        epoch = epochs.setdefault(int(row["epoch"]), {})
        for key in ("train_loss_epoch", "train_loss", "val_loss", "val_wer"):
            if row.get(key):
                epoch[key] = float(row[key])
    scored = [(e["val_wer"], k) for k, e in epochs.items() if "val_wer" in e]
    if not scored:
        return None
    best = min(scored)[1]
    row = epochs[best]
    return {"epoch": best + 1, "train_loss": row.get("train_loss_epoch", row.get("train_loss")),
            "val_loss": row.get("val_loss"), "val_wer": row["val_wer"]}


def frontend_cost(run) -> dict:
    """The paper's Fig. 3 / Table 2 axes: the front-end's parameter memory and multiply-adds per frame at the
    run's crop size (5 frames, as `bench_lipread_frontends.py`)."""
    frontend = run.model.frontend
    height, width = run.config.crop_size
    return {"frontend": run.config.frontend, "frontend_kwargs": run.config.frontend_kwargs,
            "frontend_params": count_params(frontend), "frontend_memory_mb": round(param_memory_mb(frontend), 3),
            "frontend_macs_per_frame": count_macs(frontend, torch.zeros(1, 1, 5, height, width)) // 5}


def measure(run, train, val, test, cache, folder: Path) -> dict:
    words_arpa = folder / "words.arpa"
    atomic_write_text(words_arpa, estimate_kneser_ney([u.words for u in train], 3)[0])
    chars_arpa = atomic_write_text(folder / "chars.arpa", estimate_word_lm(train))
    word_lm, char_lm = read_arpa(words_arpa), NgramLM.read_arpa(chars_arpa)
    chosen = select_decoding(run, val, cache, word_lm=word_lm, char_lm=char_lm)
    decoders = {}
    for name, settings in chosen.items():
        kwargs = {k: v for k, v in settings.items() if k != "validation_wer"}
        decoders[name] = LipDecoder(run, name, word_lm=word_lm, lm=char_lm, **kwargs)
    if run.config.objective != "hmm":
        decoders["ctc"] = LipDecoder(run, "ctc")
    results = evaluate(run, test, cache, decoders)
    return {name: {"test_wer": round(r["wer"], 4), "S": r["substitutions"], "D": r["deletions"],
                   "I": r["insertions"], "chosen_on_validation": chosen.get(name)} for name, r in results.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="*", default=[], help="run folders of `lipread train` on the 200 training videos")
    p.add_argument("--out", default="runs/bench_lipread_open_vocab", help="summary.json and the LMs per run")
    p.add_argument("--cache", default="runs/mouth_cache", help="mouth-crop cache")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    root = SHARED_DATA / "grid-s1"
    if not root.is_dir():
        print(f"skipped: {root} is absent")
        return 0
    utts = read_grid(root)
    test, train_all = utts[0::5], [u for i, u in enumerate(utts) if i % 5]
    out = Path(args.out)
    runs = []
    if args.quick:
        config = LipReadConfig(objective="joint", epochs=1, frontend_kwargs={"widths": [8, 8, 16, 16]},
                               backend_kwargs={"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32})
        train, val = train_all[:12], train_all[12:16]
        cache = MouthCache(args.cache, config.crop)
        runs.append(("quick", fit_lipreader(train, config, cache), train, val, None))
        test = test[:4]
    for folder in map(Path, args.runs):
        run = load_run(folder)
        val_fraction = read_config(folder / CONFIG).get("val_fraction", LipReadTrainConfig.val_fraction)
        train, val = split_validation(train_all, val_fraction, run.config.seed)  # as the run's own command
        runs.append((folder.name, run, train, val, folder))
    summary = {}
    for name, run, train, val, folder in runs:
        cache = MouthCache(args.cache, run.config.crop)
        summary[name] = {**measure(run, train, val, test, cache, out / name),
                         "table3": loss_table(folder) if folder else None, **frontend_cost(run),
                         "objective": run.config.objective, "seed": run.config.seed}
        print(name, json.dumps(summary[name]), flush=True)
    for decoder in ("hmm", "hmm-lm", "ctc", "ctc-lm"):
        wers = [s[decoder]["test_wer"] for s in summary.values() if decoder in s]
        if len(wers) > 1:
            summary[f"{decoder}_over_runs"] = {"mean": float(np.mean(wers)), "std": float(np.std(wers, ddof=1)),
                                               "wers": wers}
            print(decoder, summary[f"{decoder}_over_runs"])
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
