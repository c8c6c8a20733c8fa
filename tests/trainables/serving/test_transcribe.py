"""`sheetsweep-transcribe` prints the right key: a model trained on three keys (rendered
takes imported as a user imports recordings) reads new takes of them, played softer than
any it heard, at 44.1 kHz stereo with 0.3 s of silence before the note, 3.5 s long."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from tests.commands import console_script, run_command
from trainables.data.instruments import DEFAULT_SOUNDFONT, Instrument, NoteTiming
from trainables.data.recordings import import_recordings
from trainables.data.rendering import render_notes
from trainables.keys import Key, midi_from_name
from trainables.training.artifacts import MODEL
from trainables.training.config import TrialConfig
from trainables.training.trial import run_trial

KEYS = tuple(Key(midi_from_name(name)) for name in ("C2", "C4", "C6"))
#: 12 epochs of 36 takes read all three keys (about 6 s on the bf16 CPU); 15 for margin.
NARROW = dict(
    width=8, kernel="3", bottleneck=64, n_mels=64, n_fft=1024, hop_length=512,
    batch_size=4, lr=0.003, lr_schedule="cosine", epochs=15,
)  # fmt: skip


@pytest.fixture(scope="module")
def three_key_model(tmp_path_factory) -> Path:
    """The MLflow Model folder of a trial on 45 imported takes of C2, C4 and C6."""
    folder = tmp_path_factory.mktemp("three_keys")
    takes, rows = folder / "takes", []
    takes.mkdir()
    for preset in (0, 1, 2, 3, 4):
        instrument = Instrument(DEFAULT_SOUNDFONT, preset)
        for key, velocity, audio in render_notes(instrument, (50, 80, 110), NoteTiming(), KEYS):
            name = f"p{preset}_{key.name}_{velocity}.wav"
            soundfile.write(takes / name, audio, NoteTiming().sample_rate)
            rows.append(
                {
                    "audio_path": name,
                    "midi": key.name,
                    "instrument": f"p{preset}",
                    "velocity": velocity,
                }
            )
    pd.DataFrame(rows).to_csv(takes / "notes.csv", index=False)
    import_recordings(takes, takes / "notes.csv", folder / "data")
    outcome = run_trial(TrialConfig(**NARROW), folder / "data", folder / "trial")
    assert outcome.final["test_note_acc"] == 1.0  # its own test takes
    return folder / "trial" / MODEL


def test_transcribe_prints_the_right_key_of_a_44k_stereo_recording(three_key_model, tmp_path):
    timing = NoteTiming(sample_rate=44100, hold_s=2.5, release_s=0.7)
    files = []
    for key, _, audio in render_notes(Instrument(DEFAULT_SOUNDFONT, 0), (95,), timing, KEYS):
        recording = np.concatenate([np.zeros(round(0.3 * 44100), np.float32), audio])
        soundfile.write(
            tmp_path / f"{key.name}.wav", np.stack([recording, 0.8 * recording], 1), 44100
        )
        files.append(f"{key.name}.wav")
    transcribe = console_script("sheetsweep-transcribe")
    result = run_command(
        [transcribe, *files, "--model", str(three_key_model), "--out", "out"],
        env={"CI": "1"},  # where libraries print more (pyfluidsynth did)
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    *readings, wrote = result.stdout.splitlines()
    assert wrote.startswith("wrote "), result.stdout
    for key, line in zip(KEYS, readings, strict=True):
        assert line.startswith(f"{key.name}.wav: {key.name} (MIDI {key.midi}), margin"), line
        assert "onset 0.30 s" in line
    table = pd.read_csv(tmp_path / "out" / "transcriptions.csv")
    assert list(table["note"]) == [key.name for key in KEYS]
    assert (table["margin_db"] > 0).all()
