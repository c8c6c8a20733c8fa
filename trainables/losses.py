"""The three losses the study compares, computed in fp32 whatever the autocast precision."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ssim_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11x11 Gaussian window, MAX = 1)."""
    return 1.0 - structural_similarity_index_measure(prediction, target, data_range=1.0)


LOSSES: dict[str, LossFn] = {
    "smooth_l1": F.smooth_l1_loss,
    "mse": F.mse_loss,
    "ssim": ssim_loss,
}


def loss_fn(name: str) -> LossFn:
    try:
        fn = LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}, expected one of {sorted(LOSSES)}") from None

    def fp32(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return fn(prediction.float(), target.float())

    return fp32
