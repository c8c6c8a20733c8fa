"""Recording conditions a model is scored under: what a room, background noise and a
microphone's band do to a whole recording.

Training copies draw their effects at random (trainables/features/augment.py); a test
condition is fixed, so that two models are scored on the same audio: each recording's
noise and room are drawn from a generator seeded by the recording's name. In the order
sound meets them: the room (a reverberant tail of the given RT60, mixed at equal energy
with the direct sound), background noise (white, pink or brown, at an SNR over the
recording), then the microphone's band (resampled to its rate and band-passed).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF

from trainables.features.augment import COLOURS, band_pass, coloured

#: The direct sound's share of a room recording's energy (a microphone a few metres away).
ROOM_DIRECT = 0.5


@dataclass(frozen=True)
class Condition:
    name: str
    rt60_s: float | None = None  # a room's reverberation time
    noise: tuple[str, float] | None = None  # (colour, SNR in dB)
    band: tuple[int, float, float] | None = None  # (sample rate, low Hz, high Hz)

    def apply(self, audio: np.ndarray, rate: int, key: str) -> tuple[np.ndarray, int]:
        """`audio` ((frames,) or (frames, channels)) as recorded under this condition,
        mono; `key` names the recording, seeding its draws."""
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        x = x.mean(dim=1) if x.ndim == 2 else x
        seed = int.from_bytes(hashlib.sha256(f"{self.name}:{key}".encode()).digest()[:8], "big")
        generator = torch.Generator().manual_seed(seed % 2**63)
        if self.rt60_s is not None:
            x = room(x, rate, self.rt60_s, generator)
        if self.noise is not None:
            colour, snr_db = self.noise
            x = coloured_noise(x, rate, COLOURS[colour], snr_db, generator)
        if self.band is not None:
            x, rate = band_limit(x, rate, *self.band)
        return x.numpy(), rate


def room(x: torch.Tensor, rate: int, rt60_s: float, generator: torch.Generator) -> torch.Tensor:
    """`x` with a reverberant tail: decaying noise falling 60 dB in `rt60_s`."""
    t = torch.arange(int(rt60_s * rate)) / rate
    tail = torch.randn(t.shape[0], generator=generator) * torch.exp(-math.log(1000) * t / rt60_s)
    reverberant = AF.fftconvolve(x, tail / tail.norm())[: x.shape[0]]
    scale = x.norm() / reverberant.norm().clamp_min(1e-8)
    return math.sqrt(ROOM_DIRECT) * x + math.sqrt(1 - ROOM_DIRECT) * reverberant * scale


def coloured_noise(
    x: torch.Tensor, rate: int, exponent: float, snr_db: float, generator: torch.Generator
) -> torch.Tensor:
    """`x` plus noise of a 1/f^exponent power spectrum at `snr_db` over the whole of `x`."""
    noise = coloured(torch.randn(x.shape, generator=generator), rate, exponent)
    return AF.add_noise(x[None], noise[None], torch.tensor([snr_db]))[0]


def band_limit(
    x: torch.Tensor, rate: int, new_rate: int, low_hz: float, high_hz: float
) -> tuple[torch.Tensor, int]:
    """`x` as a microphone of that band records it: at `new_rate`, `low_hz`-`high_hz`."""
    x = AF.resample(x, rate, new_rate) if new_rate != rate else x
    return band_pass(x, new_rate, low_hz, high_hz), new_rate


CONDITIONS = {
    condition.name: condition
    for condition in (
        Condition("clean"),
        Condition("white-20db", noise=("white", 20.0)),
        Condition("white-10db", noise=("white", 10.0)),
        Condition("pink-10db", noise=("pink", 10.0)),
        Condition("brown-10db", noise=("brown", 10.0)),
        Condition("room-0.3s", rt60_s=0.3),
        Condition("room-0.8s", rt60_s=0.8),
        Condition("room-1.2s", rt60_s=1.2),
        Condition("phone", band=(8000, 300.0, 3400.0)),
        Condition("laptop", band=(16000, 100.0, 7000.0)),
        Condition("room-noise-phone", rt60_s=0.8, noise=("pink", 20.0), band=(8000, 300.0, 3400.0)),
    )
}


def conditions(names: str) -> list[Condition]:
    """`"clean,phone"` or `"all"` -> the conditions; ValueError naming an unknown one."""
    if names.strip() == "all":
        return list(CONDITIONS.values())
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CONDITIONS]
    if unknown or not wanted:
        raise ValueError(f"condition(s) {unknown or names!r}: expected 'all' or {list(CONDITIONS)}")
    return [CONDITIONS[name] for name in wanted]
