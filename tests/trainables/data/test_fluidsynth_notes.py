"""The fluidsynth renderer: real FluidSynth, on the default SoundFont (no Debian package)."""

import json

import numpy as np
import pytest
from pretty_midi import note_number_to_hz

from trainables.data.dataset import DatasetSpec, build_dataset
from trainables.data.instruments import DEFAULT_SOUNDFONT, Instrument, NoteTiming
from trainables.data.rendering import render_notes
from trainables.errors import SoundFontError
from trainables.keys import KEYS

TIMING = NoteTiming(sample_rate=16000, hold_s=0.3, release_s=0.2)
PIANO = Instrument(DEFAULT_SOUNDFONT, 0)


def loudest_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), 1 << 16))
    return float(np.fft.rfftfreq(1 << 16, 1 / sample_rate)[np.argmax(spectrum)])


def test_fluidsynth_renders_each_key_at_its_pitch_and_repeatably():
    keys = (KEYS[24], KEYS[48], KEYS[72])  # A2, A4, A6
    first = list(render_notes(PIANO, (100,), TIMING, keys, renderer="fluidsynth"))
    again = list(render_notes(PIANO, (100,), TIMING, keys, renderer="fluidsynth"))
    for (key, velocity, audio), (_, _, repeat) in zip(first, again, strict=True):
        assert velocity == 100 and audio.shape == (TIMING.total_frames,)
        assert np.array_equal(audio, repeat)
        # the loudest partial is the fundamental or a harmonic of it, within a third of
        # a semitone
        harmonic = loudest_hz(audio, TIMING.sample_rate) / note_number_to_hz(key.midi)
        assert abs(1200 * np.log2(harmonic / round(harmonic))) < 33, key.name


def test_the_two_renderers_play_the_same_note_differently():
    [(_, _, tsf)] = render_notes(PIANO, (100,), TIMING, (KEYS[39],))
    [(_, _, fluid)] = render_notes(PIANO, (100,), TIMING, (KEYS[39],), renderer="fluidsynth")
    assert np.abs(fluid).max() > 1e-2 and np.abs(tsf).max() > 1e-2
    assert not np.allclose(tsf, fluid, atol=1e-3)


def test_an_unknown_renderer_is_named_before_anything_renders(tmp_path):
    with pytest.raises(SoundFontError, match="renderer 'timidity' is not one of"):
        list(render_notes(PIANO, (100,), TIMING, (KEYS[0],), renderer="timidity"))
    spec = DatasetSpec(presets=(0,), velocities=(90,), renderer="timidity")
    with pytest.raises(SoundFontError, match="renderer 'timidity'"):
        build_dataset(tmp_path / "x", spec)
    assert not (tmp_path / "x").exists()


def test_a_preset_the_soundfont_lacks_is_named_by_fluidsynth_too():
    lacking = Instrument(DEFAULT_SOUNDFONT, 200)
    with pytest.raises(SoundFontError, match=r"TimGM6mb.sf2 has no bank-0 preset 200 \(it defines"):
        list(render_notes(lacking, (100,), TIMING, renderer="fluidsynth"))


def test_a_dataset_records_its_renderer_and_one_built_before_the_choice_still_counts(
    tmp_path,
):
    spec = DatasetSpec(presets=(0,), velocities=(90,), renderer="fluidsynth")
    info = build_dataset(tmp_path / "fluid", spec)
    manifest = json.loads((info.root / "dataset.json").read_text())
    assert manifest["spec"]["renderer"] == "fluidsynth" and info.n_samples == 88
    # a folder rendered by TinySoundFont before datasets named their renderer
    old = build_dataset(tmp_path / "old", DatasetSpec(presets=(0,), velocities=(90,)))
    path = old.root / "dataset.json"
    manifest = json.loads(path.read_text())
    del manifest["spec"]["renderer"]
    path.write_text(json.dumps(manifest))
    again = build_dataset(old.root, DatasetSpec(presets=(0,), velocities=(90,)))
    assert not again.built and again.dataset_hash == old.dataset_hash
