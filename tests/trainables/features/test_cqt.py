"""The constant-Q spectrogram: each key's fundamental in bins of its own, read by the model
as the mel spectrogram is; and trials keep their keys when they use neither new option."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from tests.trainables.conftest import QUICK
from trainables.errors import ConfigError
from trainables.features.spectrograms import (
    CQT_BINS,
    FeatureSettings,
    SpannedCQT,
    cqt_db,
    nnaudio_cqt,
    spectrogram_db,
)
from trainables.keys import KEYS
from trainables.model.net import SheetMusicNet
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data
from trainables.training.identity import trial_key

SETTINGS = FeatureSettings(spectrogram="cqt")


@pytest.mark.parametrize("name", ["A0", "A#0", "C4", "F#6", "C8"])
def test_a_keys_fundamental_peaks_in_its_own_bins(name):
    key = next(k for k in KEYS if k.name == name)
    hz = 440.0 * 2 ** ((key.midi - 69) / 12)
    t = torch.arange(SETTINGS.sample_rate * 3 // 2) / SETTINGS.sample_rate
    features = cqt_db(torch.sin(2 * torch.pi * hz * t)[None], SETTINGS)
    assert features.shape == (1, 1, CQT_BINS, SETTINGS.frames(1.5))
    peak = int(features[0, 0].mean(dim=1).argmax())
    assert peak == 3 * (key.midi - KEYS[0].midi) + 1  # three bins a key, its pitch in the middle


def test_the_spanned_transform_is_nnaudios():
    """Convolving each kernel over its nonzero span only leaves nnAudio's magnitudes, so a
    model trained on features of either reads the other's."""
    t = torch.arange(SETTINGS.sample_rate * 3 // 2) / SETTINGS.sample_rate
    noise = torch.randn(2, t.numel(), generator=torch.Generator().manual_seed(0))
    waveforms = torch.cat(
        [
            torch.stack([torch.sin(2 * torch.pi * hz * t) for hz in (27.5, 261.6, 4186.0)]),
            noise * torch.linspace(0, 1, t.numel()),  # a crescendo of every frequency
        ]
    )
    theirs = nnaudio_cqt(SETTINGS.sample_rate, SETTINGS.hop_length)
    ours = SpannedCQT(theirs)
    with torch.no_grad():
        expected, got = theirs(waveforms), ours(waveforms)
    assert got.shape == expected.shape == (5, CQT_BINS, SETTINGS.frames(1.5))
    loudest = expected.amax(dim=(1, 2), keepdim=True)
    assert ((got - expected).abs() / loudest).max() < 1e-4  # float rounding, summed apart
    assert sum(k.numel() for k in ours.buffers()) < 0.3 * 2 * theirs.cqt_kernels_real.numel()


def test_a_cqt_trial_reads_cqt_features(small_root):
    config = TrialConfig(**QUICK, spectrogram="cqt")
    data = prepare_data(small_root, config, torch.device("cpu"))
    assert data.train.features.shape[2] == CQT_BINS
    model = SheetMusicNet(config.model(data.n_frames))
    assert model(data.test.features[:2]).shape == (2, 1, 162, 300)
    with pytest.raises(ConfigError, match="field 'spectrogram': 'chroma', expected one of"):
        TrialConfig(spectrogram="chroma")


def test_trials_without_the_new_options_keep_their_keys():
    """A study resumed with this version must find the trials an earlier one trained."""
    config = TrialConfig(**QUICK)
    added = ("augment", "noise_colour", "spectrogram", "test_snr_db", "top_db")
    earlier = {k: v for k, v in config.to_dict().items() if k not in added}
    text = json.dumps({"study": "s", "dataset": "h", **earlier}, sort_keys=True)
    assert trial_key("s", "h", config) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert trial_key("s", "h", config.replace(spectrogram="cqt")) != trial_key("s", "h", config)
    assert trial_key("s", "h", config.replace(augment="gain")) != trial_key("s", "h", config)
    assert trial_key("s", "h", config.replace(test_snr_db=10.0)) != trial_key("s", "h", config)
    assert trial_key("s", "h", config.replace(top_db=40.0)) != trial_key("s", "h", config)
    assert trial_key("s", "h", config.replace(noise_colour="pink")) != trial_key("s", "h", config)


@pytest.mark.parametrize("spectrogram", ["mel", "cqt"])
def test_the_features_floor_is_the_trials_top_db(spectrogram):
    """Everything quieter than top_db below a note's loudest bin reads as that floor."""
    t = torch.arange(SETTINGS.sample_rate * 3 // 2) / SETTINGS.sample_rate
    note = torch.sin(2 * torch.pi * 440 * t) + 1e-3 * torch.sin(2 * torch.pi * 1234 * t)
    ranges = {}
    for top_db in (80.0, 40.0):
        settings = TrialConfig(spectrogram=spectrogram, top_db=top_db).features
        features = spectrogram_db(note[None], settings)
        ranges[top_db] = float(features.max() - features.min())
    assert ranges[40.0] == pytest.approx(40.0, abs=1e-3) and ranges[80.0] > 60.0
    with pytest.raises(ConfigError, match="field 'top_db': 0, expected a positive number"):
        TrialConfig(top_db=0)
