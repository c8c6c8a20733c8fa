"""Debian's SoundFonts (fluid-soundfont-gm, musescore-general-soundfont), which `.ci/run`
installs: more instruments by path, .sf2 and .sf3 alike."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from pretty_midi import note_number_to_hz

from trainables.data.annotations import load_annotations
from trainables.data.dataset import RELATIVE_SILENCE_DB, DatasetSpec, build_dataset
from trainables.data.instruments import Instrument, NoteTiming
from trainables.data.rendering import render_notes
from trainables.keys import KEYS

FLUID = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")

pytestmark = pytest.mark.slow


def test_debian_soundfonts_add_instruments(tmp_path):
    """No note of these four pianos is nearly silent: every one of the 704 is kept, as a
    row and a file, its peak within 40 dB of its instrument's median peak."""
    spec = DatasetSpec(soundfonts=(FLUID, MUSESCORE), presets=(0, 4), velocities=(40, 120))
    info = build_dataset(tmp_path / "debian", spec)
    frame = load_annotations(info.root)
    instruments = ("FluidR3_GM-p0", "FluidR3_GM-p4", "MuseScore_General-p0", "MuseScore_General-p4")
    assert info.dropped == () and info.n_samples == len(frame) == 4 * 88 * 2
    rows = set(zip(frame["instrument"], frame["note"], frame["velocity"], strict=True))
    assert rows == {(i, k.name, v) for i in instruments for k in KEYS for v in (40, 120)}
    for instrument, notes in frame.groupby("instrument"):
        peaks = np.array(
            [np.abs(soundfile.read(info.root / p)[0]).max() for p in notes["audio_path"]]
        )
        assert peaks.min() >= np.median(peaks) * 10 ** (RELATIVE_SILENCE_DB / 20), instrument
    c4 = {
        i: soundfile.read(info.root / f"audio/{i}/C4_v120.wav")[0]
        for i in ("FluidR3_GM-p0", "MuseScore_General-p0")
    }
    assert all(np.abs(a).max() > 0.01 for a in c4.values())
    assert not np.allclose(*c4.values(), atol=1e-3)  # two different pianos


def harmonic_share_db(audio: np.ndarray, midi: int, sample_rate: int) -> float:
    """How much of a note's energy lies within a quarter tone of its harmonics, in dB."""
    power = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), 1 << 16)) ** 2
    hz = np.maximum(np.fft.rfftfreq(1 << 16, 1 / sample_rate), 1.0)
    cents = 1200 * np.log2(hz[:, None] / (note_number_to_hz(midi) * np.arange(1, 20)))
    return float(10 * np.log10(power[(np.abs(cents) < 50).any(axis=1)].sum() / power.sum()))


def test_fluidsynth_renders_musescore_general_s_top_keys_that_tinysoundfont_loses():
    """TinySoundFont applies no modulators: MuseScore's grand piano's top keys come out
    as rumble with the note far below it; FluidSynth plays them (fluidsynth_notes.py)."""
    piano, timing = Instrument(MUSESCORE, 0), NoteTiming()
    top = tuple(key for key in KEYS if key.name in ("E7", "C8"))
    for renderer, at_least, at_most in (("fluidsynth", -10, 0), ("tinysoundfont", -90, -15)):
        for key, _, audio in render_notes(piano, (100,), timing, top, renderer=renderer):
            share = harmonic_share_db(audio, key.midi, timing.sample_rate)
            assert at_least < share <= at_most, (renderer, key.name, share)
