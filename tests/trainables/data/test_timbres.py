"""Held out means never heard: a held-out instrument's twins (the same samples under another
name) stay out of training, and a SoundFont can be held out by its name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from trainables.data.instruments import (
    DEFAULT_SOUNDFONT,
    Instrument,
    NoteTiming,
    find_soundfont,
)
from trainables.data.rendering import render_notes
from trainables.data.timbres import (
    PROBE_NOTES,
    TWIN_CORRELATION,
    fingerprints,
    held_instruments,
    similarity,
    soundfont_of,
)
from trainables.errors import DatasetError, SoundFontError
from trainables.keys import KEYS
from trainables.training.config import TrialConfig
from trainables.training.data import split_rows

TIMING = NoteTiming(sample_rate=16000, hold_s=0.6, release_s=0.2)
#: piano, electric piano, harpsichord: three timbres of one SoundFont
PRESETS = (0, 4, 6)


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The probe notes of the default SoundFont and of a copy of it under another name
    (the same samples: twins), as a dataset folder and its annotations."""
    root = tmp_path_factory.mktemp("probes")
    copy = shutil.copy(DEFAULT_SOUNDFONT, root / "Copy.sf2")
    keys = tuple(k for k in KEYS if k.name in PROBE_NOTES)
    rows = []
    for soundfont in (DEFAULT_SOUNDFONT, Path(copy)):
        for preset in PRESETS:
            instrument = Instrument(soundfont, preset)
            for key, velocity, audio in render_notes(instrument, (80,), TIMING, keys):
                path = f"audio/{instrument.name}/{key.name}_v{velocity}.wav"
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(root / path, audio, TIMING.sample_rate)
                rows.append((path, key.midi, key.name, instrument.name, velocity, "train"))
    columns = ["audio_path", "midi", "note", "instrument", "velocity", "split"]
    return root, pd.DataFrame(rows, columns=columns)


def instruments(frame: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(frame.loc[rows, "instrument"])


def test_the_same_samples_are_twins_and_other_presets_are_not(probes):
    prints = fingerprints(*probes)
    assert set(prints["TimGM6mb-p0"]) == set(PROBE_NOTES)
    assert similarity(prints["TimGM6mb-p0"], prints["Copy-p0"]) == pytest.approx(1.0)
    for other in ("TimGM6mb-p4", "TimGM6mb-p6", "Copy-p6"):
        assert similarity(prints["TimGM6mb-p0"], prints[other]) < TWIN_CORRELATION, other


def test_a_held_out_instruments_twin_does_not_train(probes):
    root, frame = probes
    rows = split_rows(frame, TrialConfig(held_out="TimGM6mb-p0"), root)
    assert instruments(frame, rows.test) == {"TimGM6mb-p0"}
    assert rows.left_out == ("Copy-p0",)
    assert instruments(frame, rows.train) == {
        "TimGM6mb-p4",
        "TimGM6mb-p6",
        "Copy-p4",
        "Copy-p6",
    }


def test_a_soundfont_is_held_out_by_its_name_with_all_its_presets(probes):
    root, frame = probes
    assert soundfont_of("FluidR3_GM-p4") == "FluidR3_GM" and soundfont_of("Steinway") == "Steinway"
    assert held_instruments(frame, ("Copy",)) == {f"Copy-p{p}" for p in PRESETS}
    rows = split_rows(frame, TrialConfig(held_out="Copy"), root)
    assert instruments(frame, rows.test) == {f"Copy-p{p}" for p in PRESETS}
    # every preset of the default SoundFont is a twin of its copy: nothing left to train on
    assert rows.left_out == tuple(f"TimGM6mb-p{p}" for p in PRESETS) and not rows.train.any()


def test_an_unknown_held_out_name_lists_what_the_dataset_has(probes):
    root, frame = probes
    with pytest.raises(DatasetError, match=r"\['Steinway'\].*instrument or SoundFont.*Copy-p0"):
        split_rows(frame, TrialConfig(held_out="Copy-p4,Steinway"), root)


def test_a_soundfont_is_found_by_its_file_name():
    assert find_soundfont("TimGM6mb.sf2") == DEFAULT_SOUNDFONT
    assert find_soundfont(DEFAULT_SOUNDFONT) == DEFAULT_SOUNDFONT
    with pytest.raises(SoundFontError, match="Nowhere.sf2 is not a file nor in"):
        find_soundfont("Nowhere.sf2")
    with pytest.raises(SoundFontError, match="apt-get install fluidr3mono-gm-soundfont"):
        find_soundfont("/nowhere/FluidR3Mono_GM.sf3")
