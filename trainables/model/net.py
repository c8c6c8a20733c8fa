"""The convolutional encoder-decoder: a mel spectrogram in, one 1x162x300 staff image out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainables.image_size import HEIGHT, WIDTH

KERNELS = ("3", "5", "mixed")


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 128
    n_frames: int = 94
    kernel: str = "5"  # "3", "5" or "mixed" (3 and 5 alternating, block by block)
    width: int = 16  # channels of the first block, doubling per block
    depth: int = 4  # encoder blocks, each halving the spectrogram; the decoder mirrors it
    bottleneck: int = 128  # the dense code between the spectrogram's layout and the staff's

    def kernel_of(self, block: int) -> int:
        if self.kernel == "mixed":
            return (5, 3)[block % 2]
        return int(self.kernel)


class EncoderBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int):
        super().__init__(
            nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
            nn.MaxPool2d(2),
        )


class DecoderBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, size: tuple[int, int]):
        super().__init__(
            nn.Upsample(size=size, mode="nearest"),
            nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
        )


def decoder_sizes(depth: int) -> list[tuple[int, int]]:
    """Feature-map sizes from the bottleneck up to exactly HEIGHT x WIDTH."""
    return [(math.ceil(HEIGHT / 2**i), math.ceil(WIDTH / 2**i)) for i in range(depth, -1, -1)]


class SheetMusicNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        w, depth = config.width, config.depth
        channels = [1] + [w * 2**i for i in range(depth)]  # 1, w, 2w, 4w, 8w
        self.encoder = nn.Sequential(
            *(EncoderBlock(channels[i], channels[i + 1], config.kernel_of(i)) for i in range(depth))
        )
        code_h, code_w = config.n_mels // 2**depth, config.n_frames // 2**depth
        if code_h < 1 or code_w < 1:
            raise ValueError(
                f"a {config.n_mels}x{config.n_frames} spectrogram is too small for depth {depth}"
            )
        sizes = decoder_sizes(depth)
        self.start_shape = (channels[-1], *sizes[0])
        # (8w, n_mels/16, frames/16) -> bottleneck -> (8w, 11, 19): from time-frequency
        # layout to staff layout, cheaply.
        self.bottleneck = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[-1] * code_h * code_w, config.bottleneck),
            nn.LeakyReLU(0.2),
            nn.Linear(config.bottleneck, math.prod(self.start_shape)),
            nn.LeakyReLU(0.2),
        )
        up = [channels[-1 - i] for i in range(depth)] + [w]  # 8w, 4w, 2w, w, w
        self.decoder = nn.Sequential(
            *(
                DecoderBlock(up[i], up[i + 1], config.kernel_of(depth - 1 - i), sizes[i + 1])
                for i in range(depth)
            )
        )
        k = config.kernel_of(0)
        self.head = nn.Conv2d(w, 1, k, padding=k // 2)
        nn.init.constant_(self.head.bias, 3.0)  # start near white paper: sigmoid(3) = 0.95

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        code = self.bottleneck(self.encoder(spectrogram))  # (B, 1, n_mels, frames) -> (B, D)
        staff = self.decoder(code.view(-1, *self.start_shape))  # (B, w, 162, 300)
        return torch.sigmoid(self.head(staff))  # (B, 1, 162, 300) in [0, 1]
