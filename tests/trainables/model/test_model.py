import pytest
import torch

from trainables.model.net import ModelConfig, SheetMusicNet, decoder_sizes


@pytest.mark.parametrize("kernel", ["3", "5", "mixed"])
def test_output_is_one_162x300_channel_in_unit_range(kernel):
    model = SheetMusicNet(ModelConfig(n_mels=64, n_frames=47, kernel=kernel, width=4))
    out = model(torch.randn(3, 1, 64, 47) * 10)
    assert out.shape == (3, 1, 162, 300)
    assert out.min() >= 0 and out.max() <= 1


def test_kernels_are_what_they_say():
    def kernel_sizes(kernel):
        model = SheetMusicNet(ModelConfig(n_mels=64, n_frames=47, kernel=kernel, width=4))
        return [m.kernel_size[0] for m in model.modules() if isinstance(m, torch.nn.Conv2d)]

    assert set(kernel_sizes("3")) == {3}
    assert set(kernel_sizes("5")) == {5}
    assert set(kernel_sizes("mixed")) == {3, 5}


def test_blocks_follow_the_contract():
    model = SheetMusicNet(ModelConfig(n_mels=64, n_frames=47, width=4))
    block = list(model.encoder[0])
    assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "LeakyReLU", "MaxPool2d"]
    assert block[2].negative_slope == 0.2
    assert [type(m).__name__ for m in model.decoder[0]] == [
        "Upsample",
        "Conv2d",
        "BatchNorm2d",
        "LeakyReLU",
    ]
    assert model.decoder[0][0].mode == "nearest"
    assert decoder_sizes(4)[-1] == (162, 300)


def test_width_scales_the_model():
    def params(width):
        model = SheetMusicNet(ModelConfig(n_mels=64, n_frames=47, width=width))
        return sum(p.numel() for p in model.parameters())

    assert params(16) > 3 * params(4)


def test_too_small_spectrogram_is_refused():
    with pytest.raises(ValueError, match="too small for depth 4"):
        SheetMusicNet(ModelConfig(n_mels=8, n_frames=47))
