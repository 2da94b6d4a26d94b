"""The three networks of MTCNN (Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment using Multi-task
Cascaded Convolutional Networks", IEEE Signal Processing Letters 2016), with the layer names of the original
Caffe model so the published weights load as they are.

- `PNet` (proposal): fully convolutional; an image (B, 3, H, W) gives per-cell face probabilities and box
  offsets at stride 2 for 12 x 12 windows.
- `RNet` (refine): 24 x 24 crops (N, 3, 24, 24) -> face probability and box offsets.
- `ONet` (output): 48 x 48 crops (N, 3, 48, 48) -> face probability, box offsets and five landmarks (left eye,
  right eye, nose tip, left and right mouth corner) as fractions of the box.

Inputs are RGB scaled as (pixel - 127.5) / 128. The dense layers of RNet and ONet read their input in the
Caffe model's transposed (width-major) layout, hence the permute before flattening.

Weights: `load_mtcnn(folder)` reads `pnet.pt`, `rnet.pt` and `onet.pt` (PyTorch state dicts as distributed in
the facenet-pytorch wheel, legacy torch.save format) with `torch.load(weights_only=True)`, never unpickling
arbitrary objects; a missing file or a tensor of the wrong shape is an InputError naming the file.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import torch
from torch import nn

from myovision.errors import InputError

#: Order of ONet's five landmarks.
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _conv(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, k), nn.PReLU(cout)


class PNet(nn.Module):
    """Proposal network: (B, 3, H, W) -> offsets (B, 4, H', W'), face probability (B, H', W'), where
    H' = ceil((H - 2) / 2) - 4 (each cell is a 12 x 12 window at stride 2)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement network: (N, 3, 24, 24) -> offsets (N, 4), face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))  # (N, 64, 3, 3)
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))  # Caffe's (W, H, C) order -> (N, 576)
        return self.dense5_2(x), self.dense5_1(x).softmax(dim=1)[:, 1]


class ONet(nn.Module):
    """Output network: (N, 3, 48, 48) -> offsets (N, 4), landmarks (N, 10) as 5 x-fractions then 5
    y-fractions of the box, face probability (N,)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))  # (N, 128, 3, 3)
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))  # Caffe's (W, H, C) order -> (N, 1152)
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(dim=1)[:, 1]


class MTCNN(nn.Module):
    """The cascade's three networks, in eval mode."""

    def __init__(self):
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        self.eval()


def _load_state(net: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise InputError("MTCNN weights file not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's bad input
        raise InputError(f"cannot read MTCNN weights ({type(exc).__name__}: {exc})".splitlines()[0], path) from None
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise InputError(f"expected the tensors {sorted(expected)}, got {got}", path)
    for name, tensor in expected.items():
        if not isinstance(state[name], torch.Tensor) or state[name].shape != tensor.shape:
            shape = tuple(state[name].shape) if isinstance(state[name], torch.Tensor) else type(state[name]).__name__
            raise InputError(f"tensor {name} has shape {shape}, expected {tuple(tensor.shape)}", path)
    net.load_state_dict(state)


def load_mtcnn(folder: str | PathLike) -> MTCNN:
    """MTCNN with the pretrained weights of `folder` (pnet.pt, rnet.pt, onet.pt), in eval mode."""
    folder = Path(folder)
    model = MTCNN()
    for name in ("pnet", "rnet", "onet"):
        _load_state(getattr(model, name), folder / f"{name}.pt")
    return model.eval()
