"""emg2qwerty's personalisation on synthetic typists: fine-tuning a generic model on a held-out typist against
training from scratch with the same budget (steps, data, recipe), CER on the typist's held-out session.

    OMP_NUM_THREADS=1 python benchmarks/bench_typing_finetune.py [--quick] [--seed 0]

Generic: ``tds_conv_ctc`` (tiny) trained on 4 sessions of typist 0. Held-out typist 1 (:class:`KeyPatterns`:
electrode centres moved ~0.8 electrodes, frequencies scaled ~20%): 1 training, 1 validation, 1 test session.
Both personal runs get ``--personal-epochs`` epochs of the same windows; the scratch run starts with the blank
bias (as the generic run did), the other from the generic weights (``TypingConfig.init_from``, a run folder).
``--quick``: fewer epochs (a smoke run for CI; its CERs mean little).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import TypingConfig
from myovision.emg_typing.evaluate import evaluate_typing
from myovision.emg_typing.training import fit_typing
from myovision.runs import save_model
from myovision.training.options import TrainerOptions

WORDS = ("sad", "dad", "add", "as", "ask", "lad", "fall", "salad", "glad", "flask", "all", "alas")
MODEL = {"mlp_features": [32], "block_channels": [16], "kernel_width": 8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the training (default 0)")
    parser.add_argument("--generic-epochs", type=int, default=12, help="epochs of the generic model (default 12)")
    parser.add_argument("--personal-epochs", type=int, default=4, help="epochs of each personal run (default 4)")
    parser.add_argument("--quick", action="store_true", help="2 generic and 1 personal epoch (CI smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.generic_epochs, args.personal_epochs = 2, 1
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        generic = write_synthetic_typing(Path(tmp) / "generic", n_sessions=4, duration_s=60, seed=args.seed,
                                         words=WORDS, punctuation=False, typist=0)
        user = write_synthetic_typing(Path(tmp) / "user", n_sessions=3, duration_s=60, seed=args.seed + 100,
                                      words=WORDS, punctuation=False, typist=1, user="typist-1")
        config = TypingConfig(model="tds_conv_ctc", model_kwargs=MODEL, epochs=args.generic_epochs, batch_size=16,
                              lr=1e-2, warmup_epochs=1, window=1000, blank_bias=5.0,
                              trainer=TrainerOptions(accelerator="cpu", seed=args.seed))
        t0 = time.perf_counter()
        fit = fit_typing(config, generic)
        run = Path(tmp) / "generic-run"
        save_model(run, fit.model, config.model, config.model_kwargs)
        print(f"generic: {fit.steps} steps on typist 0 in {time.perf_counter() - t0:.0f} s")
        personal = replace(config, epochs=args.personal_epochs)
        rows = {"generic, no fine-tuning": fit.model}
        for name, cfg in (("scratch", personal), ("fine-tuned from generic", replace(personal, init_from=str(run)))):
            t0 = time.perf_counter()
            rows[name] = fit_typing(cfg, user[:1], user[1:2]).model
            print(f"{name}: {args.personal_epochs} epochs on typist 1 in {time.perf_counter() - t0:.0f} s")
        print("\nheld-out typist 1, whole test session, greedy CER %:")
        for name, model in rows.items():
            result = evaluate_typing(model, user[2:], {"greedy": None})["greedy"]
            print(f"  {name:26s} {100 * result['cer']:6.1f}  ({result['errors']} / {result['reference_chars']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
