"""Training data of the lip readers (`myovision.lipread.training`): first state targets from word alignments,
CTC labels, the data set of mouth crops with its augmentations, and batching.

Word splicing (`LipReadingSet(splice=p)`): with probability p a training draw becomes a new sentence of the
grammar (on GRID; in general, of the training utterances with as many aligned words). Its k-th word, frames
and state targets, is the k-th word of a random such training utterance; the leading and trailing silences
are the drawn utterance's own. Every crop is standardised per video, and GRID's
camera and speaker do not move, so the joins are small jumps of the mouth, not of the picture. On 200 GRID
videos the Transformer otherwise sees each letter in only ~8 sentence contexts and can learn the contexts;
spliced sentences break those co-occurrences (the idea of concatenating aligned segments into new training
utterances, as in concatenative augmentation for ASR). Measured by `benchmarks/bench_lipread_grid.py --splice
0.5`: the mean WER of 5 seeds 20.1% -> 18.1%; with 60 epochs 16.0%, and their ensemble 13.3%.
"""

from __future__ import annotations

from dataclasses import dataclass, is_dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from myovision.data.grid import SILENCES, Utterance, check_frame_count
from myovision.decoding.hmm import flat_start
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.errors import InputError
from myovision.training.harness import EpochShuffle
from myovision.video.crop_settings import GRID_S1_BOX, MouthBox, crop_settings
from myovision.video.mouth import MouthCache

CTC_LABELS = (None, " ", *"abcdefghijklmnopqrstuvwxyz")  # blank first

Span = tuple[int, int]


def ctc_targets(words: Sequence[str]) -> list[int]:
    """Label ids of the sentence spelled with single spaces (space = 1, a-z = 2..27)."""
    text = " ".join(words)
    bad = sorted({c for c in text if c not in CTC_LABELS})
    if bad:
        raise InputError(f"characters {bad} of {text!r} have no CTC label (a-z and space)")
    return [CTC_LABELS.index(c) for c in text]


def mouth_cache(folder: str | Path, crop: str = "box", size: tuple[int, int] | None = None,
                box: MouthBox = GRID_S1_BOX, weights: str | Path = "") -> MouthCache:
    """The mouth-crop cache of a lip reader in `folder`: crop "box" (the fixed `box`) or "mtcnn" (aligned on
    MTCNN's mouth corners, weights from the folder `weights`, `box` the fallback); `size` None: the crop's
    default (44 x 44 box, 88 x 88 mtcnn)."""
    return MouthCache(folder, crop_settings(crop, size, box, weights))


@dataclass
class CroppedVideos:
    """The utterances kept, their crops (T, h, w), and one line per video skipped or cropped with a fallback."""

    utterances: list[Utterance]
    crops: list[torch.Tensor]
    problems: list[str]


def load_crops(utterances: Sequence[Utterance], cache: MouthCache, *, skip_short: bool = False) -> CroppedVideos:
    """Crops of every utterance's video from `cache`, each checked against its alignment and container
    (`check_frame_count`): a truncated video is an InputError, or with `skip_short` left out and reported.
    Videos where MTCNN found no face on some frames are reported too (`CropReport.line`)."""
    kept, crops, problems = [], [], []
    for utt in utterances:
        video = cache(utt.video)
        report = cache.reports[str(utt.video)]
        try:
            check_frame_count(utt, len(video), report.declared_frames)
        except InputError as err:
            if not skip_short:
                raise
            problems.append(f"skipped {err}")
            continue
        if report.without_face:
            problems.append(report.line())
        kept.append(utt)
        crops.append(video)
    return CroppedVideos(kept, crops, problems)


