"""`sheetsweep-evaluate`: score any trained model on any built or imported dataset.

    sheetsweep-evaluate --model models:/piano@champion --data data/my-piano
    sheetsweep-evaluate --model runs:/<run id>/model --data data/fluid
    sheetsweep-evaluate --model models:/piano@champion --data data/salamander --conditions all

Every note of the dataset (all splits) is read as `sheetsweep-transcribe` reads a
recording and scored with a trial's metrics: PSNR and note accuracy per register and key,
the keys read wrong, the worst keys drawn; a note the model finds no note in counts as not
read. `--conditions` scores it again under recording conditions (noise, rooms, a phone's
band: trainables/features/conditions.py). Each (dataset, condition) is an MLflow run in the
experiment of the study that trained the model, linked to the model and the dataset, and
`sheetsweep-report` shows it in the study's generalisation table.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from mlflow.entities import LoggedModelInput, Metric, Param
from mlflow.tracking import MlflowClient

import mlflow
from search_spaces.logged_models import dataset_input
from search_spaces.sweep_tracking import TRACKING_ERRORS
from search_spaces.tags import (
    CONDITION,
    CUSTOM_MODEL_DEVELOPMENT,
    DATASET,
    DATASET_NAME,
    DATASET_ROOT,
    EVALUATION,
    EXPERIMENT_KIND,
    MODEL_RUN,
    MODEL_URI,
    ROLE,
    STUDY,
)
from trainables.data.dataset import open_dataset
from trainables.errors import SheetsweepError
from trainables.exit_codes import Exit
from trainables.features.conditions import CONDITIONS, Condition, conditions
from trainables.keys import Register
from trainables.model.metrics import summarize
from trainables.serving.evaluation import DatasetScores, save_worst_keys, score_dataset
from trainables.serving.model_code import add_trust_model_code
from trainables.serving.sheet_model import SheetModel, load_reader
from trainables.tracking_uri import add_tracking_uri
from trainables.training.artifacts import write_per_key_psnr, write_test_scores

#: Where evaluations of a model that no sweep logged (a local folder) go.
DEFAULT_EXPERIMENT = "evaluations"


def experiment_for(client: MlflowClient, reader: SheetModel) -> tuple[str, str]:
    """(experiment id, name): the training study's experiment, else `evaluations`."""
    if reader.run_id:
        experiment_id = client.get_run(reader.run_id).info.experiment_id
        return experiment_id, client.get_experiment(experiment_id).name
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id, DEFAULT_EXPERIMENT
    tags = {EXPERIMENT_KIND: CUSTOM_MODEL_DEVELOPMENT}
    return client.create_experiment(DEFAULT_EXPERIMENT, tags=tags), DEFAULT_EXPERIMENT


def log_evaluation(
    client: MlflowClient,
    reader: SheetModel,
    model_uri: str,
    result: DatasetScores,
    metrics: dict[str, float],
) -> tuple[str, str]:
    """One finished run holding the evaluation and its `metrics` (a trial's, from
    `summarize`); returns (run id, experiment name)."""
    experiment_id, study = experiment_for(client, reader)
    tags = {
        ROLE: EVALUATION,
        STUDY: study,
        MODEL_URI: model_uri,
        DATASET: result.dataset_hash,
        DATASET_NAME: result.name,
        DATASET_ROOT: str(result.root.resolve()),
        CONDITION: result.condition.name,
    }
    if reader.run_id:
        tags[MODEL_RUN] = reader.run_id
    under = "" if result.condition.name == "clean" else f", {result.condition.name}"
    run = client.create_run(
        experiment_id, run_name=f"evaluate {model_uri} on {result.name}{under}", tags=tags
    )
    run_id = run.info.run_id
    counts = {"n_notes": len(result.scores), "n_not_read": len(result.not_read)}
    metrics = {**metrics, **counts}
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
        params=[
            Param("model_uri", model_uri),
            Param("dataset", str(result.root)),
            Param("condition", result.condition.name),
        ],
    )
    n_notes = len(result.scores)
    models = [LoggedModelInput(reader.model_id)] if reader.model_id else None
    client.log_inputs(
        run_id,
        datasets=[dataset_input(result.root, result.dataset_hash, n_notes, "evaluation")],
        models=models,
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        files = [
            write_test_scores(result.scores, out / "test_scores.csv"),
            write_per_key_psnr(result.scores, out / "per_key_psnr.csv"),
            save_worst_keys(reader, result, out / "worst_keys.png"),
        ]
        if result.not_read:
            (out / "not_read.txt").write_text("\n".join(result.not_read) + "\n")
            files.append(out / "not_read.txt")
        for path in filter(None, files):
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED")
    return run_id, study


def register_lines(result: DatasetScores, metrics: dict[str, float]) -> list[str]:
    """The per-register scores as printed, from the trial's metrics (`summarize`)."""
    scores = result.scores
    lines = [f"{'register':<9}{'notes':>6}{'refused':>8}{'PSNR (dB)':>11}{'note accuracy':>15}"]
    for register in ("all", *(r.value for r in Register)):
        suffix = "" if register == "all" else f"_{register}"
        part = scores if register == "all" else scores[scores["register"] == register]
        if len(part):
            psnr, accuracy = metrics[f"test_psnr{suffix}"], metrics[f"test_note_acc{suffix}"]
            refused = int(part["refused"].astype(bool).sum())
            lines.append(f"{register:<9}{len(part):>6}{refused:>8}{psnr:>11.2f}{accuracy:>15.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/NAME@champion, runs:/..., ...")
    parser.add_argument("--data", type=Path, required=True, help="a built or imported dataset")
    parser.add_argument(
        "--conditions",
        default="clean",
        help=f"recording conditions to score under, comma-separated, or 'all': {list(CONDITIONS)}",
    )
    add_tracking_uri(parser)
    add_trust_model_code(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(args.tracking_uri)
    try:
        under = conditions(args.conditions)
        reader = load_reader(args.model, trust_model_code=args.trust_model_code)
        open_dataset(args.data)
    except ValueError as error:
        print(f"error: --conditions: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    except SheetsweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    client = MlflowClient(args.tracking_uri)
    return max(evaluate(client, reader, args.model, args.data, condition) for condition in under)


def evaluate(
    client: MlflowClient, reader: SheetModel, model_uri: str, data: Path, condition: Condition
) -> Exit:
    """Score, print and log one (dataset, condition); what it says as an exit status."""
    result = score_dataset(reader, data, condition)
    read = len(result.scores) - len(result.not_read)
    print(f"{model_uri} on {result.name}, {condition.name} ({read} of {len(result.scores)} read):")
    if not read:
        print(f"error: {data}: the model found no note in any recording", file=sys.stderr)
        return Exit.NO_RESULT
    metrics = summarize(result.scores, "test")
    print("\n".join(register_lines(result, metrics)))
    for reason in result.not_read:
        print(f"not read: {reason}")
    try:
        run_id, study = log_evaluation(client, reader, model_uri, result, metrics)
    except TRACKING_ERRORS as error:
        print(f"error: the evaluation was not logged to MLflow: {error}", file=sys.stderr)
        return Exit.NOT_RECORDED
    print(f"MLflow: experiment {study!r}, run {run_id}")
    return Exit.INCOMPLETE if result.not_read else Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
