"""Read the dataset's wav files into one tensor at the feature sample rate.

`torchaudio.load` needs torchcodec, which this stack lacks: soundfile decodes, torchaudio
resamples. Other sample rates and channel counts are handled and reported once.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF

from trainables.errors import DatasetError

log = logging.getLogger(__name__)

#: Below this peak (-80 dBFS) a file holds no usable note.
SILENCE_PEAK = 1e-4


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and its sample rate; a clear error if it won't decode."""
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise DatasetError(f"{path}: not a readable wav file ({error})") from error
    if audio.shape[0] == 0:
        raise DatasetError(f"{path}: holds no audio frames")
    return audio, rate


def load_waveforms(
    root: Path, audio_paths: list[str], duration_s: float, sample_rate: int
) -> torch.Tensor:
    """Mono float32 (N, round(duration_s * sample_rate)) for the given relative paths.

    Every file must last `duration_s` (to the nearest frame at its own rate) and must not
    be silent; each problem stops the load with the file's name.
    """
    target_frames = round(duration_s * sample_rate)
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    by_rate: dict[int, list[tuple[int, np.ndarray]]] = {}
    for index, relative in enumerate(audio_paths):
        path = root / relative
        audio, rate = read_wav(path)
        expected = round(duration_s * rate)
        if abs(audio.shape[0] - expected) > 1:
            raise DatasetError(
                f"{path}: {audio.shape[0]} frames ({audio.shape[0] / rate:.3f} s at {rate} Hz), "
                f"expected {expected} ({duration_s} s), the dataset's note length"
            )
        if float(np.abs(audio).max()) < SILENCE_PEAK:
            raise DatasetError(f"{path}: silent (peak below {SILENCE_PEAK}, -80 dBFS)")
        rates[rate] += 1
        channels[audio.shape[1]] += 1
        by_rate.setdefault(rate, []).append((index, audio.mean(axis=1)))
    for rate, count in rates.items():
        if rate != sample_rate:
            log.info("resampling %d file(s) from %d Hz to %d Hz", count, rate, sample_rate)
    for n_channels, count in channels.items():
        if n_channels != 1:
            log.info("mixing %d file(s) with %d channels down to mono", count, n_channels)
    waveforms = torch.zeros(len(audio_paths), target_frames)
    for rate, items in by_rate.items():
        length = round(duration_s * rate)
        # the note length rounds to a frame more or less at odd rates
        batch = torch.stack([torch.from_numpy(fit_samples(a, length)) for _, a in items])
        if rate != sample_rate:
            batch = AF.resample(batch, rate, sample_rate)
        waveforms[[i for i, _ in items]] = fit_batch(batch, target_frames)
    return waveforms


def fit_samples(audio: np.ndarray, length: int) -> np.ndarray:
    """Mono audio cut to `length` samples, or padded with silence at its end."""
    if audio.shape[0] >= length:
        return audio[:length]
    return np.pad(audio, (0, length - audio.shape[0]))


def fit_batch(batch: torch.Tensor, length: int) -> torch.Tensor:
    """`fit_samples` for a (N, samples) batch of waveforms."""
    if batch.shape[1] >= length:
        return batch[:, :length]
    return torch.nn.functional.pad(batch, (0, length - batch.shape[1]))
