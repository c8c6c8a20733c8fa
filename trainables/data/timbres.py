"""Which instruments share their samples: a held-out instrument's twins must not train.

SoundFonts borrow from each other. FluidR3Mono is FluidR3 GM mixed to mono, MuseScore
General's Electric Grand and Tine EP are FluidR3's presets 2 and 4, and a small SoundFont
plays one sample set through several presets. Holding one out while its twin trains would
test on audio the model has heard. An instrument's fingerprint is the standardised mel
spectrogram (dB) of a few probe keys; on the SoundFonts the timbre study renders,
instruments that share samples correlate 0.96-1.00 and distinct pianos at most 0.88.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import torch
import torchaudio

log = logging.getLogger(__name__)

#: Keys across the keyboard the fingerprint listens to, at the velocity nearest 80.
PROBE_NOTES = ("A0", "A1", "C3", "C4", "A5", "E6", "C8")
PROBE_VELOCITY = 80
#: Mean correlation of the probes' fingerprints at or above which two instruments are twins.
TWIN_CORRELATION = 0.95


def soundfont_of(instrument: str) -> str:
    """`FluidR3_GM-p4` -> `FluidR3_GM`: the SoundFont a rendered instrument comes from
    (an imported instrument is its own)."""
    stem, _, preset = instrument.rpartition("-p")
    return stem if stem and preset.isdigit() else instrument


def held_instruments(frame: pd.DataFrame, names: tuple[str, ...]) -> set[str]:
    """The dataset's instruments that `names` hold out: each name is an instrument or a
    whole SoundFont (its file name without the extension)."""
    instruments = set(frame["instrument"])
    return {i for i in instruments if i in names or soundfont_of(i) in names}


def fingerprints(root: Path, frame: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Instrument -> probe note -> standardised mel spectrogram (dB), from the dataset's
    wavs (a probe key an instrument lacks, dropped as silent, is left out)."""
    probes = frame[frame["note"].isin(PROBE_NOTES)].copy()
    probes["distance"] = (probes["velocity"] - PROBE_VELOCITY).abs()
    probes = probes.sort_values("distance").drop_duplicates(["instrument", "note"])
    mels: dict[int, torchaudio.transforms.MelSpectrogram] = {}
    result: dict[str, dict[str, np.ndarray]] = {}
    for row in probes.itertuples():
        audio, rate = soundfile.read(root / row.audio_path, dtype="float32", always_2d=True)
        if rate not in mels:
            mels[rate] = torchaudio.transforms.MelSpectrogram(
                rate, n_fft=2048, hop_length=512, n_mels=64
            )
        power = mels[rate](torch.from_numpy(audio.mean(axis=1)))
        db = torchaudio.functional.amplitude_to_DB(power, 10.0, 1e-10, 0.0, top_db=80.0)
        db = db.flatten()
        result.setdefault(row.instrument, {})[row.note] = ((db - db.mean()) / db.std()).numpy()
    return result


def similarity(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Mean correlation of two fingerprints over the probe notes both have."""
    shared = [n for n in a if n in b and a[n].shape == b[n].shape]
    if not shared:
        return 0.0
    return float(np.mean([np.corrcoef(a[n], b[n])[0, 1] for n in shared]))


def twins_of(root: Path, frame: pd.DataFrame, held: set[str]) -> dict[str, list[str]]:
    """Each instrument outside `held` that shares samples with one inside it -> those
    instruments (with their correlation), to keep out of training."""
    prints = fingerprints(root, frame)
    twins: dict[str, list[str]] = {}
    for other in sorted(set(prints) - held):
        for instrument in sorted(held & set(prints)):
            score = similarity(prints[instrument], prints[other])
            if score >= TWIN_CORRELATION:
                twins.setdefault(other, []).append(f"{instrument} ({score:.3f})")
    return twins
