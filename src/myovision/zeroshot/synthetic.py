"""A seeded synthetic world for the zero-shot demo: small videos of a coloured shape (the noun) moving in one
of five ways (the verb); the class name is "<verb> <noun>" ("jumping ball", "sliding box").

Class names share structure with the content: the noun is visible in every frame, the verb only in how
frames differ (so a frame-level model cannot know it). Language sources mimic MAXI's: frame captions as a
captioner writes them (static descriptions, and now and then a verb, a synonym, or a wrong verb) and
phrases as a language model writes them for the matched dictionary text (synonym phrases of its verb).
The unlabelled training pool holds every motion (as Kinetics videos show more actions than their label);
the action dictionary names only the seen verbs. Labels never enter the frames; the captions see them
only through the noisy simulated captioner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from myovision.zeroshot.prompts import KINETICS_TEMPLATES
from myovision.zeroshot.textbags import gerund

NOUNS = ("ball", "box", "ring", "bar", "cross", "triangle")
COLOURS = {"red": (220, 50, 40), "green": (40, 200, 60), "blue": (50, 90, 230), "yellow": (230, 210, 40),
           "white": (235, 235, 235), "purple": (160, 60, 200)}
NOUN_COLOURS = dict(zip(NOUNS, COLOURS))  # each shape has its colour, as objects have their look
VERBS = {  # class verb -> synonym lemmas a captioner may use, phrases a language model may write
    "jumping": (("jump", "bounce", "hop", "leap"),
                ("bounce up and down", "hop into the air", "leap upwards", "spring up and fall", "jump high")),
    "sliding": (("slide", "glide", "drift"),
                ("glide across the frame", "drift sideways", "move from side to side", "slide along", "travel across")),
    "growing": (("grow", "expand", "swell"),
                ("get bigger", "expand in size", "swell up", "grow larger", "increase in size")),
    "blinking": (("blink", "flash", "flicker"),
                 ("flash on and off", "flicker", "appear and disappear", "blink quickly", "vanish and return")),
    "resting": (("rest", "stay", "sit"),
                ("stay still", "sit in place", "rest quietly", "remain motionless", "stay in one spot")),
}
CAPTION_RATES = (0.6, 0.1)  # probability that a frame caption names the true verb, names a wrong one


@dataclass(frozen=True)
class VideoSpec:
    """One synthetic video: its verb and noun, and the seed of its placement, motion and noise."""

    verb: str
    noun: str
    seed: int

    @property
    def colour(self) -> str:
        return NOUN_COLOURS[self.noun]

    @property
    def label(self) -> str:
        return f"{self.verb} {self.noun}"


def class_names() -> list[str]:
    """All 30 classes, verb-major: "jumping ball", "jumping box", ..."""
    return [f"{v} {n}" for v in VERBS for n in NOUNS]


NOVEL_VERBS = ("blinking", "resting")  # in no dictionary entry: known only from what captions say


def held_out_classes() -> list[str]:
    """The 12 classes of the novel verbs, kept out of the action dictionary (as "wave" and "chew" are absent
    from Kinetics-400's names in MAXI's Fig. 4); their nouns appear in the dictionary with other verbs."""
    return [c for c in class_names() if c.split(" ")[0] in NOVEL_VERBS]


def seen_classes() -> list[str]:
    held = set(held_out_classes())
    return [c for c in class_names() if c not in held]


def sample_specs(classes: list[str], n: int, rng: np.random.Generator) -> list[VideoSpec]:
    """`n` videos of `classes` in turn (balanced), random seeds."""
    return [VideoSpec(*classes[i % len(classes)].split(" "), int(rng.integers(2**31))) for i in range(n)]


def _shape_mask(noun: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    ax, ay, dist = np.abs(dx), np.abs(dy), np.hypot(dx, dy)
    if noun == "ball":
        return dist <= r
    if noun == "box":
        return (ax <= 0.85 * r) & (ay <= 0.85 * r)
    if noun == "ring":
        return (dist <= r) & (dist >= 0.55 * r)
    if noun == "bar":
        return (ax <= 1.4 * r) & (ay <= 0.45 * r)
    if noun == "cross":
        return ((ax <= r) & (ay <= 0.35 * r)) | ((ay <= r) & (ax <= 0.35 * r))
    return (dy >= -r) & (dy <= r) & (ax <= (dy + r) / 2)  # triangle, apex up


def render(spec: VideoSpec, frames: int = 8, size: int = 32) -> np.ndarray:
    """The video as uint8 (T, size, size, 3): noisy dark background, the shape moving by its verb."""
    rng = np.random.default_rng(spec.seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r0 = rng.uniform(0.13, 0.17) * size
    margin = 1.5 * r0
    x0, y0 = rng.uniform(margin, size - margin, 2)
    phase = np.linspace(0.0, 1.0, frames)
    x, y, r = np.full(frames, x0), np.full(frames, y0), np.full(frames, r0)
    visible = np.ones(frames, dtype=bool)
    if spec.verb == "jumping":
        y = np.clip(y0 + 0.2 * size, margin, size - margin) - 0.35 * size * np.abs(np.sin(2 * np.pi * phase))
    elif spec.verb == "sliding":
        x = margin + (size - 2 * margin) * (phase if rng.random() < 0.5 else 1 - phase)
    elif spec.verb == "growing":
        r = r0 * (0.5 + phase)
    elif spec.verb == "blinking":
        visible = (np.arange(frames) + rng.integers(2)) % 2 == 0
    x, y = x + rng.normal(0, 0.5, frames), y + rng.normal(0, 0.5, frames)
    background = rng.uniform(10, 60)
    video = background + rng.normal(0, 8, (frames, size, size, 3))
    colour = np.array(COLOURS[spec.colour]) * rng.uniform(0.8, 1.0)
    for t in range(frames):
        if visible[t]:
            video[t][_shape_mask(spec.noun, xx - x[t], yy - y[t], r[t])] = colour
    return np.clip(video, 0, 255).astype(np.uint8)


def _where(x: float, y: float, size: int) -> str:
    row = ("at the top", "in the middle", "at the bottom")[min(2, int(3 * y / size))]
    col = ("left", "centre", "right")[min(2, int(3 * x / size))]
    return f"{row} {col}" if col != "centre" else row


def frame_captions(spec: VideoSpec, frames: int = 8, size: int = 32, *, with_verbs: bool = True) -> list[str]:
    """One caption per frame, as an image captioner would write it: what is where, and (with `with_verbs`)
    now and then a verb, right (a synonym, any form) or wrong, at the rates of `CAPTION_RATES`."""
    rng = np.random.default_rng(spec.seed + 1)
    video = render(spec, frames, size)
    out = []
    for t in range(frames):
        bright = np.argwhere(video[t].max(axis=-1) > 120)
        if len(bright) == 0:
            out.append(str(rng.choice(["an empty dark frame", "a dark screen with noise", "a black background"])))
            continue
        y, x = bright.mean(axis=0)
        big = "small " if len(bright) < 0.6 * np.pi * (0.15 * size) ** 2 else "large " if len(bright) > 1.6 * np.pi * (0.15 * size) ** 2 else ""
        static = str(rng.choice([f"a {big}{spec.colour} {spec.noun} {_where(x, y, size)}", f"a {big}{spec.noun} {_where(x, y, size)}",
                                 f"a photo of a {big}{spec.colour} {spec.noun}", f"a photo of a {spec.noun}.",
                                 f"a video of a {spec.noun} {_where(x, y, size)}", f"a {spec.colour} {spec.noun}"]))
        u = rng.random()
        if not with_verbs or u >= sum(CAPTION_RATES):
            out.append(static)
            continue
        verb = spec.verb if u < CAPTION_RATES[0] else str(rng.choice([v for v in VERBS if v != spec.verb]))
        lemma = str(rng.choice(VERBS[verb][0]))
        form = rng.integers(3)
        if form == 0:
            template = str(rng.choice(KINETICS_TEMPLATES)) if rng.random() < 0.5 else "a {} " + _where(x, y, size)
            out.append(template.format(f"{spec.colour} {spec.noun} {gerund(lemma)}"))
        elif form == 1:
            out.append(f"a {spec.noun} that is {gerund(lemma)} on a dark background")
        else:
            out.append(f"a {spec.colour} {spec.noun} {_third_person(lemma)} {_where(x, y, size)}")
    return out


def _third_person(lemma: str) -> str:
    from lemminflect import getInflection

    forms = getInflection(lemma, tag="VBZ")
    return forms[0] if forms else lemma + "s"


def language_model_phrases(action: str, rng: np.random.Generator, n: int = 5) -> list[str]:
    """`n` phrases describing `action` (a dictionary text "<verb> <noun>"), as MAXI asks GPT-3 for them."""
    phrases = VERBS[action.split(" ", 1)[0]][1]
    return [phrases[i] for i in rng.permutation(len(phrases))[:n]]


def vocabulary() -> list[str]:
    """Every text the demo can produce, for a word-level tokenizer (words, not their meanings)."""
    from myovision.zeroshot.prompts import SINGLE_TEMPLATE

    words = [*NOUNS, *COLOURS, *VERBS, "small large that is on a dark background an empty dark frame screen with noise black",
             "at the top in the middle at the bottom left right , .", SINGLE_TEMPLATE, *KINETICS_TEMPLATES]
    for synonyms, phrases in VERBS.values():
        words += [*synonyms, *map(gerund, synonyms), *map(_third_person, synonyms), *phrases]
    return words
