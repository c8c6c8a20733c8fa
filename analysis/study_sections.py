"""Each study's section of the report: the tables, figures and answers its runs call for.

A loss table when the loss varies, the noise study when the SNRs vary, what matters when
Optuna searched, the scorecard when one config repeats over seeds, per-key PSNR and
learning curves, and the trials that did not finish.
"""

from __future__ import annotations

import ast

import pandas as pd

from analysis import thesis
from analysis.configs import config_labels, varying_fields
from analysis.document import Block, FigureBlock, Heading, Report, TableBlock, Text, slug
from analysis.figures import MAX_CONFIGS, learning_curves, per_key_scatter, per_key_trend
from analysis.generalisation import generalisation_table, is_single_config, latest_evaluations
from analysis.importance import (
    IMPORTANCE_METRICS,
    answer,
    at_epoch,
    importances,
    parse_space,
    searched_study,
)
from analysis.noise_study import noise_studies
from analysis.runs import Runs
from analysis.scorecard import instruments_table, scorecard
from analysis.search_figures import asha_curves, importance_bars, parallel_coordinates
from analysis.tables import Table, grid_tables, importance_table, kernel_tables, loss_tables
from analysis.wrong_keys import evaluation_errors_table


def study_section(report: Report, runs: Runs, name: str) -> None:
    trials = runs.trials[runs.trials["experiment"] == name]
    experiment = runs.experiments.set_index("experiment").loc[name]
    report.add(Heading(f"Study {name}"))
    if experiment["question"]:
        report.add(Text(f"Question: {experiment['question']}"))
    finished = trials[trials["status"] == "finished"].copy()
    varying = varying_fields(finished)
    report.add(
        Text(
            f"Varies: {', '.join(varying) or 'nothing but the seed'}; "
            f"{len(finished)} finished trial(s)."
        )
    )
    if experiment["searcher"] == "optuna" and isinstance(experiment.get("space"), str):
        _search_section(report, runs, name, experiment)
    for tables in (loss_tables(trials), kernel_tables(trials), grid_tables(trials)):
        for table in tables:
            report.add(Heading(table.title, 3), Text(table.caption), TableBlock(table))
            if "thesis_psnr" in table.data:
                report.add(Text(_ranking(table)))
    if is_single_config(trials):
        _scorecard_section(report, runs, name)
    else:
        _evaluation_section(report, runs, name)
    for study in noise_studies(trials):
        heading = f"Noise per register: {name}, {study.audio} test audio"
        report.add(Heading(heading, 3), Text(study.answer))
        for table in study.tables():
            report.add(Text(f"**{table.title}.** {table.caption}"), TableBlock(table))
        report.figure(
            f"noise_{name}{study.suffix}",
            study.figure(),
            "Per-register PSNR and note accuracy by training-noise setting (top) "
            f"and their change against uniform noise (bottom), on {study.audio} test audio.",
        )
    finished["config"] = config_labels(finished, with_study=False)
    baseline = float(finished["baseline_psnr"].mean()) if "baseline_psnr" in finished else None
    n_configs = finished["config"].nunique()
    shown = (
        f" The {MAX_CONFIGS} best of {n_configs} configurations by mean test PSNR."
        if n_configs > MAX_CONFIGS
        else ""
    )
    per_key = runs.per_key[runs.per_key["run_id"].isin(finished["run_id"])]
    report.add(
        Heading(f"Per-key PSNR across the keyboard: {name}", 3),
        Text(f"Thesis, for comparison: {thesis.PER_KEY_FINDING}"),
    )
    if len(per_key):
        report.figure(
            f"per_key_{name}",
            per_key_scatter(per_key, finished, f"{name}: per-key test PSNR", baseline),
            "Mean test PSNR of each key over seeds, one panel per configuration, "
            f"coloured by register.{shown}",
        )
        report.figure(
            f"per_key_trend_{name}",
            per_key_trend(per_key, finished, f"{name}: per-key trend", baseline),
            "The same, smoothed over neighbouring keys, all configurations on one "
            "axis; below, note accuracy per key. Bands: 95% t-interval over seeds "
            f"(none with one seed).{shown}",
        )
    else:
        report.add(Text("No per-key PSNR artifacts in these runs."))
    history = runs.history[runs.history["run_id"].isin(finished["run_id"])]
    if len(history):
        report.add(Heading(f"Learning curves: {name}", 3))
        report.figure(
            f"learning_curves_{name}",
            learning_curves(history, finished, f"{name}: learning curves", baseline),
            f"Per epoch, from the MLflow metric history of finished trials.{shown}",
        )
    report.add(*_unfinished(trials, name))


