"""One trial's configuration: every hyperparameter, validated where it enters."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from trainables.errors import ConfigError
from trainables.features.augment import AUGMENTATIONS, NOISE_COLOURS
from trainables.features.augment import parse as parse_augment
from trainables.features.spectrograms import SPECTROGRAMS, FeatureSettings, NoiseSettings
from trainables.model.losses import LOSSES
from trainables.model.net import KERNELS, ModelConfig
from trainables.text_files import read_utf8
from trainables.training.precision import MEMORY_FORMATS, PRECISIONS

LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrialConfig:
    # what the study compares
    loss: str = "smooth_l1"  # smooth_l1 | mse | ssim (1 - SSIM)
    kernel: str = "5"  # 3 | 5 | mixed
    width: int = 16  # first block's channels; doubles per block
    depth: int = 4
    bottleneck: int = 128
    # noise augmentation, SNR in dB per register; null = no noisy copy
    snr_low_db: float | None = None
    snr_mid_db: float | None = None
    snr_high_db: float | None = None
    # its spectrum: white | pink | brown | mixed (each note's 1/f^a drawn, a in 0-2)
    noise_colour: str = "white"
    # the noisy test audio: null = noise of the training noise's colour at its SNRs (none
    # where a register has no noisy copy); a number = at that SNR on every register, the same audio
    # for every training-noise setting (what the noise study compares them on)
    test_snr_db: float | None = None
    # what recordings do to a note, as one more training copy of every sample: a comma-
    # separated choice of gain, delay, reverb, tilt, detune, noise (trainables/features/augment.py)
    augment: str | None = None
    # optimisation (Adam)
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (annealed to 0 over all steps)
    batch_size: int = 32
    epochs: int = 10
    seed: int = 0
    # the test set: null = the dataset's split; else comma-separated instruments held out
    # whole (every other sample trains), to score on pianos never heard in training
    held_out: str | None = None
    # speed: auto = the fastest this device has, found by a timed check of a few steps
    # (bf16 + channels_last was 3.1x fp32 on a CPU with native bf16; emulated bf16 on
    # an AVX2 CPU was 7-14x slower, so there auto trains in fp32). Not the trial's
    # identity: what ran is recorded beside the results (trainables/training/precision.py).
    precision: str = "auto"  # auto | bf16 | fp16 (CUDA only, with a gradient scaler) | fp32
    memory_format: str = "auto"  # auto | channels_last | contiguous
    # features
    sample_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 256
    n_mels: int = 128
    f_min: float = 20.0
    f_max: float = 8000.0
    # mel: torchaudio's mel spectrogram (n_fft, n_mels, f_min, f_max); cqt: nnAudio's
    # constant-Q transform, 3 bins a semitone from A0 (trainables/features/spectrograms.py)
    spectrogram: str = "mel"
    # the features' floor: each note's bins are clipped at top_db below its loudest one
    top_db: float = 80.0

    def __post_init__(self) -> None:
        checks = {
            "loss": (self.loss in LOSSES, f"one of {sorted(LOSSES)}"),
            "kernel": (self.kernel in KERNELS, f"one of {list(KERNELS)}"),
            "spectrogram": (self.spectrogram in SPECTROGRAMS, f"one of {list(SPECTROGRAMS)}"),
            "precision": (self.precision in PRECISIONS, f"one of {list(PRECISIONS)}"),
            "memory_format": (
                self.memory_format in MEMORY_FORMATS,
                f"one of {list(MEMORY_FORMATS)}",
            ),
            "noise_colour": (self.noise_colour in NOISE_COLOURS, f"one of {list(NOISE_COLOURS)}"),
            "lr": (self.lr > 0, "a positive number"),
            "lr_schedule": (self.lr_schedule in LR_SCHEDULES, f"one of {list(LR_SCHEDULES)}"),
            "held_out": (self.held_out is None or bool(self.held_instruments), "instrument names"),
            "augment": (
                self.augment is None
                or (bool(self.augmentations) and set(self.augmentations) <= set(AUGMENTATIONS)),
                f"comma-separated names from {list(AUGMENTATIONS)}",
            ),
            "batch_size": (self.batch_size > 0, "a positive integer"),
            "epochs": (self.epochs > 0, "a positive integer"),
            "width": (self.width > 0, "a positive integer"),
            "depth": (1 <= self.depth <= 6, "an integer from 1 to 6"),
            "bottleneck": (self.bottleneck > 0, "a positive integer"),
            "sample_rate": (self.sample_rate > 0, "a positive integer"),
            "n_fft": (self.n_fft > 0, "a positive integer"),
            "hop_length": (self.hop_length > 0, "a positive integer"),
            "n_mels": (self.n_mels > 0, "a positive integer"),
            "top_db": (self.top_db > 0, "a positive number of dB"),
            "f_max": (
                0 <= self.f_min < self.f_max <= self.sample_rate / 2,
                f"above f_min={self.f_min} and at most sample_rate/2={self.sample_rate / 2}",
            ),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ConfigError(f"field {name!r}: {getattr(self, name)!r}, expected {expected}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrialConfig:
        """Build from plain values (YAML, CLI, Ray Tune), naming any bad field and `source`."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {unknown}; known: {sorted(known)}")
        hints = typing.get_type_hints(cls)
        coerced = {k: _coerce(k, v, hints[k], source) for k, v in values.items()}
        try:
            return cls(**coerced)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def from_yaml(cls, path: Path, overrides: dict[str, Any] | None = None) -> TrialConfig:
        """Fields from a YAML mapping, or from a study file's `fixed:` section (the
        configuration every trial of that study shares)."""
        try:
            values = yaml.safe_load(read_utf8(path, ConfigError)) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{path}: not a readable YAML file: {error}") from error
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of field: value")
        if isinstance(values.get("fixed"), dict):
            values, path = values["fixed"], f"{path}: fixed"
        return cls.from_dict({**values, **(overrides or {})}, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrialConfig:
        return dataclasses.replace(self, **changes)

    @property
    def augmentations(self) -> tuple[str, ...]:
        return parse_augment(self.augment)

    @property
    def held_instruments(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in (self.held_out or "").split(",") if name.strip())

    @property
    def features(self) -> FeatureSettings:
        return FeatureSettings(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            f_min=self.f_min,
            f_max=self.f_max,
            spectrogram=self.spectrogram,
            top_db=self.top_db,
        )

    @property
    def noise(self) -> NoiseSettings:
        snrs = (self.snr_low_db, self.snr_mid_db, self.snr_high_db)
        return NoiseSettings(*snrs, seed=self.seed, colour=self.noise_colour)

    def model(self, n_frames: int) -> ModelConfig:
        return ModelConfig(
            n_mels=self.features.height,
            n_frames=n_frames,
            kernel=self.kernel,
            width=self.width,
            depth=self.depth,
            bottleneck=self.bottleneck,
        )


def _coerce(name: str, value: Any, hint: Any, source: str) -> Any:
    """Accept what YAML and the CLI give (3 for "3", "1e-3" for 0.001), reject the rest."""
    optional = isinstance(hint, types.UnionType) and type(None) in hint.__args__
    base = next(a for a in hint.__args__ if a is not type(None)) if optional else hint
    if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
        if optional:
            return None
        raise ConfigError(f"{source}: field {name!r} cannot be null")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
        if base is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if base is str:
            if isinstance(value, bool | float):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(
        f"{source}: field {name!r}: {value!r} is not a valid {base.__name__}"
        + (" or null" if optional else "")
    )
