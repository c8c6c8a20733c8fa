"""Data path: the thesis's loader against the platform's tensors, alone and in training steps.

The thesis's way: a torch Dataset whose `__getitem__` reads the wav (soundfile), mixes it
to mono, resamples it, computes the mel spectrogram in dB, and loads and converts the
target PNG; a DataLoader with batch 32 (no worker processes: a worker would take a core
from the model on this machine). Its transforms are built once, not per sample, so the
comparison is with a careful thesis loader, not a careless one.

The platform's way (`trainables.training.loop.prepare_data`): features cached on disk once per
note and settings, all of them and the 88 targets as tensors on the device, a batch is
an index. Its one-off costs (the cold feature cache, loading the warm cache) are reported
beside the per-epoch rates.

    python -m benchmarks.data_path [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from benchmarks import common
from trainables.data.audio import load_waveforms
from trainables.data.dataset import open_dataset
from trainables.features.spectrograms import FeatureSettings, mel_db, mel_transforms
from trainables.model.losses import loss_fn
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data
from trainables.training.loop import build_model, trial_execution
from trainables.training.step import Execution, train_step

NAME = "data_path"
TITLE = "Data path: thesis loader vs cached tensors"
BATCH = 32


class ThesisDataset(Dataset):
    """One sample = decode, resample, mel in dB, and load the target PNG, every time."""

    def __init__(self, root: Path, rows: list[dict], settings: FeatureSettings, scale: tuple):
        self.root, self.rows, self.settings = root, rows, settings
        self.mean, self.std = scale
        self.mel, self.to_db = mel_transforms(settings)
        self.resamplers: dict[int, T.Resample] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.rows[index]
        audio, rate = soundfile.read(self.root / row["audio_path"], dtype="float32")
        wave = torch.from_numpy(audio if audio.ndim == 1 else audio.mean(axis=1))
        if rate != self.settings.sample_rate:
            if rate not in self.resamplers:
                self.resamplers[rate] = T.Resample(rate, self.settings.sample_rate)
            wave = self.resamplers[rate](wave)
        with torch.no_grad():
            features = self.to_db(self.mel(wave)).unsqueeze(0)  # (1, n_mels, frames)
        features = (features - self.mean) / self.std
        png = Image.open(self.root / "targets" / f"{row['note']}.png").convert("L")
        target = torch.from_numpy(np.asarray(png, dtype=np.float32) / 255.0).unsqueeze(0)
        return features, target


def training_step(config: TrialConfig, n_frames: int, target: torch.device, execution: Execution):
    """The platform's training step for `config` (the loop body of `train_trial`)."""
    model = build_model(config, n_frames, target, execution)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    criterion, scaler = loss_fn(config.loss), execution.grad_scaler()

    def step(features: torch.Tensor, truth: torch.Tensor) -> None:
        train_step(model, features, truth, criterion, optimizer, scaler, execution)

    return step


