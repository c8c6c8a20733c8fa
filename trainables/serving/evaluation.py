"""Score a trained model on every note of a dataset, as a trial scores its test split.

The model reads each recording as a user's would be read (onset, window, its own feature
settings and standardisation), so a dataset of another piano, or of real recordings,
answers "does it read my piano?" with the trial's own metrics, clean or under a recording
condition (trainables/features/conditions.py). A note the model finds no note in is a
row too (`refused`, not correct): note accuracy is notes read right over all notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from trainables.data.audio import read_wav
from trainables.data.dataset import open_dataset
from trainables.features.conditions import CONDITIONS, Condition
from trainables.keys import LOWEST_MIDI, note_name
from trainables.model.metrics import psnr_per_sample, ssim_per_sample
from trainables.serving.sheet_model import Reading, SheetModel
from trainables.training.artifacts import save_image_rows

SCORE_COLUMNS = ("midi", "register", "predicted_midi", "correct", "psnr", "ssim", "refused")


@dataclass(frozen=True)
class DatasetScores:
    root: Path
    dataset_hash: str
    scores: pd.DataFrame  # one row per note: SCORE_COLUMNS, plus instrument and audio_path
    not_read: list[str]  # notes the model found no note in, with the reason
    condition: Condition = CONDITIONS["clean"]

    @property
    def name(self) -> str:
        return self.root.resolve().name


def score_readings(
    readings: list[Reading], truth: list[int], targets: torch.Tensor
) -> pd.DataFrame:
    """Per-note scores of readings against the true keys (MIDI): the trial's columns."""
    images = torch.stack([torch.from_numpy(r.image) for r in readings])[:, None]
    true_images = targets[torch.tensor(truth) - LOWEST_MIDI].reshape(images.shape)
    predicted = [r.midi for r in readings]
    return pd.DataFrame(
        {
            "midi": truth,
            "predicted_midi": predicted,
            "correct": [t == p for t, p in zip(truth, predicted, strict=True)],
            "psnr": psnr_per_sample(images, true_images).numpy(),
            "ssim": ssim_per_sample(images, true_images).numpy(),
        }
    )


def score_dataset(
    reader: SheetModel, root: Path, condition: Condition = CONDITIONS["clean"], chunk: int = 64
) -> DatasetScores:
    """Read every note of the dataset at `root` (all splits) under `condition` and score
    each reading; a refused note is scored as not read."""
    manifest, frame = open_dataset(root)
    parts, not_read = [], []
    rows = list(frame.itertuples(index=False))
    desc = f"reading {root.name}" + ("" if condition.name == "clean" else f", {condition.name}")
    with tqdm(total=len(rows), desc=desc, unit="note") as progress:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]  # decoded and scored a chunk at a time
            recordings = [
                (*condition.apply(*read_wav(root / row.audio_path), row.audio_path), row.audio_path)
                for row in part
            ]
            readings = reader.read_many(recordings)
            not_read += [r.reason for r in readings if not r.found]
            parts.append(_scores(part, readings, reader.targets))
            progress.update(len(part))
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    return DatasetScores(root, manifest["dataset_hash"], scores, not_read, condition)


def _scores(rows: list, readings: list[Reading], targets: torch.Tensor) -> pd.DataFrame:
    """One row per note: the read ones scored, the refused ones not correct, no image."""
    read = [(row, r) for row, r in zip(rows, readings, strict=True) if r.found]
    refused = [row for row, r in zip(rows, readings, strict=True) if not r.found]
    frames = []
    if read:
        frames.append(
            score_readings([r for _, r in read], [row.midi for row, _ in read], targets).assign(
                refused=False
            )
        )
    if refused:
        frames.append(
            pd.DataFrame({"midi": [row.midi for row in refused], "correct": False, "refused": True})
        )
    scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
    ordered = [row for row, _ in read] + refused
    scores["register"] = [row.register for row in ordered]
    scores["instrument"] = [row.instrument for row in ordered]
    scores["audio_path"] = [row.audio_path for row in ordered]
    return scores


def save_worst_keys(
    reader: SheetModel, result: DatasetScores, path: Path, n: int = 6
) -> Path | None:
    """Rows of the `n` worst keys' worst notes: what the model drew beside the truth."""
    read = result.scores[~result.scores["refused"].astype(bool)]
    if read.empty:
        return None
    worst = read.sort_values("psnr").drop_duplicates("midi").head(n)
    recordings = [
        (*result.condition.apply(*read_wav(result.root / p), p), p) for p in worst["audio_path"]
    ]
    rows = []
    for reading, (_, note) in zip(reader.read_many(recordings), worst.iterrows(), strict=True):
        midi = int(note["midi"])
        truth = reader.targets[midi - LOWEST_MIDI].reshape(reading.image.shape).numpy()
        read_as = f"read as {reading.note}, {note['psnr']:.1f} dB"
        rows.append(((f"{note_name(midi)} true", truth), (read_as, reading.image)))
    return save_image_rows(rows, path)
