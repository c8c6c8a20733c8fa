"""Render piano notes from SoundFonts with TinySoundFont (the default) or FluidSynth."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from trainables.data.fluidsynth_notes import render_notes_fluidsynth
from trainables.data.instruments import Instrument, NoteTiming, missing_preset, open_soundfont
from trainables.errors import SoundFontError
from trainables.keys import KEYS, Key

#: What renders a SoundFont's notes: TinySoundFont, small and built in (the thesis's
#: datasets), or FluidSynth, the reference synthesizer, which also applies the SoundFont's
#: modulators (trainables/data/fluidsynth_notes.py says which SoundFonts need it).
RENDERERS = ("tinysoundfont", "fluidsynth")
DEFAULT_RENDERER = "tinysoundfont"


def check_renderer(renderer: str) -> None:
    if renderer not in RENDERERS:
        raise SoundFontError(f"renderer {renderer!r} is not one of {list(RENDERERS)}")


def render_notes(
    instrument: Instrument,
    velocities: tuple[int, ...],
    timing: NoteTiming,
    keys: tuple[Key, ...] = KEYS,
    renderer: str = DEFAULT_RENDERER,
) -> Iterator[tuple[Key, int, np.ndarray]]:
    """Yield (key, velocity, mono float32 audio of `timing.total_frames`) for each note.

    Each note starts from silence (all sounds cut before it). With TinySoundFont a render
    depends only on its own (instrument, key, velocity) and the bytes are the same every
    time; with FluidSynth, on the order too (trainables/data/fluidsynth_notes.py).
    """
    check_renderer(renderer)
    for velocity in velocities:
        if not 1 <= velocity <= 127:
            raise SoundFontError(f"velocity {velocity} is outside MIDI's 1-127")
    if renderer == "fluidsynth":  # it loads the SoundFont itself: no TinySoundFont copy
        yield from render_notes_fluidsynth(instrument, velocities, timing, keys)
        return
    synth, sfid = open_soundfont(instrument.soundfont, timing)
    try:
        synth.program_select(0, sfid, 0, instrument.preset)
    except RuntimeError as error:
        raise missing_preset(instrument) from error
    release_frames = timing.total_frames - timing.hold_frames
    for key in keys:
        for velocity in velocities:
            synth.sounds_off(0)
            synth.generate(1)  # let the cut take effect before the next note
            synth.noteon(0, key.midi, velocity)
            held = np.frombuffer(synth.generate(timing.hold_frames), dtype=np.float32)
            synth.noteoff(0, key.midi)
            released = np.frombuffer(synth.generate(release_frames), dtype=np.float32)
            stereo = np.concatenate([held, released]).reshape(-1, 2)
            yield key, velocity, stereo.mean(axis=1)
