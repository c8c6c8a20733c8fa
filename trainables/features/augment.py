"""What a real recording does to a note, as a training copy of every sample.

A SoundFont note starts on its first frame, at one level, dry, on a flat channel, tuned to
A = 440 Hz, in silence. A recording does none of that. Each effect named in a trial's
`augment` draws its own setting per sample, from a generator seeded by (seed, the effect,
the sample's key: its audio hash in the cache), so a note's copy is the same in any batch;
all named effects together make one more training copy of every sample, cached per note
like the noisy copies. Test audio is never augmented. The ranges are what a home recording
of a piano plausibly does:

- gain: -12 to +6 dB (`torchaudio.functional.gain`)
- delay: 0 to 60 ms of silence before the note (the onset search cuts a recording at
  its detected onset; this is what it misses by), the end cut to keep the length
- reverb: a small room, an exponentially decaying noise tail of RT60 0.15-0.6 s mixed in
  at 10-40% (`fftconvolve`)
- hall: a large room heard from a few metres, the same tail of RT60 0.6-1.5 s mixed in at
  30-60%: what a phone on a music stand records of a grand (the `room-0.8s` and
  `room-1.2s` test conditions mix at 50%)
- tilt: a bass and a treble shelf, each -6 to +6 dB (`bass_biquad`, `treble_biquad`)
- detune: -20 to +20 cents, in steps of 5 (`resample`): pianos are rarely at 440 Hz
- noise: background noise from white to brown (a 1/f^a spectrum, a in 0-2) at 15-40 dB
  SNR (`add_noise`)
- band: a phone's or a laptop's microphone, which keeps 50-300 Hz up to 3.4-8 kHz (each
  edge log-uniform; two biquads a side): the fundamentals of the lowest keys are gone and
  the key must be read from its partials
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torchaudio.functional as AF

from trainables.features.draws import normal_draws, note_generators, row_keys, uniform_draws

AUGMENTATIONS = ("gain", "delay", "reverb", "hall", "tilt", "detune", "noise", "band")
GAIN_DB = (-12.0, 6.0)
DELAY_S = (0.0, 0.06)
REVERB_RT60_S = (0.15, 0.6)
REVERB_WET = (0.1, 0.4)
HALL_RT60_S = (0.6, 1.5)
HALL_WET = (0.3, 0.6)
SHELF_DB = (-6.0, 6.0)
DETUNE_CENTS = (-20, -15, -10, -5, 5, 10, 15, 20)
NOISE_SNR_DB = (15.0, 40.0)
NOISE_COLOUR = (0.0, 2.0)  # the exponent a of the noise's 1/f^a power spectrum
#: Noise colours by name, the exponent a of each; `mixed` draws a per note from NOISE_COLOUR.
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
NOISE_COLOURS = (*COLOURS, "mixed")
BAND_LOW_HZ = (50.0, 300.0)
BAND_HIGH_HZ = (3400.0, 8000.0)


def parse(text: str | None) -> tuple[str, ...]:
    """`"gain, reverb"` -> ("gain", "reverb"); None or "" -> ()."""
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def augment(
    waveforms: torch.Tensor,
    sample_rate: int,
    names: tuple[str, ...],
    seed: int,
    keys: Sequence[str] | None = None,
) -> torch.Tensor:
    """(N, L) waveforms with every effect in `names` applied, each sample its own draw.

    A sample's draws depend on (seed, effect, its key) alone: give each note's audio hash
    as its key and its copy is the same whichever other notes share the batch. Without
    keys, each row is its own key (its index)."""
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {list(AUGMENTATIONS)}")
    keys = row_keys(waveforms.shape[0]) if keys is None else keys
    if len(keys) != waveforms.shape[0]:
        raise ValueError(f"{len(keys)} keys for {waveforms.shape[0]} waveforms")
    out = waveforms.clone()
    if not keys:
        return out
    for name in AUGMENTATIONS:  # a fixed order: the room before the microphone's noise
        if name in names:
            generators = note_generators(seed, keys, name)
            out = EFFECTS[name](out, sample_rate, uniform_draws(generators, 3), generators)
    return out


def canonical(names: tuple[str, ...]) -> tuple[str, ...]:
    """The effects in the order `augment` applies them: "reverb,gain" is "gain,reverb"."""
    return tuple(name for name in AUGMENTATIONS if name in names)


#: One generator per sample (trainables/features/draws.py).
Generators = Sequence[torch.Generator]


def _between(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _gain(x: torch.Tensor, rate: int, u: torch.Tensor, _: Generators) -> torch.Tensor:
    db = _between(u[:, 0], GAIN_DB)
    return torch.stack([AF.gain(sample, float(g)) for sample, g in zip(x, db, strict=True)])


def _delay(x: torch.Tensor, rate: int, u: torch.Tensor, _: Generators) -> torch.Tensor:
    frames = (_between(u[:, 0], DELAY_S) * rate).long()
    out = torch.zeros_like(x)
    for i, shift in enumerate(frames.tolist()):
        out[i, shift:] = x[i, : x.shape[1] - shift]
    return out


def _reverb(x: torch.Tensor, rate: int, u: torch.Tensor, g: Generators) -> torch.Tensor:
    return _tail(x, rate, u, REVERB_RT60_S, REVERB_WET, g)


def _hall(x: torch.Tensor, rate: int, u: torch.Tensor, g: Generators) -> torch.Tensor:
    return _tail(x, rate, u, HALL_RT60_S, HALL_WET, g)


def _tail(
    x: torch.Tensor,
    rate: int,
    u: torch.Tensor,
    rt60_s: tuple[float, float],
    wet_share: tuple[float, float],
    g: Generators,
) -> torch.Tensor:
    """`x` mixed with itself through a decaying noise tail, a tail and a mix per sample:
    it falls 60 dB (a factor 1000 in amplitude) in an RT60 drawn from `rt60_s`. Every tail
    is as long as the longest RT60 allows, so a note's draws do not depend on its batch."""
    rt60, wet = _between(u[:, 0], rt60_s), _between(u[:, 1], wet_share)
    length = int(rt60_s[1] * rate)
    t = torch.arange(length) / rate
    decay = torch.exp(-math.log(1000) * t / rt60[:, None])
    tails = normal_draws(g, length) * decay
    tails = tails / tails.norm(dim=1, keepdim=True)
    reverberant = AF.fftconvolve(x, tails)[:, : x.shape[1]]
    scale = x.norm(dim=1, keepdim=True) / reverberant.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return (1 - wet[:, None]) * x + wet[:, None] * reverberant * scale


