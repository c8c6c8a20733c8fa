"""Which searched hyperparameters matter, from a study's MLflow runs, by Optuna's own
evaluators.

The study is rebuilt as an in-memory Optuna study: one trial per configuration (the mean
over its seeds, what TPE optimised), its searched values under the study's own
distributions, finished configurations COMPLETE with the metric, ASHA's stopped ones
PRUNED with the epochs they ran. fANOVA and PED-ANOVA then say how much each
hyperparameter explains of the metric; fANOVA again on bootstrap resamples of the
configurations says how stable that is (a 95% interval per hyperparameter).

Those evaluators read only the COMPLETE trials: under ASHA, a few. `at_epoch` rebuilds the
study at ASHA's first rung, where every configuration was scored, so the report can say
what mattered there too, over all of them (what ASHA acted on).
"""

from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator
from optuna.trial import TrialState, create_trial

#: The metrics whose drivers a searched study's report names.
IMPORTANCE_METRICS = ("test_psnr", "test_note_acc", "test_note_acc_low")
BOOTSTRAPS = 50
IMPORTANCE_COLUMNS = [
    "parameter",
    "fanova",
    "fanova_ci_low",
    "fanova_ci_high",
    "fanova_resamples",  # bootstrap resamples fANOVA could score, of `fanova_bootstraps`
    "fanova_bootstraps",
    "ped_anova",
    "rank",
]


@dataclass(frozen=True)
class SearchedStudy:
    """A searched study as Optuna sees it, rebuilt from the runs."""

    name: str
    metric: str
    direction: str  # maximize | minimize
    distributions: dict[str, BaseDistribution]
    configs: pd.DataFrame  # one row per configuration: the searched values, metrics, state

    def optuna_study(self, metric: str | None = None, rows: pd.Index | None = None):
        """The Optuna study of these configurations scored by `metric` (default the
        study's); `rows` picks (and may repeat) configurations, for a bootstrap."""
        metric = metric or self.metric
        configs = self.configs if rows is None else self.configs.loc[rows]
        study = optuna.create_study(study_name=self.name, direction=self.direction)
        for _, config in configs.iterrows():
            complete = config["state"] == "finished" and np.isfinite(config[metric])
            study.add_trial(
                create_trial(
                    params={name: config[name] for name in self.distributions},
                    distributions=self.distributions,
                    value=float(config[metric]) if complete else None,
                    state=TrialState.COMPLETE if complete else TrialState.PRUNED,
                    intermediate_values=config["curve"],
                )
            )
        return study


def parse_space(text: str) -> dict[str, tuple[str, list]]:
    """The sweep run's `space` param (`{name: [kind, values]}`, as Python literals)."""
    return {name: (kind, list(values)) for name, (kind, values) in ast.literal_eval(text).items()}


def distribution(kind: str, values: list) -> BaseDistribution:
    """A study dimension as Optuna's distribution; a bundle of fields chosen together (a
    mapping) is one categorical choice, named by its JSON."""
    if kind == "choice":
        return CategoricalDistribution(tuple(choice_label(v) for v in values))
    low, high = values
    if kind == "int":
        return IntDistribution(int(low), int(high))
    return FloatDistribution(float(low), float(high), log=kind == "loguniform")


