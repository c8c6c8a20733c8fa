"""The scored-configuration section: per register, other test audio, the keys read wrong."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from analysis.document import FigureBlock, Heading
from analysis.generalisation import is_single_config
from analysis.report import build_report
from analysis.scorecard import scorecard
from analysis.wrong_keys import ERROR_KINDS, confusion_list, error_kind
from tests.analysis.png import assert_real_png


@pytest.fixture(scope="module")
def card(best_runs):
    return scorecard(best_runs, "best-mini")


def test_a_study_of_one_config_is_scored_and_a_comparison_is_not(best_runs, smoke_runs):
    assert is_single_config(best_runs.trials)  # varies the seed and the test set only
    assert not is_single_config(smoke_runs.trials)  # varies the loss


def test_register_table_holds_the_runs_means(card, best_runs):
    split = best_runs.finished[best_runs.finished["held_out"].isna()]
    assert len(split) == 2
    data = card.registers.data.set_index("register")
    assert list(data.index) == ["all", "low", "mid", "high"]
    assert data.loc["all", "psnr_mean"] == pytest.approx(split["test_psnr"].mean())
    assert data.loc["low", "note_acc_mean"] == pytest.approx(split["test_note_acc_low"].mean())
    assert data.loc["all", "psnr_ci_low"] < data.loc["all", "psnr_mean"]
    assert data.loc["all", "baseline_psnr"] == pytest.approx(split["baseline_psnr"].mean())


def test_generalisation_covers_noisy_and_held_out_audio(card, best_runs):
    data = card.generalisation.data.set_index("test_set")
    assert list(data.index) == [
        "clean test audio (stratified split)",
        "noisy test audio, SNR 10/10/10 dB (low/mid/high)",
        "held out: TimGM6mb-p2",
    ]
    finished = best_runs.finished
    split, held = finished[finished["held_out"].isna()], finished[finished["held_out"].notna()]
    noisy = data.loc["noisy test audio, SNR 10/10/10 dB (low/mid/high)"]
    assert noisy["note_acc_mean"] == pytest.approx(split["noisy_test_note_acc"].mean())
    held_row = data.loc["held out: TimGM6mb-p2"]
    assert held_row["psnr_mean"] == pytest.approx(held["test_psnr"].mean())
    assert held_row["n"] == 2


def test_held_out_errors_are_split_by_kind_with_what_was_left_out(card, best_runs):
    held = best_runs.finished[best_runs.finished["held_out"].notna()]
    scores = best_runs.test_scores[best_runs.test_scores["run_id"].isin(held["run_id"])]
    row = card.held_out_errors.data.set_index("held_out").loc["TimGM6mb-p2"]
    assert row["seeds"] == 2 and row["notes"] == len(scores) == 2 * 88
    assert row["wrong"] == int((~scores["correct"].astype(bool)).sum())
    assert row[list(ERROR_KINDS)].sum() == row["wrong"]
    assert row["left_out"] == "none"  # presets 0 and 1 share no samples with preset 2


def test_confusions_count_every_wrong_clean_prediction(card, best_runs):
    split = best_runs.finished[best_runs.finished["held_out"].isna()]
    scores = best_runs.test_scores[best_runs.test_scores["run_id"].isin(split["run_id"])]
    assert len(scores) == 2 * 88  # one clean test sample per key in each seed
    wrong = int((~scores["correct"].astype(bool)).sum())
    assert card.confusions.data["count"].sum() == wrong
    accuracy = split["test_note_acc"].mean()
    assert wrong == round((1 - accuracy) * len(scores))


def test_error_kinds():
    assert [error_kind(s) for s in (12, -24, 1, -2, -11, 14, 3, 7)] == [
        "octave",
        "octave",
        "neighbour",
        "neighbour",
        "octave + neighbour",
        "octave + neighbour",
        "other",
        "other",
    ]
    scores = pd.DataFrame(
        {
            "run_id": ["a", "a", "b", "b"],
            "midi": [21, 21, 60, 60],
            "predicted_midi": [33, 33, 61, 60],
            "correct": [False, False, False, True],
        }
    )
    table = confusion_list(scores)
    assert table[["note", "predicted", "kind", "count", "runs"]].values.tolist() == [
        ["A0", "A1", "octave", 2, 1],
        ["C4", "C#4", "neighbour", 1, 1],
    ]


def test_the_report_gains_the_section_and_the_worst_keys(best_runs):
    report = build_report(best_runs)
    titles = [b.text for b in report.blocks if isinstance(b, Heading)]
    assert "The configuration, scored: best-mini" in titles
    worst = [b for b in report.blocks if isinstance(b, FigureBlock) and "worst" in b.name]
    assert len(worst) == 1
    assert_real_png(worst[0].png, 300, 300)


def test_a_study_of_held_out_pianos_only_is_scored_on_them(best_runs):
    held = best_runs.finished[best_runs.finished["held_out"].notna()]
    runs = dataclasses.replace(best_runs, trials=held.reset_index(drop=True))
    card = scorecard(runs, "best-mini")
    assert card.registers.data.set_index("register").loc["all", "psnr_mean"] == pytest.approx(
        held["test_psnr"].mean()
    )
    assert "what was held out (TimGM6mb-p2)" in card.registers.caption
    assert list(card.generalisation.data["test_set"]) == ["held out: TimGM6mb-p2"]


def without_scores(runs, run_ids) -> object:
    """`runs` as read from a store where `run_ids` logged no test scores."""
    scores = runs.test_scores
    return dataclasses.replace(runs, test_scores=scores[~scores["run_id"].isin(run_ids)])


def test_held_out_seeds_without_scores_are_missing_not_error_free(best_runs):
    held = best_runs.finished[best_runs.finished["held_out"].notna()]
    first, second = held["run_id"]
    card = scorecard(without_scores(best_runs, [first]), "best-mini")
    row = card.held_out_errors.data.set_index("held_out").loc["TimGM6mb-p2"]
    scores = best_runs.test_scores[best_runs.test_scores["run_id"] == second]
    assert (row["seeds"], row["scores_missing"], row["notes"]) == (2, 1, 88)
    assert row["wrong"] == int((~scores["correct"].astype(bool)).sum())
    card = scorecard(without_scores(best_runs, [first, second]), "best-mini")
    row = card.held_out_errors.data.set_index("held_out").loc["TimGM6mb-p2"]
    assert row["scores_missing"] == 2
    assert row[["notes", "wrong", *ERROR_KINDS]].isna().all()  # not 0 wrong notes
    shown = card.held_out_errors.display.set_index("held out").loc["TimGM6mb-p2"]
    assert shown[["wrong", *ERROR_KINDS]].tolist() == ["missing"] * (1 + len(ERROR_KINDS))
    assert shown["seeds without scores"] == 2


def test_the_summary_counts_wrong_keys_over_the_seeds_with_scores(best_runs):
    split = best_runs.finished[best_runs.finished["held_out"].isna()]
    (lost, lost_name), (kept, _) = zip(split["run_id"], split["run_name"], strict=True)
    card = scorecard(without_scores(best_runs, [lost]), "best-mini")
    assert " of 88 clean test predictions read as another key" in card.summary
    assert f"over 1 of 2 seeds: the scores of {lost_name} are missing." in card.summary
    kept_scores = best_runs.test_scores[best_runs.test_scores["run_id"] == kept]
    assert card.confusions.data["count"].sum() == int((~kept_scores["correct"].astype(bool)).sum())
    assert set(card.confusions.display["models"]) <= {"1 of 1"}
    card = scorecard(without_scores(best_runs, [lost, kept]), "best-mini")
    assert "the clean test scores of every seed are missing" in card.summary
    assert "of 0 clean test predictions" not in card.summary
