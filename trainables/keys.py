"""The 88 piano keys and their registers: the one place that owns these facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

LOWEST_MIDI = 21  # A0
HIGHEST_MIDI = 108  # C8
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NAME = re.compile(r"^([A-G]#?)(-?\d)$")


class Register(StrEnum):
    LOW = "low"  # A0-B2, MIDI 21-47
    MID = "mid"  # C3-B5, MIDI 48-83
    HIGH = "high"  # C6-C8, MIDI 84-108


REGISTER_RANGES: dict[Register, range] = {
    Register.LOW: range(21, 48),
    Register.MID: range(48, 84),
    Register.HIGH: range(84, 109),
}


@dataclass(frozen=True)
class Key:
    midi: int

    @property
    def index(self) -> int:
        """Position on the keyboard, 0 (A0) to 87 (C8)."""
        return self.midi - LOWEST_MIDI

    @property
    def name(self) -> str:
        return note_name(self.midi)

    @property
    def register(self) -> Register:
        return register_of(self.midi)

    @property
    def pitch_class(self) -> str:
        return PITCH_CLASSES[self.midi % 12]

    @property
    def octave(self) -> int:
        return self.midi // 12 - 1

    @property
    def is_black(self) -> bool:
        return self.pitch_class.endswith("#")


KEYS: tuple[Key, ...] = tuple(Key(m) for m in range(LOWEST_MIDI, HIGHEST_MIDI + 1))


def is_piano_key(midi: int) -> bool:
    return LOWEST_MIDI <= midi <= HIGHEST_MIDI


def _check(midi: int) -> None:
    if not is_piano_key(midi):
        raise ValueError(f"MIDI {midi} is not a piano key (expected {LOWEST_MIDI}-{HIGHEST_MIDI})")


def note_name(midi: int) -> str:
    """Scientific pitch name with sharps only: 21 -> 'A0', 22 -> 'A#0', 60 -> 'C4'."""
    _check(midi)
    return f"{PITCH_CLASSES[midi % 12]}{midi // 12 - 1}"


def midi_from_name(name: str) -> int:
    """Inverse of `note_name`; flats are rejected, the contract names keys with sharps."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a note name like 'A0', 'C#4' (sharps only)")
    pitch_class, octave = match.groups()
    midi = (int(octave) + 1) * 12 + PITCH_CLASSES.index(pitch_class)
    _check(midi)
    return midi


def register_of(midi: int) -> Register:
    _check(midi)
    return next(r for r, span in REGISTER_RANGES.items() if midi in span)


def key_index(midi: int) -> int:
    _check(midi)
    return midi - LOWEST_MIDI
