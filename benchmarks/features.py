"""Features: what one note's features cost, part by part, and nnAudio's constant-Q against
the project's (the same kernels, each convolved over its nonzero span only).

On the default dataset's notes (1.5 s, resampled to 16 kHz), batches of 64 as the feature
cache computes them, on every core: decoding and resampling, the noise of a noisy copy
(white, and coloured per note as `best`'s are), the recording effects of an augmented
copy, the mel spectrogram, and the constant-Q spectrogram both ways, interleaved, median
of rounds. Then how far the two constant-Q magnitudes are apart, and a cold feature cache
of the whole dataset built as the `best` study's trials build theirs (constant-Q; clean,
noisy and augmented copies).

    python -m benchmarks.features [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import common
from trainables.data.audio import load_waveforms
from trainables.data.dataset import open_dataset
from trainables.features.augment import EFFECTS, augment
from trainables.features.cache import FeatureCache
from trainables.features.spectrograms import (
    FeatureSettings,
    NoiseSettings,
    SpannedCQT,
    add_noise,
    mel_db,
    nnaudio_cqt,
)

NAME = "features"
TITLE = "Features: one note's cost, and the constant-Q two ways"
BATCH = 64


def per_note_ms(work, notes: int) -> float:
    """Milliseconds per note of `work()` over a batch of `notes`."""
    started = time.perf_counter()
    with torch.no_grad():
        work()
    return (time.perf_counter() - started) / notes * 1000


def run(quick: bool) -> dict[str, Any]:
    root = common.default_data()
    manifest, table = open_dataset(root)
    duration_s, dataset_hash = float(manifest["duration_s"]), manifest["dataset_hash"]
    notes = 8 if quick else BATCH
    paths = table["audio_path"].tolist()[:notes]
    keys = [f"note{i}" for i in range(notes)]
    settings = FeatureSettings(spectrogram="cqt")
    waveforms = load_waveforms(root, paths, duration_s, settings.sample_rate)
    theirs = nnaudio_cqt(settings.sample_rate, settings.hop_length)
    ours = SpannedCQT(theirs)
    ways = {
        "decode and resample": lambda: load_waveforms(
            root, paths, duration_s, settings.sample_rate
        ),
        "white noise (a noisy copy)": lambda: add_noise(waveforms, 10.0, 0, keys),
        "mixed-colour noise (`best`'s noisy copy)": lambda: add_noise(
            waveforms, 10.0, 0, keys, "mixed", settings.sample_rate
        ),
        "recording effects (an augmented copy)": lambda: augment(
            waveforms, settings.sample_rate, tuple(EFFECTS), 0, keys
        ),
        "mel spectrogram": lambda: mel_db(waveforms, FeatureSettings()),
        "constant-Q, nnAudio": lambda: theirs(waveforms),
        "constant-Q, spanned (the project's)": lambda: ours(waveforms),
    }
    for work in ways.values():  # warm-up: kernels, oneDNN's first calls
        per_note_ms(work, notes)
    timed = common.interleaved(
        {name: (lambda w=work: per_note_ms(w, notes)) for name, work in ways.items()},
        rounds=1 if quick else 3,
    )
    with torch.no_grad():
        expected, got = theirs(waveforms), ours(waveforms)
    loudest = expected.amax(dim=(1, 2), keepdim=True)

    cache = {}
    if not quick:
        noise = NoiseSettings(10.0, 10.0, 10.0, colour="mixed")
        config = {"snr": noise, "effects": tuple(EFFECTS)}
        with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
            features = FeatureCache(root, dataset_hash, duration_s, Path(tmp))
            all_paths = table["audio_path"].tolist()
            started = time.perf_counter()
            features.clean(all_paths, settings)
            features.noisy(all_paths, table["midi"].tolist(), settings, config["snr"])
            features.augmented(all_paths, settings, config["effects"], seed=0)
            cache = {"notes": len(all_paths), "copies": 3, "s": time.perf_counter() - started}
    return {
        "notes": notes,
        "note_s": duration_s,
        "sample_rate": settings.sample_rate,
        "ms_per_note": {name: value["median"] for name, value in timed.items()},
        "cqt_max_deviation_of_loudest": float(((got - expected).abs() / loudest).max()),
        "cqt_kernel_taps": {
            "nnAudio": 2 * theirs.cqt_kernels_real.numel(),
            "spanned": sum(k.numel() for k in ours.buffers()),
        },
        "cold_cache": cache,
    }


def render(result: dict[str, Any]) -> str:
    ms = result["ms_per_note"]
    rows = [[name, common.fmt(value)] for name, value in ms.items()]
    ratio = ms["constant-Q, nnAudio"] / ms["constant-Q, spanned (the project's)"]
    taps = result["cqt_kernel_taps"]
    lines = [
        f"{result['notes']} notes of the default dataset ({result['note_s']} s at "
        f"{result['sample_rate']} Hz), one batch; ms per note, median of interleaved rounds.",
        "",
        common.table(["work", "ms per note"], rows),
        "",
        f"The constant-Q spanned: **{ratio:.2f}x** nnAudio's speed, convolving "
        f"{taps['spanned']:,} kernel taps where nnAudio convolves {taps['nnAudio']:,} (every "
        "kernel zero-padded to the longest); the magnitudes differ by at most "
        f"{result['cqt_max_deviation_of_loudest']:.1e} of each note's loudest bin.",
    ]
    cache = result["cold_cache"]
    if cache:
        lines += [
            "",
            f"A cold feature cache of the dataset's {cache['notes']} notes, constant-Q, clean + "
            f"noisy + augmented copies as the `best` study computes them: {cache['s']:.1f} s, "
            f"{cache['s'] / (cache['notes'] * cache['copies']) * 1000:.1f} ms per copy.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(sys.modules[__name__]))
