"""The MLflow Model a trial leaves: loaded from its folder alone, it reads raw audio of any
rate, channel count and length as the trial read its own test notes."""

from __future__ import annotations

import shutil
import sys

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from mlflow.exceptions import MlflowException

from tests.commands import run_command
from tests.trainables.data.test_onsets import as_recording
from trainables.data.annotations import load_annotations
from trainables.data.audio import read_wav
from trainables.data.onsets import cut_window
from trainables.serving.sheet_model import (
    MAX_RECORDING_S,
    image_from_png_base64,
    load_reader,
)
from trainables.training.artifacts import MODEL
from trainables.training.data import prepare_data


@pytest.fixture(scope="module")
def reader(quick_trial):
    _, _, out = quick_trial
    return load_reader(str(out / MODEL))


@pytest.fixture(scope="module")
def test_notes(small_root):
    frame = load_annotations(small_root)
    return frame[frame["split"] == "test"].reset_index(drop=True)


def test_the_model_sees_a_recording_as_the_trial_saw_its_test_note(
    quick_trial, reader, small_root, test_notes
):
    config, _, _ = quick_trial
    data = prepare_data(small_root, config, torch.device("cpu"))
    for i in (0, 40, 87):  # low, mid and high keys
        audio, rate = read_wav(small_root / test_notes["audio_path"][i])
        window = cut_window(audio, rate, reader.duration_s)
        difference = (reader.features(window.audio, rate)[0] - data.test.features[i]).abs()
        # float rounding near the -80 dB floor; a shifted or rescaled window is far off
        assert difference.mean() < 1e-3 and difference.max() < 0.05, test_notes["note"][i]


def test_a_44k_stereo_recording_with_silence_reads_as_the_dataset_note(
    reader, small_root, test_notes
):
    for i in (10, 45, 80):
        audio, rate = read_wav(small_root / test_notes["audio_path"][i])
        recording, user_rate = as_recording(audio, rate, silence_s=0.3, seconds=3.5)
        original, user = reader.read(audio, rate), reader.read(recording, user_rate, "mine.wav")
        assert user.found and user.onset_s == pytest.approx(0.3, abs=0.005)
        assert user.midi == original.midi and user.note == original.note
        assert np.abs(user.image - original.image).mean() < 0.01
        assert user.margin_db >= 0 and user.runner_up != user.midi


def test_predict_answers_one_row_per_note_and_says_when_there_is_none(quick_trial, small_root):
    _, _, out = quick_trial
    model = mlflow.pyfunc.load_model(str(out / MODEL))
    assert model.metadata.signature.inputs.input_names() == ["samples", "sample_rate"]
    audio, rate = read_wav(small_root / "audio/TimGM6mb-p0/C4_v60.wav")
    frame = pd.DataFrame(
        [
            {"samples": audio[:, 0].tolist(), "sample_rate": rate},
            {"samples": [0.0] * rate, "sample_rate": rate},
        ]
    )
    answer = model.predict(frame)
    assert list(answer["found"]) == [True, False]
    assert 21 <= answer["midi"][0] <= 108 and answer["midi"][1] is None
    assert image_from_png_base64(answer["image_png"][0]).shape == (162, 300)
    assert "row 1: no note: silent" in answer["reason"][1]
    example = model.metadata.load_input_example(str(out / MODEL))
    assert len(model.predict(example)) == 1  # the logged input example is a valid request


def test_the_model_needs_nothing_but_its_folder(quick_trial, small_root, tmp_path):
    """A fresh process, another folder, no dataset: the bundle carries what reading needs."""
    _, _, out = quick_trial
    copy = shutil.copytree(out / MODEL, tmp_path / "model")
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".py", ""):
            assert str(small_root) not in path.read_text(errors="replace"), path
    audio, rate = read_wav(small_root / "audio/TimGM6mb-p1/A4_v110.wav")
    recording, user_rate = as_recording(audio, rate, silence_s=0.3, seconds=3.5)
    soundfile.write(tmp_path / "take.wav", recording, user_rate)
    expected = load_reader(str(copy)).read(recording, user_rate).note
    code = (
        "import soundfile; from trainables.serving.sheet_model import load_reader; "
        f"audio, rate = soundfile.read({str(tmp_path / 'take.wav')!r}); "
        f"print(load_reader({str(copy)!r}).read(audio, rate).note)"
    )
    result = run_command([sys.executable, "-c", code], timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == expected


def test_a_recording_too_long_or_with_nan_samples_is_refused_by_name(quick_trial, reader):
    _, _, out = quick_trial
    rate = 8000
    long = np.zeros(round((MAX_RECORDING_S + 1) * rate), dtype=np.float32)
    broken = np.sin(np.arange(rate, dtype=np.float32))
    broken[[10, 20]] = np.nan, np.inf
    too_long, not_finite = reader.read(long, rate, "long.wav"), reader.read(broken, rate, "x")
    assert not too_long.found and "long.wav: 31.0 s long, more than the 30 s" in too_long.reason
    assert not not_finite.found and not_finite.reason == "x: 2 of 8000 samples are NaN or infinite"
    model = mlflow.pyfunc.load_model(str(out / MODEL))
    request = pd.DataFrame(
        [{"samples": broken.tolist(), "sample_rate": rate}, {"samples": [0.0], "sample_rate": 0}]
    )
    with pytest.raises(MlflowException, match="row 0: 2 of 8000 .*; row 1: sample rate 0"):
        model.predict(request)
