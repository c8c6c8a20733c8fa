"""The thesis's numbers, as its Tables 1 and 2 print them, under this project's names."""

from __future__ import annotations

from analysis import thesis
from trainables.model.losses import LOSSES
from trainables.model.net import KERNELS


def test_table_1_by_loss():
    assert thesis.LOSS_PSNR == {"ssim": 17.98, "mse": 18.61, "smooth_l1": 19.14}
    assert set(thesis.LOSS_PSNR) <= set(LOSSES)


def test_table_2_by_kernel():
    assert thesis.KERNEL_PSNR == {"3": 15.23, "mixed": 16.58, "5": 19.14}
    assert set(thesis.KERNEL_PSNR) == set(KERNELS)


def test_both_tables_share_their_best_run():
    assert thesis.loss_psnr("smooth_l1") == thesis.kernel_psnr("5")
    assert thesis.loss_psnr("nonexistent") is None
