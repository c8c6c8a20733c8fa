"""Features computed once per dataset and settings and cached on disk.

Clean spectrograms, noisy copies (white noise at each register's SNR) and augmented copies
(trainables/features/augment.py) are cached per setting and seed, so a trial never decodes
audio inside its training loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import torch

from trainables.data.audio import load_waveforms
from trainables.features.augment import augment
from trainables.features.spectrograms import (
    FeatureSettings,
    NoiseSettings,
    add_register_noise,
    spectrogram_db,
)

log = logging.getLogger(__name__)


class FeatureCache:
    """`<root>/cache/features/<digest>.pt`, keyed by dataset hash and every setting."""

    def __init__(self, root: Path, dataset_hash: str, duration_s: float):
        self.root = root
        self.dataset_hash = dataset_hash
        self.duration_s = duration_s
        self.folder = root / "cache" / "features"
        self._waveforms: dict[tuple, torch.Tensor] = {}

    def _path(self, **key: object) -> Path:
        text = json.dumps({"dataset": self.dataset_hash, **key}, sort_keys=True, default=str)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.pt"

    def _cached(self, path: Path, compute) -> torch.Tensor:
        if path.is_file():
            return torch.load(path, weights_only=True)
        value = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(value, partial)
        partial.replace(path)  # atomic: concurrent trials never read half a file
        return value

    def waveforms(self, audio_paths: list[str], sample_rate: int) -> torch.Tensor:
        """Decoded once per cache object, for the clean and the noisy features alike."""
        key = (tuple(audio_paths), sample_rate)
        if key not in self._waveforms:
            self._waveforms[key] = load_waveforms(
                self.root, audio_paths, self.duration_s, sample_rate
            )
        return self._waveforms[key]

    def clean(self, audio_paths: list[str], settings: FeatureSettings) -> torch.Tensor:
        path = self._path(kind="clean", settings=asdict(settings), paths=audio_paths)
        return self._cached(
            path,
            lambda: spectrogram_db(self.waveforms(audio_paths, settings.sample_rate), settings),
        )

    def noisy(
        self,
        audio_paths: list[str],
        midi: list[int],
        settings: FeatureSettings,
        noise: NoiseSettings,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(features of the noisy copies, mask of which samples have one)."""
        path = self._path(
            kind="noisy", settings=asdict(settings), noise=asdict(noise), paths=audio_paths
        )

        def compute() -> dict[str, torch.Tensor]:
            waveforms = self.waveforms(audio_paths, settings.sample_rate)
            noisy, mask = add_register_noise(waveforms, midi, noise)
            return {"features": spectrogram_db(noisy[mask], settings), "mask": mask}

        cached = self._cached(path, compute)
        return cached["features"], cached["mask"]

    def augmented(
        self, audio_paths: list[str], settings: FeatureSettings, names: tuple[str, ...], seed: int
    ) -> torch.Tensor:
        """Features of a copy of every sample with the effects `names` applied."""
        path = self._path(
            kind="augmented", settings=asdict(settings), augment=names, seed=seed, paths=audio_paths
        )

        def compute() -> torch.Tensor:
            log.info("augmenting %d samples: %s", len(audio_paths), ", ".join(names))
            waveforms = self.waveforms(audio_paths, settings.sample_rate)
            augmented = augment(waveforms, settings.sample_rate, names, seed)
            return spectrogram_db(augmented, settings)

        return self._cached(path, compute)
