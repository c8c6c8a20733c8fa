import numpy as np
import pandas as pd
import pytest
import torch

from trainables.model.losses import loss_fn
from trainables.model.metrics import (
    mean_image_psnr,
    nearest_target,
    per_key_table,
    psnr_per_sample,
    ssim_per_sample,
    summarize,
    target_distances,
)


def test_psnr_is_10_log10_of_one_over_mse():
    target = torch.rand(4, 1, 20, 30)
    prediction = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    mse = ((prediction - target) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(psnr_per_sample(prediction, target), 10 * torch.log10(1 / mse), atol=1e-4)


def test_ssim_per_sample_is_torchmetrics_per_image():
    from torchmetrics.functional.image import structural_similarity_index_measure

    generator = torch.Generator().manual_seed(0)
    truth = (torch.rand(3, 1, 162, 300, generator=generator) > 0.1).float()
    prediction = (truth + 0.2 * torch.randn(3, 1, 162, 300, generator=generator)).clamp(0, 1)
    expected = structural_similarity_index_measure(
        prediction, truth, data_range=1.0, reduction="none"
    )
    assert torch.allclose(ssim_per_sample(prediction, truth), expected, atol=1e-4)


def test_ssim_is_one_for_identical_images():
    image = torch.rand(2, 1, 40, 40)
    assert torch.allclose(ssim_per_sample(image, image), torch.ones(2), atol=1e-5)


def test_nearest_target_finds_the_key():
    targets = torch.rand(88, 1, 10, 12)
    noisy = targets[[5, 40, 87]] + 0.01 * torch.randn(3, 1, 10, 12)
    assert nearest_target(noisy, targets).tolist() == [5, 40, 87]


def test_distances_to_the_targets_hold_for_a_prediction_nearly_on_its_target():
    """Staff-sized images (162 x 300, mostly white paper) and a prediction within 0.001 of
    its target: float32 cdist is a quarter off here and cancels to zero nearer still (a
    45 dB model's margins read 250 dB), so distances are taken in float64."""
    generator = torch.Generator().manual_seed(0)
    targets = (torch.rand(88, 1, 162, 300, generator=generator) > 0.1).float()
    prediction = targets[[7]] + 0.001 * torch.randn(1, 1, 162, 300, generator=generator)
    exact = np.linalg.norm(
        prediction.flatten(1).double().numpy()[:, None] - targets.flatten(1).double().numpy(),
        axis=2,
    )
    assert np.allclose(target_distances(prediction, targets).numpy(), exact, rtol=1e-9)
    assert nearest_target(prediction, targets).tolist() == [7]


def test_mean_image_baseline_is_below_a_perfect_prediction():
    targets = torch.rand(88, 1, 10, 12)
    keys = torch.arange(88)
    baseline = mean_image_psnr(targets, keys, keys)
    assert 0 < baseline < float(psnr_per_sample(targets[:1] * 0.99, targets[:1]))


def test_summaries_per_register_and_key():
    scores = pd.DataFrame(
        {
            "midi": [21, 21, 60, 100],
            "register": ["low", "low", "mid", "high"],
            "predicted_midi": [21, 22, 60, 100],
            "correct": [True, False, True, True],
            "psnr": [10.0, 20.0, 30.0, 40.0],
            "ssim": [0.5, 0.5, 0.9, 0.9],
        }
    )
    metrics = summarize(scores)
    assert metrics["test_psnr"] == 25.0
    assert metrics["test_psnr_low"] == 15.0 and metrics["test_note_acc_low"] == 0.5
    assert metrics["test_note_acc"] == 0.75
    table = per_key_table(scores)
    assert table.loc[table["midi"] == 21, "psnr"].item() == 15.0
    assert table["note"].tolist() == ["A0", "C4", "E7"]


@pytest.mark.parametrize("name", ["smooth_l1", "mse", "ssim"])
def test_losses_are_zero_only_for_a_perfect_prediction(name):
    target = torch.rand(2, 1, 32, 32)
    criterion = loss_fn(name)
    assert float(criterion(target, target)) == pytest.approx(0.0, abs=1e-5)
    assert float(criterion(1 - target, target)) > 0.01


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'l3'"):
        loss_fn("l3")


def test_smooth_l1_matches_torch():
    a, b = torch.rand(3, 1, 5, 5), torch.rand(3, 1, 5, 5)
    assert np.isclose(
        float(loss_fn("smooth_l1")(a, b)), float(torch.nn.functional.smooth_l1_loss(a, b))
    )
