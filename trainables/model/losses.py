"""The three losses the study compares, computed in fp32 whatever the autocast precision.

SSIM is torchmetrics' definition (11-tap Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
reflect padding, the mean of the full SSIM map), computed with the 2-D Gaussian split
into two 1-D depthwise convolutions in channels_last, which oneDNN runs fast on a CPU,
with the target's local statistics outside autograd, and both images shifted by the
target's mean so that fp32 keeps the flat paper's variances exact. torchmetrics' own 11x11
convolution made a training step more than 3x slower than with smooth L1;
`benchmarks/step_throughput.py` measures the ratio of this one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

SSIM_TAPS = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def gaussian_taps(taps: int = SSIM_TAPS, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """The normalised 1-D Gaussian window (float32) whose outer product is torchmetrics'."""
    distance = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    window = torch.exp(-((distance / sigma) ** 2) / 2)
    return (window / window.sum()).float()


_TAPS = gaussian_taps()


def gaussian_blur(images: torch.Tensor) -> torch.Tensor:
    """Blur each channel of (N, C, H, W) with the SSIM window, reflect-padded to keep H x W."""
    channels, pad = images.shape[1], SSIM_TAPS // 2
    taps = _TAPS.to(images.device)
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    padded = padded.contiguous(memory_format=torch.channels_last)
    rows = F.conv2d(padded, taps.view(1, 1, -1, 1).expand(channels, 1, -1, -1), groups=channels)
    return F.conv2d(rows, taps.view(1, 1, 1, -1).expand(channels, 1, -1, -1), groups=channels)


def ssim(
    prediction: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    per_image: bool = False,
) -> torch.Tensor:
    """Mean SSIM of a batch of (N, C, H, W) images, as torchmetrics'
    `structural_similarity_index_measure(prediction, target, data_range=data_range)`;
    with `per_image`, one value per image (its `reduction="none"`)."""
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of one shape, got {tuple(prediction.shape)} "
            f"and {tuple(target.shape)}"
        )
    with torch.autocast(prediction.device.type, enabled=False):
        target = target.float().detach()
        # (Co)variances are E[xy] - E[x]E[y]: in fp32 that cancels badly where the image is
        # flat and bright (the paper), by the same amount at every such pixel. Shifting both
        # images by the target's mean changes no (co)variance and makes the terms small.
        shift = target.mean()
        x, y = prediction.float() - shift, target - shift
        c = x.shape[1]
        with torch.no_grad():  # the target's statistics need no gradient: 2 blurs of 5 saved
            mu_y, yy = gaussian_blur(torch.cat((y, y * y), dim=1)).split(c, dim=1)
        mu_x, xx, xy = gaussian_blur(torch.cat((x, x * x, x * y), dim=1)).split(c, dim=1)
        var_x = torch.clamp(xx - mu_x * mu_x, min=0.0)
        var_y = torch.clamp(yy - mu_y * mu_y, min=0.0)
        cov = xy - mu_x * mu_y
        mu_x, mu_y = mu_x + shift, mu_y + shift
        c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
        similarity = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        return similarity.flatten(1).mean(1) if per_image else similarity.mean()


def ssim_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11-tap Gaussian window, sigma 1.5, MAX = 1)."""
    return 1.0 - ssim(prediction, target, data_range=1.0)


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
