"""One report from the runs of some studies: self-contained HTML and Markdown.

The report is a list of blocks (headings, text, tables, figures) built once from the
runs and rendered twice, so the HTML (figures embedded as base64 PNG) and the Markdown
(figures as PNG files beside it) cannot disagree. Sections appear when the runs call for
them: a loss table when the loss varies, the noise study when the SNRs vary, and so on.
"""

from __future__ import annotations

import ast
import base64
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from analysis import thesis
from analysis.figures import (
    MAX_CONFIGS,
    learning_curves,
    per_key_scatter,
    per_key_trend,
    png_bytes,
)
from analysis.importance import (
    IMPORTANCE_METRICS,
    answer,
    at_epoch,
    importances,
    parse_space,
    searched_study,
)
from analysis.noise_study import noise_studies
from analysis.runs import (
    Runs,
    config_labels,
    hardware_labels,
    require_finished,
    varying_fields,
)
from analysis.scorecard import (
    evaluation_errors_table,
    generalisation_table,
    is_single_config,
    latest_evaluations,
    scorecard,
)
from analysis.search_figures import asha_curves, importance_bars, parallel_coordinates
from analysis.tables import (
    Table,
    configs_table,
    grid_tables,
    importance_table,
    kernel_tables,
    loss_tables,
)

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
FIGURES = "figures"
TABLES = "tables"
ARTIFACT_PATH = "report"  # where the report goes inside each parent run's artifacts


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str  # `code` spans allowed


@dataclass(frozen=True)
class TableBlock:
    table: Table


@dataclass(frozen=True)
class FigureBlock:
    name: str  # file stem
    png: bytes
    caption: str


Block = Heading | Text | TableBlock | FigureBlock


@dataclass
class Report:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [b.table for b in self.blocks if isinstance(b, TableBlock)]

    @property
    def figures(self) -> list[FigureBlock]:
        return [b for b in self.blocks if isinstance(b, FigureBlock)]

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def figure(self, name: str, figure: Figure, caption: str) -> None:
        self.blocks.append(FigureBlock(_slug(name), png_bytes(figure), caption))


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    figures: list[Path]
    tables: list[Path]

    @property
    def all(self) -> list[Path]:
        return [self.html, self.markdown, *self.figures, *self.tables]


def build_report(runs: Runs) -> Report:
    """Every section that the runs support, in reading order."""
    require_finished(runs)
    names = list(runs.experiments["experiment"])
    report = Report(f"sheetsweep report: {', '.join(names)}")
    report.add(
        Text(
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the MLflow store "
            f"`{runs.tracking_uri}`, experiment(s) {', '.join(names)}. Ran on: "
            f"{'; '.join(hardware_labels(runs.trials))}."
        )
    )
    report.add(Heading("What was compared"), TableBlock(_overview(runs)), Text(_method_note(runs)))
    report.add(Heading("All configurations"), TableBlock(configs_table(runs.trials)))
    for name in names:
        _study_section(report, runs, name)
    return report


