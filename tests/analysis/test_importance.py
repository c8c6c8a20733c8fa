"""Importance from the runs: a study rebuilt for Optuna's evaluators ranks the
hyperparameter that drives a metric first, and the one that does nothing last."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main as report_main
from analysis.importance import (
    answer,
    at_epoch,
    fanova_text,
    importances,
    parse_space,
    searched_study,
)
from analysis.search_figures import asha_curves, importance_bars, parallel_coordinates
from analysis.tables import importance_table
from search_spaces.study import Dimension
from tests.analysis.conftest import smoke_study, sweep
from tests.analysis.frames import trials_frame

SPACE = "{'lr': ['loguniform', [1e-05, 0.01]], 'kernel': ['choice', ['3', '5']], 'batch_size': ['choice', [16, 32]]}"  # noqa: E501


@pytest.fixture(scope="module")
def study():
    """24 configurations: test PSNR follows lr, low-register accuracy follows the kernel,
    batch size changes nothing; the 8 worst by PSNR stopped by ASHA after 2 of 6 epochs."""
    rng = np.random.default_rng(0)
    configs = [
        {
            "lr": float(10 ** rng.uniform(-5, -2)),
            "kernel": str(rng.choice(["3", "5"])),
            "batch_size": int(rng.choice([16, 32])),
        }
        for _ in range(24)
    ]
    trials = trials_frame(configs, seeds=(0,), experiment="search")
    log_lr = np.log10(trials["lr"])
    trials["test_psnr"] = 20 + 4 * (log_lr + 5) + rng.normal(0, 0.2, len(trials))
    trials["test_note_acc"] = 0.2 + 0.2 * (log_lr + 5) + rng.normal(0, 0.01, len(trials))
    trials["test_note_acc_low"] = np.where(trials["kernel"] == "3", 0.8, 0.3) + rng.normal(
        0, 0.02, len(trials)
    )
    worst = trials["test_psnr"].rank() <= 8
    trials.loc[worst, "status"] = "pruned"
    history = pd.DataFrame(
        [
            {"run_id": run, "metric": "test_psnr", "epoch": epoch, "value": psnr - 6 + epoch}
            for run, psnr, pruned in zip(trials["run_id"], trials["test_psnr"], worst, strict=True)
            for epoch in range(1, 3 if pruned else 7)
        ]
    )
    return searched_study(trials, history, "search", parse_space(SPACE), "test_psnr", "max")


def test_the_driving_hyperparameter_ranks_first_and_the_idle_one_below_it(study):
    assert len(study.configs) == 24 and (study.configs["state"] == "pruned").sum() == 8
    table = importances(study, "test_psnr", bootstraps=20)
    assert table["parameter"].tolist()[0] == "lr"
    by_name = table.set_index("parameter")
    assert by_name.loc["lr", "fanova"] > 0.6
    assert by_name.loc["lr", "fanova_ci_low"] > by_name.loc["batch_size", "fanova_ci_high"]
    assert by_name["ped_anova"].idxmax() == "lr"
    low = importances(study, "test_note_acc_low", bootstraps=20)
    assert low["parameter"].iloc[0] == "kernel"


def test_the_answer_names_the_driver_its_best_region_and_what_asha_saved(study):
    tables = {m: importances(study, m, bootstraps=10) for m in ("test_psnr", "test_note_acc_low")}
    text = answer(study, tables, epochs=6)
    assert "Over 24 configurations (16 finished, 8 stopped by ASHA), `lr` matters most" in text
    best = study.configs.sort_values("test_psnr").tail(5)["lr"]
    assert f"`lr` at {best.min():.3g} to {best.max():.3g}" in text
    assert "`test_note_acc_low`: `kernel`" in text
    assert "ASHA trained 112 of the 144 epochs" in text  # 16 x 6 + 8 x 2 of 24 x 6


def test_at_the_first_rung_every_configuration_counts(study):
    early = at_epoch(study, 1)
    assert early.metric == "test_psnr@1" and len(early.configs) == 24
    assert (early.configs["state"] == "finished").all()
    expected = [c[1] for c in study.configs["curve"]]
    assert early.configs["test_psnr@1"].tolist() == pytest.approx(expected)
    table = importances(early, early.metric, bootstraps=10)
    assert table["parameter"].iloc[0] == "lr"  # the curves follow the final PSNR
    text = answer(study, {"test_psnr": importances(study, "test_psnr", 5), early.metric: table}, 6)
    assert "At the first rung (epoch 1), where all 24 configurations were scored, `lr`" in text


def test_the_figures_draw_every_configuration(study):
    tables = {"test_psnr": importances(study, "test_psnr", bootstraps=5)}
    bars = importance_bars(tables)
    assert bars.axes[0].get_yticklabels()[0].get_text() == "lr"
    lines = asha_curves(study, rungs=(2,)).axes[0].get_lines()
    curves = [line for line in lines if len(set(line.get_xdata())) > 1]  # not the rung
    assert len(curves) == 24
    assert parallel_coordinates(study, "test_psnr").axes  # Optuna's own plot


@pytest.fixture(scope="module")
def mostly_flat():
    """6 configurations, 5 of them alike in PSNR: a bootstrap resample that misses the
    sixth has no variance, and fANOVA nothing to split."""
    configs = [{"lr": lr, "kernel": kernel} for lr in (1e-4, 1e-3, 1e-2) for kernel in "35"]
    trials = trials_frame(configs, seeds=(0,), experiment="flat")
    trials["test_psnr"] = [20.0] * 5 + [24.0]
    history = pd.DataFrame(
        {"run_id": trials["run_id"], "metric": "test_psnr", "epoch": 1, "value": 18.0}
    )
    space = "{'lr': ['loguniform', [1e-05, 0.1]], 'kernel': ['choice', ['3', '5']]}"
    return searched_study(trials, history, "flat", parse_space(space), "test_psnr", "max")


def test_resamples_fanova_cannot_score_are_counted_not_zeroed(mostly_flat):
    table = importances(mostly_flat, "test_psnr", bootstraps=30, seed=0)
    # the resamples `importances` draws: those holding the sixth configuration vary
    rng = np.random.default_rng(0)
    index = mostly_flat.configs.index.to_numpy()
    draws = [rng.choice(index, size=len(index)) for _ in range(30)]
    varied = sum(mostly_flat.configs.loc[d, "test_psnr"].nunique() > 1 for d in draws)
    assert 0 < varied < 30
    assert table["fanova_resamples"].tolist() == [varied, varied]
    assert (table["fanova_bootstraps"] == 30).all()
    assert table["fanova_ci_high"].gt(0).any()  # an interval over the resamples scored
    display = importance_table({"test_psnr": table}, "flat").display
    assert display["resamples"].tolist() == [f"{varied} of 30"] * 2
    text = answer(mostly_flat, {"test_psnr": table}, epochs=2)
    assert f"over {varied} of 30 resamples" in text


def test_an_importance_without_any_resample_says_so():
    row = pd.Series(
        {"fanova": 0.5, "fanova_ci_low": np.nan, "fanova_ci_high": np.nan}
        | {"fanova_resamples": 0, "fanova_bootstraps": 50}
    )
    assert fanova_text(row) == "50% (no interval: 0 of 50 resamples)"
    row[["fanova_ci_low", "fanova_ci_high", "fanova_resamples"]] = [0.2, 0.7, 48]
    assert fanova_text(row) == "50% [20%, 70%] over 48 of 50 resamples"


@pytest.mark.slow
def test_a_searched_study_report_opens_with_its_answer(tmp_path):
    """A real TPE + ASHA sweep: lr over three decades beside the memory format, which
    changes how a step runs, not what it learns."""
    base = smoke_study()
    study = base.with_overrides(
        name="search-mini",
        searcher="optuna",
        num_trials=10,
        optuna_startup_trials=6,
        scheduler="asha",
        asha_grace_period=1,
        asha_reduction_factor=2.0,
        seeds=(0,),
        fixed={**{k: v for k, v in base.fixed.items() if k != "lr"}, "epochs": 3},
        space=(
            Dimension("lr", "loguniform", (1e-6, 1e-2)),
            Dimension("memory_format", "choice", ("channels_last", "contiguous")),
        ),
    )
    sweep(study, tmp_path)
    out = tmp_path / "report"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert (
        report_main(["--experiment", "search-mini", "--tracking-uri", uri, "--out", str(out)]) == 0
    )
    text = (out / "report.md").read_text()
    assert "### What matters: search-mini" in text
    assert "`lr` matters most for test_psnr" in text
    assert {"importance_search-mini.png", "parallel_search-mini.png", "asha_search-mini.png"} <= {
        p.name for p in (out / "figures").iterdir()
    }
