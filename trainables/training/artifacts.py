"""What a trial leaves behind: per-key PSNR, per-sample scores, prediction grids of keys
across the keyboard and of the worst keys, loss curves, and once it has trained all its
epochs, the model as an MLflow Model that reads raw audio (trainables/serving/sheet_model.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import yaml

from trainables.keys import LOWEST_MIDI, note_name
from trainables.model.metrics import per_key_table
from trainables.training.config import TrialConfig
from trainables.training.data import Split, TrialData
from trainables.training.export import MODEL_NAME, save_sheet_model
from trainables.training.loop import predict
from trainables.training.step import Execution

PER_KEY_PSNR = "per_key_psnr.csv"
TEST_SCORES = "test_scores.csv"
PREDICTIONS = "predictions.png"
WORST_KEYS = "worst_keys.png"
LOSS_CURVES = "loss_curves.png"
MODEL = MODEL_NAME
HISTORY = "metrics.csv"
CONFIG = "config.yaml"
EXECUTION = "execution.yaml"


def write_per_key_psnr(scores: pd.DataFrame, path: Path) -> Path:
    per_key_table(scores).to_csv(path, index=False, float_format="%.4f")
    return path


def write_test_scores(scores: pd.DataFrame, path: Path) -> Path:
    """One row per test sample: its key, the key its prediction is nearest to, its scores."""
    predicted = scores["predicted_midi"].astype("Int64")  # empty where no note was found
    table = scores.assign(
        note=scores["midi"].map(note_name),
        predicted_midi=predicted,
        predicted_note=predicted.map(note_name, na_action="ignore"),
    )
    columns = ["midi", "note", "register", "predicted_midi", "predicted_note", "correct"]
    # an evaluation's notes also name their instrument and whether no note was found
    extra = [column for column in ("instrument", "refused") if column in table]
    table[[*columns, "psnr", "ssim", *extra]].to_csv(path, index=False, float_format="%.4f")
    return path


def worst_samples(scores: pd.DataFrame, n: int = 6) -> list[int]:
    """Test-sample indices of the `n` keys with the lowest PSNR, each key's worst sample."""
    worst = scores.sort_values("psnr").drop_duplicates("midi").head(n)
    return worst.index.tolist()


def grid_samples(split: Split, n: int = 8) -> list[int]:
    """Indices of `n` test samples of keys spread evenly over the keyboard."""
    keys = split.keys.cpu()
    present = torch.unique(keys)
    chosen = present[torch.linspace(0, len(present) - 1, min(n, len(present))).round().long()]
    return [int((keys == k).nonzero()[0]) for k in chosen]


#: One panel of a figure of image rows: its title and a (162, 300) image in [0, 1].
Panel = tuple[str, np.ndarray]


def save_image_rows(
    rows: list[tuple[Panel, Panel]], path: Path, size: tuple[float, float] = (6.4, 1.9)
) -> Path:
    """Rows of two staff images side by side (the truth and what a model drew), each
    titled; `size` is one row's (width, height) in inches. Trials, evaluations and
    transcriptions draw their predictions this way."""
    width, height = size
    figure, axes = plt.subplots(len(rows), 2, figsize=(width, height * len(rows)), squeeze=False)
    for row, panels in enumerate(rows):
        for column, (title, picture) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
            axis.set_title(title, fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def save_prediction_grid(
    model,
    data: TrialData,
    execution: Execution,
    path: Path,
    n: int = 8,
    indices: list[int] | None = None,
) -> Path:
    """Rows of test samples (by default keys across the keyboard): the true image beside
    the predicted one."""
    indices = grid_samples(data.test, n) if indices is None else indices
    predicted = predict(model, data.test.features[indices], execution).cpu()
    rows = []
    for index, image in zip(indices, predicted, strict=True):
        key = int(data.test.keys[index])
        name = note_name(key + LOWEST_MIDI)
        truth = data.targets[key, 0].cpu().numpy()
        rows.append(((f"{name} true", truth), (f"{name} predicted", image[0].numpy())))
    return save_image_rows(rows, path)


def save_loss_curves(history: pd.DataFrame, path: Path) -> Path:
    """Train and test loss per epoch, with test PSNR against the mean-image baseline."""
    figure, (loss_axis, psnr_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_axis.plot(history["epoch"], history["train_loss"], marker="o", label="train")
    loss_axis.plot(history["epoch"], history["test_loss"], marker="o", label="test")
    loss_axis.set(xlabel="epoch", ylabel="loss", title="Loss", yscale="log")
    loss_axis.legend()
    psnr_axis.plot(history["epoch"], history["test_psnr"], marker="o", label="test PSNR")
    psnr_axis.axhline(
        history["baseline_psnr"].iloc[-1], color="gray", linestyle="--", label="mean-image baseline"
    )
    psnr_axis.set(xlabel="epoch", ylabel="PSNR (dB)", title="Test PSNR")
    psnr_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def load_weights(model, path: Path) -> None:
    """Weights only: a checkpoint never runs code on load."""
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def write_trial_artifacts(
    out: Path,
    config: TrialConfig,
    history: pd.DataFrame,
    scores: pd.DataFrame,
    model,
    data: TrialData,
    execution: Execution,
    final: bool = True,
) -> list[Path]:
    """Everything into `out`; the model (`out/model`, an MLflow Model folder) only when
    `final`: a trial stopped at an earlier epoch leaves its scores, not a model to use."""
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    (out / EXECUTION).write_text(yaml.safe_dump(execution.record(), sort_keys=False))
    history.to_csv(out / HISTORY, index=False, float_format="%.6g")
    worst = worst_samples(scores)
    model_folder = []
    if final:
        model_folder = [save_sheet_model(out / MODEL, model, config, data, execution.record())]
    return [
        out / CONFIG,
        out / EXECUTION,
        out / HISTORY,
        write_per_key_psnr(scores, out / PER_KEY_PSNR),
        write_test_scores(scores, out / TEST_SCORES),
        save_prediction_grid(model, data, execution, out / PREDICTIONS),
        save_prediction_grid(model, data, execution, out / WORST_KEYS, indices=worst),
        save_loss_curves(history, out / LOSS_CURVES),
        *model_folder,
    ]
