"""A trained model as an MLflow Model folder: weights, the trial's config and feature
standardisation, the 88 targets, signature and input example.

trainables/serving/sheet_model.py reads what this writes. MLflow executes the folder's
`sheet_model_code.py` (a copy of trainables/serving/sheet_model_code.py) on every load;
it is named here by path, not imported: training comes before serving.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch
import yaml
from mlflow.models import ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, Schema

from trainables.data.engraving import load_targets
from trainables.model.net import SheetMusicNet
from trainables.training.config import TrialConfig

#: Where a trial puts its MLflow Model beside its other artifacts, and the name it is
#: logged under (`runs:/<run id>/model`).
MODEL_NAME = "model"
WEIGHTS = "weights"
BUNDLE = "bundle"
TARGETS = "targets"

SIGNATURE = ModelSignature(
    inputs=Schema(
        [ColSpec(Array(DataType.double), "samples"), ColSpec(DataType.long, "sample_rate")]
    ),
    outputs=Schema(
        [
            ColSpec(DataType.boolean, "found"),
            ColSpec(DataType.long, "midi", required=False),
            ColSpec(DataType.string, "note", required=False),
            ColSpec(DataType.double, "margin_db", required=False),
            ColSpec(DataType.double, "onset_s", required=False),
            ColSpec(DataType.string, "image_png", required=False),
            ColSpec(DataType.string, "reason", required=False),
        ]
    ),
)


#: The code MLflow stores with each model and runs on load ("models from code", not a pickle).
MODEL_CODE = Path(__file__).parents[1] / "serving" / "sheet_model_code.py"
#: The metadata key of that code's SHA-256 when it was logged (trainables/serving/model_code.py).
CODE_SHA256 = "code_sha256"


def input_example(rate: int = 8000, seconds: float = 0.5) -> pd.DataFrame:
    """A struck A4 (440 Hz, decaying) after 50 ms of silence: what one request carries."""
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-4 * t)
    samples = np.concatenate([np.zeros(round(0.05 * rate)), tone]).astype(np.float32)
    return pd.DataFrame([{"samples": samples.round(5).tolist(), "sample_rate": rate}])


def requirements() -> list[str]:
    """What loading the model needs beside this package (not on PyPI: installed from its
    repository), pinned to what trained it."""
    names = ("torch", "torchaudio", "mlflow", "numpy", "pandas", "pillow", "pyyaml", "soundfile")
    return [f"{name}=={importlib.metadata.version(name)}" for name in names]


def package_version() -> str:
    try:
        return importlib.metadata.version("sheetsweep")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def save_sheet_model(
    path: Path,
    model: SheetMusicNet,
    config: TrialConfig,
    data,
    execution_record: dict[str, Any] | None = None,
) -> Path:
    """Write `model`, trained on `data` (a TrialData), as an MLflow Model folder at `path`."""
    with tempfile.TemporaryDirectory() as staging:
        weights = Path(staging) / "weights.pt"
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, weights)
        bundle = Path(staging) / "bundle.yaml"
        description = {
            "config": config.to_dict(),
            "n_frames": data.n_frames,
            "duration_s": data.duration_s,
            "mean": data.mean,
            "std": data.std,
            "dataset_hash": data.dataset_hash,
            "trained_in": execution_record or {},
            "sheetsweep_version": package_version(),
        }
        bundle.write_text(yaml.safe_dump(description, sort_keys=False))
        # One file, not 88 PNGs: MLflow refuses '#' (A#0.png) in artifact paths. The
        # targets are 8-bit images, so uint8 keeps them exactly.
        targets = Path(staging) / "targets.npz"
        images = np.round(load_targets(data.root / "targets")[:, 0] * 255).astype(np.uint8)
        np.savez_compressed(targets, targets=images)
        mlflow.pyfunc.save_model(
            path=str(path),
            python_model=str(MODEL_CODE),
            artifacts={
                WEIGHTS: str(weights),
                BUNDLE: str(bundle),
                TARGETS: str(targets),
            },
            signature=SIGNATURE,
            input_example=input_example(),
            pip_requirements=requirements(),
            metadata={
                "sheetsweep_version": package_version(),
                CODE_SHA256: hashlib.sha256(MODEL_CODE.read_bytes()).hexdigest(),
                "dataset_hash": data.dataset_hash,
                "duration_s": data.duration_s,
                "needs": "the sheetsweep package (pip install <its repository>)",
            },
        )
    return path
