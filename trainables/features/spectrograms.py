"""Spectrograms in dB (torchaudio's mel or nnAudio's constant-Q) and the white noise a
register's SNR adds to a note; trainables/features/cache.py computes them once per note."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torchaudio.functional as AF
import torchaudio.transforms as T

from trainables.features.augment import NOISE_COLOURS, colour_exponents, coloured
from trainables.features.draws import normal_draws, note_generators, row_keys
from trainables.keys import KEYS, Register, register_of

#: The spectrograms a trial can read: torchaudio's mel, or nnAudio's constant-Q.
SPECTROGRAMS = ("mel", "cqt")
#: The constant-Q transform: three bins a key from A0 to C8, the middle one on the key's
#: pitch (a slightly sharp or flat piano stays in its key's bins), and 8 more above. Every
#: key's fundamental has bins of its own, and a harmonic sits the same number of bins
#: above its fundamental on every key: the representation pitch trackers read, against
#: octave errors.
CQT_BINS_PER_OCTAVE = 36
CQT_BINS = 88 * 3 + 8
CQT_FMIN = 27.5 * 2 ** (-1 / CQT_BINS_PER_OCTAVE)


@dataclass(frozen=True)
class FeatureSettings:
    sample_rate: int = 16000
    n_fft: int = 2048  # 7.8 Hz bins; A0-B2's fundamentals (27.5-124 Hz) are 1.6-7 Hz apart
    hop_length: int = 256
    n_mels: int = 128
    f_min: float = 20.0
    f_max: float = 8000.0
    top_db: float = 80.0
    spectrogram: str = "mel"  # mel (n_fft, n_mels, f_min, f_max) | cqt (CQT_* above)

    def frames(self, duration_s: float) -> int:
        return round(duration_s * self.sample_rate) // self.hop_length + 1

    @property
    def height(self) -> int:
        """Frequency rows of the spectrogram: mel filters or constant-Q bins."""
        return self.n_mels if self.spectrogram == "mel" else CQT_BINS


@dataclass(frozen=True)
class NoiseSettings:
    """SNR in dB per register; None leaves that register's samples without a noisy copy.
    `colour` names the noise's spectrum (trainables.features.augment.NOISE_COLOURS)."""

    snr_low_db: float | None = None
    snr_mid_db: float | None = None
    snr_high_db: float | None = None
    seed: int = 0
    colour: str = "white"

    def __post_init__(self) -> None:
        if self.colour not in NOISE_COLOURS:
            raise ValueError(f"noise colour {self.colour!r}: expected one of {list(NOISE_COLOURS)}")

    @property
    def any(self) -> bool:
        return any(s is not None for s in (self.snr_low_db, self.snr_mid_db, self.snr_high_db))

    def snr_db(self, register: Register) -> float | None:
        return getattr(self, f"snr_{register.value}_db")


def fundamental_filters(settings: FeatureSettings) -> pd.DataFrame:
    """Per key: its fundamental (Hz), the FFT bin and the mel filter nearest to it.

    Keys whose fundamentals share a mel filter can only be told apart by their harmonics:
    at the default settings the 27 keys of the low register share 7 filters."""
    banks = AF.melscale_fbanks(
        settings.n_fft // 2 + 1,
        settings.f_min,
        settings.f_max,
        settings.n_mels,
        settings.sample_rate,
    )  # (frequencies, mels): the filters MelSpectrogram applies
    midi = np.array([key.midi for key in KEYS])
    hz = 440.0 * 2.0 ** ((midi - 69) / 12)
    fft_bin = np.round(hz * settings.n_fft / settings.sample_rate).astype(int)
    response = banks[torch.from_numpy(fft_bin)]
    return pd.DataFrame(
        {
            "midi": midi,
            "register": [register_of(int(m)).value for m in midi],
            "hz": hz,
            "fft_bin": fft_bin,
            "mel_filter": response.argmax(dim=1).numpy(),
            "response": response.max(dim=1).values.numpy(),  # 0: below the first filter
        }
    )