def initial_alignment(utt: Utterance, num_frames: int, lexicon: Lexicon, hmms: HmmSet) -> np.ndarray:
    """First state targets (T,): each aligned word's unit states spread over its frames, or a flat start."""
    if not utt.segments:
        return flat_start(num_frames, utt.words, lexicon, hmms)
    sil = hmms.states_of(lexicon.silence)[0]
    targets = np.full(num_frames, sil)
    for seg in utt.segments:
        start, end = min(seg.start, num_frames), min(max(seg.end, seg.start + 1), num_frames)
        if seg.word in SILENCES or end <= start:
            continue
        states = [s for u in lexicon[seg.word] for s in hmms.states_of(u)]
        targets[start:end] = np.asarray(states)[np.arange(end - start) * len(states) // (end - start)]
    return targets


def word_spans(utt: Utterance, num_frames: int) -> list[Span] | None:
    """[start, end) frames of each word of `utt` from its alignment, or None when it has no usable alignment
    (none given, or a word that would be empty within the video's `num_frames`)."""
    spans = [(min(s.start, num_frames), min(s.end, num_frames)) for s in utt.segments if s.word not in SILENCES]
    if len(spans) != len(utt.words) or any(end <= start for start, end in spans):
        return None
    return spans


class LipReadingSet(Dataset):
    """Mouth crops (T, h, w) with their state targets (T,) (updated on re-alignment) and words.

    Each item: video (T, h, w), states (T,), labels (CTC ids of the words), words, index. `augment` (e.g.
    `MouthAugment`) transforms the crops of every item drawn and `speed` (e.g. `SpeedPerturbation`:
    num_frames -> frame indices) resamples crops and targets in time first. With `splice` > 0 and `spans`
    (each utterance's `word_spans`), that fraction of draws are spliced sentences (module docstring).

    Random draws: `ds[i]` draws from `rng` and the callables' own generators; `ds[(i, epoch)]` (what
    `EpochDraws` yields in training) from one generator seeded by (`seed`, epoch, i), so a resumed run, any
    number of loader workers and any item order draw what the uninterrupted run drew.
    """

    def __init__(self, crops: Sequence[torch.Tensor], states: Sequence[np.ndarray], words: Sequence[Sequence[str]],
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 speed: Callable[[int], np.ndarray] | None = None, *, splice: float = 0.0,
                 spans: Sequence[list[Span] | None] | None = None, rng: np.random.Generator | None = None,
                 seed: int = 0):
        if not 0 <= splice <= 1:
            raise InputError(f"splice is a probability, got {splice}")
        if splice and (spans is None or len(spans) != len(crops)):
            raise InputError("word splicing needs the word spans of every utterance")
        self.crops, self.states, self.words = list(crops), list(states), [tuple(w) for w in words]
        self.augment, self.speed, self.splice = augment, speed, splice
        self.spans = list(spans) if spans is not None else [None] * len(self.crops)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.seed = seed
        by_count: dict[int, list[int]] = {}
        for i, s in enumerate(self.spans):
            if s is not None:
                by_count.setdefault(len(s), []).append(i)
        self.donors = {n: np.asarray(d) for n, d in by_count.items()}  # word count -> utterances aligned so

    def __len__(self) -> int:
        return len(self.crops)

    def spliced(self, i: int, rng: np.random.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
        """Utterance i's silences around words drawn slot by slot from the utterances aligned like it."""
        spans = self.spans[i]
        donors = (rng or self.rng).choice(self.donors[len(spans)], size=len(spans))
        pieces = [(i, 0, spans[0][0]), *((j, *self.spans[j][k]) for k, j in enumerate(donors)),
                  (i, spans[-1][1], len(self.crops[i]))]  # (utterance, start, end)
        video = torch.cat([self.crops[j][a:b] for j, a, b in pieces])  # (T', h, w)
        states = torch.cat([torch.as_tensor(self.states[j][a:b]) for j, a, b in pieces])  # (T',)
        return video, states, tuple(self.words[j][k] for k, j in enumerate(donors))

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        augment, speed, rng = self.augment, self.speed, self.rng
        if isinstance(key, tuple):  # (item, epoch): every draw from one generator of (seed, epoch, item)
            i, epoch = key
            rng = np.random.default_rng((self.seed, epoch, i))
            augment, speed = _drawing_from(augment, rng), _drawing_from(speed, rng)
        else:
            i = key
        if self.splice and self.spans[i] is not None and rng.random() < self.splice:
            video, states, words = self.spliced(i, rng)
        else:
            video, states, words = self.crops[i], torch.as_tensor(self.states[i]), self.words[i]
        if speed is not None:
            frames = torch.from_numpy(speed(len(video)))
            video, states = video[frames], states[frames]
        if augment is not None:
            video = augment(video)
        return {"video": video, "states": states, "labels": torch.tensor(ctc_targets(words)), "words": words,
                "index": i}


def collate(items: list[dict]) -> dict:
    """Pad to the longest video: video (B, 1, T, h, w), lengths (B,), states (B, T) (-100 past the end),
    labels (sum of label lengths,), label_lengths (B,), words (B tuples), index (B,) of the items drawn."""
    lengths = torch.tensor([len(it["video"]) for it in items])
    t = int(lengths.max())
    video = torch.zeros(len(items), 1, t, *items[0]["video"].shape[1:])
    states = torch.full((len(items), t), -100, dtype=torch.long)
    for i, it in enumerate(items):
        video[i, 0, : len(it["video"])] = it["video"]
        states[i, : len(it["states"])] = it["states"]
    return {"video": video, "lengths": lengths, "states": states,
            "labels": torch.cat([it["labels"] for it in items]),
            "label_lengths": torch.tensor([len(it["labels"]) for it in items]),
            "words": [it["words"] for it in items], "index": torch.tensor([it["index"] for it in items])}


def _drawing_from(transform: Callable | None, rng: np.random.Generator) -> Callable | None:
    """A copy of a dataclass transform holding a `rng` field (MouthAugment, SpeedPerturbation) drawing from `rng`."""
    if transform is not None and is_dataclass(transform) and hasattr(transform, "rng"):
        return replace(transform, rng=rng)
    return transform


class EpochDraws(EpochShuffle):
    """`EpochShuffle`'s order of (seed, epoch), yielding (item, epoch) keys so `LipReadingSet` seeds each draw."""

    def __iter__(self):
        return iter([(i, self.epoch) for i in super().__iter__()])


class LipReadDataModule(L.LightningDataModule):
    """Training draws shuffled per (seed, epoch) (`EpochDraws`) and, when given, the validation videos in order."""

    def __init__(self, train_set: LipReadingSet, val_set: LipReadingSet | None = None, *, batch_size: int = 8,
                 seed: int = 0, num_workers: int = 0):
        super().__init__()
        self.train_set, self.val_set = train_set, val_set
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, collate_fn=collate,
                          sampler=EpochDraws(len(self.train_set), self.seed), num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        if self.val_set is None:
            return []
        return DataLoader(self.val_set, batch_size=self.batch_size, collate_fn=collate, num_workers=self.num_workers)


def split_validation(items: Sequence, fraction: float, seed: int = 0) -> tuple[list, list]:
    """(training, validation): a seeded random `fraction` of `items` (at least one when fraction > 0 and there
    are two or more) held out for validation, both in their original order."""
    n_val = 0 if fraction <= 0 or len(items) < 2 else max(1, round(fraction * len(items)))
    held = set(np.random.default_rng(seed).permutation(len(items))[:n_val].tolist())
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]
