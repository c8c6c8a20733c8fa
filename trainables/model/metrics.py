"""Per-sample scores of predicted staff images: PSNR, SSIM and the nearest target's key.

PSNR alone flatters blur (the mean of the 88 targets scores well), so every evaluation
also asks which of the 88 targets each prediction is nearest to: `note_acc`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from trainables.keys import KEYS, Register
from trainables.model.losses import ssim

#: Per-register scores every evaluation reports.
REGISTER_METRICS = tuple(
    f"test_{score}_{register.value}" for score in ("psnr", "note_acc") for register in Register
)
#: The model's scores every epoch reports (a study optimises one of the test ones).
EPOCH_METRICS = (
    "train_loss",
    "test_loss",
    "test_psnr",
    "test_ssim",
    "test_note_acc",
    *REGISTER_METRICS,
)


def psnr_per_sample(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """10 log10(1 / MSE) per image, MAX = 1."""
    return peak_signal_noise_ratio(
        prediction.float(), target.float(), data_range=1.0, reduction="none", dim=(1, 2, 3)
    )


def ssim_per_sample(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """torchmetrics' SSIM per image (to 1e-4, tested), computed as the loss does it: two
    11-tap blurs instead of one 11x11 blur, 22 multiply-adds a pixel instead of 121."""
    return ssim(prediction.float(), target.float(), data_range=1.0, per_image=True)


def target_distances(prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, 88) Euclidean distance of each prediction to each key's target, in float64:
    cdist expands |a - b|^2 as |a|^2 + |b|^2 - 2ab, which in float32 loses a prediction's
    distance to a target it nearly matches (a 45 dB model's) in the targets' norms, and
    the reader's margin between the two nearest keys with it."""
    return torch.cdist(prediction.flatten(1).double(), targets.flatten(1).double())


def nearest_target(prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Index (0-87) of the target with the least MSE to each prediction."""
    return target_distances(prediction, targets).argmin(dim=1)


def mean_image_psnr(
    targets: torch.Tensor, train_keys: torch.Tensor, test_keys: torch.Tensor
) -> float:
    """The blur baseline: predict the training set's mean target for every test sample."""
    mean_image = targets[train_keys].float().mean(dim=0, keepdim=True)
    test_targets = targets[test_keys]
    return float(psnr_per_sample(mean_image.expand_as(test_targets), test_targets).mean())


def summarize(scores: pd.DataFrame, prefix: str = "test") -> dict[str, float]:
    """Overall and per-register means of a per-sample frame (midi, register, psnr, ssim,
    correct) as `test_psnr`, `test_psnr_low`, ..., `test_note_acc_high`."""
    metrics = {
        f"{prefix}_psnr": float(scores["psnr"].mean()),
        f"{prefix}_ssim": float(scores["ssim"].mean()),
        f"{prefix}_note_acc": float(scores["correct"].mean()),
    }
    for register in Register:
        part = scores[scores["register"] == register.value]
        empty = len(part) == 0
        metrics[f"{prefix}_psnr_{register.value}"] = np.nan if empty else part["psnr"].mean()
        metrics[f"{prefix}_note_acc_{register.value}"] = np.nan if empty else part["correct"].mean()
    return metrics


def per_key_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per key present in the test set: mean PSNR, SSIM, note accuracy, n."""
    names = {key.midi: key.name for key in KEYS}
    table = (
        scores.groupby("midi")
        .agg(
            psnr=("psnr", "mean"),
            ssim=("ssim", "mean"),
            note_acc=("correct", "mean"),
            n=("psnr", "size"),
            register=("register", "first"),
        )
        .reset_index()
    )
    table.insert(1, "note", table["midi"].map(names))
    return table