def mel_transforms(settings: FeatureSettings) -> tuple[T.MelSpectrogram, T.AmplitudeToDB]:
    """The power mel spectrogram and its conversion to dB, as every feature is computed."""
    mel = T.MelSpectrogram(
        sample_rate=settings.sample_rate,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        n_mels=settings.n_mels,
        f_min=settings.f_min,
        f_max=settings.f_max,
        power=2.0,
    )
    return mel, T.AmplitudeToDB(stype="power", top_db=settings.top_db)


def mel_db(waveforms: torch.Tensor, settings: FeatureSettings, batch: int = 256) -> torch.Tensor:
    """(N, L) waveforms -> (N, 1, n_mels, frames) float32 in dB (each clipped at top_db)."""
    transform, to_db = mel_transforms(settings)
    frames = waveforms.shape[-1] // settings.hop_length + 1
    chunks = [torch.zeros(0, settings.n_mels, frames)]
    with torch.no_grad():
        for start in range(0, waveforms.shape[0], batch):
            mel = transform(waveforms[start : start + batch])
            chunks.append(torch.stack([to_db(m) for m in mel]))  # top_db per sample
    return torch.cat(chunks).unsqueeze(1)


class SpannedCQT(torch.nn.Module):
    """nnAudio's CQT1992v2, each group of kernels convolved over its own span only.

    nnAudio pads every kernel with zeros to the longest one (32768 taps for A0 at 16 kHz)
    and convolves all 272 at that width; a kernel's length halves with each octave up, so
    most of that work multiplies zeros. Cut to the span their nonzero taps cover, a third
    of an octave at a time, the same sums take a fifth of the taps and about a quarter of
    the time (benchmarks/features.py); the magnitudes agree with nnAudio's to float
    rounding (tests/trainables/features/test_cqt.py)."""

    def __init__(self, cqt: torch.nn.Module, group: int = CQT_BINS_PER_OCTAVE // 3) -> None:
        super().__init__()
        self.hop_length = cqt.hop_length
        self.kernel_width = cqt.kernel_width
        real, imag = cqt.cqt_kernels_real[:, 0], cqt.cqt_kernels_imag[:, 0]
        taps = torch.arange(self.kernel_width)
        nonzero = (real != 0) | (imag != 0)
        first = torch.where(nonzero, taps, self.kernel_width).min(dim=1).values
        end = torch.where(nonzero, taps, -1).max(dim=1).values + 1
        scale = cqt.lenghts.sqrt()[:, None]  # nnAudio's librosa normalisation
        self.first_taps: list[int] = []  # where each group's span starts
        for index, start in enumerate(range(0, real.shape[0], group)):
            rows = slice(start, start + group)
            a, b = int(first[rows].min()), int(end[rows].max())
            weight = torch.cat([real[rows, a:b], imag[rows, a:b]]) * scale[rows].repeat(2, 1)
            self.register_buffer(f"kernels{index}", weight[:, None].contiguous())
            self.first_taps.append(a)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(N, L) -> (N, CQT_BINS, frames) magnitudes, framed as nnAudio frames them."""
        half = self.kernel_width // 2
        padded = torch.nn.functional.pad(waveforms[:, None], (half, half), mode="reflect")
        frames = (padded.shape[-1] - self.kernel_width) // self.hop_length + 1
        groups = []
        for index, first in enumerate(self.first_taps):
            kernels = getattr(self, f"kernels{index}")  # real parts, then imaginary
            out = torch.nn.functional.conv1d(padded[..., first:], kernels, stride=self.hop_length)
            real, imag = out[..., :frames].chunk(2, dim=1)
            groups.append(torch.sqrt(real**2 + imag**2))
        return torch.cat(groups, dim=1)


@functools.cache
def nnaudio_cqt(sample_rate: int, hop_length: int) -> torch.nn.Module:
    """nnAudio's constant-Q transform as the features were first computed: the kernels."""
    from nnAudio.features.cqt import CQT1992v2  # imported where used: its kernels take 0.3 s

    return CQT1992v2(
        sr=sample_rate,
        hop_length=hop_length,
        fmin=CQT_FMIN,
        n_bins=CQT_BINS,
        bins_per_octave=CQT_BINS_PER_OCTAVE,
        output_format="Magnitude",
        verbose=False,
    )


@functools.cache
def _cqt(sample_rate: int, hop_length: int) -> torch.nn.Module:
    return SpannedCQT(nnaudio_cqt(sample_rate, hop_length))


def cqt_db(waveforms: torch.Tensor, settings: FeatureSettings, batch: int = 64) -> torch.Tensor:
    """(N, L) waveforms -> (N, 1, CQT_BINS, frames) float32 constant-Q power in dB."""
    transform = _cqt(settings.sample_rate, settings.hop_length)
    to_db = T.AmplitudeToDB(stype="power", top_db=settings.top_db)
    frames = waveforms.shape[-1] // settings.hop_length + 1
    chunks = [torch.zeros(0, CQT_BINS, frames)]
    with torch.no_grad():
        for start in range(0, waveforms.shape[0], batch):
            power = transform(waveforms[start : start + batch]).pow(2)
            chunks.append(torch.stack([to_db(p) for p in power]))  # top_db per sample
    return torch.cat(chunks).unsqueeze(1)


def spectrogram_db(waveforms: torch.Tensor, settings: FeatureSettings) -> torch.Tensor:
    """The spectrogram `settings` names, (N, 1, height, frames) in dB."""
    return (
        cqt_db(waveforms, settings)
        if settings.spectrogram == "cqt"
        else mel_db(waveforms, settings)
    )


def white_noise(n_samples: int, seed: int, keys: Sequence[str]) -> torch.Tensor:
    """(len(keys), n_samples) unit white noise, each row drawn from (seed, its key) alone."""
    return normal_draws(note_generators(seed, keys, "noise"), n_samples)


def add_noise(
    waveforms: torch.Tensor,
    snr_db: float,
    seed: int,
    keys: Sequence[str],
    colour: str = "white",
    sample_rate: int = FeatureSettings.sample_rate,
) -> torch.Tensor:
    """Every row with noise of `colour` at `snr_db`, drawn from (seed, the row's key): the
    noisy copy of a note at that SNR, whichever register asked for it."""
    snr = torch.full((waveforms.shape[0],), float(snr_db))
    return _add_noise(waveforms, snr, seed, keys, colour, sample_rate)


def _add_noise(
    waveforms: torch.Tensor,
    snr: torch.Tensor,
    seed: int,
    keys: Sequence[str],
    colour: str,
    sample_rate: int,
) -> torch.Tensor:
    if not len(keys):
        return waveforms.clone()
    noise = white_noise(waveforms.shape[1], seed, keys)
    if colour != "white":
        noise = coloured(noise, sample_rate, colour_exponents(colour, seed, keys)[:, None])
    return AF.add_noise(waveforms, noise, snr)


def add_register_noise(
    waveforms: torch.Tensor,
    midi: list[int],
    noise: NoiseSettings,
    keys: Sequence[str] | None = None,
    sample_rate: int = FeatureSettings.sample_rate,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise at each sample's register SNR; returns (noisy, mask of samples noised).

    A sample's noise is drawn from (noise.seed, its key) alone: with each note's audio
    hash as its key, a note's noisy copy is the same in any batch. Without keys, each row
    is its own key (its index)."""
    keys = row_keys(len(midi)) if keys is None else keys
    if not len(keys) == len(midi) == waveforms.shape[0]:
        raise ValueError(f"{len(keys)} keys, {len(midi)} midi numbers, {waveforms.shape[0]} rows")
    snr = torch.tensor([noise.snr_db(register_of(m)) or 0.0 for m in midi])
    mask = torch.tensor([noise.snr_db(register_of(m)) is not None for m in midi], dtype=torch.bool)
    return _add_noise(waveforms, snr, noise.seed, keys, noise.colour, sample_rate), mask
