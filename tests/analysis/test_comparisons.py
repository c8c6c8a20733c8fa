"""A comparison holds everything but the compared field fixed, inside one study."""

from __future__ import annotations

import pandas as pd

from analysis.comparisons import find_comparisons
from tests.analysis.frames import trials_frame

GRID = [{"loss": loss, "kernel": kernel} for kernel in ("3", "5") for loss in ("mse", "smooth_l1")]


def test_loss_comparison_prefers_the_thesis_kernel():
    (comparison,) = find_comparisons(trials_frame(GRID), ("loss",), prefer={"kernel": "5"})
    assert comparison.controlled and comparison.held == {"kernel": "5"}
    assert set(comparison.runs["kernel"]) == {"5"} and comparison.levels == 2
    assert comparison.alternatives == 1  # kernel 3 compares the losses too
    assert "kernel=5" in comparison.describe()


def test_a_study_that_never_holds_the_rest_fixed_is_marginal():
    configs = [{"loss": "mse", "kernel": "3"}, {"loss": "smooth_l1", "kernel": "5"}]
    (comparison,) = find_comparisons(trials_frame(configs), ("loss",))
    assert not comparison.controlled
    assert "averaged over" in comparison.describe() and "kernel" in comparison.describe()


def test_studies_are_never_pooled():
    frames = pd.concat(
        [
            trials_frame([{"loss": "mse"}, {"loss": "ssim"}], experiment="a"),
            trials_frame([{"loss": "mse"}, {"loss": "ssim"}], experiment="b"),
        ]
    )
    comparisons = find_comparisons(frames, ("loss",))
    assert [c.experiment for c in comparisons] == ["a", "b"]
    assert all(len(c.runs) == 6 for c in comparisons)


def test_only_finished_trials_compare():
    frame = trials_frame([{"loss": "mse"}, {"loss": "ssim"}])
    frame.loc[frame["loss"] == "ssim", "status"] = "failed"
    assert find_comparisons(frame, ("loss",)) == []


def test_noise_fields_compare_as_one():
    configs = [{"snr_low_db": s, "snr_mid_db": 10.0, "snr_high_db": 10.0} for s in (10.0, 30.0)]
    configs.append({"loss": "mse", "snr_low_db": 10.0, "snr_mid_db": 10.0, "snr_high_db": 10.0})
    (comparison,) = find_comparisons(
        trials_frame(configs), ("snr_low_db", "snr_mid_db", "snr_high_db")
    )
    assert comparison.held == {"loss": "smooth_l1"} and comparison.levels == 2
