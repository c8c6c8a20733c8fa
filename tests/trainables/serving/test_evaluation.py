"""Scoring a model on a dataset: a note the model finds no note in is a miss, counted and
kept, not dropped from note accuracy; a recording condition changes what it hears."""

from __future__ import annotations

import shutil

import pandas as pd
import soundfile

from trainables.data.annotations import load_annotations
from trainables.features.conditions import CONDITIONS
from trainables.model.metrics import summarize
from trainables.serving.evaluation import score_dataset
from trainables.serving.sheet_model import load_reader
from trainables.training.artifacts import MODEL, write_test_scores


def test_a_refused_note_counts_as_not_read(quick_trial, small_root, tmp_path):
    """Silence written over two test notes of a copy of the dataset: both are rows, refused
    and not correct; note accuracy is read-right over every note."""
    _, _, out = quick_trial
    root = shutil.copytree(small_root, tmp_path / "data")
    frame = load_annotations(root)
    silenced = frame["audio_path"].iloc[[0, 5]].tolist()
    for path in silenced:
        audio, rate = soundfile.read(root / path)
        soundfile.write(root / path, 0 * audio, rate)
    result = score_dataset(load_reader(str(out / MODEL)), root)
    scores = result.scores
    assert len(scores) == len(frame) and len(result.not_read) == 2
    refused = scores[scores["refused"]]
    assert sorted(refused["audio_path"]) == sorted(silenced)
    assert not refused["correct"].any() and refused["psnr"].isna().all()
    metrics = summarize(scores, "test")
    read_right = scores.loc[~scores["refused"], "correct"].sum()
    assert metrics["test_note_acc"] == read_right / len(frame)
    table = pd.read_csv(write_test_scores(scores, tmp_path / "scores.csv"))
    assert table["refused"].sum() == 2
    assert table.loc[table["refused"], "predicted_note"].isna().all()
    # each note keeps its instrument: the report's per-instrument table reads it
    assert sorted(table["instrument"]) == sorted(frame["instrument"])


def test_a_condition_is_heard_and_recorded(quick_trial, small_root):
    _, _, out = quick_trial
    reader = load_reader(str(out / MODEL))
    clean = score_dataset(reader, small_root)
    phone = score_dataset(reader, small_root, CONDITIONS["phone"])
    assert phone.condition.name == "phone" and clean.condition.name == "clean"
    assert len(phone.scores) == len(clean.scores)
    assert not phone.scores["psnr"].equals(clean.scores["psnr"])
