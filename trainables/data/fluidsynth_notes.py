"""Render piano notes with FluidSynth, the reference SoundFont synthesizer.

TinySoundFont, the default renderer, implements no SoundFont modulators. Most SoundFonts do
not need them; MuseScore General's acoustic pianos (presets 0, 1 and 3) do: rendered by
TinySoundFont, their top two octaves come out 40-50 dB below full scale and buried in the
samples' low rumble (the harmonics of the note are 20-45 dB below the rest of the signal),
while FluidSynth renders the same notes as a piano sounds (measured: `docs/best_model.md`).
Studies that train or test on many SoundFonts render with FluidSynth (`renderer:
fluidsynth` in a study's `dataset`).

Each instrument is rendered by a fresh synth, note after note in a fixed order, reverb and
chorus off: a build is repeatable byte for byte. (FluidSynth keeps a little state between
notes, about -50 dB: a note rendered after other notes is not bit-identical to the same
note rendered first.)
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from ctypes import c_int, c_void_p

import numpy as np

from trainables.data.instruments import Instrument, NoteTiming, missing_preset
from trainables.errors import SoundFontError
from trainables.keys import Key

#: FluidSynth's linear output gain: the loudest General MIDI piano note of the Debian
#: SoundFonts peaks near -5 dBFS, the quietest notes near -33 dBFS (PCM16 keeps them).
GAIN = 2.0
#: FluidSynth renders in blocks of 64 frames; every note starts on a block boundary.
BLOCK_FRAMES = 64
SETTINGS = {"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1}


def _fluidsynth():
    # pyfluidsynth prints where it found the library on stdout when CI is set: keep it out
    # of the stdout of the commands (their output is read by users and tests).
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except ImportError as error:  # pyfluidsynth is installed; libfluidsynth may not be
        raise SoundFontError(
            f"the fluidsynth renderer needs FluidSynth's library ({error}): "
            "`apt-get install libfluidsynth3` (platform/install.sh installs it)"
        ) from error
    return fluidsynth


class _Synth:
    """One FluidSynth synthesizer on one preset, writing float32 stereo."""

    def __init__(self, instrument: Instrument, sample_rate: int) -> None:
        fluidsynth = _fluidsynth()
        self._write_float = fluidsynth.cfunc(
            "fluid_synth_write_float",
            c_int,
            ("synth", c_void_p, 1),
            ("len", c_int, 1),
            ("lout", c_void_p, 1),
            ("loff", c_int, 1),
            ("lincr", c_int, 1),
            ("rout", c_void_p, 1),
            ("roff", c_int, 1),
            ("rincr", c_int, 1),
        )
        self.synth = fluidsynth.Synth(gain=GAIN, samplerate=sample_rate, **SETTINGS)
        self.instrument = instrument
        try:
            self.sfid = self.synth.sfload(str(instrument.soundfont))
            if self.sfid < 0:
                raise SoundFontError(
                    f"FluidSynth cannot read {instrument.soundfont} as a SoundFont"
                )
            self.reset()
        except BaseException:
            self.close()  # a synth that cannot play is not left holding its memory
            raise

    def reset(self) -> None:
        """All voices off, every controller back to its default, on the preset."""
        self.synth.system_reset()
        if self.synth.program_select(0, self.sfid, 0, self.instrument.preset) != 0:
            raise missing_preset(self.instrument)
        self.generate(BLOCK_FRAMES)

    def generate(self, frames: int) -> np.ndarray:
        """The next `frames` frames, (frames, 2) float32."""
        out = np.zeros((frames, 2), dtype=np.float32)
        address = out.ctypes.data
        self._write_float(self.synth.synth, frames, address, 0, 2, address, 1, 2)
        return out

    def close(self) -> None:
        self.synth.delete()


def render_notes_fluidsynth(
    instrument: Instrument,
    velocities: tuple[int, ...],
    timing: NoteTiming,
    keys: tuple[Key, ...],
) -> Iterator[tuple[Key, int, np.ndarray]]:
    """Yield (key, velocity, mono float32 audio of `timing.total_frames`) for each note."""
    synth = _Synth(instrument, timing.sample_rate)
    release_frames = timing.total_frames - timing.hold_frames
    # read on to a block boundary after each note, so that the next starts on one
    flush = -timing.total_frames % BLOCK_FRAMES
    try:
        for key in keys:
            for velocity in velocities:
                synth.reset()
                synth.synth.noteon(0, key.midi, velocity)
                held = synth.generate(timing.hold_frames)
                synth.synth.noteoff(0, key.midi)
                released = synth.generate(release_frames)
                synth.generate(flush)
                yield key, velocity, np.concatenate([held, released]).mean(axis=1)
    finally:
        synth.close()
