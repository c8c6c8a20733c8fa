"""What the driver records beside a trial's metrics: its artifacts, its model as an MLflow
logged model of the run (what `runs:/<run id>/model` and the registry resolve), and the
dataset it trained on as an MLflow dataset input (the runs table's Dataset column).

A trial writes its MLflow Model folder locally (trainables/serving/sheet_model.py); only the
driver talks to the tracking store.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, LoggedModelStatus
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from search_spaces.tags import DATASET, KEY, STUDY
from trainables.training.export import MODEL_NAME

#: MLflow keeps a dataset's digest in 36 characters; the full hash is in its profile.
DIGEST_LENGTH = 16
MODEL_TYPE = "sheetsweep"


def log_trial_outputs(
    client: MlflowClient, run_id: str, experiment_id: str, folder: Path, step: int
) -> str | None:
    """Upload a trial's artifact folder to its run; its `model/` folder, if any, becomes the
    run's logged model `model`. Returns the logged model's id (None without a model)."""
    model_id = None
    for item in sorted(folder.iterdir()):
        if item.name == MODEL_NAME and item.is_dir():
            model_id = log_model_folder(client, run_id, experiment_id, item, step)
        elif item.is_dir():
            client.log_artifacts(run_id, str(item), artifact_path=item.name)
        else:
            client.log_artifact(run_id, str(item))
    return model_id


def run_model_id(client: MlflowClient, run_id: str) -> str | None:
    """The logged model a run output last (the highest step), if any."""
    outputs = client.get_run(run_id).outputs
    models = list(outputs.model_outputs) if outputs is not None else []
    return max(models, key=lambda m: m.step).model_id if models else None


def log_model_folder(
    client: MlflowClient, run_id: str, experiment_id: str, folder: Path, step: int
) -> str:
    """An MLflow Model folder as the logged model `model` of `run_id`, as `log_model` would
    log it (its MLmodel names the run and the model id), once per run."""
    existing = run_model_id(client, run_id)
    if existing is not None:  # a relaunch closing the run again: the model is there
        return existing
    tags = client.get_run(run_id).data.tags
    model = client.create_logged_model(
        experiment_id,
        name=MODEL_NAME,
        source_run_id=run_id,
        tags={name: tags[name] for name in (STUDY, KEY, DATASET) if name in tags},
        model_type=MODEL_TYPE,
    )
    with tempfile.TemporaryDirectory() as staging:
        copy = Path(staging) / MODEL_NAME
        shutil.copytree(folder, copy)
        description = Model.load(str(copy / "MLmodel"))
        description.run_id = run_id
        description.model_id = model.model_id
        description.model_uuid = model.model_id
        description.artifact_path = model.artifact_location
        description.save(str(copy / "MLmodel"))
        client.log_model_artifacts(model.model_id, str(copy))
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step)])
    return model.model_id


def dataset_input(root: Path, dataset_hash: str, n_samples: int, context: str) -> DatasetInput:
    """The dataset folder as an MLflow dataset input: its folder name, its hash as digest."""
    dataset = Dataset(
        name=root.name,
        digest=dataset_hash[:DIGEST_LENGTH],
        source_type="local",
        source=json.dumps({"uri": Path(root).resolve().as_uri()}),
        profile=json.dumps({"dataset_hash": dataset_hash, "num_rows": n_samples}),
    )
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])
