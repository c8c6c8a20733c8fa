"""The noise study: per-register levels, changes against uniform noise, the answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from analysis.configs import NOISE_FIELDS
from analysis.figures import png_bytes
from analysis.noise_effects import uniform_setting
from analysis.noise_study import noise_studies
from tests.analysis.frames import trials_frame
from tests.analysis.png import assert_real_png

SETTINGS = [(10.0, 10.0, 10.0), (20.0, 10.0, 10.0), (None, 10.0, 10.0), (20.0, 10.0, 20.0)]


def noise_trials():
    return trials_frame([dict(zip(NOISE_FIELDS, s, strict=True)) for s in SETTINGS])


def test_uniform_noise_is_the_reference_and_comes_first():
    (study,) = noise_studies(noise_trials())
    assert study.reference == "10/10/10 dB"
    assert study.settings[0] == "10/10/10 dB" and set(study.settings) == {
        "10/10/10 dB",
        "20/10/10 dB",
        "off/10/10 dB",
        "20/10/20 dB",
    }


def test_changes_are_paired_by_seed():
    trials = noise_trials()
    (study,) = noise_studies(trials)
    row = study.changes.set_index(["setting", "register", "metric"]).loc[
        ("20/10/10 dB", "low", "psnr")
    ]
    treated = trials[trials["snr_low_db"].eq(20) & trials["snr_high_db"].eq(10)]
    reference = trials[trials["snr_low_db"].eq(10)]
    a = treated.sort_values("seed")["test_psnr_low"].to_numpy()
    b = reference.sort_values("seed")["test_psnr_low"].to_numpy()
    expected = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert bool(row["paired"]) and row["change"] == pytest.approx(np.mean(a - b))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expected.low, expected.high))


def test_answer_names_the_best_setting_for_low_notes():
    (study,) = noise_studies(noise_trials())
    low = study.changes.query("metric == 'psnr' and register == 'low'")
    best = low.loc[low["change"].idxmax(), "setting"]
    assert f"is {best}" in study.answer and "10/10/10 dB" in study.answer
    assert "mid notes" in study.answer and "high notes" in study.answer


def test_without_uniform_setting_there_is_no_change_table():
    trials = trials_frame(
        [
            {"snr_low_db": 20.0, "snr_mid_db": 10.0, "snr_high_db": 10.0},
            {"snr_low_db": 30.0, "snr_mid_db": 10.0, "snr_high_db": 10.0},
        ]
    )
    (study,) = noise_studies(trials)
    assert study.reference is None and study.changes.empty
    assert len(study.tables()) == 1 and "no uniform" in study.answer


def test_uniform_reference_among_several_is_the_shared_one():
    settings = pd.DataFrame(
        {
            "setting": ["a", "b", "c"],
            "snr_low_db": [10.0, 20.0, 20.0],
            "snr_mid_db": [10.0, 20.0, 10.0],
            "snr_high_db": [10.0, 20.0, 10.0],
        }
    )
    assert uniform_setting(settings) == "a"


def test_tables_and_figure():
    (study,) = noise_studies(noise_trials())
    registers, changes = study.tables()
    assert "PSNR low (dB)" in registers.markdown() and "Δ PSNR low (dB)" in changes.markdown()
    assert len(registers.display) == 4 and len(changes.display) == 3
    assert_real_png(png_bytes(study.figure()), 1000, 600)


def test_smoke_has_no_noise_study(smoke_runs):
    assert noise_studies(smoke_runs.trials) == []


@pytest.mark.slow
def test_noise_study_on_real_runs(thesis_store):
    runs = thesis_store.load()
    (study,) = noise_studies(runs.trials)
    assert study.experiment == "noise-mini" and study.reference == "10/10/10 dB"
    client = MlflowClient(thesis_store.tracking_uri)
    experiment = client.get_experiment_by_name("noise-mini")
    finished = client.search_runs(
        [experiment.experiment_id], "tags.`sheetsweep.status` = 'finished'"
    )
    low = [
        r.data.metrics["test_psnr_low"] for r in finished if r.data.params["snr_low_db"] == "30.0"
    ]
    row = study.registers.set_index(["setting", "register"]).loc[("30/10/10 dB", "low")]
    assert row["n"] == len(low) == 2
    assert row["psnr_mean"] == pytest.approx(np.mean(low))
    assert_real_png(png_bytes(study.figure()), 1000, 600)


def test_snrs_searched_together_with_other_fields_give_no_noise_study():
    configs = [
        {"lr": lr, "snr_low_db": low, "snr_mid_db": 10.0, "snr_high_db": 10.0}
        for lr, low in ((0.001, 10.0), (0.01, 20.0))
    ]
    assert noise_studies(trials_frame(configs)) == []


def test_noisy_test_audio_shared_by_every_setting_gets_its_own_study():
    trials = noise_trials().assign(test_snr_db=10.0)
    for column in [c for c in trials if c.startswith("test_") and c != "test_snr_db"]:
        trials[f"noisy_{column}"] = trials[column] - 5.0 - trials["snr_low_db"].fillna(0) / 10
    clean, noisy = noise_studies(trials)
    assert (clean.audio, noisy.audio) == ("clean", "noisy, SNR 10 dB")
    row = noisy.registers.set_index(["setting", "register"]).loc[("20/10/10 dB", "low")]
    treated = trials[trials["snr_low_db"].eq(20) & trials["snr_high_db"].eq(10)]
    assert row["psnr_mean"] == pytest.approx(treated["noisy_test_psnr_low"].mean())
    assert noisy.answer.startswith("On noisy, SNR 10 dB test audio: Against uniform noise")
    assert [t.name for t in noisy.tables()] == [
        "noise_registers_study_noisy",
        "noise_changes_study_noisy",
    ]
    # scored on each setting's own noise, the noisy audio differs by setting: no comparison
    assert len(noise_studies(trials.assign(test_snr_db=np.nan))) == 1
