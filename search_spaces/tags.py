"""The MLflow tags a sweep writes and the analysis reads: the contract between them."""

PARENT = "mlflow.parentRunId"
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
