"""The study YAML's schema as data: its fields, their types, the required ones, the allowed
values, and the type check of one value.

`search_spaces.study` reads a file against it; nothing here raises.
"""

from __future__ import annotations

from typing import Any

from trainables.model.metrics import EPOCH_METRICS

SEARCHERS = ("grid", "optuna")
SCHEDULERS = ("none", "asha")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")
MODES = ("max", "min")
#: Metrics a study may optimise: what every trial reports each epoch.
METRICS = tuple(m for m in EPOCH_METRICS if m.startswith("test_"))
TOP_LEVEL = {
    "name": str,
    "question": str,
    "metric": str,
    "mode": str,
    "searcher": str,
    "optuna": dict,
    "scheduler": str,
    "asha": dict,
    "num_trials": int,
    "seeds": list,
    "dataset": dict,
    "fixed": dict,
    "space": dict,
    "resources": dict,
    "max_concurrent": int,
    "max_failures": int,
}
REQUIRED = ("name", "question", "metric", "mode", "searcher", "seeds", "fixed", "space")
#: The fields of each section (a mapping under a top-level field).
OPTUNA = {"seed": int, "n_startup_trials": int}
ASHA = {"grace_period": int, "reduction_factor": float}
RESOURCES = {"cpu": float, "gpu": float}
DATASET = {
    "root": str,
    "soundfonts": list,
    "presets": list,
    "velocities": list,
    "test_fraction": float,
    "held_out_instruments": list,
    "renderer": str,
    "merge": list,
    "test": list,
    "train": list,
}
#: What a rendered dataset is made from: not part of a merged one.
RENDERING = {"soundfonts", "presets", "velocities", "held_out_instruments", "renderer"}


def is_a(value: Any, kind: type) -> bool:
    """`value` has the schema type `kind` (a YAML int is a float; a bool is neither)."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)
