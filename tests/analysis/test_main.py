"""`python -m analysis report` and `sheetsweep-report`: files, messages, exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlparse

from mlflow.tracking import MlflowClient

from analysis.__main__ import main
from tests.analysis.conftest import with_own_artifacts
from tests.commands import ROOT, report_command, run_command
from trainables.exit_codes import Exit
from trainables.training.artifacts import TEST_SCORES


def test_report_command(smoke_store, tmp_path: Path, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "report",
            "--experiment",
            "smoke",
            "--tracking-uri",
            smoke_store.tracking_uri,
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert f"report: {out / 'report.html'}" in printed
    assert "smoke: 4 finished, 2 failed" in printed
    assert "logged to MLflow: experiment 'smoke', parent run" in printed
    assert (out / "report.html").is_file() and (out / "report.md").is_file()


def test_console_script_form_without_subcommand(smoke_store, tmp_path: Path, capsys):
    code = main(
        [
            "--experiment",
            "smoke",
            "--tracking-uri",
            smoke_store.tracking_uri,
            "--out",
            str(tmp_path),
            "--no-log",
        ]
    )
    assert code == 0 and "logged to MLflow" not in capsys.readouterr().out


def test_unknown_experiment_exits_2(smoke_store, tmp_path: Path, capsys):
    code = main(
        [
            "report",
            "--experiment",
            "nope",
            "--tracking-uri",
            smoke_store.tracking_uri,
            "--out",
            str(tmp_path / "never"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and "experiment 'nope' does not exist" in error
    assert not (tmp_path / "never").exists()


def test_a_finished_run_without_its_scores_exits_3_and_is_named(
    smoke_store, smoke_runs, tmp_path: Path, capsys
):
    store = with_own_artifacts(smoke_store, tmp_path)
    run = smoke_runs.finished.iloc[0]
    folder = MlflowClient(store.tracking_uri).get_run(run["run_id"]).info.artifact_uri
    (Path(urlparse(folder).path) / TEST_SCORES).unlink()
    argv = ["--experiment", "smoke", "--tracking-uri", store.tracking_uri, "--no-log"]
    code = main([*argv, "--out", str(tmp_path / "report")])
    error = capsys.readouterr().err
    assert code == Exit.INCOMPLETE == 3
    assert f"smoke run {run['run_name']} ({run['run_id']}) has no {TEST_SCORES}" in error
    assert error.count("incomplete:") == 1  # its per-key scores and the others' are there
    assert (tmp_path / "report" / "report.md").is_file()


def test_module_entry_point_exits_2_on_a_missing_store(tmp_path: Path):
    result = run_command(
        report_command("smoke", f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "out"),
        timeout=120,
    )
    assert result.returncode == 2 and "no MLflow store" in result.stderr


def test_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sheetsweep-report"] == "analysis.__main__:main"
