import pytest
import torch

from trainables.annotations import load_annotations
from trainables.dataset import read_manifest
from trainables.features import FeatureCache, FeatureSettings, NoiseSettings, add_register_noise

SETTINGS = FeatureSettings(n_mels=64, n_fft=1024, hop_length=512)


@pytest.fixture(scope="module")
def cache(small_root):
    manifest = read_manifest(small_root)
    return FeatureCache(small_root, manifest["dataset_hash"], manifest["duration_s"])


@pytest.fixture(scope="module")
def annotations(small_root):
    return load_annotations(small_root)


def test_clean_features_are_mel_db_and_cached(cache, annotations):
    paths = annotations["audio_path"].tolist()[:40]
    features = cache.clean(paths, SETTINGS)
    assert features.shape == (40, 1, 64, SETTINGS.frames(1.5))
    assert features.dtype == torch.float32
    spread = features.amax(dim=(1, 2, 3)) - features.amin(dim=(1, 2, 3))
    assert torch.all(spread <= SETTINGS.top_db + 1e-3) and torch.all(spread > 20)
    files = list(cache.folder.glob("*.pt"))
    assert files
    # a second cache object reads the file instead of decoding audio again
    fresh = FeatureCache(cache.root, cache.dataset_hash, cache.duration_s)
    fresh.waveforms = None  # would raise if called
    assert torch.equal(fresh.clean(paths, SETTINGS), features)


def test_other_settings_get_their_own_cache_entry(cache, annotations):
    paths = annotations["audio_path"].tolist()[:8]
    other = FeatureSettings(n_mels=32, n_fft=1024, hop_length=512)
    assert cache.clean(paths, other).shape[2] == 32
    assert cache.clean(paths, SETTINGS).shape[2] == 64


def test_noise_follows_each_registers_snr():
    waveforms = torch.sin(torch.linspace(0, 2000, 16000)).repeat(3, 1)
    midi = [30, 60, 100]  # low, mid, high
    noise = NoiseSettings(snr_low_db=0.0, snr_mid_db=20.0, snr_high_db=None, seed=3)
    noisy, mask = add_register_noise(waveforms, midi, noise)
    assert mask.tolist() == [True, True, False]
    residual = noisy - waveforms
    snr = 10 * torch.log10(waveforms.pow(2).mean(1) / residual.pow(2).mean(1))
    assert snr[0] == pytest.approx(0.0, abs=0.01)
    assert snr[1] == pytest.approx(20.0, abs=0.01)
    again, _ = add_register_noise(waveforms, midi, noise)
    assert torch.equal(noisy, again)  # seeded


def test_noisy_copies_are_cached_per_snr(cache, annotations):
    rows = annotations.iloc[::12]
    paths, midi = rows["audio_path"].tolist(), rows["midi"].tolist()
    noise = NoiseSettings(snr_low_db=None, snr_mid_db=10.0, snr_high_db=10.0, seed=0)
    features, mask = cache.noisy(paths, midi, SETTINGS, noise)
    assert mask.tolist() == [m >= 48 for m in midi]
    assert features.shape[0] == int(mask.sum())
    clean = cache.clean(paths, SETTINGS)[mask]
    assert not torch.allclose(features, clean)
