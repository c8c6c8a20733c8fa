"""A trial's identity without Ray: its config from what Tune hands it, and its key.

The key is deterministic (study, dataset, config, seed): a study resumed on any machine
looks each planned trial up by it in MLflow and trains only those it lacks.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from trainables.training.config import TrialConfig

#: Where a trial's files go beside its checkpoint, and the prefix of what it reports about
#: how it ran (precision, memory format, hardware) beside its metrics: `ran_<name>`, which
#: the driver records as MLflow tags.
ARTIFACTS = "artifacts"
RAN_PREFIX = "ran_"

#: Fields added after studies had run -> the value that behaves as before they existed: left
#: out of the key at that value, so that a study resumed with a newer sheetsweep finds the
#: trials it already trained.
KEYED_UNLESS = {
    "augment": None,
    "noise_colour": "white",
    "spectrogram": "mel",
    "test_snr_db": None,
    "top_db": 80.0,
}


def trial_key(study: str, dataset_hash: str, config: TrialConfig) -> str:
    """Same study, data and config (seed included) -> same key, on any machine."""
    values = {
        k: v for k, v in config.to_dict().items() if k not in KEYED_UNLESS or v != KEYED_UNLESS[k]
    }
    text = json.dumps({"study": study, "dataset": dataset_hash, **values}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trial_config(tune_config: dict[str, Any], seeds: tuple[int, ...]) -> TrialConfig:
    """A Tune config -> TrialConfig.

    Fields sit at the top; a mapping value is a bundle of fields chosen together (the
    noise study's per-register SNRs); `trial` holds a whole config (re-running lost
    trials); without `seed`, Repeater's `__trial_index__` picks one of `seeds`.
    """
    if "trial" in tune_config:
        return TrialConfig.from_dict(tune_config["trial"], source="trial config")
    values: dict[str, Any] = {}
    for name, value in tune_config.items():
        if name.startswith("__"):
            continue
        values.update(value if isinstance(value, dict) else {name: value})
    if "seed" not in values:
        values["seed"] = seeds[int(tune_config.get("__trial_index__", 0))]
    return TrialConfig.from_dict(values, source="trial config")
