"""The zero-shot demo is deterministic for a seed and a thread count: two runs give identical metrics and weights
(every draw keyed by the seed: world, weights, shuffling, text-bag samples, augmentation)."""

import torch

from myovision.training.options import TrainerOptions
from myovision.zeroshot.config import DemoConfig
from myovision.zeroshot.demo import run_seed


def test_two_runs_of_a_seed_are_identical():
    config = DemoConfig(pretrain_videos=12, pretrain_epochs=1, train_videos=16, test_videos=12, epochs=2,
                        train_frames=2, eval_frames=2, batch_size=8, lr=1e-3,
                        trainer=TrainerOptions(accelerator="cpu", deterministic=True))  # MAXI's recipe, augmented
    runs = [run_seed(7, config, models=(m := [])) | {"w": m} for _ in range(2)]
    a, b = (torch.cat([p.detach().flatten() for p in r.pop("w")[0].parameters()]) for r in runs)
    assert runs[0] == runs[1] and torch.equal(a, b)
