"""The per-note feature cache: a study whose trials share a dataset computes each note's
features once, a second study computes none, and two processes that ask at once compute
each note once and split the work (trainables/features/cache.py)."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path

import torch

from tests.trainables.conftest import QUICK
from trainables.data.annotations import load_annotations
from trainables.data.dataset import read_manifest
from trainables.features.cache import CACHE_ENV, COMPUTED, FeatureCache, cache_folder, locked
from trainables.features.spectrograms import FeatureSettings
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data, split_rows

SETTINGS = FeatureSettings(n_mels=32, n_fft=1024, hop_length=512)
CPU = torch.device("cpu")


def computed_by(root: Path, config: TrialConfig) -> Counter[str]:
    """The notes whose features `prepare_data` computed, per kind."""
    before = COMPUTED.copy()
    prepare_data(root, config, CPU)
    return COMPUTED - before


def test_a_second_study_on_the_same_dataset_computes_no_feature_again(
    small_root, tmp_path, monkeypatch
):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_folder(small_root) == small_root / "cache" / "notes"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine"))  # cold, and machine-wide
    assert cache_folder(small_root) == tmp_path / "machine"
    frame = load_annotations(small_root)
    heard = TrialConfig(
        **QUICK, snr_low_db=None, snr_mid_db=10.0, snr_high_db=10.0, augment="gain,reverb,detune"
    )
    held = heard.replace(held_out="TimGM6mb-p1")  # trains on every note of TimGM6mb-p0
    heard_train = split_rows(frame, heard, small_root).train
    held_train = split_rows(frame, held, small_root).train
    # the first study: its first trial computes every note it needs ...
    assert computed_by(small_root, heard) == Counter(
        clean=len(frame), noisy=int((frame["midi"] >= 48).sum()), augmented=int(heard_train.sum())
    )
    # ... and the held-out trial only the effect copies of notes the first did not train on
    new = int((held_train & ~heard_train).sum())
    assert 0 < new < held_train.sum()
    assert computed_by(small_root, held) == Counter(augmented=new)
    # a second study on the dataset (other hyperparameters, both splits) computes nothing
    for config in (heard.replace(lr=0.01, loss="mse"), held.replace(kernel="3", seed=0)):
        assert computed_by(small_root, config) == Counter()
    assert any((tmp_path / "machine").glob("*/key.json"))


def test_a_damaged_file_is_computed_again(small_root, tmp_path):
    manifest = read_manifest(small_root)
    paths = load_annotations(small_root)["audio_path"].tolist()[:5]
    cache = FeatureCache(small_root, manifest["dataset_hash"], manifest["duration_s"], tmp_path)
    features = cache.clean(paths, SETTINGS)
    folder = cache.variant_folder(SETTINGS, {"kind": "clean"})
    damaged = folder / f"{cache.note_hashes(paths)[2]}.f32"
    damaged.write_bytes(damaged.read_bytes()[:100])  # a file cut short
    before = COMPUTED["clean"]
    fresh = FeatureCache(small_root, manifest["dataset_hash"], manifest["duration_s"], tmp_path)
    assert torch.equal(fresh.clean(paths, SETTINGS), features)
    assert COMPUTED["clean"] - before == 1
    assert not list(folder.glob(".*.tmp"))  # no partial file left behind


def ask_for_clean(root, dataset_hash, duration_s, folder, paths, ready, answers) -> None:
    """In its own process: wait for the others, then ask for the notes' clean features."""
    cache = FeatureCache(Path(root), dataset_hash, duration_s, Path(folder))
    ready.wait(timeout=300)
    features = cache.clean(paths, SETTINGS)
    answers.put((COMPUTED["clean"], hashlib.sha256(features.numpy().tobytes()).hexdigest()))


def test_two_processes_asking_at_once_compute_each_note_once(small_root, tmp_path):
    manifest = read_manifest(small_root)
    paths = load_annotations(small_root)["audio_path"].tolist()[:60]
    args = (str(small_root), manifest["dataset_hash"], manifest["duration_s"], str(tmp_path))
    context = multiprocessing.get_context("spawn")  # fresh processes, as Ray's workers are
    ready, answers = context.Barrier(3), context.Queue()
    workers = [
        context.Process(target=ask_for_clean, args=(*args, paths, ready, answers)) for _ in range(2)
    ]
    cache = FeatureCache(small_root, manifest["dataset_hash"], manifest["duration_s"], tmp_path)
    # held here until both have asked, so that both find every note missing
    folder = cache.variant_folder(SETTINGS, {"kind": "clean"})
    with contextlib.ExitStack() as stack:
        for share in "0123456789abcdef":
            stack.enter_context(locked(folder / f".lock-{share}"))
        for worker in workers:
            worker.start()
        ready.wait(timeout=300)
        time.sleep(1.0)
    results = [answers.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(count for count, _ in results) == len(paths)  # each note by one of them
    before = COMPUTED["clean"]
    features = cache.clean(paths, SETTINGS)
    assert COMPUTED["clean"] == before
    assert {digest for _, digest in results} == {
        hashlib.sha256(features.numpy().tobytes()).hexdigest()
    }


def test_a_process_computes_the_shares_no_other_holds_then_waits_for_the_rest(small_root, tmp_path):
    """Two trials starting together split a cold cache: each computes the shares the other
    does not hold, instead of one computing every note while the other waits."""
    manifest = read_manifest(small_root)
    paths = load_annotations(small_root)["audio_path"].tolist()[:60]
    cache = FeatureCache(small_root, manifest["dataset_hash"], manifest["duration_s"], tmp_path)
    hashes = cache.note_hashes(paths)
    share = hashes[0][0]  # another process is computing these notes
    theirs = {h for h in hashes if h[0] == share}
    folder = cache.variant_folder(SETTINGS, {"kind": "clean"})
    before = COMPUTED["clean"]
    with locked(folder / f".lock-{share}"):
        asking = threading.Thread(target=cache.clean, args=(paths, SETTINGS))
        asking.start()
        deadline = time.monotonic() + 120
        while len(list(folder.glob("*.f32"))) < len(set(hashes) - theirs):
            assert time.monotonic() < deadline and asking.is_alive()
            time.sleep(0.05)
        time.sleep(0.5)
        assert asking.is_alive()  # waiting for the held share, the others done
        assert {f.stem for f in folder.glob("*.f32")} == set(hashes) - theirs
    asking.join(timeout=120)
    assert {f.stem for f in folder.glob("*.f32")} == set(hashes)
    assert COMPUTED["clean"] - before == len(set(hashes))
