"""The model this package ships, so that reading a note needs no training.

`sheetsweep-transcribe note.wav` reads with it when no `--model` is given (a model given
with `--model`, such as a registered `models:/piano@champion`, is used instead), and
`mlflow models serve -m trainables/serving/ready_model --env-manager local` serves it.
Its training data, scores and limits: trainables/serving/ready_model/README.md (the model
card). `platform/train_ready_model.sh` trains it again (the `ready` study) and ships it:

    python -m trainables.serving.ready models:/piano-ready@champion

copies a trained model (any MLflow model URI or folder) here with its weights stored as
float16: half the size; the loader casts them back to float32, and the card's scores are
measured on this copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

import mlflow
from trainables.errors import SheetsweepError
from trainables.exit_codes import Exit
from trainables.serving.model_code import model_folder
from trainables.tracking_uri import add_tracking_uri

READY_MODEL = Path(__file__).parent / "ready_model"
CARD = "README.md"
WEIGHTS = Path("artifacts") / "weights.pt"


def half_weights(path: Path) -> None:
    """Store the floating-point tensors of a state dict at `path` as float16."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    halved = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(halved, path)


def ship(model: Path, into: Path = READY_MODEL) -> Path:
    """Copy the MLflow Model folder `model` to `into`, weights as float16; the card stays."""
    if not (model / "MLmodel").is_file() or not (model / WEIGHTS).is_file():
        raise FileNotFoundError(f"{model}: not a sheetsweep MLflow Model folder (no MLmodel)")
    card = (into / CARD).read_text() if (into / CARD).is_file() else None
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(model, into)
    into.chmod(0o755)  # a downloaded model's folder is a private temporary one
    half_weights(into / WEIGHTS)
    if card is not None:
        (into / CARD).write_text(card)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="models:/NAME@champion, runs:/<run id>/model, a folder")
    add_tracking_uri(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(args.tracking_uri)
    try:
        with tempfile.TemporaryDirectory() as staging:
            shipped = ship(model_folder(args.model, Path(staging)))
    except (SheetsweepError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT
    size = sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file())
    print(f"shipped {args.model} as {shipped} ({size / 1e6:.1f} MB)")
    return Exit.OK


if __name__ == "__main__":
    raise SystemExit(main())
