"""A study published into the repository: small, complete, and rebuilt into the same
report without its MLflow store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.missing import missing_files
from analysis.publish import RUN_JSON, load_published, publish
from analysis.render import render_markdown
from analysis.report import build_report
from trainables.training.artifacts import TEST_SCORES

#: A published study is committed: weights and audio stay out.
MAX_BYTES = 2_000_000


def generated_line_removed(markdown: str) -> list[str]:
    """The report's text less the line that says when and from which store it was made."""
    return [line for line in markdown.splitlines() if not line.startswith("Generated ")]


@pytest.fixture(params=["smoke_store", "best_store"])
def store(request):
    return request.getfixturevalue(request.param)


def test_a_published_study_rebuilds_the_same_report_without_its_store(store, tmp_path):
    runs = store.load()
    folder = publish(runs, tmp_path / "published")
    again = load_published(folder)
    assert again.tracking_uri.startswith("published:")
    for name in ("trials", "history", "per_key", "test_scores", "evaluations"):
        assert len(getattr(again, name)) == len(getattr(runs, name)), name
    pd.testing.assert_frame_equal(
        again.trials[["run_id", "status", "kernel", "lr", "epochs", "test_psnr"]],
        runs.trials[["run_id", "status", "kernel", "lr", "epochs", "test_psnr"]],
        check_exact=False,
        check_dtype=False,
        rtol=1e-5,
    )
    assert again.trials["held_out"].isna().tolist() == runs.trials["held_out"].isna().tolist()
    original, rebuilt = build_report(runs), build_report(again)
    assert generated_line_removed(render_markdown(rebuilt)) == generated_line_removed(
        render_markdown(original)
    )
    assert [f.name for f in rebuilt.figures] == [f.name for f in original.figures]


def test_what_is_published_says_where_when_and_how_long(smoke_store, tmp_path):
    code = main(
        [
            "--experiment",
            "smoke",
            "--tracking-uri",
            smoke_store.tracking_uri,
            "--publish",
            str(tmp_path / "smoke"),
        ]
    )
    assert code == 0
    folder = tmp_path / "smoke"
    assert (folder / "report.md").is_file() and not (folder / "report.html").exists()
    assert list((folder / "tables").glob("*.csv")) and list((folder / "figures").glob("*.png"))
    scores = pd.read_csv(folder / "runs" / "test_scores.csv")
    assert {"run_id", "midi", "predicted_midi", "correct", "psnr"} <= set(scores.columns)
    assert len(pd.read_csv(folder / "runs" / "per_key.csv")) > 0
    record = json.loads((folder / RUN_JSON).read_text())
    smoke = record["studies"]["smoke"]
    launch = next(s for s in smoke["sweeps"] if s["study"].get("name") == "smoke")
    assert launch["wall_time_s"] > 0 and launch["started"].endswith("UTC")
    assert launch["study"]["fixed"]["epochs"] == 4  # the study as it ran, logged by the sweep
    assert smoke["trials"]["finished"] == 4 and smoke["ran_on"][0].startswith("cpu: ")
    assert record["published"]["versions"]["torch"].startswith("2.14.1")
    assert record["published"]["machine"]["cpu_flags"] is not None
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < MAX_BYTES
    assert not [p for p in folder.rglob("*") if p.suffix in {".pt", ".wav", ".npz"}]


def test_the_report_builds_from_a_published_folder(smoke_store, tmp_path, capsys):
    publish(smoke_store.load(), tmp_path / "smoke")
    code = main(["--from-published", str(tmp_path / "smoke"), "--out", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000
    assert "MLflow store" not in capsys.readouterr().out


def test_a_run_without_scores_is_still_missing_once_published(smoke_runs, tmp_path):
    assert missing_files(smoke_runs).empty  # every finished trial logged its files
    lost = smoke_runs.finished.iloc[0]
    scores = smoke_runs.test_scores
    runs = dataclasses.replace(smoke_runs, test_scores=scores[scores["run_id"] != lost["run_id"]])
    again = load_published(publish(runs, tmp_path / "published"))
    expected = [["smoke", lost["run_id"], lost["run_name"], TEST_SCORES]]
    assert missing_files(runs).values.tolist() == expected
    assert missing_files(again).values.tolist() == expected


def test_a_folder_that_is_not_published_is_refused(tmp_path: Path, capsys):
    code = main(["--from-published", str(tmp_path), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "not a published study" in capsys.readouterr().err
