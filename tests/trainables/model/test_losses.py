"""The losses: the separable SSIM is torchmetrics' number, a gradient, fp32 under
autocast; smooth L1 on images is half the MSE."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from trainables.data.engraving import engrave_targets, load_targets
from trainables.model.losses import LOSSES, gaussian_taps, loss_fn, ssim, ssim_loss


def reference(prediction: torch.Tensor, target: torch.Tensor) -> float:
    return float(structural_similarity_index_measure(prediction, target, data_range=1.0))


@pytest.fixture(scope="module")
def staffs(tmp_path_factory: pytest.TempPathFactory) -> torch.Tensor:
    """Real targets, engraved and loaded by the project's own code: 4 keys across the
    keyboard, (4, 1, 162, 300) in [0, 1]."""
    folder = tmp_path_factory.mktemp("targets")
    engrave_targets(folder)
    return torch.from_numpy(load_targets(folder))[::22]


def test_the_window_is_torchmetrics_gaussian():
    taps = gaussian_taps()
    assert taps.shape == (11,) and float(taps.sum()) == pytest.approx(1.0)
    assert torch.equal(taps, taps.flip(0)) and int(taps.argmax()) == 5


@pytest.mark.parametrize("shape", [(4, 1, 162, 300), (3, 1, 32, 47), (2, 3, 24, 24)])
def test_ssim_matches_torchmetrics_on_random_images(shape):
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(shape, generator=generator)
    noisy = (a + 0.1 * torch.randn(shape, generator=generator)).clamp(0, 1)
    unrelated = torch.rand(shape, generator=generator)
    for b in (noisy, unrelated):
        assert float(ssim(a, b)) == pytest.approx(reference(a, b), abs=1e-4)


def test_ssim_matches_torchmetrics_on_staff_images(staffs):
    blurred = torch.nn.functional.avg_pool2d(staffs, 5, stride=1, padding=2)
    shifted = staffs.roll(1, dims=0)  # each prediction is another key's staff
    mean_image = staffs.mean(0, keepdim=True).expand_as(staffs)
    faded = staffs * 0.8 + 0.1  # flat grey paper: where fp32 cancellation bites
    for prediction in (blurred, shifted, mean_image, faded):
        got = float(ssim(prediction, staffs))
        assert got == pytest.approx(reference(prediction, staffs), abs=1e-4)
        exact = reference(prediction.double(), staffs.double())
        assert got == pytest.approx(exact, abs=1e-5)
        assert 0 < got < 1


def test_per_image_ssim_matches_torchmetrics_reduction_none(staffs):
    prediction = torch.nn.functional.avg_pool2d(staffs, 3, stride=1, padding=1)
    got = ssim(prediction, staffs, per_image=True)
    want = structural_similarity_index_measure(prediction, staffs, data_range=1.0, reduction="none")
    assert got.shape == (len(staffs),)
    assert torch.allclose(got, want, atol=1e-4)


def test_identical_images_give_zero_loss(staffs):
    assert float(ssim_loss(staffs, staffs)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss_fn("ssim")(staffs, staffs)) == pytest.approx(0.0, abs=1e-6)


def test_the_gradient_is_torchmetrics_gradient(staffs):
    """Against torchmetrics in float64: its fp32 gradient is itself off by ~0.3% of the
    largest component on staff images (cancellation on the flat paper)."""
    generator = torch.Generator().manual_seed(1)
    start = (staffs[:2] + 0.2 * torch.rand(staffs[:2].shape, generator=generator)).clamp(0, 1)
    ours = start.clone().requires_grad_()
    exact = start.double().requires_grad_()
    ssim_loss(ours, staffs[:2]).backward()
    target = staffs[:2].double()
    (1 - structural_similarity_index_measure(exact, target, data_range=1.0)).backward()
    assert ours.grad is not None and torch.isfinite(ours.grad).all()
    scale = float(exact.grad.abs().max())
    assert scale > 0
    assert torch.allclose(ours.grad.double(), exact.grad, rtol=1e-3, atol=1e-3 * scale)


def test_gradient_descent_on_the_loss_raises_ssim(staffs):
    target = staffs[:2, :, 20:140, 60:240]
    prediction = torch.full_like(target, 0.5, requires_grad=True)
    optimizer = torch.optim.Adam([prediction], lr=0.05)
    before = float(ssim(prediction.detach(), target))
    for _ in range(20):
        optimizer.zero_grad()
        ssim_loss(prediction, target).backward()
        optimizer.step()
    assert float(ssim(prediction.detach(), target)) > before + 0.1


def test_computed_in_fp32_under_bf16_autocast(staffs):
    prediction = (staffs[:2] * 0.9 + 0.05).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = ssim_loss(prediction, staffs[:2])
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(1 - reference(prediction.float(), staffs[:2]), abs=1e-4)


def test_channels_last_input_gives_the_same_value(staffs):
    prediction = (staffs * 0.8 + 0.1).contiguous(memory_format=torch.channels_last)
    assert float(ssim(prediction, staffs)) == pytest.approx(reference(prediction, staffs), abs=1e-4)
    assert float(ssim(prediction, staffs)) == pytest.approx(
        float(ssim(prediction.contiguous(), staffs))
    )


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r"expected two \(N, C, H, W\) tensors of one shape"):
        ssim(torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 31))


def test_public_names_stay():
    assert set(LOSSES) == {"smooth_l1", "mse", "ssim"}
    assert LOSSES["ssim"] is ssim_loss


def test_smooth_l1_is_half_the_mse_on_images_in_0_1(staffs):
    """Where every |prediction - target| <= 1, smooth L1 (beta 1) is 0.5 d^2: half the
    squared error, and so half its gradient. Adam is invariant to that factor, so the two
    losses train the same model (docs/findings.md, "Smooth L1 and MSE")."""
    smooth_l1, mse = loss_fn("smooth_l1"), loss_fn("mse")
    generator = torch.Generator().manual_seed(0)
    for prediction in (torch.rand(staffs.shape, generator=generator), 1 - staffs, staffs * 0.9):
        a = prediction.clone().requires_grad_()
        b = prediction.clone().requires_grad_()
        half, whole = smooth_l1(a, staffs), mse(b, staffs)
        assert float(half.detach()) > 0
        assert float(half.detach()) == pytest.approx(0.5 * float(whole.detach()), rel=1e-6)
        half.backward()
        whole.backward()
        assert torch.allclose(a.grad, 0.5 * b.grad, rtol=1e-5, atol=1e-12)


def test_smooth_l1_is_not_half_the_mse_beyond_a_difference_of_1(staffs):
    """The condition matters: where |d| > 1 (images outside [0, 1]) smooth L1 is |d| - 0.5,
    below d^2 / 2."""
    smooth_l1, mse = loss_fn("smooth_l1"), loss_fn("mse")
    shifted = staffs + 2  # d = 2 everywhere: 1.5 against half of 4
    assert float(smooth_l1(shifted, staffs)) == pytest.approx(1.5)
    assert float(mse(shifted, staffs)) / 2 == pytest.approx(2.0)
    prediction = torch.rand(staffs.shape, generator=torch.Generator().manual_seed(0))
    prediction, target = prediction * 255, staffs * 255  # images on 0-255
    assert float(smooth_l1(prediction, target)) < 0.1 * float(mse(prediction, target)) / 2
