"""Features computed once per note, cached on disk by content, shared by every trial.

A note's clean spectrogram, its noisy copy and its recording-effect copy are one file
each, named by the sha256 of the note's audio file, in a folder per variant: the feature
settings, the note length, the kind (clean; noisy at one SNR; augmented with its effects)
and the seed. A copy's random draws are seeded by (seed, the note's hash)
(trainables/features/draws.py), so a note's copy is the same whichever trial, split, study
or batch asks for it, and it is computed once:

    <folder>/<variant>/key.json            what the variant is, for a reader
    <folder>/<variant>/<note sha256>.f32   (height, frames) float32, raw
    <folder>/<variant>/.lock-<0-f>         held while a process computes missing notes
                                           whose hash starts with that digit
    <folder>/audio/<dataset hash>.json     each audio path's sha256, hashed once

`<folder>` is `<dataset root>/cache/notes`, or `$SHEETSWEEP_FEATURE_CACHE` for one folder
every dataset on a machine shares (docs/training.md#the-feature-cache). Files appear by
atomic rename, so a reader never sees half of one. The missing notes are split in 16
shares by their hash's first digit, each with its own lock: a process computes the shares
no other process holds, then waits for the others and looks again, so two trials that
start together compute each note once and split the work between them. Missing notes are
computed in batches on torch's threads (the trial's CPUs): the spectrogram and the
recording effects are nearly all of the time, decoding a few percent.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from trainables.data.audio import load_waveforms
from trainables.data.dataset import file_sha256
from trainables.features.augment import augment, canonical
from trainables.features.spectrograms import (
    FeatureSettings,
    NoiseSettings,
    add_noise,
    spectrogram_db,
)
from trainables.keys import register_of

log = logging.getLogger(__name__)

#: Part of every variant's key: raise it when a feature's computation changes, and the
#: files computed before are no longer read.
FORMAT = 1
#: Where the cache is when it is not under the dataset root.
CACHE_ENV = "SHEETSWEEP_FEATURE_CACHE"
#: Notes decoded and transformed at once: bounds the memory of a cold start.
BATCH = 256
#: Notes computed by this process, per kind (clean, noisy, augmented): what tests count.
COMPUTED: Counter[str] = Counter()

#: (waveforms, the rows' note hashes) -> the waveforms a copy's features are computed from
Transform = Callable[[torch.Tensor, list[str]], torch.Tensor]


def cache_folder(root: Path) -> Path:
    """`$SHEETSWEEP_FEATURE_CACHE` if set, else `<root>/cache/notes`."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else root / "cache" / "notes"


@contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on `path` (fcntl: released when the process ends, however). Yields
    whether it is held: always with `wait`, else only if no other process held it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            log.info("waiting for another process computing %s", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield True  # closing the file releases the lock


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside `path`, then rename: a reader sees the whole file or none."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def read_notes(
    folder: Path, hashes: Sequence[str], out: torch.Tensor, rows: list[int]
) -> list[int]:
    """Fill `out[row]` from the file of each row's note; returns the rows whose file is
    missing or not the size of one (a file from other settings is never read)."""
    array = out.numpy()
    size = array[0].nbytes if len(array) else 0
    missing = []
    for row in rows:
        try:
            with open(folder / f"{hashes[row]}.f32", "rb", buffering=0) as file:
                whole = os.fstat(file.fileno()).st_size == size
                if not whole or file.readinto(memoryview(array[row]).cast("B")) != size:
                    missing.append(row)
        except FileNotFoundError:
            missing.append(row)
    return missing


