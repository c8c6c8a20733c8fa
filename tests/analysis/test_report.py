"""The report: sections that fit the runs, embedded figures, the same numbers as the tables."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from analysis.document import FigureBlock, Heading
from analysis.render import render_html, render_markdown
from analysis.report import build_report, log_report, write_report
from analysis.tables import kernel_tables, loss_tables
from tests.analysis.frames import synthetic_runs, trials_frame
from tests.analysis.png import assert_real_png


@pytest.fixture(scope="module")
def smoke_report(smoke_runs):
    return build_report(smoke_runs)


def headings(report) -> list[str]:
    return [b.text for b in report.blocks if isinstance(b, Heading)]


def test_sections_follow_the_runs(smoke_report):
    titles = "\n".join(headings(smoke_report))
    assert "What was compared" in titles and "Test PSNR by loss (thesis Table 1)" in titles
    assert "Per-key PSNR across the keyboard" in titles and "Learning curves" in titles
    assert "Trials that did not finish" in titles  # the two depth-6 trials
    assert "kernel" not in titles.lower() and "noise" not in titles.lower()
    names = [b.name for b in smoke_report.figures]
    assert names == ["per_key_smoke", "per_key_trend_smoke", "learning_curves_smoke"]


def test_overview_counts_the_trials(smoke_report):
    overview = smoke_report.tables[0].data.set_index("study").loc["smoke"]
    assert (overview["finished"], overview["failed"], overview["pruned"]) == (4, 2, 0)
    assert overview["sweeps"] == 2 and overview["varies"] == "loss"
    assert overview["planned"] == 4 + 2  # the smoke sweep and the failing one


def test_html_is_self_contained(smoke_report, smoke_runs):
    page = render_html(smoke_report)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(smoke_report.figures) == 3
    for data in images:
        assert_real_png(base64.b64decode(data), 800, 300)
    assert "<table" in page and "thesis PSNR, kernel 5x5 (dB)" in page
    assert 'src="http' not in page and "<script" not in page
    table = loss_tables(smoke_runs.trials)[0]
    for cell in table.display["test PSNR (dB), mean [95% CI]"]:
        assert cell in page
    assert "too small for depth 6" in page  # the failed trials' error


def test_markdown_matches_the_html(smoke_report, smoke_runs):
    text = render_markdown(smoke_report)
    assert text.startswith("# sheetsweep report: smoke")
    assert loss_tables(smoke_runs.trials)[0].markdown() in text
    assert text.count("](figures/") == 3


def test_written_files(smoke_report, tmp_path: Path):
    files = write_report(smoke_report, tmp_path / "out")
    assert files.html.name == "report.html" and files.markdown.name == "report.md"
    for figure in files.figures:
        assert_real_png(figure, 800, 300)
        assert f"](figures/{figure.name})" in files.markdown.read_text()
    assert {p.name for p in files.tables} >= {
        "overview.csv",
        "configs.csv",
        "loss_smoke.csv",
        "unfinished_smoke.csv",
    }
    assert files.html.stat().st_size > 100_000  # the figures are inside


def test_logged_to_the_parent_run(smoke_report, smoke_runs, smoke_store, tmp_path: Path):
    files = write_report(smoke_report, tmp_path / "out")
    logged = log_report(smoke_runs, files)
    parent = smoke_runs.experiments.loc[0, "parent_run_ids"][0]
    assert logged == {"smoke": parent}
    client = MlflowClient(smoke_store.tracking_uri)
    names = {a.path for a in client.list_artifacts(parent, "report")}
    assert {"report/report.html", "report/report.md", "report/figures", "report/tables"} <= names
    figures = {a.path for a in client.list_artifacts(parent, "report/figures")}
    assert len(figures) == len(files.figures)


def test_figure_blocks_hold_pngs(smoke_report):
    for block in smoke_report.blocks:
        if isinstance(block, FigureBlock):
            assert block.caption and block.png[:4] == b"\x89PNG"


@pytest.mark.slow
def test_kernel_and_noise_report_on_real_runs(thesis_store, tmp_path: Path):
    """Kernel and noise sections from real sweeps, their numbers equal MLflow's."""
    runs = thesis_store.load()
    report = build_report(runs)
    titles = "\n".join(headings(report))
    assert "Test PSNR by kernel (thesis Table 2)" in titles
    assert "Noise per register: noise-mini" in titles
    (table,) = kernel_tables(runs.trials)
    client = MlflowClient(thesis_store.tracking_uri)
    experiment = client.get_experiment_by_name("kernel-mini")
    for run_kernel in ("3", "5"):
        psnr = [
            r.data.metrics["test_psnr"]
            for r in client.search_runs(
                [experiment.experiment_id], f"params.kernel = '{run_kernel}'"
            )
        ]
        row = table.data.set_index("kernel").loc[run_kernel]
        assert row["test_psnr_mean"] == pytest.approx(np.mean(psnr))
    files = write_report(report, tmp_path)
    assert "noise_noise-mini.png" in {p.name for p in files.figures}
    assert "Against uniform noise (10/10/10 dB)" in files.html.read_text()


def test_pruned_trials_are_listed_not_tabled_and_many_configs_are_capped():
    """A TPE-like study: eight configs, two of them pruned by ASHA."""
    configs = [{"loss": "mse", "lr": 10.0 ** -(2 + i / 4)} for i in range(8)]
    trials = trials_frame(configs, seeds=(0,))
    trials.loc[trials.index[-2:], "status"] = "pruned"
    report = build_report(synthetic_runs(trials))
    overview = report.tables[0].data.iloc[0]
    assert (overview["finished"], overview["pruned"]) == (6, 2)
    configs_shown = report.tables[1].data
    assert len(configs_shown) == 6 and configs_shown["test_psnr_ci_low"].isna().all()  # 1 seed
    unfinished = next(t for t in report.tables if t.name == "unfinished_study")
    assert list(unfinished.data["state"]) == ["pruned", "pruned"]
    six = [b for b in report.blocks if isinstance(b, FigureBlock)]
    assert all("The 6 best" not in b.caption for b in six)  # 6 finished: all drawn
    trials.loc[trials.index[-2:], "status"] = "finished"
    capped = build_report(synthetic_runs(trials))
    assert any("The 6 best of 8" in b.caption for b in capped.figures)
