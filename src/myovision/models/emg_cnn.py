"""The small 2D CNN on sEMG spectrograms of the RGB + sEMG fusion paper (Bracci, Caruso, Clemente).

Two 3x3 convolutions with ReLU, a 2x2 max-pool of stride 2, flatten, two fully connected layers; the last
gives class scores. Cut after the first fully connected layer it yields an `embed_dim` embedding per clip
(the paper's 1024, to match I3D). The paper does not give the convolution widths; 32 and 64 are ours.
"""

from __future__ import annotations

import torch
from torch import nn

from myovision.registry import register_model


class EmgSpectrogramCNN(nn.Module):
    """x (B, channels, freq, frames) spectrograms -> class scores (B, num_classes).

    `embed(x)` returns the post-ReLU output of the first fully connected layer, (B, embed_dim).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        input_size: tuple[int, int],
        widths: tuple[int, int] = (32, 64),
        embed_dim: int = 1024,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.input_size = tuple(input_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(widths[0], widths[1], 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, stride=2),
        )
        freq, frames = self.input_size
        flat = widths[1] * (freq // 2) * (frames // 2)
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(flat, embed_dim), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc2 = nn.Linear(embed_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"expected spectrograms of (freq, frames) = {self.input_size}, got {tuple(x.shape[-2:])}")
        return self.fc1(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.embed(x))


@register_model("emg_cnn")
def emg_cnn(
    *,
    in_channels: int = 16,
    num_classes: int = 20,
    input_size: tuple[int, int] = (10, 81),
    widths: tuple[int, int] = (32, 64),
    embed_dim: int = 1024,
    dropout: float = 0.0,
) -> EmgSpectrogramCNN:
    """The fusion paper's sEMG 2D CNN; defaults: 16 channels (two Myo arms) x 10 mels x 81 frames per clip."""
    return EmgSpectrogramCNN(in_channels, num_classes, tuple(input_size), tuple(widths), embed_dim, dropout)
