"""The zero-shot demo on the synthetic world (`myovision.zeroshot.synthetic`), per seed:

1. a tiny CLIP is pretrained on single frames and their static captions (it learns nouns, colours and
   places, never a verb: the stand-in for a pretrained CLIP);
2. zero-shot top-1 on videos of the 12 held-out classes, single prompt ("before");
3. MAXI on unlabelled videos of any motion with the 18 seen class names as the action dictionary: matching
   (28 templates), text bags from simulated frame captions and language-model phrases, filtered to the
   fraction p, MIL-NCE fine-tuning;
4. zero-shot top-1 on the 12 held-out classes again ("after"); their verbs are in no dictionary entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from myovision.zeroshot.finetune import mil_finetune, pretrain_image_text
from myovision.zeroshot import synthetic as world
from myovision.zeroshot.dictionary import match_dictionary
from myovision.zeroshot.evaluate import classification_metrics, zero_shot_scores
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, class_embeddings
from myovision.zeroshot.textbags import build_text_bag, filter_text_bag
from myovision.zeroshot.videos import clip_transform


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo run (defaults: about a minute per seed on one CPU thread)."""

    frames: int = 6
    size: int = 32
    pretrain_videos: int = 300
    pretrain_epochs: int = 4
    train_videos: int = 240
    test_videos: int = 150
    n_bag: int = 4
    p: float = 0.5
    epochs: int = 10
    lr: float = 3e-4
    batch_size: int = 32


def to_clips(specs, config: DemoConfig) -> torch.Tensor:
    """Rendered, CLIP-normalised videos (N, T, 3, size, size)."""
    transform = clip_transform(config.size)
    return torch.stack([transform(world.render(s, config.frames, config.size)).permute(0, 3, 1, 2) for s in specs])


def new_model(seed: int, config: DemoConfig) -> CLIPVideo:
    torch.manual_seed(seed)
    tokenizer = WordTokenizer.from_texts(world.vocabulary())
    cfg = tiny_clip_config(image_size=config.size, patch_size=8, width=64, layers=2, heads=4, projection_dim=64,
                           vocab_size=tokenizer.vocab_size, context_length=24, eos_token_id=tokenizer.eos_token_id)
    return CLIPVideo(cfg, tokenizer=tokenizer)


def held_out_top1(model: CLIPVideo, clips: torch.Tensor, labels: list[int]) -> dict:
    embeds = class_embeddings(model.eval(), world.held_out_classes(), SINGLE_TEMPLATE)
    return classification_metrics(zero_shot_scores(model, clips, embeds, batch_size=64), labels)


@torch.no_grad()
def text_bags(model: CLIPVideo, specs, clips: torch.Tensor, rng: np.random.Generator, p: float):
    """(best dictionary matches, filtered text bags) of unlabelled videos, as MAXI builds them."""
    video = torch.cat([model.encode_video(c) for c in clips.split(64)])
    matches = match_dictionary(model, video, world.seen_classes()).text
    bags = [build_text_bag(world.frame_captions(s), world.language_model_phrases(m, rng), exclude=m)
            for s, m in zip(specs, matches)]
    texts = sorted({t for bag in bags for t in bag})
    embeds = dict(zip(texts, model.encode_texts(texts)))
    return matches, [filter_text_bag(bag, v, torch.stack([embeds[t] for t in bag]), p) if bag else []
                     for bag, v in zip(bags, video)]


def run_seed(seed: int, config: DemoConfig = DemoConfig(), log: Callable[[str], None] = lambda s: None) -> dict:
    """Before/after zero-shot metrics on the held-out classes for one seed."""
    rng = np.random.default_rng(seed)
    model = new_model(seed, config)
    pre = world.sample_specs(world.class_names(), config.pretrain_videos, rng)
    images = to_clips(pre, config).flatten(0, 1)  # (N * T, 3, size, size): frames as images
    captions = [c for s in pre for c in world.frame_captions(s, config.frames, config.size, with_verbs=False)]
    log(f"seed {seed}: pretraining on {len(images)} frames with static captions")
    pretrain_image_text(model, images, captions, epochs=config.pretrain_epochs, seed=seed)

    held = world.held_out_classes()
    test = world.sample_specs(held, config.test_videos, rng)
    test_clips, test_labels = to_clips(test, config), [held.index(s.label) for s in test]
    before = held_out_top1(model, test_clips, test_labels)
    log(f"seed {seed}: zero-shot top-1 before fine-tuning {before['top1']:.3f}")

    train = world.sample_specs(world.class_names(), config.train_videos, rng)  # unlabelled: any motion
    train_clips = to_clips(train, config)
    matches, bags = text_bags(model, train, train_clips, rng, config.p)
    match_accuracy = float(np.mean([m == s.label for m, s in zip(matches, train)]))
    mil_finetune(model, train_clips, matches, bags, n_bag=config.n_bag, epochs=config.epochs,
                 batch_size=config.batch_size, lr=config.lr, seed=seed)
    after = held_out_top1(model, test_clips, test_labels)
    log(f"seed {seed}: zero-shot top-1 after MIL fine-tuning {after['top1']:.3f}")
    return {"seed": seed, "zero_shot_top1_before": before["top1"], "zero_shot_top1": after["top1"],
            "zero_shot_top5_before": before["top5"], "zero_shot_top5": after["top5"],
            "dictionary_match_accuracy": match_accuracy, "mean_bag_size": float(np.mean([len(b) for b in bags]))}


def run_demo(seeds: list[int], config: DemoConfig = DemoConfig(), log: Callable[[str], None] = print) -> dict:
    """The demo over seeds: means and every seed's numbers."""
    runs = [run_seed(s, config, log) for s in seeds]
    mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "seed"}
    return mean | {"chance": 1.0 / len(world.held_out_classes()), "held_out_classes": world.held_out_classes(),
                   "dictionary": world.seen_classes(), "seeds": runs, "config": asdict(config)}
