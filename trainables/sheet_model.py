"""A trained model as users load it: an MLflow `pyfunc` that reads raw audio.

The MLflow Model bundles everything reading a new recording needs, so nothing but its URI
and this installed package is required (no dataset on disk): the weights, the trial's
config (model shape and feature settings), the training features' standardisation, the
window (the note length it was trained on) and the 88 engraved targets the prediction is
read against.

    model = mlflow.pyfunc.load_model("models:/piano@champion")
    model.predict(pd.DataFrame([{"samples": waveform, "sample_rate": 44100}]))
    reader = load_reader("models:/piano@champion")      # the Python side: arrays, not PNG
    reading = reader.read(waveform, 44100)               # key, margin, image

`predict` answers one row per note: whether a note was found, its key (nearest target),
the margin to the runner-up key in dB, the onset, and the predicted image as base64 PNG
(what a REST client can show); a recording without a note says so in `reason`.
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch
import torchaudio.transforms as T
import yaml
from mlflow.models import ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, Schema
from PIL import Image

from trainables.audio import fit_batch
from trainables.config import TrialConfig
from trainables.engraving import load_targets
from trainables.errors import SheetsweepError
from trainables.features import spectrogram_db
from trainables.keys import LOWEST_MIDI, note_name
from trainables.metrics import target_distances
from trainables.model import SheetMusicNet
from trainables.onsets import cut_window

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


class ModelNotFound(SheetsweepError):
    """A model URI that does not resolve to a sheetsweep model."""


@dataclass(frozen=True)
class Reading:
    """What the model reads in one recording."""

    source: str
    found: bool
    midi: int | None = None
    margin_db: float = math.nan  # how much nearer the image is to `midi`'s target than the next
    runner_up: int | None = None
    onset_s: float = math.nan
    padded_s: float = 0.0  # silence added: the recording ended before the window did
    image: np.ndarray | None = None  # (162, 300) in [0, 1]
    reason: str = ""  # why no note was read

    @property
    def note(self) -> str | None:
        return None if self.midi is None else note_name(self.midi)

    def row(self) -> dict[str, Any]:
        """The pyfunc output row (the image as base64 PNG)."""
        return {
            "found": self.found,
            "midi": self.midi,
            "note": self.note,
            "margin_db": self.margin_db,
            "onset_s": self.onset_s,
            "image_png": None if self.image is None else png_base64(self.image),
            "reason": self.reason,
        }


def png_base64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image_from_png_base64(text: str) -> np.ndarray:
    """The inverse of the `image_png` column: (162, 300) float in [0, 1]."""
    data = base64.b64decode(text)
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32) / 255.0


class SheetModel(mlflow.pyfunc.PythonModel):
    """The pyfunc: raw audio in, the key and its sheet image out. Holds no state until
    MLflow loads its artifacts (`load_context`); the model folder stores no pickle, only
    `sheet_model_code.py`, which makes one."""

    uri: str | None = None  # where `load_reader` found it
    run_id: str | None = None  # the trial run that trained it, when logged by a sweep
    model_id: str | None = None  # its MLflow logged model

    def load_context(self, context) -> None:
        self.load(
            Path(context.artifacts[WEIGHTS]),
            Path(context.artifacts[BUNDLE]),
            Path(context.artifacts[TARGETS]),
        )

    def load(self, weights: Path, bundle: Path, targets: Path) -> None:
        self.bundle = yaml.safe_load(bundle.read_text())
        self.config = TrialConfig.from_dict(self.bundle["config"], source=str(bundle))
        self.duration_s = float(self.bundle["duration_s"])
        self.mean, self.std = float(self.bundle["mean"]), float(self.bundle["std"])
        self.net = SheetMusicNet(self.config.model(int(self.bundle["n_frames"])))
        self.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.net.eval()
        with np.load(targets) as stored:
            self.targets = torch.from_numpy(stored["targets"].astype(np.float32) / 255).flatten(1)

    def features(self, window: np.ndarray, rate: int) -> torch.Tensor:
        """A window of mono audio -> the standardised (1, 1, height, frames) the model reads."""
        settings = self.config.features
        waveform = torch.from_numpy(np.ascontiguousarray(window))[None]
        if rate != settings.sample_rate:
            waveform = self._resampler(rate)(waveform)
        waveform = fit_batch(waveform, round(self.duration_s * settings.sample_rate))
        return (spectrogram_db(waveform, settings) - self.mean) / self.std

    def _resampler(self, rate: int) -> T.Resample:
        """torchaudio's resampling, as the training features were made, its kernel kept."""
        cache = self.__dict__.setdefault("_resamplers", {})
        if rate not in cache:
            cache[rate] = T.Resample(rate, self.config.sample_rate)
        return cache[rate]

    def read(self, audio: np.ndarray, rate: int, source: str = "recording") -> Reading:
        """Read the note in `audio` ((frames,) or (frames, channels) at `rate` Hz): cut the
        trained window from its onset, predict the image, name the nearest target's key.
        A recording without a note (silence, noise only, too short) is not guessed at."""
        return self.read_many([(audio, rate, source)])[0]

    @torch.no_grad()
    def read_many(
        self, recordings: list[tuple[np.ndarray, int, str]], batch_size: int = 1
    ) -> list[Reading]:
        """`read` for many (audio, rate, source). One note at a time through the model by
        default: on the CPU a batch's convolutions round differently (margins moved by up
        to 0.3 dB), and a note must read the same alone or among others."""
        readings: list[Reading | None] = []
        found: list[tuple[int, torch.Tensor, object]] = []  # (position, features, window)
        for audio, rate, source in recordings:
            try:
                if rate <= 0:
                    raise ValueError(f"{source}: sample rate {rate}, expected > 0")
                window = cut_window(audio, rate, self.duration_s, source)
            except (SheetsweepError, ValueError) as error:
                readings.append(Reading(source, False, reason=str(error)))
                continue
            found.append((len(readings), self.features(window.audio, rate), window))
            readings.append(None)
        for start in range(0, len(found), batch_size):
            chunk = found[start : start + batch_size]
            images = self.net(torch.cat([features for _, features, _ in chunk]))[:, 0]
            distances = target_distances(images, self.targets)
            ranked = torch.topk(distances, 2, dim=1, largest=False).indices
            for (position, _, window), image, row, (nearest, runner_up) in zip(
                chunk, images, distances, ranked.tolist(), strict=True
            ):
                # PSNR to the nearest target minus PSNR to the runner-up, in dB
                ratio = float(row[runner_up]) / max(float(row[nearest]), 1e-12)
                readings[position] = Reading(
                    recordings[position][2],
                    True,
                    midi=nearest + LOWEST_MIDI,
                    margin_db=20 * math.log10(ratio),
                    runner_up=runner_up + LOWEST_MIDI,
                    onset_s=window.onset.time_s,
                    padded_s=window.padded_s,
                    image=image.numpy(),
                )
        return readings

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        recordings = [
            (np.asarray(samples, dtype=np.float32), int(rate), f"row {i}")
            for i, (samples, rate) in enumerate(
                zip(model_input["samples"], model_input["sample_rate"], strict=True)
            )
        ]
        rows = [reading.row() for reading in self.read_many(recordings)]
        frame = pd.DataFrame(rows, columns=list(SIGNATURE.outputs.input_names()))
        frame["midi"] = pd.Series([r["midi"] for r in rows], dtype=object)  # ints and None
        return frame


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
            python_model=str(Path(__file__).with_name("sheet_model_code.py")),
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
                "dataset_hash": data.dataset_hash,
                "duration_s": data.duration_s,
                "needs": "the sheetsweep package (pip install <its repository>)",
            },
        )
    return path


def load_reader(uri: str) -> SheetModel:
    """The model at `uri` (runs:/, models:/name@alias, models:/<id>, a folder), ready to
    `read` audio; ModelNotFound when the URI does not lead to a sheetsweep model."""
    from mlflow.exceptions import MlflowException

    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelNotFound(f"model {uri!r}: cannot be loaded ({first})") from None
    reader = loaded.unwrap_python_model()
    if not isinstance(reader, SheetModel):
        raise ModelNotFound(f"model {uri!r} is a {type(reader).__name__}, not a sheetsweep model")
    reader.uri = uri
    reader.run_id, reader.model_id = loaded.metadata.run_id, loaded.metadata.model_id
    return reader