def choice_label(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def searched_study(
    trials: pd.DataFrame,
    history: pd.DataFrame,
    name: str,
    space: dict[str, tuple[str, list]],
    metric: str,
    mode: str,
) -> SearchedStudy:
    """One configuration per searched point of `trials` (finished and pruned), the mean
    over seeds, with the study metric's curve over epochs (ASHA's view of it)."""
    distributions = {dim: distribution(kind, values) for dim, (kind, values) in space.items()}
    trials = trials[trials["status"].isin(["finished", "pruned"])].copy()
    for dim, (kind, values) in space.items():
        if kind == "choice" and any(isinstance(v, dict) for v in values):
            trials[dim] = [
                choice_label({field: row[field] for field in values[0]})
                for _, row in trials.iterrows()
            ]
    curves = (
        history[history["metric"] == metric]
        .groupby("run_id")[["epoch", "value"]]
        .apply(lambda h: dict(zip(h["epoch"].astype(int), h["value"].astype(float), strict=True)))
    )
    trials["curve"] = trials["run_id"].map(curves).apply(lambda c: c if isinstance(c, dict) else {})
    trials["epochs_run"] = trials["curve"].map(len)
    numeric = [m for m in (*IMPORTANCE_METRICS, metric, "epochs_run") if m in trials]
    configs = (
        trials.groupby(list(distributions), dropna=False, sort=False)
        .agg(
            **{m: (m, "mean") for m in dict.fromkeys(numeric)},
            state=("status", lambda s: "finished" if (s == "finished").all() else "pruned"),
            curve=("curve", _mean_curve),
            n_seeds=("run_id", "size"),
        )
        .reset_index()
    )
    direction = "maximize" if mode == "max" else "minimize"
    return SearchedStudy(name, metric, direction, distributions, configs)


def at_epoch(study: SearchedStudy, epoch: int) -> SearchedStudy:
    """The study with each configuration scored by its metric at `epoch` (the curve's
    value), every configuration that reached it COMPLETE; the metric renamed
    `<metric>@<epoch>`."""
    metric = f"{study.metric}@{epoch}"
    configs = study.configs.assign(
        **{metric: [c.get(epoch, np.nan) for c in study.configs["curve"]]}
    )
    reached = configs[metric].notna()
    configs = configs[reached].assign(state="finished").reset_index(drop=True)
    return SearchedStudy(study.name, metric, study.direction, study.distributions, configs)


def _mean_curve(curves: pd.Series) -> dict[int, float]:
    frame = pd.DataFrame(list(curves))
    return {int(epoch): float(value) for epoch, value in frame.mean().dropna().items()}


def importances(
    study: SearchedStudy, metric: str, bootstraps: int = BOOTSTRAPS, seed: int = 0
) -> pd.DataFrame:
    """Per hyperparameter: fANOVA and PED-ANOVA importance of `metric` (normalised to sum
    to 1), and fANOVA's 95% bootstrap interval over resampled configurations.
    A resample whose configurations all scored alike gives fANOVA nothing to split: the
    interval rests on the others, `fanova_resamples` of `fanova_bootstraps` (NaN if none).
    Empty when fewer than 3 configurations finished with the metric."""
    complete = study.configs[(study.configs["state"] == "finished") & study.configs[metric].notna()]
    if len(complete) < 3 or complete[metric].nunique() < 2:
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)  # nothing to explain
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    full = study.optuna_study(metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PED-ANOVA is experimental; few top trials warn
        fanova = _fanova(full, seed)
        if fanova is None:
            return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
        ped_anova = optuna.importance.get_param_importances(
            full, evaluator=PedAnovaImportanceEvaluator()
        )
        rng = np.random.default_rng(seed)
        resampled = []
        for b in range(bootstraps):
            rows = pd.Index(rng.choice(complete.index.to_numpy(), size=len(complete)))
            resampled.append(_fanova(study.optuna_study(metric, rows), seed + b))
    parameters = list(study.distributions)
    scored = [r for r in resampled if r is not None]
    samples = pd.DataFrame(scored, columns=parameters, dtype=float)
    table = pd.DataFrame(
        {
            "parameter": parameters,
            "fanova": [float(fanova.get(p, 0.0)) for p in parameters],
            "fanova_ci_low": [float(samples[p].quantile(0.025)) for p in parameters],
            "fanova_ci_high": [float(samples[p].quantile(0.975)) for p in parameters],
            "fanova_resamples": [int(samples[p].notna().sum()) for p in parameters],
            "fanova_bootstraps": bootstraps,
            "ped_anova": [float(ped_anova.get(p, 0.0)) for p in parameters],
        }
    )
    table = table.sort_values("fanova", ascending=False).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[IMPORTANCE_COLUMNS]


def fanova_text(row: pd.Series) -> str:
    """`53% [9%, 60%] over 48 of 50 resamples`: fANOVA's importance, its bootstrap
    interval and how many resamples it rests on."""
    resamples = f"{int(row['fanova_resamples'])} of {int(row['fanova_bootstraps'])} resamples"
    if pd.isna(row["fanova_ci_low"]):
        return f"{row['fanova']:.0%} (no interval: {resamples})"
    return (
        f"{row['fanova']:.0%} [{row['fanova_ci_low']:.0%}, {row['fanova_ci_high']:.0%}] "
        f"over {resamples}"
    )


def _fanova(study: optuna.Study, seed: int) -> dict[str, float] | None:
    """fANOVA's importances, or None where the trees find no variance to split (a
    bootstrap resample of configurations that all scored alike)."""
    try:
        return optuna.importance.get_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=seed)
        )
    except RuntimeError:
        return None