def run(quick: bool) -> dict[str, Any]:
    target = common.device()
    root = common.smoke_data() if quick else common.default_data()
    config = TrialConfig()
    settings = config.features

    started = time.perf_counter()
    data = prepare_data(root, config, target)
    common.sync(target)
    prepare_s = time.perf_counter() - started

    manifest, frame = open_dataset(root)
    frame = frame[frame["split"] == "train"]
    one_off_n = 64 if quick else len(frame)
    started = time.perf_counter()
    mel_db(
        load_waveforms(
            root,
            frame["audio_path"].tolist()[:one_off_n],
            manifest["duration_s"],
            settings.sample_rate,
        ),
        settings,
    )
    cold_s_per_sample = (time.perf_counter() - started) / one_off_n

    scale = (float(data.train.features.mean()), float(data.train.features.std()))
    thesis = ThesisDataset(root, frame.to_dict("records"), settings, scale)
    loader = DataLoader(thesis, batch_size=BATCH, shuffle=True, num_workers=0, drop_last=True)
    n_train = len(data.train)
    batches = iter(())

    def next_thesis_batch() -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal batches
        try:
            features, truth = next(batches)
        except StopIteration:
            batches = iter(loader)
            features, truth = next(batches)
        return features.to(target), truth.to(target)

    def next_platform_batch(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = index.to(target)
        return data.train.features[index], data.targets[data.train.keys[index]]

    thesis_batches = 2 if quick else 6

    def thesis_alone() -> float:
        started = time.perf_counter()
        for _ in range(thesis_batches):
            next_thesis_batch()
        common.sync(target)
        return thesis_batches * BATCH / (time.perf_counter() - started)

    def platform_alone() -> float:  # whole epochs, until a measurable time has passed
        seen, started = 0, time.perf_counter()
        while time.perf_counter() - started < 0.2 or seen < n_train:
            for index in torch.randperm(n_train).split(BATCH):
                next_platform_batch(index)
                seen += index.shape[0]
            common.sync(target)
        return seen / (time.perf_counter() - started)

    rounds = 2 if quick else 3
    thesis_alone()  # warm the page cache and the DataLoader
    alone = common.interleaved({"thesis": thesis_alone, "platform": platform_alone}, rounds)

    steps_rows = []
    widths = (4,) if quick else (4, 16)
    steps = 1 if quick else 3
    for width in widths:
        model_config = config.replace(width=width)
        execution = trial_execution(model_config, data.n_frames, target)
        thesis_step = training_step(model_config, data.n_frames, target, execution)
        platform_step = training_step(model_config, data.n_frames, target, execution)

        def thesis_steps(step=thesis_step) -> float:
            def one() -> None:
                step(*next_thesis_batch())

            return BATCH / common.timed_steps(one, target, steps)

        def platform_steps(step=platform_step) -> float:
            def one() -> None:
                step(*next_platform_batch(torch.randint(n_train, (BATCH,))))

            return BATCH / common.timed_steps(one, target, steps)

        thesis_steps(), platform_steps()  # warm-up: first steps allocate
        rates = common.interleaved({"thesis": thesis_steps, "platform": platform_steps}, rounds)
        steps_rows.append(
            {
                "width": width,
                "kernel": model_config.kernel,
                "precision": execution.precision,
                "channels_last": execution.channels_last,
                "thesis_samples_per_s": rates["thesis"]["median"],
                "platform_samples_per_s": rates["platform"]["median"],
                "ratio": rates["platform"]["median"] / rates["thesis"]["median"],
            }
        )
    return {
        "dataset": str(root.relative_to(common.ROOT)),
        "train_samples": n_train,
        "batch_size": BATCH,
        "thesis_workers": 0,
        "data_alone": {
            "thesis_samples_per_s": alone["thesis"]["median"],
            "platform_samples_per_s": alone["platform"]["median"],
            "ratio": alone["platform"]["median"] / alone["thesis"]["median"],
            "rounds": {k: v["rounds"] for k, v in alone.items()},
        },
        "training_steps": steps_rows,
        "one_off": {
            "prepare_data_warm_cache_s": prepare_s,
            "cold_features_s_per_sample": cold_s_per_sample,
            "cold_features_s_dataset": cold_s_per_sample * len(frame),
        },
    }


def render(result: dict[str, Any]) -> str:
    alone = result["data_alone"]
    rows = [
        [
            "data path alone",
            "-",
            common.fmt(alone["thesis_samples_per_s"]),
            common.fmt(alone["platform_samples_per_s"]),
            f"**{common.fmt(alone['ratio'])}x**",
        ]
    ]
    for row in result["training_steps"]:
        precision = row["precision"] + (" + channels_last" if row["channels_last"] else "")
        rows.append(
            [
                "data + training step",
                f"width {row['width']}, k{row['kernel']}, {precision}",
                common.fmt(row["thesis_samples_per_s"]),
                common.fmt(row["platform_samples_per_s"]),
                f"{common.fmt(row['ratio'])}x",
            ]
        )
    one_off = result["one_off"]
    goal = "met" if alone["ratio"] >= 20 else "NOT met"
    return "\n".join(
        [
            f"Dataset `{result['dataset']}`, {result['train_samples']} training samples, "
            f"batch {result['batch_size']}; samples/s, median of interleaved rounds.",
            "",
            common.table(
                [
                    "what",
                    "model",
                    "thesis loader",
                    "platform (cached tensors)",
                    "platform / thesis",
                ],
                rows,
            ),
            "",
            f"Goal: platform data path at least 20x the thesis's: **{goal}**. One-off costs of "
            f"the platform: features of the whole dataset computed cold in "
            f"{common.fmt(one_off['cold_features_s_dataset'])} s (the thesis's loader pays "
            f"this every epoch), the warm cache loaded in "
            f"{common.fmt(one_off['prepare_data_warm_cache_s'])} s per trial.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(common.main(sys.modules[__name__]))