class FeatureCache:
    """A dataset's features, read from the per-note cache and added to it where missing."""

    def __init__(
        self, root: Path, dataset_hash: str, duration_s: float, folder: Path | None = None
    ):
        self.root = root
        self.dataset_hash = dataset_hash
        self.duration_s = duration_s
        self.folder = folder if folder is not None else cache_folder(root)
        self._hashes: dict[str, str] = {}
        self._waveforms: dict[tuple[str, int], torch.Tensor] = {}

    def note_hashes(self, audio_paths: Sequence[str]) -> list[str]:
        """Each file's sha256: hashed once per dataset, then read from the cache's index
        (the dataset hash covers every file's bytes, so it fixes every file's hash)."""
        index = self.folder / "audio" / f"{self.dataset_hash}.json"
        if any(path not in self._hashes for path in audio_paths) and index.is_file():
            self._hashes.update(json.loads(index.read_text()))
        if any(path not in self._hashes for path in audio_paths):
            with locked(index.with_suffix(".lock")):
                if index.is_file():
                    self._hashes.update(json.loads(index.read_text()))
                todo = [p for p in dict.fromkeys(audio_paths) if p not in self._hashes]
                self._hashes.update({p: file_sha256(self.root / p) for p in todo})
                write_atomic(index, json.dumps(self._hashes, sort_keys=True).encode())
        return [self._hashes[path] for path in audio_paths]

    def waveforms(self, audio_paths: Sequence[str], sample_rate: int) -> torch.Tensor:
        """Decoded once per cache object, for every kind of feature alike."""
        todo = [p for p in dict.fromkeys(audio_paths) if (p, sample_rate) not in self._waveforms]
        if todo:
            decoded = load_waveforms(self.root, todo, self.duration_s, sample_rate)
            self._waveforms.update(
                {(p, sample_rate): w for p, w in zip(todo, decoded, strict=True)}
            )
        return torch.stack([self._waveforms[(p, sample_rate)] for p in audio_paths])

    def clean(self, audio_paths: list[str], settings: FeatureSettings) -> torch.Tensor:
        """(N, 1, height, frames) features of the notes as recorded."""
        return self._features(audio_paths, settings, {"kind": "clean"}, None)

    def noisy(
        self,
        audio_paths: list[str],
        midi: list[int],
        settings: FeatureSettings,
        noise: NoiseSettings,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(features of the noisy copies, mask of which samples have one). Each note's
        copy is cached at its register's SNR: settings that agree on a register share it."""
        snrs = [noise.snr_db(register_of(m)) for m in midi]
        mask = torch.tensor([snr is not None for snr in snrs], dtype=torch.bool)
        noised = [row for row, snr in enumerate(snrs) if snr is not None]
        features = self._empty(len(noised), settings)
        for snr in sorted({snrs[row] for row in noised}):
            picked = [i for i, row in enumerate(noised) if snrs[row] == snr]
            variant = {"kind": "noisy", "snr_db": float(snr), "seed": noise.seed}
            if noise.colour != "white":  # white copies keep the keys they had before colours
                variant["colour"] = noise.colour

            def transform(waveforms: torch.Tensor, keys: list[str], snr: float = snr):
                rate = settings.sample_rate
                return add_noise(waveforms, snr, noise.seed, keys, noise.colour, rate)

            paths = [audio_paths[noised[i]] for i in picked]
            features[picked] = self._features(paths, settings, variant, transform)
        return features, mask

    def augmented(
        self, audio_paths: list[str], settings: FeatureSettings, names: tuple[str, ...], seed: int
    ) -> torch.Tensor:
        """Features of a copy of every sample with the effects `names` applied."""
        names = canonical(names)
        variant = {"kind": "augmented", "effects": list(names), "seed": seed}

        def transform(waveforms: torch.Tensor, keys: list[str]) -> torch.Tensor:
            return augment(waveforms, settings.sample_rate, names, seed, keys)

        return self._features(audio_paths, settings, variant, transform)

    def variant_key(self, settings: FeatureSettings, variant: dict) -> dict:
        """What a variant's files depend on besides each note's audio."""
        return {
            "format": FORMAT,
            "settings": asdict(settings),
            "duration_s": self.duration_s,
            **variant,
        }

    def variant_folder(self, settings: FeatureSettings, variant: dict) -> Path:
        """`<folder>/<digest of the variant's key>`: its notes' files and its lock."""
        text = json.dumps(self.variant_key(settings, variant), sort_keys=True)
        return self.folder / hashlib.sha256(text.encode()).hexdigest()[:20]

    def _empty(self, n: int, settings: FeatureSettings) -> torch.Tensor:
        return torch.empty(n, 1, settings.height, settings.frames(self.duration_s))

    def _features(
        self,
        audio_paths: list[str],
        settings: FeatureSettings,
        variant: dict,
        transform: Transform | None,
    ) -> torch.Tensor:
        """Every note's file, the missing ones computed under their share's lock."""
        hashes = self.note_hashes(audio_paths)
        folder = self.variant_folder(settings, variant)
        out = self._empty(len(audio_paths), settings)
        missing = read_notes(folder, hashes, out, list(range(len(audio_paths))))
        if not missing:
            return out
        if not (folder / "key.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            key = json.dumps(self.variant_key(settings, variant), sort_keys=True)
            write_atomic(folder / "key.json", (key + "\n").encode())
        shares: dict[str, list[int]] = {}
        for row in missing:
            shares.setdefault(hashes[row][0], []).append(row)

        def compute(share: str, wait: bool) -> bool:
            """The share's notes still missing, computed under its lock; False if another
            process holds the lock (and `wait` is False)."""
            with locked(folder / f".lock-{share}", wait=wait) as held:
                rows = read_notes(folder, hashes, out, shares[share]) if held else []
                if rows:  # not computed meanwhile by another process
                    self._compute(folder, audio_paths, hashes, rows, out, settings, transform)
                    COMPUTED[variant["kind"]] += len({hashes[row] for row in rows})
                return held

        log.info("%d notes' features missing in %s: computing them", len(missing), folder)
        busy = [share for share in shares if not compute(share, wait=False)]
        for share in busy:
            compute(share, wait=True)
        return out

    def _compute(
        self,
        folder: Path,
        audio_paths: list[str],
        hashes: list[str],
        missing: list[int],
        out: torch.Tensor,
        settings: FeatureSettings,
        transform: Transform | None,
    ) -> None:
        first: dict[str, int] = {}  # files with the same bytes are one note, computed once
        for row in missing:
            first.setdefault(hashes[row], row)
        rows = list(first.values())
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            waveforms = self.waveforms([audio_paths[row] for row in batch], settings.sample_rate)
            if transform is not None:
                waveforms = transform(waveforms, [hashes[row] for row in batch])
            features = spectrogram_db(waveforms, settings)
            if features.shape[1:] != out.shape[1:]:
                raise RuntimeError(
                    f"features of shape {features.shape[1:]}, {out.shape[1:]} expected"
                )
            for row, feature in zip(batch, features, strict=True):
                write_atomic(folder / f"{hashes[row]}.f32", feature.contiguous().numpy().tobytes())
                out[row] = feature
        for row in missing:
            out[row] = out[first[hashes[row]]]
