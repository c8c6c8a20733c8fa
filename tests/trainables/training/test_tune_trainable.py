"""A reused worker keeps its last trial's data for the next trial that reads the same."""

import torch

from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data
from trainables.training.loop import train_trial
from trainables.training.tune_trainable import trial_data

QUICK = dict(width=4, bottleneck=64, n_mels=64, n_fft=1024, hop_length=512, epochs=1)
CPU = torch.device("cpu")


def test_a_trial_of_other_hyperparameters_reuses_the_data(small_dataset):
    root, digest = small_dataset.root, small_dataset.dataset_hash
    first = trial_data(root, digest, TrialConfig(**QUICK, seed=0, loss="mse"), CPU)
    again = trial_data(root, digest, TrialConfig(**QUICK, seed=1, lr=0.01, kernel="3"), CPU)
    assert again is first


def test_other_features_noise_or_split_load_their_own(small_dataset):
    root, digest = small_dataset.root, small_dataset.dataset_hash
    clean = trial_data(root, digest, TrialConfig(**QUICK), CPU)
    finer = trial_data(root, digest, TrialConfig(**{**QUICK, "n_mels": 96}), CPU)
    assert finer.train.features.shape[-2] == 96 and clean.train.features.shape[-2] == 64
    noisy = dict(QUICK, snr_low_db=10.0, snr_mid_db=10.0, snr_high_db=10.0)
    seed0 = trial_data(root, digest, TrialConfig(**noisy, seed=0), CPU)
    seed1 = trial_data(root, digest, TrialConfig(**noisy, seed=1), CPU)
    assert seed1 is not seed0  # the noisy copies are drawn with the trial's seed
    assert not torch.equal(seed0.train.features, seed1.train.features)
    held = trial_data(root, digest, TrialConfig(**QUICK, held_out="TimGM6mb-p1"), CPU)
    assert len(held.test) == 176
    shared = dict(QUICK, test_snr_db=10.0)  # noisy test audio only: drawn with the seed too
    test0 = trial_data(root, digest, TrialConfig(**shared, seed=0), CPU)
    test1 = trial_data(root, digest, TrialConfig(**shared, seed=1), CPU)
    assert not torch.equal(test0.noisy_test.features, test1.noisy_test.features)


def test_reused_data_trains_to_the_same_numbers(small_dataset):
    config = TrialConfig(**QUICK)
    root, digest = small_dataset.root, small_dataset.dataset_hash
    trial_data(root, digest, config.replace(seed=5), CPU)  # what the worker's last trial left
    reused = next(train_trial(config, trial_data(root, digest, config, CPU))).metrics
    fresh = next(train_trial(config, prepare_data(root, config, CPU))).metrics
    for name in ("train_loss", "test_psnr", "test_note_acc"):
        assert reused[name] == fresh[name], name
