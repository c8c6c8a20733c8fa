"""The onset detector on real rendered notes, silence, noise and too-short files."""

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from trainables.data.audio import read_wav
from trainables.data.onsets import (
    MIN_RECORDING_S,
    NoNoteFound,
    RecordingTooShort,
    cut_window,
    find_onset,
)


@pytest.fixture(scope="module")
def note(small_root):
    """A rendered C4 (22.05 kHz mono, starting at its first sample)."""
    return read_wav(small_root / "audio/TimGM6mb-p0/C4_v60.wav")


def as_recording(audio: np.ndarray, rate: int, silence_s: float, seconds: float, out_rate=44100):
    """The note as a user's recording: `out_rate` stereo, `silence_s` before the note."""
    mono = AF.resample(torch.from_numpy(audio[:, 0]), rate, out_rate).numpy()
    padded = np.concatenate([np.zeros(round(silence_s * out_rate)), mono])
    padded = np.pad(padded, (0, max(0, round(seconds * out_rate) - len(padded))))
    padded = padded[: round(seconds * out_rate)]
    return np.stack([padded, 0.7 * padded], axis=1).astype(np.float32), out_rate


def test_a_rendered_note_starts_at_its_first_frame(note):
    audio, rate = note
    assert find_onset(audio, rate).time_s == 0.0


@pytest.mark.parametrize("silence_s", [0.05, 0.3, 1.0])
def test_silence_before_the_note_is_found_to_5_ms(note, silence_s):
    recording, rate = as_recording(*note, silence_s=silence_s, seconds=3.5)
    assert find_onset(recording, rate).time_s == pytest.approx(silence_s, abs=0.005)


def test_background_noise_does_not_move_the_onset(note):
    recording, rate = as_recording(*note, silence_s=0.3, seconds=3.5)
    noisy = recording + np.random.default_rng(0).normal(0, 0.003, recording.shape)
    assert find_onset(noisy.astype(np.float32), rate).time_s == pytest.approx(0.3, abs=0.01)


def test_the_window_starts_at_the_note_and_pads_a_short_recording(note):
    audio, rate = note
    recording, out_rate = as_recording(audio, rate, silence_s=0.3, seconds=1.0)
    window = cut_window(recording, out_rate, duration_s=1.5)
    assert window.audio.shape == (round(1.5 * out_rate),)
    assert window.padded_s == pytest.approx(0.8, abs=0.01)  # 0.7 s of note after 0.3 s
    assert np.abs(window.audio[:220]).max() > 0.01  # the attack, not the silence before it
    long_recording, _ = as_recording(audio, rate, silence_s=0.3, seconds=3.5)
    window = cut_window(long_recording, out_rate, duration_s=1.5)
    assert window.padded_s == 0 and window.cut_s == pytest.approx(1.7, abs=0.01)


def test_silence_noise_and_too_short_files_are_refused_by_name():
    rate = 44100
    with pytest.raises(NoNoteFound, match=r"quiet\.wav: no note: silent"):
        find_onset(np.zeros((rate, 2), np.float32), rate, "quiet.wav")
    hiss = np.random.default_rng(1).normal(0, 0.05, rate).astype(np.float32)
    with pytest.raises(NoNoteFound, match=r"hiss\.wav: no note: its level varies by only"):
        find_onset(hiss, rate, "hiss.wav")
    with pytest.raises(RecordingTooShort, match=rf"blip\.wav: lasts 0\.020 s.*{MIN_RECORDING_S}"):
        find_onset(hiss[: round(0.02 * rate)], rate, "blip.wav")
