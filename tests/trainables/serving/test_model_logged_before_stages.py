"""A model logged before `trainables/` was split into stage packages still loads and reads
the same notes.

`model_logged_before_stages/model` is an MLflow Model folder as a trial wrote it at commit
f576154 (a small config: width 4, bottleneck 16, 32 mels, 6 epochs on two TimGM6mb
presets); its `sheet_model_code.py` imports `trainables.sheet_model`. `readings.json` is
what that commit's `load_reader(...).read` answered for three rendered notes.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pytest

from trainables.data.instruments import DEFAULT_SOUNDFONT, Instrument, NoteTiming
from trainables.data.rendering import render_notes
from trainables.keys import KEYS
from trainables.serving.sheet_model import SheetModel, load_reader

FIXTURE = Path(__file__).with_name("model_logged_before_stages")


def test_its_code_imports_the_name_it_was_logged_with():
    code = (FIXTURE / "model" / "sheet_model_code.py").read_text()
    assert "from trainables.sheet_model import SheetModel" in code
    loaded = mlflow.pyfunc.load_model(str(FIXTURE / "model"))
    assert isinstance(loaded.unwrap_python_model(), SheetModel)


def test_it_reads_the_notes_as_it_did_before_the_move():
    expected = json.loads((FIXTURE / "readings.json").read_text())
    reader = load_reader(str(FIXTURE / "model"))
    timing = NoteTiming()
    keys = tuple(next(k for k in KEYS if k.name == row["key"]) for row in expected)
    notes = render_notes(Instrument(DEFAULT_SOUNDFONT, 0), (100,), timing, keys=keys)
    for (key, _, audio), before in zip(notes, expected, strict=True):
        reading = reader.read(audio, timing.sample_rate, key.name)
        assert reading.found, reading.reason
        assert reading.midi == before["midi"], key.name
        assert reading.onset_s == pytest.approx(before["onset_s"], abs=1e-9)
        assert reading.margin_db == pytest.approx(before["margin_db"], abs=1e-3)
        assert float(reading.image.mean()) == pytest.approx(before["image_mean"], abs=1e-5)
