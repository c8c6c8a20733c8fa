"""An instrument is a SoundFont and a preset: where its SoundFont is found, which presets it
has, and how each of its notes is timed."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import tinysoundfont

from trainables.errors import SoundFontError

#: General MIDI's small SoundFont inside `pretty_midi`: the default dataset needs no download.
#: (Found, not imported: importing pretty_midi imports pyfluidsynth, which prints on stdout
#: where the environment variable CI is set.)
DEFAULT_SOUNDFONT = Path(find_spec("pretty_midi").origin).parent / "TimGM6mb.sf2"
#: General MIDI presets 0-7 are the piano family.
PIANO_PRESETS = tuple(range(8))
#: Where a SoundFont named by its file name alone is looked for: the default's folder, then
#: where Debian's SoundFont packages put theirs.
SOUNDFONT_FOLDERS = (
    DEFAULT_SOUNDFONT.parent,
    Path("/usr/share/sounds/sf2"),
    Path("/usr/share/sounds/sf3"),
)
#: The Debian package that installs each SoundFont the shipped studies and docs name.
DEBIAN_PACKAGES = {
    "FluidR3_GM.sf2": "fluid-soundfont-gm",
    "FluidR3Mono_GM.sf3": "fluidr3mono-gm-soundfont",
    "MuseScore_General_Full.sf2": "musescore-general-soundfont-lossless",
    "MuseScore_General_Full.sf3": "musescore-general-soundfont",
    "sf_GMbank.sf2": "csound-soundfont",
    "OPL-3_FM_128M.sf2": "opl3-soundfont",
}


@dataclass(frozen=True)
class NoteTiming:
    """Every note is held, then released, and recorded for the same total length."""

    sample_rate: int = 22050
    hold_s: float = 1.0
    release_s: float = 0.5
    gain_db: float = 12.0  # tinysoundfont renders quietly; this keeps PCM16 resolution

    @property
    def hold_frames(self) -> int:
        return round(self.hold_s * self.sample_rate)

    @property
    def total_frames(self) -> int:
        return self.hold_frames + round(self.release_s * self.sample_rate)


@dataclass(frozen=True)
class Instrument:
    """A (SoundFont, preset) pair; its name is what annotations.csv records."""

    soundfont: Path
    preset: int

    @property
    def name(self) -> str:
        return f"{self.soundfont.stem}-p{self.preset}"


def find_soundfont(name: str | Path) -> Path:
    """A SoundFont path as given, or one named by its file name alone (`FluidR3_GM.sf2`)
    found in SOUNDFONT_FOLDERS; an error says where it looked and what installs it."""
    path = Path(name)
    if path.is_file():
        return path
    if path.name == str(path):
        for folder in SOUNDFONT_FOLDERS:
            if (folder / path).is_file():
                return folder / path
    package = DEBIAN_PACKAGES.get(path.name)
    install = f"; `apt-get install {package}` provides it" if package else ""
    looked = "" if path.name != str(path) else f" nor in {[str(f) for f in SOUNDFONT_FOLDERS]}"
    raise SoundFontError(f"SoundFont {name} is not a file{looked}{install}")


def open_soundfont(path: Path, timing: NoteTiming) -> tuple[tinysoundfont.Synth, int]:
    if not path.is_file():
        raise SoundFontError(f"SoundFont {path} does not exist (expected an .sf2 or .sf3 file)")
    synth = tinysoundfont.Synth(gain=timing.gain_db, samplerate=timing.sample_rate)
    try:
        sfid = synth.sfload(str(path))
    except (RuntimeError, tinysoundfont.SoundFontException) as error:
        raise SoundFontError(
            f"{path} is not a readable SoundFont (expected .sf2/.sf3 data): {error}"
        ) from error
    return synth, sfid


def preset_names(path: Path) -> dict[int, str]:
    """Bank-0 preset number -> name, for the presets this SoundFont defines."""
    synth, sfid = open_soundfont(path, NoteTiming())
    soundfont = synth.soundfonts[sfid]
    names = {}
    for preset in range(128):
        index = soundfont.get_preset_index(0, preset)
        if index >= 0:
            names[preset] = soundfont.get_preset_name(index)
    return names


def missing_preset(instrument: Instrument) -> SoundFontError:
    """The error for an instrument whose SoundFont lacks its preset, naming those it has."""
    available = sorted(preset_names(instrument.soundfont))
    return SoundFontError(
        f"{instrument.soundfont} has no bank-0 preset {instrument.preset} "
        f"(it defines {available[:16]}{'...' if len(available) > 16 else ''})"
    )
