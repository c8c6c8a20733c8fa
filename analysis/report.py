"""One report from the runs of some studies: built, written as HTML and Markdown, logged.

The report is a document (`analysis.document`: headings, text, tables, figures) built
once from the runs and rendered twice (`analysis.render`), so the HTML (figures embedded
as base64 PNG) and the Markdown (figures as PNG files beside it) cannot disagree. Sections
appear when the runs call for them (`analysis.study_sections`): a loss table when the
loss varies, the noise study when the SNRs vary, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow.tracking import MlflowClient

from analysis.configs import hardware_labels
from analysis.document import Heading, Report, TableBlock, Text
from analysis.overview import method_note, overview_table
from analysis.render import FIGURES, render_html, render_markdown
from analysis.runs import Runs, require_finished
from analysis.study_sections import study_section
from analysis.tables import configs_table

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
TABLES = "tables"
ARTIFACT_PATH = "report"  # where the report goes inside each parent run's artifacts


@dataclass(frozen=True)
class ReportFiles:
    html: Path | None  # None: written without it (a published study)
    markdown: Path
    figures: list[Path]
    tables: list[Path]

    @property
    def all(self) -> list[Path]:
        return [p for p in (self.html, self.markdown) if p] + [*self.figures, *self.tables]


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
    report.add(
        Heading("What was compared"), TableBlock(overview_table(runs)), Text(method_note(runs))
    )
    report.add(Heading("All configurations"), TableBlock(configs_table(runs.trials)))
    for name in names:
        study_section(report, runs, name)
    return report


def write_report(report: Report, out: Path, html: bool = True) -> ReportFiles:
    """Write report.html (unless not `html`), report.md, figures/*.png and tables/*.csv
    under `out`."""
    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    (out / TABLES).mkdir(parents=True, exist_ok=True)
    figures = []
    for block in report.figures:
        path = out / FIGURES / f"{block.name}.png"
        path.write_bytes(block.png)
        figures.append(path)
    tables = [table.write_csv(out / TABLES) for table in report.tables]
    html_path = out / HTML_NAME if html else None
    if html_path is not None:
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
        for path in filter(None, (files.html, files.markdown)):
            client.log_artifact(run_id, str(path), ARTIFACT_PATH)
        for path in files.figures:
            client.log_artifact(run_id, str(path), f"{ARTIFACT_PATH}/{FIGURES}")
        for path in files.tables:
            client.log_artifact(run_id, str(path), f"{ARTIFACT_PATH}/{TABLES}")
        logged[experiment["experiment"]] = run_id
    return logged
