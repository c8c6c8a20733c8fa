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
from PIL import Image

from trainables.data.audio import fit_batch
from trainables.data.onsets import cut_window
from trainables.errors import SheetsweepError, first_line
from trainables.features.spectrograms import spectrogram_db
from trainables.keys import LOWEST_MIDI, note_name
from trainables.model.metrics import target_distances
from trainables.model.net import SheetMusicNet
from trainables.serving.model_code import ModelNotFound, check_model_code, model_folder
from trainables.training.config import TrialConfig
from trainables.training.export import BUNDLE, SIGNATURE, TARGETS, WEIGHTS

#: The longest recording one request may carry: a note and its lead-in, not a concert.
MAX_RECORDING_S = 30.0


def recording_problem(audio: np.ndarray, rate: int, source: str) -> str | None:
    """Why `audio` cannot be read as one note's recording, or None: a sample rate that is
    not positive, a recording longer than MAX_RECORDING_S, NaN or infinite samples."""
    if rate <= 0:
        return f"{source}: sample rate {rate}, expected > 0"
    seconds = len(audio) / rate
    if seconds > MAX_RECORDING_S:
        return (
            f"{source}: {seconds:.1f} s long, more than the {MAX_RECORDING_S:g} s a recording "
            "of one note may last: cut it around the note"
        )
    bad = int(np.size(audio) - np.isfinite(audio).sum())
    if bad:
        return f"{source}: {bad} of {np.size(audio)} samples are NaN or infinite"
    return None


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
                problem = recording_problem(audio, rate, source)
                if problem:
                    raise ValueError(problem)
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
        """One row per recording; a malformed recording (too long, NaN samples, a bad rate)
        refuses the request, which a model server answers with HTTP 400 and the reason."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        recordings = [
            (np.asarray(samples, dtype=np.float32), int(rate), f"row {i}")
            for i, (samples, rate) in enumerate(
                zip(model_input["samples"], model_input["sample_rate"], strict=True)
            )
        ]
        problems = list(filter(None, (recording_problem(*r) for r in recordings)))
        if problems:
            raise MlflowException("; ".join(problems), error_code=INVALID_PARAMETER_VALUE)
        rows = [reading.row() for reading in self.read_many(recordings)]
        frame = pd.DataFrame(rows, columns=list(SIGNATURE.outputs.input_names()))
        frame["midi"] = pd.Series([r["midi"] for r in rows], dtype=object)  # ints and None
        return frame


def load_reader(uri: str, trust_model_code: bool = False) -> SheetModel:
    """The model at `uri` (runs:/, models:/name@alias, models:/<id>, a folder), ready to
    `read` audio. Its stored code runs only if it is code this package ships
    (trainables/serving/model_code.py), or if `trust_model_code`; else UntrustedModelCode.
    ModelNotFound when the URI does not lead to a sheetsweep model."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as staging:
        folder = model_folder(uri, Path(staging))
        if not trust_model_code:
            check_model_code(folder, uri)
        try:
            loaded = mlflow.pyfunc.load_model(str(folder))
        except (MlflowException, OSError) as error:
            raise ModelNotFound(f"model {uri!r}: cannot be loaded ({first_line(error)})") from None
    reader = loaded.unwrap_python_model()
    if not isinstance(reader, SheetModel):
        raise ModelNotFound(f"model {uri!r} is a {type(reader).__name__}, not a sheetsweep model")
    reader.uri = uri
    reader.run_id, reader.model_id = loaded.metadata.run_id, loaded.metadata.model_id
    return reader