def _search_section(report: Report, runs: Runs, name: str, experiment: pd.Series) -> None:
    """A searched study's answer: which hyperparameters matter (Optuna's evaluators, with
    bootstrap intervals), every configuration on parallel coordinates, ASHA's view."""
    trials = runs.trials[runs.trials["experiment"] == name]
    history = runs.history[runs.history["run_id"].isin(trials["run_id"])]
    mode = experiment.get("mode") or "max"
    study = searched_study(
        trials, history, name, parse_space(experiment["space"]), experiment["metric"], mode
    )
    metrics = dict.fromkeys([study.metric, *IMPORTANCE_METRICS])
    tables = {m: importances(study, m) for m in metrics if m in study.configs}
    epochs = int(experiment.get("epochs") or max(study.configs["epochs_run"].max(), 1))
    rungs = _rungs(experiment, study)
    if rungs and (study.configs["state"] == "pruned").any():  # ASHA's view, all configs
        early = at_epoch(study, rungs[0])
        tables[early.metric] = importances(early, early.metric)
    report.add(Heading(f"What matters: {name}", 3), Text(answer(study, tables, epochs)))
    shown = {m: t for m, t in tables.items() if not t.empty}
    if not shown:
        return
    table = importance_table(shown, name)
    report.add(Text(f"**{table.title}.** {table.caption}"), TableBlock(table))
    report.figure(
        f"importance_{name}",
        importance_bars(shown),
        "Hyperparameter importance per metric: fANOVA (bars, 95% interval over bootstrap "
        "resamples of the configurations; the table says over how many) and PED-ANOVA "
        "(dots), from Optuna.",
    )
    report.figure(
        f"parallel_{name}",
        parallel_coordinates(study, study.metric),
        f"Every finished configuration across the searched hyperparameters, coloured by "
        f"{study.metric} (Optuna's parallel-coordinates plot; mean over seeds).",
    )
    report.figure(
        f"asha_{name}",
        asha_curves(study, rungs),
        f"{study.metric} per epoch of each configuration; grey: stopped by ASHA at a rung "
        "(dashed), blue: trained to the end.",
    )


def _rungs(experiment: pd.Series, study) -> tuple[int, ...]:
    """ASHA's rungs as the sweep recorded them; for older sweeps, where trials stopped."""
    recorded = experiment.get("asha_rungs")
    if isinstance(recorded, str):
        return tuple(int(r) for r in ast.literal_eval(recorded))
    stopped = study.configs.loc[study.configs["state"] == "pruned", "epochs_run"]
    return tuple(sorted(int(e) for e in stopped.unique()))


def _scorecard_section(report: Report, runs: Runs, name: str) -> None:
    """One configuration over seeds: per register, other test audio, the keys it misses."""
    card = scorecard(runs, name)
    report.add(Heading(f"The configuration, scored: {name}", 3), Text(card.summary))
    tables = (
        card.registers,
        card.generalisation,
        card.held_out_errors,
        card.evaluation_errors,
        card.evaluation_instruments,
        card.confusions,
    )
    for table in filter(None, tables):
        report.add(Text(f"**{table.title}.** {table.caption}"), TableBlock(table))
    if card.worst_keys_png is not None:
        report.add(
            FigureBlock(
                f"worst_keys_{slug(name)}",
                card.worst_keys_png,
                "The six keys with the lowest test PSNR in the seed that scored lowest: the "
                "true staff beside the predicted one.",
            )
        )


def _evaluation_section(report: Report, runs: Runs, name: str) -> None:
    """A study of several configs has no single config to score, but its models may have
    been scored on other datasets (`sheetsweep-evaluate`): the same table, those rows only."""
    evaluations = latest_evaluations(runs.evaluations, name)
    if evaluations.empty:
        return
    trials = runs.trials[runs.trials["experiment"] == name]
    table = generalisation_table(trials, name, evaluations)
    errors = evaluation_errors_table(evaluations, runs.evaluation_scores, name)
    report.add(Heading(table.title, 3), Text(table.caption), TableBlock(table))
    report.add(Text(f"**{errors.title}.** {errors.caption}"), TableBlock(errors))
    instruments = instruments_table(runs, evaluations, name)
    if instruments is not None:
        report.add(Text(f"**{instruments.title}.** {instruments.caption}"), TableBlock(instruments))


def _ranking(table: Table) -> str:
    """Which row is best here and which was best in the thesis, in one line."""
    data, factor = table.data, table.data.columns[1]
    ours = data.loc[data["test_psnr_mean"].idxmax()]
    line = (
        f"Highest mean test PSNR here: {factor} {ours[factor]} "
        f"({ours['test_psnr_mean']:.2f} dB, baseline {ours['baseline_psnr']:.2f} dB)"
    )
    runner_up = data.drop(index=ours.name)["test_psnr_mean"]
    if len(runner_up) and pd.notna(ours["test_psnr_ci_low"]):
        second = data.loc[runner_up.idxmax()]
        overlap = ours["test_psnr_ci_low"] <= second["test_psnr_ci_high"]
        line += (
            ", but its 95% interval overlaps the runner-up's"
            if overlap
            else ", its 95% interval clear of the runner-up's"
        )
    if data["thesis_psnr"].notna().any():
        theirs = data.loc[data["thesis_psnr"].idxmax()]
        line += f"; in the thesis: {factor} {theirs[factor]} ({theirs['thesis_psnr']:.2f} dB)"
    return line + "."


def _unfinished(trials: pd.DataFrame, name: str) -> list[Block]:
    rest = trials[trials["status"] != "finished"]
    if rest.empty:
        return []
    labels = config_labels(trials, with_study=False).loc[rest.index]
    rows = pd.DataFrame(
        {
            "config": [
                f"{label}, seed={seed}" for label, seed in zip(labels, rest["seed"], strict=True)
            ],
            "state": rest["status"],
            "epochs done": rest.get("epochs_done", pd.Series(index=rest.index, dtype=float))
            .astype(object)
            .where(lambda s: s.notna(), 0),
            "error (last line)": [_last_line(e) for e in rest["error"]],
            "run id": rest["run_id"],
        }
    )
    table = Table(
        f"unfinished_{name}",
        f"{name}: trials that did not finish",
        "Failed, pruned, lost or still running; left out of every table and figure.",
        rows,
        rows,
    )
    return [
        Heading(f"Trials that did not finish: {name}", 3),
        Text(table.caption),
        TableBlock(table),
    ]


def _last_line(error: object) -> str:
    if not isinstance(error, str) or not error.strip():
        return "–"
    return error.strip().splitlines()[-1][:300]
