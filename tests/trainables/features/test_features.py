import pytest
import torch

from trainables.data.annotations import load_annotations
from trainables.data.dataset import read_manifest
from trainables.features.cache import COMPUTED, FeatureCache
from trainables.features.spectrograms import (
    FeatureSettings,
    NoiseSettings,
    add_noise,
    add_register_noise,
    fundamental_filters,
    spectrogram_db,
)
from trainables.keys import register_of

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
    folder = cache.variant_folder(SETTINGS, {"kind": "clean"})
    assert {f.stem for f in folder.glob("*.f32")} >= set(cache.note_hashes(paths))
    # a second cache object reads the files instead of decoding audio again
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
    # a row's noise is drawn from (seed, its key) alone: the same in any batch
    keys = ["a", "b", "c"]
    whole, _ = add_register_noise(waveforms, midi, noise, keys=keys)
    part, _ = add_register_noise(waveforms[1:2], midi[1:2], noise, keys=keys[1:2])
    assert torch.equal(whole[1:2], part)
    other, _ = add_register_noise(waveforms, midi, NoiseSettings(0.0, 20.0, None, seed=4), keys)
    assert not torch.equal(whole[:2], other[:2])


def _octave_powers(noise: torch.Tensor, rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's mean power in 100-200 Hz and in 3.2-6.4 kHz."""
    power = torch.fft.rfft(noise).abs().pow(2)
    hz = torch.fft.rfftfreq(noise.shape[1], 1 / rate)
    low, high = (hz >= 100) & (hz < 200), (hz >= 3200) & (hz < 6400)
    return power[:, low].mean(1), power[:, high].mean(1)


def test_noise_colours_shape_the_spectrum_at_the_same_snr():
    rate, keys = 16000, ["a", "b", "c", "d"]
    waveforms = torch.sin(torch.linspace(0, 2000, rate)).repeat(4, 1)
    tilts = {}
    for colour in ("white", "pink", "brown", "mixed"):
        noisy = add_noise(waveforms, 10.0, 0, keys, colour, rate)
        residual = noisy - waveforms
        snr = 10 * torch.log10(waveforms.pow(2).mean(1) / residual.pow(2).mean(1))
        assert torch.allclose(snr, torch.full((4,), 10.0), atol=0.01), colour
        low, high = _octave_powers(residual, rate)
        tilts[colour] = 10 * torch.log10(low / high)  # dB more power an octave at 150 Hz
    # 1/f^a over the 5 octaves between the bands: 0, 15 and 30 dB
    assert tilts["white"].abs().max() < 3
    assert torch.allclose(tilts["pink"], torch.full((4,), 15.0), atol=3)
    assert torch.allclose(tilts["brown"], torch.full((4,), 30.0), atol=3)
    # mixed: each note's colour drawn between white and brown, from (seed, its key) alone
    assert tilts["mixed"].min() > -3 and tilts["mixed"].max() < 33
    assert tilts["mixed"].std() > 2
    part = add_noise(waveforms[2:], 10.0, 0, keys[2:], "mixed", rate)
    assert torch.equal(part, add_noise(waveforms, 10.0, 0, keys, "mixed", rate)[2:])
    with pytest.raises(ValueError, match=r"noise colour 'grey': expected one of \['white'"):
        NoiseSettings(10.0, 10.0, 10.0, colour="grey")


def test_coloured_copies_are_cached_apart_from_white_ones(cache, annotations):
    rows = annotations.iloc[::12]
    paths, midi = rows["audio_path"].tolist(), rows["midi"].tolist()
    white = NoiseSettings(10.0, 10.0, 10.0, seed=5)
    pink = NoiseSettings(10.0, 10.0, 10.0, seed=5, colour="pink")
    white_features, _ = cache.noisy(paths, midi, SETTINGS, white)
    before = COMPUTED["noisy"]
    pink_features, _ = cache.noisy(paths, midi, SETTINGS, pink)
    assert COMPUTED["noisy"] - before == len(paths)
    assert not torch.equal(pink_features, white_features)
    waveforms = cache.waveforms(paths, SETTINGS.sample_rate)
    keys = cache.note_hashes(paths)
    noisy = add_noise(waveforms, 10.0, 5, keys, "pink", SETTINGS.sample_rate)
    expected = spectrogram_db(noisy, SETTINGS)
    torch.testing.assert_close(pink_features, expected, rtol=0, atol=1e-4)  # FFTs by batch
    # white copies keep the folder they had before there were colours
    white_folder = cache.variant_folder(SETTINGS, {"kind": "noisy", "snr_db": 10.0, "seed": 5})
    assert {f.stem for f in white_folder.glob("*.f32")} >= set(keys)


def test_noisy_copies_are_cached_per_snr(cache, annotations):
    rows = annotations.iloc[::12]
    paths, midi = rows["audio_path"].tolist(), rows["midi"].tolist()
    noise = NoiseSettings(snr_low_db=None, snr_mid_db=10.0, snr_high_db=20.0, seed=7)
    features, mask = cache.noisy(paths, midi, SETTINGS, noise)
    assert mask.tolist() == [m >= 48 for m in midi]
    assert features.shape[0] == int(mask.sum())
    clean = cache.clean(paths, SETTINGS)[mask]
    assert not torch.allclose(features, clean)
    # each note's copy is the register noise drawn from (seed, the note's audio hash)
    waveforms = cache.waveforms(paths, SETTINGS.sample_rate)
    noisy, _ = add_register_noise(waveforms, midi, noise, keys=cache.note_hashes(paths))
    assert torch.equal(features, spectrogram_db(noisy[mask], SETTINGS))
    # settings that agree on a register share its copies: only the high notes are new
    before = COMPUTED["noisy"]
    other = NoiseSettings(snr_low_db=None, snr_mid_db=10.0, snr_high_db=30.0, seed=7)
    again, _ = cache.noisy(paths, midi, SETTINGS, other)
    assert COMPUTED["noisy"] - before == sum(register_of(m).value == "high" for m in midi)
    mid = torch.tensor([register_of(m).value == "mid" for m in midi])[mask]
    assert torch.equal(again[mid], features[mid]) and not torch.equal(again[~mid], features[~mid])


def test_other_rates_and_channel_counts_are_handled_and_said_once(small_root, tmp_path, caplog):
    import logging

    import numpy as np
    import soundfile

    from trainables.data.audio import load_waveforms

    frame = load_annotations(small_root).iloc[:6]
    paths = []
    for i, relative in enumerate(frame["audio_path"]):
        audio, rate = soundfile.read(small_root / relative, dtype="float32")
        if i < 3:  # 44.1 kHz, three channels
            audio = np.stack([audio] * 3, axis=1)
            audio = np.stack(
                [
                    np.interp(
                        np.linspace(0, len(audio) - 1, 66150), np.arange(len(audio)), audio[:, c]
                    )
                    for c in range(3)
                ],
                axis=1,
            )
            rate = 44100
        soundfile.write(tmp_path / f"{i}.wav", audio, rate)
        paths.append(f"{i}.wav")
    with caplog.at_level(logging.INFO, logger="trainables.data.audio"):
        waveforms = load_waveforms(tmp_path, paths, 1.5, 16000)
    assert waveforms.shape == (6, 24000)
    assert torch.isfinite(waveforms).all() and (waveforms.abs().amax(dim=1) > 1e-3).all()
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("resampling 3 file(s) from 44100 Hz to 16000 Hz") == 1
    assert messages.count("resampling 3 file(s) from 22050 Hz to 16000 Hz") == 1
    assert messages.count("mixing 3 file(s) with 3 channels down to mono") == 1
    # the 44.1 kHz three-channel copy comes out as the original rendering does
    original = load_waveforms(small_root, [frame["audio_path"].iloc[0]], 1.5, 16000)[0]
    assert torch.allclose(waveforms[0], original, atol=0.02)


def test_low_fundamentals_crowd_into_few_mel_filters_at_the_default_settings():
    default = fundamental_filters(FeatureSettings())
    low = default[default["register"] == "low"]
    assert len(low) == 27 and (low["response"] > 0).all()
    assert low["mel_filter"].nunique() == 7
    assert low["mel_filter"].is_monotonic_increasing
    fine = fundamental_filters(FeatureSettings(n_fft=4096, n_mels=256))
    assert fine[fine["register"] == "low"]["mel_filter"].nunique() == 14
    assert default["hz"].iloc[0] == pytest.approx(27.5) and default["hz"].iloc[48] == 440
