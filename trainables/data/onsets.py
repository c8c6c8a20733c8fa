"""Where a recorded note starts, and the model's window cut from there.

A rendered training note starts at its first sample; a real recording has silence (or
room noise) before the key is struck and lasts as long as the recorder ran. Cutting every
recording at its detected onset, and padding or trimming it to the training note length,
gives the model the view of the note it was trained on.

The detector reads the level envelope in 5 ms frames. A note rises far above the
recording's quietest part, or, in a take cut at the note that sustains to its end, shows
its partials as narrow peaks in the spectrum; a file of silence or of noise does neither,
and is refused instead of being read as some key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import welch

from trainables.data.audio import SILENCE_PEAK, fit_samples
from trainables.errors import DatasetError

FRAME_S = 0.005
#: The onset search needs this much audio: enough frames to tell a floor from a peak.
MIN_RECORDING_S = 0.1
#: A note's loudest frame stands at least this far above the quietest tenth of the file...
NOTE_CONTRAST_DB = 15.0
#: ...or its strongest partial this far above the spectrum around it. Measured: piano
#: notes 16-44 dB (A0 lowest), white noise 2.4 dB, brown noise 7.7 dB.
TONALITY_DB = 12.0
#: The note is found where the level first passes floor + ONSET_SHARE x (peak - floor); its
#: onset is the start of that rise, back to where the level was below RISE_SHARE of it.
ONSET_SHARE = 0.5
RISE_SHARE = 0.2


class NoNoteFound(DatasetError):
    """A recording holds no note: silence, or a level that never rises (noise only)."""


class RecordingTooShort(DatasetError):
    """A recording is too short for the onset search."""


@dataclass(frozen=True)
class Onset:
    time_s: float  # where the note starts
    contrast_db: float  # its loudest frame over the quietest tenth of the recording
    tonality_db: float  # its strongest spectral peak over the spectrum around it


@dataclass(frozen=True)
class Window:
    audio: np.ndarray  # mono float32, exactly the asked length
    onset: Onset
    padded_s: float  # silence added at the end: the recording ended before the window did
    cut_s: float  # audio dropped after the window


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames,) float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.ndim != 1:
        raise ValueError(f"audio of shape {audio.shape}: expected (frames,) or (frames, channels)")
    return audio


def frame_size(rate: int) -> int:
    return max(1, round(FRAME_S * rate))


def level_db(audio: np.ndarray, rate: int) -> np.ndarray:
    """RMS level per frame of `frame_size` samples (about FRAME_S), dBFS."""
    size = frame_size(rate)
    n = audio.shape[0] // size
    frames = audio[: n * size].reshape(n, size).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def tonality_db(audio: np.ndarray, rate: int) -> float:
    """How far the strongest narrow peak of the averaged spectrum (Welch, ~90 ms segments)
    stands above the median of the 31 bins around it: partials do, noise of any colour
    does not."""
    segment = min(audio.shape[0], 1 << int(np.log2(max(rate * 0.09, 64))))
    _, power = welch(audio, rate, nperseg=segment)
    level = 10 * np.log10(power + 1e-20)
    return float(np.max(level - median_filter(level, size=31, mode="nearest")))


def find_onset(audio: np.ndarray, rate: int, source: str = "recording") -> Onset:
    """The onset of the one note in `audio` (mono or (frames, channels)); `source` names the
    recording in the errors: NoNoteFound, RecordingTooShort."""
    audio = to_mono(audio)
    seconds = audio.shape[0] / rate
    if seconds < MIN_RECORDING_S:
        raise RecordingTooShort(
            f"{source}: lasts {seconds:.3f} s; the onset search needs at least "
            f"{MIN_RECORDING_S} s of audio"
        )
    peak = float(np.abs(audio).max())
    if peak < SILENCE_PEAK:
        raise NoNoteFound(f"{source}: no note: silent (peak {peak:.2g}, below -80 dBFS)")
    levels = level_db(audio, rate)
    floor, loudest = float(np.percentile(levels, 10)), float(levels.max())
    contrast = loudest - floor
    tonality = tonality_db(audio, rate)
    if contrast < NOTE_CONTRAST_DB and tonality < TONALITY_DB:
        raise NoNoteFound(
            f"{source}: no note: its level varies by only {contrast:.1f} dB and no partial "
            f"stands out of its spectrum (at most {tonality:.1f} dB): noise only? A note "
            f"rises {NOTE_CONTRAST_DB:g} dB above the quietest part or has partials "
            f"{TONALITY_DB:g} dB above the spectrum around them"
        )
    start = int(np.argmax(levels >= floor + ONSET_SHARE * contrast))
    while start > 0 and levels[start - 1] >= floor + RISE_SHARE * contrast:
        start -= 1
    return Onset(start * frame_size(rate) / rate, contrast, tonality)


def cut_window(
    audio: np.ndarray, rate: int, duration_s: float, source: str = "recording"
) -> Window:
    """`duration_s` of mono audio from the note's onset, padded with silence if the
    recording ends first."""
    audio = to_mono(audio)
    onset = find_onset(audio, rate, source)
    start, length = round(onset.time_s * rate), round(duration_s * rate)
    after_onset = audio.shape[0] - start
    return Window(
        fit_samples(audio[start:], length),
        onset,
        padded_s=max(0, length - after_onset) / rate,
        cut_s=max(0, after_onset - length) / rate,
    )
