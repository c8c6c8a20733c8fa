"""The thesis's reference numbers (its Tables 1 and 2 and per-key finding): the one place they live.

Single runs, no repeats: there is no interval to put beside them.
"""

from __future__ import annotations

#: Table 1: average test PSNR (dB) by loss, kernel 5x5. Keys are this project's loss names.
LOSS_PSNR: dict[str, float] = {"ssim": 17.98, "mse": 18.61, "smooth_l1": 19.14}
LOSS_CONDITION = "kernel 5x5"
#: Table 2: average test PSNR (dB) by kernel, smooth L1. Keys are this project's kernels.
KERNEL_PSNR: dict[str, float] = {"3": 15.23, "mixed": 16.58, "5": 19.14}
KERNEL_CONDITION = "smooth L1 loss"
#: The thesis's names for the same things, for captions.
LOSS_NAMES = {"ssim": "SSIM-based", "mse": "MSE", "smooth_l1": "Smooth L1"}
KERNEL_NAMES = {"3": "3x3", "mixed": "mixed 3x3 and 5x5", "5": "5x5"}

#: About this PSNR (dB) the thesis judged a prediction human readable.
READABLE_PSNR = 20.0

#: The per-key finding, in numbers read off the thesis's keyboard plot.
PER_KEY_BEST_PSNR = 23.0  # right of the middle of the keyboard
PER_KEY_WORST_PSNR = (12.0, 13.0)  # towards the low end
PER_KEY_FINDING = (
    "Per-key PSNR across the keyboard: best about 23 dB right of the middle, worst about "
    "12-13 dB towards the low end, above 20 dB through the middle, a smaller drop at the "
    "high end. The author's theory: noise hides the low notes' spectral features, so less "
    "noise on low notes should help them."
)
SETUP = (
    "Thesis: 2464 samples (28 per key, 1948 train / 516 test), white-noise augmentation "
    "doubling the data, single runs without repeats or intervals."
)


def loss_psnr(loss: str) -> float | None:
    """Table 1's PSNR for a loss of this project, None if the thesis did not train it."""
    return LOSS_PSNR.get(loss)


def kernel_psnr(kernel: str) -> float | None:
    """Table 2's PSNR for a kernel of this project, None if the thesis did not train it."""
    return KERNEL_PSNR.get(str(kernel))