def _tilt(x: torch.Tensor, rate: int, u: torch.Tensor, _: Generators) -> torch.Tensor:
    bass, treble = _between(u[:, 0], SHELF_DB), _between(u[:, 1], SHELF_DB)
    return torch.stack(
        [
            AF.treble_biquad(AF.bass_biquad(sample, rate, float(b)), rate, float(t))
            for sample, b, t in zip(x, bass, treble, strict=True)
        ]
    )


def _detune(x: torch.Tensor, rate: int, u: torch.Tensor, _: Generators) -> torch.Tensor:
    """Resampling by 2^(cents/1200) and playing at the old rate shifts every partial by
    `cents`; the note keeps its length (cut or padded at the end)."""
    cents = torch.tensor(DETUNE_CENTS)[(u[:, 0] * len(DETUNE_CENTS)).long()]
    out = torch.empty_like(x)
    for value in cents.unique().tolist():
        rows = cents == value
        new = round(1000 * 2 ** (-value / 1200))  # fewer samples: plays higher
        shifted = AF.resample(x[rows], 1000, new)
        length = min(shifted.shape[1], x.shape[1])
        out[rows] = 0.0
        out[rows, :length] = shifted[:, :length]
    return out


def _noise(x: torch.Tensor, rate: int, u: torch.Tensor, g: Generators) -> torch.Tensor:
    colour = _between(u[:, 0], NOISE_COLOUR)
    snr = _between(u[:, 1], NOISE_SNR_DB)
    return AF.add_noise(x, coloured(normal_draws(g, x.shape[1]), rate, colour[:, None]), snr)


def coloured(white: torch.Tensor, rate: int, exponent: torch.Tensor | float) -> torch.Tensor:
    """White noise (..., L) shaped to a 1/f^exponent power spectrum (flat below 20 Hz)."""
    frequency = torch.fft.rfftfreq(white.shape[-1], 1 / rate).clamp_min(20.0)
    return torch.fft.irfft(torch.fft.rfft(white) * frequency ** (-exponent / 2), n=white.shape[-1])


def colour_exponents(colour: str, seed: int, keys: Sequence[str]) -> torch.Tensor:
    """(len(keys),) exponents of the noise `colour` names; `mixed` draws each note's
    from (seed, the note's key) alone, uniform over white to brown."""
    if colour == "mixed":
        u = uniform_draws(note_generators(seed, keys, "noise colour"), 1)[:, 0]
        return _between(u, NOISE_COLOUR)
    return torch.full((len(keys),), COLOURS[colour])


def band_pass(x: torch.Tensor, rate: int, low_hz: float, high_hz: float) -> torch.Tensor:
    """`x` through a microphone's band: two biquads a side, 24 dB an octave beyond it."""
    for _ in range(2):
        x = AF.lowpass_biquad(AF.highpass_biquad(x, rate, low_hz), rate, high_hz)
    return x


def _band(x: torch.Tensor, rate: int, u: torch.Tensor, _: Generators) -> torch.Tensor:
    low = _log_between(u[:, 0], BAND_LOW_HZ)
    high = _log_between(u[:, 1], BAND_HIGH_HZ).clamp(max=0.45 * rate)
    # in float64: a float32 recursion with a pole this near 1 (a 50 Hz cut) grows rounding
    # differences 50-fold, and a note's copy would depend on the batch it was computed in
    return torch.stack(
        [
            band_pass(s.double(), rate, lo, hi).to(x.dtype)
            for s, lo, hi in zip(x, low.tolist(), high.tolist(), strict=True)
        ]
    )


def _log_between(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    return torch.exp(_between(u, (math.log(bounds[0]), math.log(bounds[1]))))


EFFECTS = {
    "gain": _gain,
    "delay": _delay,
    "reverb": _reverb,
    "hall": _hall,
    "tilt": _tilt,
    "detune": _detune,
    "noise": _noise,
    "band": _band,
}