def _study_section(report: Report, runs: Runs, name: str) -> None:
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
        "resamples of the configurations) and PED-ANOVA (dots), from Optuna.",
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
        card.confusions,
    )
    for table in filter(None, tables):
        report.add(Text(f"**{table.title}.** {table.caption}"), TableBlock(table))
    if card.worst_keys_png is not None:
        report.add(
            FigureBlock(
                f"worst_keys_{_slug(name)}",
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


def _overview(runs: Runs) -> Table:
    counts = runs.counts()
    rows = []
    for _, experiment in runs.experiments.iterrows():
        name = experiment["experiment"]
        trials = runs.trials[runs.trials["experiment"] == name]
        finished = trials[trials["status"] == "finished"]
        planned = experiment["planned_trials"]
        rows.append(
            {
                "study": name,
                "varies": ", ".join(varying_fields(finished)) or "seed only",
                "sweeps": len(experiment["parent_run_ids"]),
                "planned": "–" if planned is None or pd.isna(planned) else int(planned),
                **{state: int(counts.loc[name, state]) for state in counts.columns},
                "evaluations": int((runs.evaluations["experiment"] == name).sum()),
                "epochs": _values(finished, "epochs"),
                "seeds": _values(finished, "seed"),
                "dataset": _values(trials, "dataset_hash", 10),
                "git commit": _values(trials, "git_commit", 8),
                "precision": _values(finished, "ran_precision"),
                "memory format": _values(finished, "ran_memory_format"),
            }
        )
    display = pd.DataFrame(rows)
    return Table(
        "overview",
        "Studies compared",
        "Trials per study and state (from the sweep's status tag); evaluations: "
        "`sheetsweep-evaluate` runs in the study's experiment, not trials.",
        display,
        display,
    )


def _method_note(runs: Runs) -> str:
    baseline = runs.finished["baseline_psnr"].mean() if "baseline_psnr" in runs.trials else None
    base = f" (here {baseline:.2f} dB)" if baseline is not None and pd.notna(baseline) else ""
    return (
        "Tables use finished trials only (pruned ones stopped early). Each number is the mean "
        "over seeds with its 95% Student-t interval; one seed gives no interval. PSNR is "
        "10 log10(1/MSE) on [0, 1] images, averaged over test samples. The mean-image "
        f"baseline{base} is the PSNR of predicting the training set's mean staff for every "
        "test sample: a model below it draws blur, not notes. Note accuracy is the share of "
        "test predictions whose nearest of the 88 targets is their own key (chance: 1.1%). "
        f"{thesis.SETUP} Our targets hold sparse ink, so our baseline is higher than the "
        "thesis's: compare PSNRs with the baseline beside them."
    )


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


def write_report(report: Report, out: Path) -> ReportFiles:
    """Write report.html, report.md, figures/*.png and tables/*.csv under `out`."""
    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    (out / TABLES).mkdir(parents=True, exist_ok=True)
    figures = []
    for block in report.figures:
        path = out / FIGURES / f"{block.name}.png"
        path.write_bytes(block.png)
        figures.append(path)
    tables = [table.write_csv(out / TABLES) for table in report.tables]
    html_path = out / HTML_NAME
    html_path.write_text(render_html(report), encoding="utf-8")
    markdown_path = out / MARKDOWN_NAME
    markdown_path.write_text(render_markdown(report), encoding="utf-8")
    return ReportFiles(html_path, markdown_path, figures, tables)


def log_report(runs: Runs, files: ReportFiles) -> dict[str, str]:
    """Log the report under `report/` of each study's latest sweep (parent) run.

    Returns experiment -> parent run id; a study without a parent run is skipped.
    """
    client = MlflowClient(runs.tracking_uri)
    logged = {}
    for _, experiment in runs.experiments.iterrows():
        if not experiment["parent_run_ids"]:
            continue
        run_id = experiment["parent_run_ids"][0]
        for path in (files.html, files.markdown):
            client.log_artifact(run_id, str(path), ARTIFACT_PATH)
        for path in files.figures:
            client.log_artifact(run_id, str(path), f"{ARTIFACT_PATH}/{FIGURES}")
        for path in files.tables:
            client.log_artifact(run_id, str(path), f"{ARTIFACT_PATH}/{TABLES}")
        logged[experiment["experiment"]] = run_id
    return logged


def render_markdown(report: Report) -> str:
    parts = [f"# {report.title}"]
    for block in report.blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, TableBlock):
            parts.append(block.table.markdown())
        else:
            parts.append(f"![{block.caption}]({FIGURES}/{block.name}.png)\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


def render_html(report: Report) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for block in report.blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, TableBlock):
            body.append(block.table.html())
        else:
            data = base64.b64encode(block.png).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.caption)}" '
                f'src="data:image/png;base64,{data}"><figcaption>'
                f"{html.escape(block.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.45}table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:0.9em}"
    "code{background:#f3f3f3;padding:0 0.2em}h2{border-bottom:1px solid #ddd;margin-top:2em}"
)


def _inline(text: str) -> str:
    """Escape, then the two Markdown spans the report's texts use: `code` and **bold**."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


def _values(frame: pd.DataFrame, column: str, width: int | None = None) -> str:
    values = sorted({str(v)[:width] if width else str(v) for v in frame[column].dropna()})
    return ", ".join(values) or "–"


def _last_line(error: object) -> str:
    if not isinstance(error, str) or not error.strip():
        return "–"
    return error.strip().splitlines()[-1][:300]
