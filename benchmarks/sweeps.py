"""Launching sweeps as a user does, and reading back when each epoch happened.

A sweep is `platform/sweep.py --study <a YAML written here>` in a fresh process, with its
own SQLite tracking store and Tune storage in a temporary folder, so benchmark runs never
mix with a user's runs or resume each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmarks.common import ROOT
from search_spaces.study import load_study

#: Environment that must not reach a benchmark's sweep: it would join another Ray cluster
#: or log into another tracking store.
ISOLATE = ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")


@dataclass
class Launch:
    """One process: when it started and ended (epoch seconds), and what it printed."""

    command: list[str]
    started: float
    ended: float
    returncode: int
    log: Path
    lines: list[tuple[float, str]] = field(default_factory=list)  # (arrival time, line)

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    def check(self) -> None:
        if self.returncode != 0:
            tail = "\n".join(line for _, line in self.lines[-40:])
            raise RuntimeError(f"{' '.join(self.command)} exited {self.returncode}:\n{tail}")


def launch(
    command: list[str], log: Path, timeout_s: float = 1800, env: dict[str, str] | None = None
) -> Launch:
    """Run `command` from the repository root, stamping each output line as it arrives;
    `env` adds to this process's environment."""
    env = {**{k: v for k, v in os.environ.items() if k not in ISOLATE}, **(env or {})}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.time()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        watchdog = threading.Timer(timeout_s, process.kill)
        watchdog.start()
        try:
            for line in process.stdout:
                lines.append((time.time(), line.rstrip("\n")))
            returncode = process.wait()
        finally:
            watchdog.cancel()
    ended = time.time()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(line for _, line in lines) + "\n")
    return Launch(command, started, ended, returncode, log, lines)


def dataset_section(root: Path) -> dict[str, Any]:
    """A study's `dataset:` for an existing rendered dataset, from its manifest, so that
    the sweep finds it up to date instead of rebuilding it."""
    spec = json.loads((root / "dataset.json").read_text())["spec"]
    return {
        "root": str(root),
        "presets": spec["presets"],
        "velocities": spec["velocities"],
        "test_fraction": spec["test_fraction"],
        "held_out_instruments": spec["held_out_instruments"],
    }


def write_study(folder: Path, raw: dict[str, Any]) -> Path:
    """Write a study YAML and check it loads (a typo fails here, not in the sweep)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    load_study(path)
    return path


def run_sweep(study: Path, folder: Path, *extra: str, env: dict[str, str] | None = None) -> Launch:
    """`platform/sweep.py --study <study>` with its own tracking store and Tune storage."""
    command = [
        sys.executable,
        "platform/sweep.py",
        "--study",
        str(study),
        "--tracking-uri",
        tracking_uri(folder),
        "--storage",
        str(folder / "tune"),
        *extra,
    ]
    result = launch(command, folder / "sweep.log", env=env)
    result.check()
    return result


def tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def trial_runs(folder: Path, experiment: str) -> pd.DataFrame:
    """One row per (trial, epoch) the sweep logged: the trial's params, its status, the
    epoch's metrics and when the driver logged them (epoch seconds)."""
    from mlflow.tracking import MlflowClient  # slow to import; only the sweeps need it

    from search_spaces.tags import RAN_FIELDS, ROLE, STATUS, ran_tag

    client = MlflowClient(tracking_uri(folder))
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise RuntimeError(f"{folder}: no MLflow experiment {experiment!r}")
    runs = client.search_runs([found.experiment_id], max_results=10_000)
    rows = []
    for run in runs:
        if run.data.tags.get(ROLE) != "trial":
            continue
        history: dict[int, dict[str, Any]] = {}
        for metric in ("test_psnr", "epoch_time_s"):
            for point in client.get_metric_history(run.info.run_id, metric):
                entry = history.setdefault(point.step, {"logged": point.timestamp / 1000})
                entry[metric] = point.value
                entry["logged"] = min(entry["logged"], point.timestamp / 1000)
        for epoch, entry in history.items():
            if epoch < 1:  # a trial that stopped itself (diverged) before its first epoch
                continue
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "status": run.data.tags.get(STATUS, run.info.status.lower()),
                    "run_start": run.info.start_time / 1000,
                    "run_end": (run.info.end_time or 0) / 1000,
                    **run.data.params,
                    **{f"ran_{f}": run.data.tags.get(ran_tag(f)) for f in RAN_FIELDS},
                    "epoch": epoch,
                    **entry,
                }
            )
    if not rows:
        raise RuntimeError(f"{folder}: the sweep logged no trial epochs to MLflow")
    return pd.DataFrame(rows).sort_values("logged", ignore_index=True)


def epoch_seconds(data: Path, config: dict[str, Any]) -> float:
    """Estimated seconds of one epoch of `config` on `data` (training and evaluation),
    from two short epochs in this process (4 batches, 64 test samples): to size a trial."""
    import dataclasses

    from trainables.training.config import TrialConfig
    from trainables.training.data import Split, pick_device, prepare_data
    from trainables.training.loop import train_trial

    trial = TrialConfig.from_dict(config, source="benchmark")
    prepared = prepare_data(data, trial, pick_device())
    n_train, n_test = 4 * trial.batch_size, 64

    def head(split: Split, n: int) -> Split:
        return Split(split.features[:n], split.keys[:n])

    probe = dataclasses.replace(
        prepared,
        train=head(prepared.train, n_train),
        test=head(prepared.test, n_test),
        noisy_test=None,
    )
    epochs = train_trial(trial.replace(epochs=2), probe)
    next(epochs)  # warm-up: the first steps allocate
    metrics = next(epochs).metrics
    train_s = min(n_train, len(prepared.train)) / metrics["train_samples_per_s"]
    eval_s = max(metrics["epoch_time_s"] - train_s, 0.0) / min(n_test, len(prepared.test))
    tested = len(prepared.test) + (len(prepared.noisy_test) if prepared.noisy_test else 0)
    return len(prepared.train) / metrics["train_samples_per_s"] + eval_s * tested
