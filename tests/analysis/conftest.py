"""Real runs for the analysis, made once per session by real (tiny) sweeps.

`smoke_store`: the shipped smoke study (loss smooth_l1/mse x seeds 0, 1, 4 epochs) as the
session's `smoke_launch` ran it, copied, plus a second sweep of the same study whose trials
fail (depth 6 is too deep for the smoke spectrograms), so the experiment holds finished and
failed trials under two parent runs.

`thesis_store` (slow): small kernel and noise studies, for the sections smoke lacks.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from analysis.runs import Runs, load_runs
from search_spaces.study import Dimension, Study, load_study
from search_spaces.sweep import SweepOptions, run_sweep
from tests.commands import ROOT

#: The smoke dataset is cached in the repository's data/ folder and shared with the CLI.
SMOKE_DATA = ROOT / "data" / "smoke"


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    folder: Path
    experiments: tuple[str, ...]

    def load(self) -> Runs:
        return load_runs(self.tracking_uri, list(self.experiments))


def with_own_artifacts(store: Store, folder: Path) -> Store:
    """A copy of `store` into `folder` with its own copy of its experiments' artifacts,
    the runs pointed at them: a test may delete a file without touching the session's."""
    shutil.copy(store.folder / "mlflow.db", folder / "mlflow.db")
    with sqlite3.connect(folder / "mlflow.db") as db:
        for name in store.experiments:
            (location,) = db.execute(
                "select artifact_location from experiments where name = ?", (name,)
            ).fetchone()
            copy = folder / "mlartifacts" / name
            shutil.copytree(urlparse(location).path, copy)
            for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
                db.execute(
                    f"update {table} set {column} = replace({column}, ?, ?)",
                    (location, copy.as_uri()),
                )
    return Store(f"sqlite:///{folder / 'mlflow.db'}", folder, store.experiments)


def smoke_study(**changes) -> Study:
    study = load_study("smoke")
    dataset = dataclasses.replace(study.dataset, root=SMOKE_DATA)
    return study.with_overrides(dataset=dataset, **changes)


def sweep(study: Study, folder: Path) -> None:
    run_sweep(study, SweepOptions(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "tune")))


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory: pytest.TempPathFactory, smoke_launch):
    import ray

    folder = tmp_path_factory.mktemp("smoke_store")
    shutil.copy(smoke_launch[0] / "mlflow.db", folder / "mlflow.db")  # its artifacts stay put
    study = smoke_study()
    failing = smoke_study(fixed={**study.fixed, "depth": 6}, seeds=(0,), max_failures=0)
    sweep(failing, folder)
    yield Store(f"sqlite:///{folder / 'mlflow.db'}", folder, ("smoke",))
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_runs(smoke_store: Store) -> Runs:
    return smoke_store.load()


@pytest.fixture(scope="session")
def thesis_store(tmp_path_factory: pytest.TempPathFactory):
    """Kernel 3 vs 5, and uniform vs less-noise-on-low-notes, 2 seeds, 1 epoch each."""
    import ray

    folder = tmp_path_factory.mktemp("thesis_store")
    base = smoke_study()
    fixed = {**base.fixed, "epochs": 1, "loss": "smooth_l1"}
    kernel = base.with_overrides(
        name="kernel-mini",
        fixed={k: v for k, v in fixed.items() if k != "kernel"},
        space=(Dimension("kernel", "choice", ("3", "5")),),
    )
    noise = base.with_overrides(
        name="noise-mini",
        fixed={**fixed, "snr_mid_db": 10.0, "snr_high_db": 10.0},
        space=(Dimension("snr_low_db", "choice", (10.0, 30.0)),),
        metric="test_psnr_low",
    )
    sweep(kernel, folder)
    sweep(noise, folder)
    yield Store(f"sqlite:///{folder / 'mlflow.db'}", folder, ("kernel-mini", "noise-mini"))
    ray.shutdown()


@pytest.fixture(scope="session")
def best_store(tmp_path_factory: pytest.TempPathFactory):
    """One config over 2 seeds, trained with 10 dB noise, on the dataset's split and with
    one piano held out: what the `best` study logs, shrunk to 1 epoch."""
    import ray

    folder = tmp_path_factory.mktemp("best_store")
    base = smoke_study()
    study = base.with_overrides(
        name="best-mini",
        fixed={
            **base.fixed,
            "loss": "smooth_l1",
            "epochs": 1,
            "snr_low_db": 10.0,
            "snr_mid_db": 10.0,
            "snr_high_db": 10.0,
        },
        space=(Dimension("held_out", "choice", (None, "TimGM6mb-p2")),),
    )
    sweep(study, folder)
    yield Store(f"sqlite:///{folder / 'mlflow.db'}", folder, ("best-mini",))
    ray.shutdown()


@pytest.fixture(scope="session")
def best_runs(best_store: Store) -> Runs:
    return best_store.load()
