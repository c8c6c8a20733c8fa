"""The study's best model into the MLflow Model Registry, under the alias `champion`.

    python platform/sweep.py --study best --register piano       # after the sweep
    sheetsweep-register --experiment best --name piano            # any study, any time

The best trial is the finished trial with the best value of the study's metric (read from
its sweep run), ties broken by test PSNR. A trial that heard every piano of its dataset
comes before any held-out trial: those keep pianos out of training to measure how it reads
pianos never heard, and the model a user gets should have heard them all. Its logged model
becomes a version of the registered model, tagged with its scores and dataset hash;
registering the same trial again reuses its version. `models:/<name>@champion` then names
it everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient

import mlflow
from search_spaces.logged_models import run_model_id
from search_spaces.tags import DATASET, KEY, ROLE, STATUS, STUDY
from trainables.errors import SheetsweepError
from trainables.model.metrics import REGISTER_METRICS

CHAMPION = "champion"
#: Scores a registered version carries as tags (the registry UI shows them).
VERSION_SCORES = ("test_psnr", "test_note_acc", *REGISTER_METRICS)


class RegistryError(SheetsweepError):
    """Nothing to register: no such study, or no finished trial with a model."""


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    run_id: str
    model_id: str
    metric: str
    value: float
    new_version: bool

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{CHAMPION}"


def study_objective(client: MlflowClient, experiment_id: str) -> tuple[str, str]:
    """(metric, mode) the study optimised, from its latest sweep run."""
    sweeps = client.search_runs(
        [experiment_id],
        f"tags.`{ROLE}` = 'sweep'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    params = sweeps[0].data.params if sweeps else {}
    return params.get("metric", "test_note_acc"), params.get("mode", "max")


def heard_every_piano(run: Run) -> bool:
    """Whether a trial trained on all of its dataset's instruments (no `held_out`)."""
    return run.data.params.get("held_out", "None") == "None"


def best_trial(client: MlflowClient, study: str, metric: str | None = None) -> tuple[Run, str, str]:
    """The study's best finished trial that logged a model: (run, its logged model's id,
    the metric it was chosen by)."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        raise RegistryError(
            f"no experiment {study!r} in {client.tracking_uri}: run the study first"
        )
    chosen, mode = study_objective(client, experiment.experiment_id)
    metric = metric or chosen
    trials = client.search_runs(
        [experiment.experiment_id],
        f"tags.`{ROLE}` = 'trial' and tags.`{STATUS}` = 'finished'",
        max_results=50000,
    )
    scored = [run for run in trials if metric in run.data.metrics]
    if not scored:
        raise RegistryError(f"study {study!r} has no finished trial with metric {metric!r}")
    sign = 1 if mode == "max" else -1
    ranked = sorted(
        scored,
        key=lambda r: (
            heard_every_piano(r),
            sign * r.data.metrics[metric],
            r.data.metrics.get("test_psnr", 0.0),
        ),
        reverse=True,
    )
    for run in ranked:
        model_id = run_model_id(client, run.info.run_id)
        if model_id is not None:
            return run, model_id, metric
    raise RegistryError(
        f"no finished trial of study {study!r} logged a model (trained before models were "
        f"logged?): launch the study again with --register, or train one with sheetsweep-trial"
    )


def register_best(
    tracking_uri: str, study: str, name: str, metric: str | None = None
) -> Registered:
    """Register the best trial's model of `study` as `name` and point `champion` at it."""
    # The registry resolves a version's `models:/<id>` source through the process's
    # tracking URI, not the client's.
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    run, model_id, metric = best_trial(client, study, metric)
    try:
        client.create_registered_model(
            name, description=f"sheetsweep: best trials by {metric}", tags={STUDY: study}
        )
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run.info.run_id}'")
    if versions:
        version, new = versions[0], False
    else:
        metrics, tags = run.data.metrics, run.data.tags
        version_tags = {k: f"{metrics[k]:.4f}" for k in VERSION_SCORES if k in metrics}
        version_tags.update({STUDY: study, "chosen_by": metric})
        version_tags.update({k: tags[k] for k in (DATASET, KEY) if k in tags})
        version = client.create_model_version(
            name,
            source=f"models:/{model_id}",
            run_id=run.info.run_id,
            tags=version_tags,
            description=f"{run.info.run_name}: best trial of study {study!r} by {metric}",
            model_id=model_id,
        )
        new = True
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return Registered(
        name, version.version, run.info.run_id, model_id, metric, run.data.metrics[metric], new
    )
