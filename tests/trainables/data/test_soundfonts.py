import numpy as np
import pytest

from trainables.data.instruments import DEFAULT_SOUNDFONT, Instrument, NoteTiming, preset_names
from trainables.data.rendering import render_notes
from trainables.errors import SoundFontError
from trainables.keys import KEYS

TIMING = NoteTiming(sample_rate=16000, hold_s=0.3, release_s=0.2)


def test_default_soundfont_ships_with_pretty_midi_and_has_the_gm_pianos():
    assert DEFAULT_SOUNDFONT.is_file()
    names = preset_names(DEFAULT_SOUNDFONT)
    assert all(p in names for p in range(8))
    assert "Piano" in names[0]


def test_render_gives_one_length_audible_and_repeatable_notes():
    keys = (KEYS[0], KEYS[39], KEYS[-1])
    first = list(render_notes(Instrument(DEFAULT_SOUNDFONT, 0), (100,), TIMING, keys))
    again = list(render_notes(Instrument(DEFAULT_SOUNDFONT, 0), (100,), TIMING, keys))
    assert len(first) == 3
    for (key, velocity, audio), (_, _, repeat) in zip(first, again, strict=True):
        assert velocity == 100
        assert audio.shape == (TIMING.total_frames,)
        assert np.abs(audio).max() > 1e-3, key.name
        assert np.array_equal(audio, repeat)


def test_release_makes_the_note_decay():
    [(_, _, audio)] = render_notes(Instrument(DEFAULT_SOUNDFONT, 0), (100,), TIMING, (KEYS[39],))
    held = np.abs(audio[: TIMING.hold_frames]).max()
    tail = np.abs(audio[-200:]).max()
    assert tail < held / 4


def test_missing_soundfont_is_named(tmp_path):
    with pytest.raises(SoundFontError, match="nothing.sf2 does not exist"):
        preset_names(tmp_path / "nothing.sf2")


def test_file_that_is_not_a_soundfont_is_named(tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00not a soundfont at all")
    with pytest.raises(SoundFontError, match="fake.sf2 is not a readable SoundFont"):
        preset_names(fake)


def test_missing_preset_is_named():
    with pytest.raises(SoundFontError, match="no bank-0 preset 200"):
        list(render_notes(Instrument(DEFAULT_SOUNDFONT, 200), (100,), TIMING, (KEYS[0],)))
