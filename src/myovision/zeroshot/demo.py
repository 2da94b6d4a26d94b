"""The zero-shot demo on the synthetic world (`myovision.zeroshot.synthetic`), per seed:

1. a tiny CLIP is pretrained on single frames and their static captions (it learns nouns, colours and
   places, never a verb: the stand-in for a pretrained CLIP);
2. zero-shot top-1 on videos of the 12 held-out classes, single prompt ("before");
3. MAXI on unlabelled videos of any motion with the 18 seen class names as the action dictionary: matching
   (28 templates), text bags from simulated frame captions and language-model phrases, filtered to the
   fraction p, MIL fine-tuning with the config's recipe (`config.RECIPES`: MAXI's by default);
4. zero-shot top-1 on the 12 held-out classes again ("after"); their verbs are in no dictionary entry.

Every draw is keyed by the seed (the world, weights, shuffling, text-bag samples, augmentation), and the trainer
runs deterministic kernels, so a seed gives the same numbers run after run at a given thread count.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from myovision.runs import CHECKPOINTS, LAST_CHECKPOINT
from myovision.zeroshot import synthetic as world
from myovision.zeroshot.config import DemoConfig
from myovision.zeroshot.dictionary import match_dictionary
from myovision.zeroshot.evaluate import classification_metrics, model_device, zero_shot_scores
from myovision.zeroshot.finetune import mil_finetune, pretrain_image_text
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, class_embeddings
from myovision.zeroshot.textbags import build_text_bag, filter_text_bag
from myovision.zeroshot.videos import clip_transform, maxi_augmentation, train_side

__all__ = ["DemoConfig", "run_demo", "run_seed", "seed_folder"]


def to_clips(specs, frames: int, size: int) -> torch.Tensor:
    """Rendered, CLIP-normalised videos (N, T, 3, size, size)."""
    transform = clip_transform(size)
    return torch.stack([transform(world.render(s, frames, size)).permute(0, 3, 1, 2) for s in specs])


def to_frames(specs, frames: int, size: int) -> torch.Tensor:
    """Rendered videos as uint8 (N, T, H, W, 3) with the shorter side MAXI's training side, for augmentation."""
    from myovision.video.transforms import ResizeShorterSide

    resize = ResizeShorterSide(train_side(size))
    return torch.stack([resize(torch.from_numpy(world.render(s, frames, size))) for s in specs])


def new_model(seed: int, config: DemoConfig) -> CLIPVideo:
    torch.manual_seed(seed)
    tokenizer = WordTokenizer.from_texts(world.vocabulary())
    cfg = tiny_clip_config(image_size=config.size, patch_size=8, width=64, layers=2, heads=4, projection_dim=64,
                           vocab_size=tokenizer.vocab_size, context_length=24, eos_token_id=tokenizer.eos_token_id)
    return CLIPVideo(cfg, tokenizer=tokenizer)


def held_out_metrics(model: CLIPVideo, clips: torch.Tensor, labels: list[int]) -> dict:
    """top1 (top5 where shown), counts, of zero-shot classification into the held-out classes."""
    embeds = class_embeddings(model.eval(), world.held_out_classes(), SINGLE_TEMPLATE)
    return classification_metrics(zero_shot_scores(model, clips, embeds, batch_size=64), labels)


@torch.no_grad()
def text_bags(model: CLIPVideo, specs, clips: torch.Tensor, rng: np.random.Generator, p: float):
    """(best dictionary matches, filtered text bags) of unlabelled videos, as MAXI builds them."""
    device = model_device(model)
    video = torch.cat([model.encode_video(c.to(device)) for c in clips.split(64)])
    matches = match_dictionary(model, video, world.seen_classes()).text
    bags = [build_text_bag(world.frame_captions(s), world.language_model_phrases(m, rng), exclude=m)
            for s, m in zip(specs, matches)]
    texts = sorted({t for bag in bags for t in bag})
    embeds = dict(zip(texts, model.encode_texts(texts)))
    return matches, [filter_text_bag(bag, v, torch.stack([embeds[t] for t in bag]), p) if bag else []
                     for bag, v in zip(bags, video)]


def seed_folder(out: str | Path, seed: int) -> Path:
    """Where one seed's stages keep their logs and checkpoints: `out/seed-<seed>`."""
    return Path(out) / f"seed-{seed}"


def _stage(out: Path | None, seed: int, name: str, resume: bool) -> dict:
    """Keywords of a fine-tuning stage: its run folder, and resume when it has a checkpoint to continue."""
    if out is None:
        return {}
    folder = seed_folder(out, seed) / name
    return {"out": folder, "resume": resume and (folder / CHECKPOINTS / LAST_CHECKPOINT).is_file()}


