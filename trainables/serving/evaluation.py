"""Score a trained model on every note of a dataset, as a trial scores its test split.

The model reads each recording as a user's would be read (onset, window, its own feature
settings and standardisation), so a dataset of another piano, or of real recordings,
answers "does it read my piano?" with the trial's own metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from trainables.data.audio import read_wav
from trainables.data.dataset import open_dataset
from trainables.keys import LOWEST_MIDI, note_name
from trainables.model.metrics import psnr_per_sample, ssim_per_sample
from trainables.serving.sheet_model import Reading, SheetModel
from trainables.training.artifacts import save_image_rows

SCORE_COLUMNS = ("midi", "register", "predicted_midi", "correct", "psnr", "ssim")


@dataclass(frozen=True)
class DatasetScores:
    root: Path
    dataset_hash: str
    scores: pd.DataFrame  # one row per note read: SCORE_COLUMNS, plus instrument and audio_path
    not_read: list[str]  # notes the model found no note in, with the reason

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


def score_dataset(reader: SheetModel, root: Path, chunk: int = 64) -> DatasetScores:
    """Read every note of the dataset at `root` (all splits) and score each reading."""
    manifest, frame = open_dataset(root)
    parts, not_read = [], []
    rows = list(frame.itertuples(index=False))
    with tqdm(total=len(rows), desc=f"reading {root.name}", unit="note") as progress:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]  # decoded and scored a chunk at a time
            recordings = [(*read_wav(root / row.audio_path), row.audio_path) for row in part]
            readings = reader.read_many(recordings)
            read = [(row, r) for row, r in zip(part, readings, strict=True) if r.found]
            not_read += [r.reason for r in readings if not r.found]
            if read:
                scores = score_readings(
                    [r for _, r in read], [row.midi for row, _ in read], reader.targets
                )
                scores["register"] = [row.register for row, _ in read]
                scores["instrument"] = [row.instrument for row, _ in read]
                scores["audio_path"] = [row.audio_path for row, _ in read]
                parts.append(scores)
            progress.update(len(part))
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    return DatasetScores(root, manifest["dataset_hash"], scores, not_read)


def save_worst_keys(
    reader: SheetModel, result: DatasetScores, path: Path, n: int = 6
) -> Path | None:
    """Rows of the `n` worst keys' worst notes: what the model drew beside the truth."""
    if result.scores.empty:
        return None
    worst = result.scores.sort_values("psnr").drop_duplicates("midi").head(n)
    recordings = [(*read_wav(result.root / p), p) for p in worst["audio_path"]]
    rows = []
    for reading, (_, note) in zip(reader.read_many(recordings), worst.iterrows(), strict=True):
        midi = int(note["midi"])
        truth = reader.targets[midi - LOWEST_MIDI].reshape(reading.image.shape).numpy()
        read_as = f"read as {reading.note}, {note['psnr']:.1f} dB"
        rows.append(((f"{note_name(midi)} true", truth), (read_as, reading.image)))
    return save_image_rows(rows, path)
