"""The tables hold what the runs hold: recomputed here from MlflowClient, not from frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from analysis import thesis
from analysis.runs import load_runs
from analysis.tables import (
    REGISTERS,
    configs_table,
    grid_tables,
    interval_text,
    kernel_tables,
    loss_tables,
    markdown_table,
)
from search_spaces.tags import ROLE, STATUS
from tests.analysis.frames import trials_frame


def finished_by_loss(tracking_uri: str) -> dict[str, list]:
    """Straight from MLflow: finished smoke trials' final metrics, grouped by loss."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.`{ROLE}` = 'trial' and tags.`{STATUS}` = 'finished'"
    )
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.data.params["loss"], []).append(run.data)
    return groups


def t_interval(values: list[float]) -> tuple[float, float]:
    return stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))


def test_loss_table_equals_the_runs(smoke_store, smoke_runs):
    (table,) = loss_tables(smoke_runs.trials)
    expected = finished_by_loss(smoke_store.tracking_uri)
    data = table.data.set_index("loss")
    assert list(data.index) == ["smooth_l1", "mse"]  # the thesis's row order
    for loss, runs in expected.items():
        psnr = [r.metrics["test_psnr"] for r in runs]
        row = data.loc[loss]
        assert row["n"] == len(psnr) == 2
        assert row["seeds"] == "0,1"
        assert row["test_psnr_mean"] == pytest.approx(np.mean(psnr))
        assert (row["test_psnr_ci_low"], row["test_psnr_ci_high"]) == pytest.approx(
            t_interval(psnr)
        )
        assert row["test_note_acc_mean"] == pytest.approx(
            np.mean([r.metrics["test_note_acc"] for r in runs])
        )
        assert row["baseline_psnr"] == pytest.approx(
            np.mean([r.metrics["baseline_psnr"] for r in runs])
        )
        assert row["thesis_psnr"] == thesis.LOSS_PSNR[loss]
        shown = interval_text(
            row["test_psnr_mean"], row["test_psnr_ci_low"], row["test_psnr_ci_high"]
        )
        assert shown in table.markdown()


def test_interval_widens_with_fewer_seeds(smoke_runs):
    both = loss_tables(smoke_runs.trials)[0].data.set_index("loss")
    one = loss_tables(smoke_runs.trials[smoke_runs.trials["seed"] == 0])[0]
    widths = both["test_psnr_ci_high"] - both["test_psnr_ci_low"]
    assert (widths > 0).all() and np.isfinite(widths).all()
    assert one.data["n"].eq(1).all()
    assert one.data["test_psnr_ci_low"].isna().all()  # one seed: no interval, not a fake one
    assert "[no interval]" in one.markdown()
    more = trials_frame([{"loss": "mse"}], seeds=tuple(range(6)))
    fewer = more[more["seed"] < 3]
    assert _width(loss_like(fewer)) > _width(loss_like(more))


def loss_like(frame: pd.DataFrame) -> pd.DataFrame:
    frame = pd.concat([frame, frame.assign(loss="ssim", run_id=frame["run_id"] + "-s")])
    return loss_tables(frame)[0].data.set_index("loss").loc[["mse"]]


def _width(data: pd.DataFrame) -> float:
    return float((data["test_psnr_ci_high"] - data["test_psnr_ci_low"]).iloc[0])


def test_no_kernel_table_when_the_kernel_is_fixed(smoke_runs):
    assert kernel_tables(smoke_runs.trials) == []
    assert grid_tables(smoke_runs.trials) == []


def test_kernel_table_and_grid_on_a_full_grid():
    configs = [
        {"loss": loss, "kernel": k}
        for k in ("3", "mixed", "5")
        for loss in ("smooth_l1", "mse", "ssim")
    ]
    trials = trials_frame(configs)
    (kernel,) = kernel_tables(trials)
    assert list(kernel.data["kernel"]) == ["3", "mixed", "5"]
    assert list(kernel.data["thesis_psnr"]) == [15.23, 16.58, 19.14]
    assert "smooth_l1" in kernel.caption
    (grid,) = grid_tables(trials)
    assert len(grid.data) == 9 and grid.display.shape == (3, 4)
    cell = grid.data.set_index(["loss", "kernel"]).loc[("mse", "mixed")]
    expected = trials.query("loss == 'mse' and kernel == 'mixed'")["test_psnr"].mean()
    assert cell["test_psnr_mean"] == pytest.approx(expected)


def test_incomplete_grid_gives_no_grid():
    configs = [
        {"loss": "mse", "kernel": "5"},
        {"loss": "smooth_l1", "kernel": "5"},
        {"loss": "smooth_l1", "kernel": "3"},
    ]
    assert grid_tables(trials_frame(configs)) == []


def test_note_accuracy_interval_stays_a_share():
    trials = trials_frame([{"loss": "mse"}, {"loss": "ssim"}], seeds=(0, 1))
    trials["test_note_acc"] = [0.0, 0.2, 0.9, 1.0]
    data = loss_tables(trials)[0].data
    assert (data["test_note_acc_ci_low"] >= 0).all() and (data["test_note_acc_ci_high"] <= 1).all()


def test_configs_table_and_csv(smoke_runs, tmp_path: Path):
    table = configs_table(smoke_runs.trials)
    assert set(table.data["config"]) == {"loss=smooth_l1", "loss=mse"}
    assert table.data["test_psnr_mean"].is_monotonic_decreasing  # best first
    # per register, the note accuracy is the mean over that config's finished trials
    finished = smoke_runs.trials[smoke_runs.trials["status"] == "finished"]
    for row, cell in zip(
        table.data.itertuples(), table.display["note acc low / mid / high"], strict=True
    ):
        runs = finished[finished["loss"] == row.config.removeprefix("loss=")]
        expected = [f"{100 * runs[f'test_note_acc_{r}'].mean():.1f}%" for r in REGISTERS]
        assert cell.split(" / ") == expected
    path = table.write_csv(tmp_path)
    again = pd.read_csv(path)
    # the CSV keeps four decimals
    assert again["test_psnr_mean"].tolist() == pytest.approx(
        table.data["test_psnr_mean"].tolist(), abs=1e-4
    )


def test_markdown_table_escapes_pipes():
    text = markdown_table(pd.DataFrame({"a|b": ["x|y", math.nan]}))
    assert text.splitlines() == ["| a\\|b |", "| --- |", "| x\\|y |", "| – |"]


def test_tables_are_rebuilt_the_same_from_a_fresh_read(smoke_store, smoke_runs):
    again = load_runs(smoke_store.tracking_uri, ["smoke"])
    assert loss_tables(again.trials)[0].markdown() == loss_tables(smoke_runs.trials)[0].markdown()