def run_seed(seed: int, config: DemoConfig | None = None, log: Callable[[str], None] = lambda s: None, *,
             out: str | Path | None = None, resume: bool = False, progress: bool = False,
             models: list | None = None) -> dict:
    """Before/after zero-shot metrics on the held-out classes for one seed.

    out: a run folder; the pretraining and MIL stages log and checkpoint under `out/seed-<seed>/{pretrain,mil}`
    (`resume` continues them). models: a list that receives the fine-tuned model.
    """
    config = config or DemoConfig()
    recipe = config.mil_recipe()
    out = None if out is None else Path(out)
    trainer = replace(config.trainer, seed=seed)
    rng = np.random.default_rng(seed)
    model = new_model(seed, config)
    pre = world.sample_specs(world.class_names(), config.pretrain_videos, rng)
    images = to_clips(pre, config.pretrain_frames, config.size).flatten(0, 1)  # (N * T, 3, size, size): frames as images
    captions = [c for s in pre for c in world.frame_captions(s, config.pretrain_frames, config.size, with_verbs=False)]
    log(f"seed {seed}: pretraining on {len(images)} frames with static captions")
    pretrain_image_text(model, images, captions, epochs=config.pretrain_epochs, seed=seed, trainer=trainer,
                        progress=progress, **_stage(out, seed, "pretrain", resume))

    held = world.held_out_classes()
    test = world.sample_specs(held, config.test_videos, rng)
    test_clips, test_labels = to_clips(test, recipe.eval_frames, config.size), [held.index(s.label) for s in test]
    before = held_out_metrics(model, test_clips, test_labels)
    log(f"seed {seed}: zero-shot top-1 before fine-tuning {before['top1']:.3f}")

    train = world.sample_specs(world.class_names(), config.train_videos, rng)  # unlabelled: any motion
    train_clips = to_clips(train, recipe.train_frames, config.size)
    log(f"seed {seed}: matching {len(train)} unlabelled videos to the dictionary, building text bags")
    matches, bags = text_bags(model, train, train_clips, rng, config.p)
    matched = sum(m == s.label for m, s in zip(matches, train))
    log(f"seed {seed}: MIL fine-tuning ({config.recipe} recipe), {recipe.epochs} epochs")
    accumulate = max(1, recipe.effective_batch // (config.batch_size * trainer.devices))
    videos, augment = ((to_frames(train, recipe.train_frames, config.size), maxi_augmentation(config.size))
                       if recipe.augment else (train_clips, None))
    mil_finetune(model, videos, matches, bags, loss=recipe.loss, n_bag=recipe.n_bag, epochs=recipe.epochs,
                 batch_size=config.batch_size, lr=recipe.lr, weight_decay=recipe.weight_decay,
                 warmup_epochs=recipe.warmup_epochs, augment=augment, seed=seed,
                 trainer=replace(trainer, accumulate_grad_batches=accumulate), progress=progress,
                 **_stage(out, seed, "mil", resume))
    after = held_out_metrics(model, test_clips, test_labels)
    log(f"seed {seed}: zero-shot top-1 after MIL fine-tuning {after['top1']:.3f}")
    if models is not None:
        models.append(model)
    result = {"seed": seed, "zero_shot_top1_before": before["top1"], "correct_before": before["correct"],
              "zero_shot_top1": after["top1"], "correct": after["correct"], "test_videos": len(test_labels),
              "dictionary_match_accuracy": matched / len(train), "dictionary_matches": matched,
              "train_videos": len(train), "mean_bag_size": float(np.mean([len(b) for b in bags]))}
    if "top5" in after:
        result |= {"zero_shot_top5_before": before["top5"], "zero_shot_top5": after["top5"]}
    return result


def run_demo(seeds: list[int] | None = None, config: DemoConfig | None = None,
             log: Callable[[str], None] = print, *, out: str | Path | None = None, resume: bool = False,
             progress: bool = False, models: list | None = None) -> dict:
    """The demo over `seeds` (default: the config's): means over seeds (rates as fractions, counts summed)
    and every seed's numbers. out/resume/progress/models: as `run_seed`."""
    config = config or DemoConfig()
    seeds = list(config.seeds if seeds is None else seeds)
    runs = [run_seed(s, config, log, out=out, resume=resume, progress=progress, models=models) for s in seeds]
    rates = [k for k in runs[0] if k.startswith("zero_shot_") or k in ("dictionary_match_accuracy", "mean_bag_size")]
    counts = ("correct_before", "correct", "test_videos", "dictionary_matches", "train_videos")
    held = world.held_out_classes()
    return ({k: float(np.mean([r[k] for r in runs])) for k in rates}
            | {k: int(sum(r[k] for r in runs)) for k in counts}
            | {"chance": 1.0 / len(held), "num_classes": len(held), "recipe": config.recipe,
               "torch_threads": torch.get_num_threads(),
               "held_out_classes": held, "dictionary": world.seen_classes(), "seeds": runs})
