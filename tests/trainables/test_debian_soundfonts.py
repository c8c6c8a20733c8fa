"""Debian's SoundFonts (fluid-soundfont-gm, musescore-general-soundfont), which `.ci/run`
installs: more instruments by path, .sf2 and .sf3 alike."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from trainables.annotations import load_annotations
from trainables.dataset import DatasetSpec, build_dataset

FLUID = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")

pytestmark = pytest.mark.slow


def test_debian_soundfonts_add_instruments(tmp_path):
    spec = DatasetSpec(soundfonts=(FLUID, MUSESCORE), presets=(0, 4), velocities=(40, 120))
    info = build_dataset(tmp_path / "debian", spec)
    frame = load_annotations(info.root)
    assert set(frame["instrument"]) == {
        "FluidR3_GM-p0",
        "FluidR3_GM-p4",
        "MuseScore_General-p0",
        "MuseScore_General-p4",
    }
    assert info.n_samples + len(info.dropped) == 4 * 88 * 2
    for dropped in info.dropped:  # a nearly silent note is dropped by name, not kept
        assert "MuseScore_General" in dropped or "FluidR3_GM" in dropped
    c4 = {
        i: soundfile.read(info.root / f"audio/{i}/C4_v120.wav")[0]
        for i in ("FluidR3_GM-p0", "MuseScore_General-p0")
    }
    assert all(np.abs(a).max() > 0.01 for a in c4.values())
    assert not np.allclose(*c4.values(), atol=1e-3)  # two different pianos
