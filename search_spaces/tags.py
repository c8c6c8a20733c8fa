"""The MLflow tags a sweep writes: the contract between the sweep and the analysis, kept
free of heavy imports so the report starts fast."""

PARENT = "mlflow.parentRunId"
#: The study as the sweep ran it (overrides applied), an artifact of its parent run.
STUDY_FILE = "study.yaml"
STUDY = "sheetsweep.study"
ROLE = "sheetsweep.role"  # sweep | trial
KEY = "sheetsweep.trial_key"
DIGEST = "sheetsweep.study_digest"
#: finished | pruned (stopped early by ASHA) | failed (raised) | diverged (NaN/inf loss)
#: | too_large (does not fit the device) | lost (interrupted and never resumed)
STATUS = "sheetsweep.status"
ERROR = "sheetsweep.error"
DATASET = "dataset_hash"
COMMIT = "git_commit"
NODE = "ray_node_id"
#: What a trial ran on: precision, memory_format, device, device_capability, native_bf16,
#: chosen_by (see trainables/training/precision.py). A record of the run, not the trial's identity.
RAN = "sheetsweep.ran."
RAN_FIELDS = (
    "precision",
    "memory_format",
    "device",
    "device_capability",
    "native_bf16",
    "left_out",  # with held_out: the held-out instruments' twins, kept out of training
)


def ran_tag(field: str) -> str:
    return RAN + field


def ran_label(device: str, capability: str | None, precision: str, memory_format: str) -> str:
    """One way a trial ran, as the sweep's summary and the report say it."""
    return f"{device} ({capability or 'no AVX2/AVX-512'}), {precision} + {memory_format}"


#: `ROLE` of a run that scores a model on a dataset (`sheetsweep-evaluate`), logged in the
#: experiment of the study that trained the model.
EVALUATION = "evaluation"
MODEL_URI = "sheetsweep.model_uri"  # the model as the user named it (runs:/, models:/...)
MODEL_RUN = "sheetsweep.model_run_id"  # the trial run that trained it
DATASET_NAME = "sheetsweep.dataset_name"  # the scored dataset's folder name
DATASET_ROOT = "sheetsweep.dataset_root"
CONDITION = "sheetsweep.condition"  # the recording condition it was scored under
#: The kind MLflow 3's UI is told the experiment is (a fresh browser still opens it on the
#: GenAI overview: the sweep prints the link to its runs, `sweep_tracking.runs_page`).
EXPERIMENT_KIND = "mlflow.experimentKind"
CUSTOM_MODEL_DEVELOPMENT = "custom_model_development"
