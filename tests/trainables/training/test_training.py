"""One real trial on the small generated dataset, end to end."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from tests.trainables.conftest import QUICK
from trainables.errors import DatasetError
from trainables.training.artifacts import (
    LOSS_CURVES,
    MODEL,
    PER_KEY_PSNR,
    PREDICTIONS,
    TEST_SCORES,
    WORST_KEYS,
)
from trainables.training.cli import main as trial_main
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data
from trainables.training.loop import train_trial


@pytest.fixture(scope="module")
def trial(quick_trial):
    return quick_trial


def test_metrics_are_finite_and_improve(trial):
    _, outcome, _ = trial
    history = outcome.history
    assert list(history["epoch"]) == list(range(1, 5))
    assert np.isfinite(history.drop(columns=["epoch"]).to_numpy()).all()
    first, last = history.iloc[0], history.iloc[-1]
    assert last["test_psnr"] > first["test_psnr"] + 1.0
    assert last["test_note_acc"] > first["test_note_acc"]
    assert last["train_loss"] < first["train_loss"]
    for register in ("low", "mid", "high"):
        assert 0 <= last[f"test_note_acc_{register}"] <= 1
        assert last[f"test_psnr_{register}"] > 10


def test_per_key_psnr_csv_covers_every_test_key(trial):
    _, outcome, out = trial
    table = pd.read_csv(out / PER_KEY_PSNR)
    assert list(table.columns) == ["midi", "note", "psnr", "ssim", "note_acc", "n", "register"]
    assert len(table) == 88 and table["n"].sum() == 88
    assert table["note"].iloc[0] == "A0" and table["note"].iloc[-1] == "C8"
    assert table["psnr"].mean() == pytest.approx(outcome.final["test_psnr"], rel=1e-4)


def test_test_scores_name_each_prediction_and_agree_with_the_metrics(trial):
    _, outcome, out = trial
    table = pd.read_csv(out / TEST_SCORES)
    assert len(table) == 88
    assert (table["correct"] == (table["midi"] == table["predicted_midi"])).all()
    assert table["correct"].mean() == pytest.approx(outcome.final["test_note_acc"])
    assert table["psnr"].mean() == pytest.approx(outcome.final["test_psnr"], rel=1e-4)
    assert table.loc[table["midi"] == 60, "note"].item() == "C4"


def test_images_model_and_config_are_well_formed(trial):
    config, _, out = trial
    for name in (PREDICTIONS, WORST_KEYS, LOSS_CURVES):
        image = np.asarray(Image.open(out / name).convert("L"))
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert image.std() > 10  # not a blank canvas
    assert (out / MODEL / "MLmodel").is_file()  # read in serving/test_sheet_model.py
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert TrialConfig.from_dict(saved) == config


def test_training_is_repeatable_on_the_cpu(small_root):
    config = TrialConfig(**{**QUICK, "epochs": 1})
    data = prepare_data(small_root, config, torch.device("cpu"))
    first = next(train_trial(config, data)).metrics
    again = next(train_trial(config, data)).metrics
    for name in ("train_loss", "test_loss", "test_psnr", "test_note_acc"):
        assert first[name] == again[name], name


def test_noise_augmentation_doubles_the_training_set(small_root):
    config = TrialConfig(**{**QUICK, "snr_low_db": 10, "snr_mid_db": 20, "snr_high_db": None})
    data = prepare_data(small_root, config, torch.device("cpu"))
    clean = prepare_data(small_root, TrialConfig(**QUICK), torch.device("cpu"))
    high_train = int((clean.train.keys >= 63).sum())  # MIDI 84+ has no noisy copy
    assert len(data.train) == 2 * len(clean.train) - high_train
    assert data.noisy_test is not None and len(data.noisy_test) == 88 - 25


def test_cli_prints_epochs_and_rejects_bad_values(small_root, tmp_path, capsys):
    code = trial_main(["--data", str(small_root), "--out", str(tmp_path / "cli"), "--set", "lr=-1"])
    assert code == 2
    assert "field 'lr': -1.0, expected a positive number" in capsys.readouterr().err
    code = trial_main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "cli")])
    assert code == 2
    assert "nothing holds no dataset" in capsys.readouterr().err


def test_held_out_instruments_are_the_whole_test_set(small_root):
    config = TrialConfig(**{**QUICK, "held_out": "TimGM6mb-p1"})
    data = prepare_data(small_root, config, torch.device("cpu"))
    assert len(data.test) == 176 and len(data.train) == 176  # 88 keys x 2 velocities each
    assert sorted(data.test.keys.tolist()) == sorted(list(range(88)) * 2)


def test_an_unknown_held_out_instrument_is_named(small_root):
    config = TrialConfig(**{**QUICK, "held_out": "TimGM6mb-p1, Steinway"})
    with pytest.raises(DatasetError, match=r"\['Steinway'\].*TimGM6mb-p0"):
        prepare_data(small_root, config, torch.device("cpu"))


def test_the_cosine_schedule_anneals_to_zero_and_resumes(small_root):
    config = TrialConfig(**{**QUICK, "width": 2, "epochs": 2, "lr_schedule": "cosine"})
    data = prepare_data(small_root, config, torch.device("cpu"))
    results = list(train_trial(config, data))
    assert results[-1].optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)
    first = next(train_trial(config, data))
    resumed = next(train_trial(config, data, resume=first.state()))
    assert resumed.epoch == 2
    assert resumed.metrics["test_loss"] == results[-1].metrics["test_loss"]
