"""The model shipped with the package reads a real piano with no training and no --model.

The three notes are recordings of a real grand piano (Salamander, tests/data/salamander)
at a dynamic the shipped model never heard: it was held out of its training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.commands import console_script, run_command
from trainables.data.audio import read_wav
from trainables.serving.ready import READY_MODEL, WEIGHTS, ship
from trainables.serving.sheet_model import load_reader
from trainables.training.artifacts import MODEL

NOTES = Path(__file__).parents[2] / "data" / "salamander"
#: one key of each register, as recorded: 48 kHz stereo, the note's own lead-in
READ_AS = {"A0v11.flac": ("A0", 21), "C4v11.flac": ("C4", 60), "A6v11.flac": ("A6", 93)}


def test_transcribe_with_no_model_reads_real_notes_the_shipped_model_never_heard(tmp_path):
    files = [str(NOTES / name) for name in READ_AS]
    result = run_command(
        [console_script("sheetsweep-transcribe"), *files], timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    *readings, wrote = result.stdout.splitlines()
    assert wrote == "wrote transcriptions/transcriptions.csv"
    for (name, (note, midi)), line in zip(READ_AS.items(), readings, strict=True):
        assert line.startswith(f"{NOTES / name}: {note} (MIDI {midi}), margin"), line
    table = pd.read_csv(tmp_path / "transcriptions" / "transcriptions.csv")
    assert list(table["note"]) == [note for note, _ in READ_AS.values()]
    assert (table["margin_db"] > 0).all()


def test_the_shipped_model_is_small_and_stored_in_float16():
    state = torch.load(READY_MODEL / WEIGHTS, map_location="cpu", weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    size = sum(p.stat().st_size for p in READY_MODEL.rglob("*") if p.is_file())
    assert size < 8e6, f"{size / 1e6:.1f} MB"
    assert (READY_MODEL / "README.md").is_file(), "the model card"


@pytest.fixture(scope="module")
def shipped_copy(quick_trial, tmp_path_factory):
    """A trained trial's model, shipped as the ready model is (weights halved)."""
    _, _, out = quick_trial
    return out / MODEL, ship(out / MODEL, tmp_path_factory.mktemp("ready") / "model")


def test_halved_weights_read_every_note_as_the_trained_model_does(shipped_copy, small_root):
    trained, shipped = (load_reader(str(folder)) for folder in shipped_copy)
    notes = pd.read_csv(small_root / "annotations.csv").iloc[::8]
    recordings = [(*read_wav(small_root / p), p) for p in notes["audio_path"]]
    before, after = trained.read_many(recordings), shipped.read_many(recordings)
    assert [r.midi for r in after] == [r.midi for r in before]
    assert max(abs(a.margin_db - b.margin_db) for a, b in zip(after, before, strict=True)) < 0.5


def test_shipping_something_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a sheetsweep MLflow Model folder"):
        ship(tmp_path, tmp_path / "into")
