"""What a mouth crop is, without the code that makes it: the fixed box, the MTCNN-aligned crop's settings, and the
choice by name. Light (no torch), so option parsers and configs load fast; `myovision.video.mouth` crops.

>>> box = MouthBox(top=2, left=1, height=4, width=6)
>>> box.centred_at(x=10.0, y=20.0)
MouthBox(top=18, left=7, height=4, width=6)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from myovision.errors import InputError

MAX_SIZE = 88
#: MTCNN's smallest face in pixels (Zhang et al. 2016's default; `myovision.video.mtcnn.DetectorSettings`)
MIN_FACE = 20.0


@dataclass(frozen=True)
class MouthBox:
    """A crop box in source pixels."""

    top: int
    left: int
    height: int
    width: int

    def centred_at(self, x: float, y: float) -> "MouthBox":
        """The same size, centred on (x, y)."""
        return MouthBox(round(y - self.height / 2), round(x - self.width / 2), self.height, self.width)


#: The mouth of GRID speaker 1 in the 360 x 288 videos (found by eye on several of them, with margin).
GRID_S1_BOX = MouthBox(top=180, left=115, height=64, width=96)


@dataclass(frozen=True)
class MouthCropSettings:
    """Where to crop (`box`: fixed, or its size around landmarks) and the output `size` (height, width)."""

    box: MouthBox = GRID_S1_BOX
    size: tuple[int, int] = (44, 44)

    def __post_init__(self):
        _check_size(self.size)
        if self.box.height < 1 or self.box.width < 1:
            raise InputError(f"mouth box must have a positive size, got {self.box}")


@dataclass(frozen=True)
class AlignedCropSettings:
    """Crops aligned on MTCNN's mouth corners: `weights` the folder of pnet.pt, rnet.pt and onet.pt; output
    `size` (height, width); `width` the crop's width in mouth-corner distances; `smooth` frames in the moving
    average of the corners; `min_face` MTCNN's smallest face in pixels; `fallback` the box of a video
    without a face."""

    weights: str
    size: tuple[int, int] = (88, 88)
    width: float = 2.0
    smooth: int = 5
    min_face: float = MIN_FACE
    fallback: MouthBox = GRID_S1_BOX

    def __post_init__(self):
        _check_size(self.size)
        if not (self.width > 0 and self.smooth >= 1 and self.min_face >= 12):
            raise InputError(f"aligned mouth crop needs width > 0, smooth >= 1 and min_face >= 12, got "
                             f"{self.width}, {self.smooth} and {self.min_face}")


CropSettings = MouthCropSettings | AlignedCropSettings
CROP_METHODS = ("box", "mtcnn")
#: The environment variable naming the folder of MTCNN's weights when no folder is given
MTCNN_WEIGHTS_ENV = "MYOVISION_MTCNN_WEIGHTS"


def resolve_crop_method(method: str, weights: str | PathLike = "") -> tuple[str, str]:
    """(method, weights folder) with "auto" and a missing folder resolved: the folder is `weights`, else the one
    $MYOVISION_MTCNN_WEIGHTS names; "auto" is "mtcnn" when there is a folder (checked by `crop_settings`) and
    "box" when there is none. "box" keeps no folder."""
    if method not in ("auto", *CROP_METHODS):
        raise InputError(f"mouth crop must be auto or one of {CROP_METHODS}, got {method!r}")
    weights = str(weights) or os.environ.get(MTCNN_WEIGHTS_ENV, "")
    if method == "auto":
        method = "mtcnn" if weights else "box"
    return method, weights if method == "mtcnn" else ""


def crop_settings(method: str = "box", size: tuple[int, int] | None = None, box: MouthBox = GRID_S1_BOX,
                  weights: str | PathLike = "") -> CropSettings:
    """The settings of a mouth crop chosen by name: "box" crops the fixed `box`; "mtcnn" aligns on MTCNN's mouth
    corners with the weights in the folder `weights`, `box` its fallback. `size` None: the method's default."""
    sized = {} if size is None else {"size": tuple(size)}
    if method == "box":
        return MouthCropSettings(box, **sized)
    if method != "mtcnn":
        raise InputError(f"mouth crop must be one of {CROP_METHODS}, got {method!r}")
    if not weights or not Path(weights).is_dir():
        raise InputError(f"mtcnn mouth crops need the folder of MTCNN's pnet.pt, rnet.pt and onet.pt "
                         f"(--crop-weights or ${MTCNN_WEIGHTS_ENV}), got {str(weights)!r}")
    return AlignedCropSettings(str(weights), fallback=box, **sized)


def _check_size(size: tuple[int, int]) -> None:
    h, w = size
    if not (0 < h <= MAX_SIZE and 0 < w <= MAX_SIZE):
        raise InputError(f"mouth crop size must be within 1..{MAX_SIZE} pixels per side, got {size}")
