"""A trial's data as tensors on its device: cached features, standardised, split into
train and test (by the dataset's split, or by holding whole instruments out), and the
88 targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainables.data.dataset import open_dataset
from trainables.data.engraving import load_targets
from trainables.data.timbres import held_instruments, soundfont_of, twins_of
from trainables.errors import DatasetError
from trainables.features.cache import FeatureCache
from trainables.features.spectrograms import NoiseSettings
from trainables.keys import LOWEST_MIDI
from trainables.model.metrics import (
    mean_image_psnr,
)
from trainables.training.config import TrialConfig

log = logging.getLogger(__name__)


@dataclass
class Split:
    features: torch.Tensor  # (N, 1, height, frames), standardised
    keys: torch.Tensor  # (N,) key index 0-87: selects the target image, never a model input

    def __len__(self) -> int:
        return self.keys.shape[0]


@dataclass
class TrialData:
    train: Split  # clean training samples, then their noisy and augmented copies
    test: Split  # clean test audio
    noisy_test: Split | None  # the test audio with noise (config.test_snr_db), if any
    targets: torch.Tensor  # (88, 1, 162, 300) in [0, 1]
    dataset_hash: str
    baseline_psnr: float  # the mean training image predicted for every test sample
    # what a model trained on this data needs to read new audio (trainables/serving/sheet_model.py)
    mean: float  # of the training features, in dB: features are (x - mean) / std
    std: float
    duration_s: float  # the note length every sample lasts: the model's window
    root: Path  # the dataset folder (its 88 targets are bundled with a model)
    # instruments in neither split: twins of the held-out ones (trainables/data/timbres.py)
    left_out: tuple[str, ...]

    @property
    def n_frames(self) -> int:
        return self.train.features.shape[-1]


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepare_data(root: Path, config: TrialConfig, device: torch.device) -> TrialData:
    """Cached features (computed on first use) and targets, standardised, on `device`."""
    manifest, frame = open_dataset(root)
    cache = FeatureCache(root, manifest["dataset_hash"], manifest["duration_s"])
    paths = frame["audio_path"].tolist()
    clean = cache.clean(paths, config.features)
    keys = torch.tensor(frame["midi"].to_numpy() - LOWEST_MIDI)
    rows = split_rows(frame, config, root)
    is_train, is_test = torch.tensor(rows.train), torch.tensor(rows.test)
    if not is_train.any() or not is_test.any():
        raise DatasetError(f"{root}: the split needs both train and test samples")
    train_x, train_k = [clean[is_train]], [keys[is_train]]
    noisy_test = None
    if config.noise.any:
        noisy, has_copy = cache.noisy(paths, frame["midi"].tolist(), config.features, config.noise)
        copy_is_train = is_train[has_copy]
        train_x.append(noisy[copy_is_train])
        train_k.append(keys[has_copy][copy_is_train])
        copy_is_test = is_test[has_copy]
        noisy_test = Split(noisy[copy_is_test], keys[has_copy][copy_is_test])
    if config.test_snr_db is not None:
        snr = config.test_snr_db
        uniform = NoiseSettings(snr, snr, snr, seed=config.seed)
        noisy, _ = cache.noisy(paths, frame["midi"].tolist(), config.features, uniform)
        noisy_test = Split(noisy[is_test], keys[is_test])
    if config.augment:
        train_paths = [path for path, train in zip(paths, rows.train, strict=True) if train]
        train_x.append(
            cache.augmented(train_paths, config.features, config.augmentations, config.seed)
        )
        train_k.append(keys[is_train])
    train = Split(torch.cat(train_x), torch.cat(train_k))
    mean, std = train.features.mean(), train.features.std()

    def place(split: Split) -> Split:
        features = ((split.features - mean) / std).to(device)
        return Split(features, split.keys.to(device))

    targets = torch.from_numpy(load_targets(root / "targets")).to(device)
    test = Split(clean[is_test], keys[is_test])
    return TrialData(
        train=place(train),
        test=place(test),
        noisy_test=place(noisy_test) if noisy_test is not None and len(noisy_test) else None,
        targets=targets,
        dataset_hash=manifest["dataset_hash"],
        baseline_psnr=mean_image_psnr(targets, train.keys.to(device), test.keys.to(device)),
        mean=float(mean),
        std=float(std),
        duration_s=float(manifest["duration_s"]),
        root=root,
        left_out=rows.left_out,
    )


@dataclass(frozen=True)
class SplitRows:
    train: np.ndarray  # bool per annotation row
    test: np.ndarray
    left_out: tuple[str, ...]  # instruments in neither: held-out instruments' twins


def split_rows(frame: pd.DataFrame, config: TrialConfig, root: Path) -> SplitRows:
    """The dataset's split; or, with `held_out`, those instruments (or whole SoundFonts)
    to test on and every other instrument to train on, except the held-out ones' twins."""
    if config.held_out is None:
        return SplitRows(
            (frame["split"] == "train").to_numpy(), (frame["split"] == "test").to_numpy(), ()
        )
    held = held_instruments(frame, config.held_instruments)
    found = {soundfont_of(i) for i in held} | held
    unknown = sorted(set(config.held_instruments) - found)
    if unknown:
        raise DatasetError(
            f"{root}: held_out names {unknown}, which is no instrument or SoundFont of "
            f"the dataset; it has {sorted(set(frame['instrument']))}"
        )
    twins = twins_of(root, frame, held)
    for twin, of in twins.items():
        log.info(
            "held out %s: %s shares its samples with %s; left out of training",
            config.held_out,
            twin,
            ", ".join(of),
        )
    is_test = frame["instrument"].isin(held).to_numpy()
    is_train = ~is_test & ~frame["instrument"].isin(twins).to_numpy()
    return SplitRows(is_train, is_test, tuple(sorted(twins)))
