"""A study's results as files small enough to commit, and its runs read back from them.

`publish` writes what a study's run produced into a folder (docs/results/<study>): the
report in Markdown with its figures and every table as CSV, the runs as tidy CSVs (one row
a trial; every test sample's and every key's scores of each trial), and `run.json`: the
machine, versions, commit, date and wall time of the sweep, its MLflow experiment and the
study as it ran. No weights, no audio. `load_published` reads such a folder back into the
`Runs` the report is built from, so a published study rebuilds without its MLflow store.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analysis.artifacts import PUBLISHED, artifact_bytes
from analysis.configs import HYPERPARAMETERS
from analysis.document import Report
from analysis.generalisation import is_single_config
from analysis.report import build_report, write_report
from analysis.runs import Runs, typed_trials
from search_spaces.sweep_tracking import git_commit
from search_spaces.tags import COMMIT, STUDY_FILE
from trainables.training.artifacts import WORST_KEYS

RUN_JSON = "run.json"
RUNS = "runs"
#: The frames of `Runs`, each one CSV under runs/.
FRAMES = (
    "trials",
    "history",
    "per_key",
    "test_scores",
    "evaluations",
    "evaluation_scores",
)
TIMES = ("start_time", "end_time")
PACKAGES = ("torch", "torchaudio", "ray", "mlflow", "optuna", "numpy", "pandas", "sheetsweep")


def publish(runs: Runs, out: Path, report: Report | None = None, *, html: bool = False) -> Path:
    """Write `runs` (one study, or several compared) as committable files under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    write_report(report or build_report(runs), out, html=html)
    folder = out / RUNS
    folder.mkdir(exist_ok=True)
    for name in FRAMES:
        getattr(runs, name).to_csv(folder / f"{name}.csv", index=False)  # every digit: the
        # report rebuilt from these files must round as the one built from MLflow
    runs.experiments.to_json(folder / "experiments.json", orient="records", indent=1)
    for run_id in _scorecard_runs(runs):
        png = artifact_bytes(runs.tracking_uri, run_id, WORST_KEYS)
        if png is not None:
            (folder / run_id).mkdir(exist_ok=True)
            (folder / run_id / WORST_KEYS).write_bytes(png)
    (out / RUN_JSON).write_text(json.dumps(run_record(runs), indent=1, default=str) + "\n")
    return out


def load_published(folder: Path) -> Runs:
    """The `Runs` a folder written by `publish` holds, as `load_runs` read them."""
    runs = folder / RUNS
    if not (runs / "trials.csv").is_file():
        raise FileNotFoundError(f"{folder}: not a published study (no {RUNS}/trials.csv)")
    # params as MLflow holds them (strings), typed back as `load_runs` types them
    dtypes = {"trials": dict.fromkeys(HYPERPARAMETERS, str)}
    text = {"note": str, "register": str}
    frames = {
        name: pd.read_csv(runs / f"{name}.csv", dtype=dtypes.get(name, text)) for name in FRAMES
    }
    frames["trials"] = typed_trials(frames["trials"])
    for name in ("trials", "evaluations"):
        frame = frames[name]
        for column in TIMES:
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        # a missing tag is None, as MLflow gives it
        words = frame.select_dtypes(include="object").columns
        frame[words] = frame[words].astype(object).where(frame[words].notna(), None)
    experiments = pd.read_json(runs / "experiments.json", orient="records", dtype=False)
    return Runs(f"{PUBLISHED}{folder.resolve()}", experiments, **frames)


def run_record(runs: Runs) -> dict[str, Any]:
    """Where, when, with what and how long each study of `runs` ran, from its MLflow runs."""
    client = MlflowClient(runs.tracking_uri)
    studies = {}
    for _, experiment in runs.experiments.iterrows():
        name = experiment["experiment"]
        trials = runs.trials[runs.trials["experiment"] == name]
        parents = [client.get_run(run_id) for run_id in experiment["parent_run_ids"]]
        studies[name] = {
            "experiment_id": experiment["experiment_id"],
            "question": experiment["question"],
            "sweeps": [_sweep(client, parent, trials) for parent in parents],
            "trials": trials["status"].value_counts().to_dict(),
            "ran_on": sorted(trials["ran_device"].dropna().unique().tolist()),
            "cpu_flags": sorted(trials["ran_device_capability"].dropna().unique().tolist()),
            "precision": sorted(
                (trials["ran_precision"] + " + " + trials["ran_memory_format"])
                .dropna()
                .unique()
                .tolist()
            ),
            "git_commits": sorted(trials["git_commit"].dropna().unique().tolist()),
            "dataset_hashes": sorted(trials["dataset_hash"].dropna().unique().tolist()),
        }
    return {
        "studies": studies,
        "tracking_uri": runs.tracking_uri,
        "published": {
            "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "git_commit": git_commit(),
            "machine": _machine(),
            "versions": _versions(),
        },
    }


def _sweep(client: MlflowClient, parent, trials: pd.DataFrame) -> dict[str, Any]:
    """One launch of a study (a parent run): when, how long, at which commit, as what."""
    info, tags = parent.info, parent.data.tags
    started = pd.to_datetime(info.start_time, unit="ms", utc=True)
    ended = pd.to_datetime(info.end_time, unit="ms", utc=True) if info.end_time else None
    last = trials.loc[trials["parent_run_id"] == info.run_id, "end_time"].max()
    return {
        "run_id": info.run_id,
        "status": info.status,
        "started": f"{started:%Y-%m-%d %H:%M:%S} UTC",
        # the parent ends after the summary; the last trial's end bounds a sweep whose
        # parent was reopened by a later launch
        "wall_time_s": round((ended - started).total_seconds(), 1) if ended is not None else None,
        "last_trial_end_s": round((last - started).total_seconds(), 1) if pd.notna(last) else None,
        "git_commit": tags.get(COMMIT),
        "study": _study_as_ran(client, info.run_id),
    }


def _study_as_ran(client: MlflowClient, run_id: str) -> Any:
    """The study YAML the sweep logged on its parent run, or its params when it logged
    none (sweeps before the YAML was logged)."""
    try:
        return yaml.safe_load(
            Path(client.download_artifacts(run_id, STUDY_FILE)).read_text(encoding="utf-8")
        )
    except (MlflowException, OSError):  # an older sweep: its params are the record
        return {"params": client.get_run(run_id).data.params}


def _scorecard_runs(runs: Runs) -> list[str]:
    """The finished trials of single-config studies: the scorecard draws one's worst keys."""
    ids = []
    for name in runs.experiments["experiment"]:
        trials = runs.trials[runs.trials["experiment"] == name]
        if is_single_config(trials):
            ids += trials.loc[trials["status"] == "finished", "run_id"].tolist()
    return ids


def _machine() -> dict[str, Any]:
    import torch

    from trainables.training.hardware import cpu_name, present_cpu_flags

    return {
        "cpu": cpu_name(),
        "cpu_flags": list(present_cpu_flags()),
        "cores": len(os.sched_getaffinity(0)),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
