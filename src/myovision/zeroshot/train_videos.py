"""`myovision zeroshot train`: MAXI (Lin et al., ICCV 2023) on a user's unlabelled videos: read every video
(the recipe's training frames), match it to the action dictionary with the CLIP checkpoint (28 templates),
build its text bag from its frame captions and its match's language-model phrases, filter it to the fraction p,
and fine-tune with the recipe (augmented clips, gradient accumulation up to the effective batch) in a run folder
that `--resume` continues and `zeroshot eval --checkpoint RUN` evaluates.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from myovision.errors import InputError
from myovision.runs import CHECKPOINTS, LAST_CHECKPOINT
from myovision.zeroshot.config import VideoTrainConfig
from myovision.zeroshot.dictionary import match_dictionary, read_class_names
from myovision.zeroshot.finetune import mil_finetune
from myovision.zeroshot.splits import read_path_list
from myovision.zeroshot.textbags import (build_text_bag, caption_file, filter_text_bag, phrase_file, read_captions,
                                         read_phrases)
from myovision.zeroshot.videos import clip_transform, maxi_augmentation, read_frames, train_side

MIL_STAGE = "mil"  # the fine-tuning's logs and checkpoints: RUN/mil


def load_checkpoint(folder: str | Path, cross_frame_layers: int | None = None):
    """The CLIP video model of a folder (CLIP folder or run folder), which must have a tokenizer."""
    from myovision.models.clip_video import load_clip_video

    model = load_clip_video(folder, cross_frame_layers=cross_frame_layers)
    if model.tokenizer is None:
        raise InputError("the CLIP folder has no tokenizer (vocab.json + merges.txt, tokenizer.json or words.txt)",
                         folder)
    return model


def _bag(video: Path, match: str, config: VideoTrainConfig) -> list[str]:
    """The text bag of a video: the verbs of its captions file and of its match's phrase file (either may be
    absent: a video without captions, a dictionary text without phrases; an empty bag falls back to the match)."""
    captions = caption_file(config.captions, video) if config.captions else None
    phrases = phrase_file(config.phrases, match) if config.phrases else None
    return build_text_bag(read_captions(captions) if captions and captions.is_file() else [],
                          read_phrases(phrases) if phrases and phrases.is_file() else [], exclude=match)


def train_on_videos(config: VideoTrainConfig, out: str | Path, *, resume: bool = False, progress: bool = False,
                    log: Callable[[str], None] = print, allow_outside_root: bool = False):
    """Fine-tune the checkpoint on the listed videos; returns (model, summary dict).

    allow_outside_root: accept listed videos that resolve outside the list's root (`read_path_list`)."""
    for name in ("videos", "dictionary", "checkpoint"):
        if not getattr(config, name):
            raise InputError(f"--{name} is required")
    recipe = config.mil_recipe()
    dictionary = read_class_names(config.dictionary)
    paths = read_path_list(config.videos, config.root, skip_bad=config.skip_bad, allow_outside_root=allow_outside_root)
    if not paths:
        raise InputError("no videos left to train on", config.videos)
    model = load_checkpoint(config.checkpoint)
    size = model.image_size
    log(f"reading {len(paths)} videos ({recipe.train_frames} frames)")
    frames = torch.stack([read_frames(p, recipe.train_frames, train_side(size)) for p in paths])  # (N, T, H, W, 3)
    centre = clip_transform(size)
    clips = torch.stack([centre(f).permute(0, 3, 1, 2) for f in frames])  # (N, T, 3, size, size)
    with torch.no_grad():
        model.eval()
        video = torch.cat([model.encode_video(c) for c in clips.split(8)])  # (N, D)
        matches = match_dictionary(model, video, dictionary).text
        bags = [_bag(p, m, config) for p, m in zip(paths, matches)]
        texts = sorted({t for bag in bags for t in bag})
        embeds = dict(zip(texts, model.encode_texts(texts))) if texts else {}
        bags = [filter_text_bag(bag, v, torch.stack([embeds[t] for t in bag]), config.p) if bag else []
                for bag, v in zip(bags, video)]
    log(f"matched to {len(set(matches))} of {len(dictionary)} dictionary texts; mean bag size "
        f"{np.mean([len(b) for b in bags]):.1f}; MIL fine-tuning ({config.recipe} recipe, {recipe.epochs} epochs)")
    trainer = config.trainer
    accumulate = max(1, recipe.effective_batch // (config.batch_size * trainer.devices))
    stage = Path(out) / MIL_STAGE
    videos, augment = (frames, maxi_augmentation(size)) if recipe.augment else (clips, None)
    losses = mil_finetune(model, videos, matches, bags, loss=recipe.loss, n_bag=recipe.n_bag, epochs=recipe.epochs,
                          batch_size=config.batch_size, lr=recipe.lr, weight_decay=recipe.weight_decay,
                          warmup_epochs=recipe.warmup_epochs, augment=augment, seed=trainer.seed,
                          trainer=replace(trainer, accumulate_grad_batches=accumulate), out=stage,
                          resume=resume and (stage / CHECKPOINTS / LAST_CHECKPOINT).is_file(), progress=progress)
    summary = {"videos": len(paths), "videos_with_captions": sum(
                   bool(config.captions) and caption_file(config.captions, p).is_file() for p in paths), "dictionary_size": len(dictionary), "matched_texts": len(set(matches)),
               "mean_bag_size": float(np.mean([len(b) for b in bags])), "final_loss": losses[-1] if losses else None,
               "accumulate_grad_batches": accumulate, "eval_frames": recipe.eval_frames}
    return model, summary