def best_region(study: SearchedStudy, parameter: str, top: int = 5) -> str:
    """Where the `top` best finished configurations put `parameter`: a range, or the
    values they chose."""
    finished = study.configs[study.configs["state"] == "finished"].dropna(subset=[study.metric])
    best = finished.sort_values(study.metric, ascending=study.direction == "minimize").head(top)
    values = best[parameter]
    if isinstance(study.distributions[parameter], CategoricalDistribution):
        counts = values.astype(str).value_counts()
        return ", ".join(f"{value} ({n} of {len(best)})" for value, n in counts.items())
    low, high = float(values.min()), float(values.max())
    return f"{low:.3g} to {high:.3g}" if low != high else f"{low:.3g}"


def asha_saving(study: SearchedStudy, epochs: int) -> tuple[int, int]:
    """(epochs trained, epochs a run of every configuration to the end would take)."""
    trained = int((study.configs["epochs_run"] * study.configs["n_seeds"]).sum())
    return trained, int(study.configs["n_seeds"].sum()) * epochs


def _first_rung(tables: dict[str, pd.DataFrame]) -> str | None:
    """The epoch of the `<metric>@<epoch>` table among `tables`, if there is one."""
    return next((m.partition("@")[2] for m in tables if "@" in m), None)


def answer(study: SearchedStudy, tables: dict[str, pd.DataFrame], epochs: int) -> str:
    """Two or three sentences from the numbers: what matters most and by how much, where
    the best configurations are, and what ASHA saved."""
    finished = int((study.configs["state"] == "finished").sum())
    stopped = len(study.configs) - finished
    table = tables.get(study.metric)
    if table is None or table.empty:
        return (
            f"{len(study.configs)} configurations ({finished} finished): too few finished "
            f"with {study.metric} to say which hyperparameter matters (3 needed)."
        )
    first, second = table.iloc[0], table.iloc[1] if len(table) > 1 else None
    sentences = [
        f"Over {len(study.configs)} configurations ({finished} finished, {stopped} stopped "
        f"by ASHA), `{first['parameter']}` matters most for {study.metric}: fANOVA "
        f"importance {fanova_text(first)}"
        + (
            f", against {second['fanova']:.0%} for `{second['parameter']}`, the next"
            if second is not None
            else ""
        )
        + f"; PED-ANOVA ranks `{table.sort_values('ped_anova').iloc[-1]['parameter']}` first."
    ]
    others = [
        f"`{metric}`: `{t.iloc[0]['parameter']}` ({t.iloc[0]['fanova']:.0%})"
        for metric, t in tables.items()
        if metric != study.metric and "@" not in metric and not t.empty
    ]
    region = best_region(study, first["parameter"])
    best = f"The best configurations put `{first['parameter']}` at {region}"
    sentences.append(best + (f"; what matters most for {', '.join(others)}." if others else "."))
    rung = _first_rung(tables)
    early = tables.get(f"{study.metric}@{rung}")
    if early is not None and not early.empty:
        sentences.append(
            f"At the first rung (epoch {rung}), where all "
            f"{len(study.configs)} configurations were scored, `{early.iloc[0]['parameter']}` "
            f"matters most ({fanova_text(early.iloc[0])})."
        )
    trained, full = asha_saving(study, epochs)
    if full and trained < full:
        sentences.append(
            f"ASHA trained {trained} of the {full} epochs that training every configuration "
            f"to the end would take ({1 - trained / full:.0%} saved)."
        )
    return " ".join(sentences)
