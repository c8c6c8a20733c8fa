"""Each recording effect does what it says, within its range, the same for the same seed;
and noisy test audio at one SNR for every training-noise setting."""

from __future__ import annotations

import pytest
import torch

from tests.trainables.conftest import QUICK
from trainables.errors import ConfigError
from trainables.features import augment as A
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data

RATE = 16000


def tone(hz: float = 220.0, n: int = 16, seconds: float = 1.0) -> torch.Tensor:
    """`n` copies of a decaying harmonic tone that starts on its first frame."""
    t = torch.arange(int(seconds * RATE)) / RATE
    partials = sum(torch.sin(2 * torch.pi * hz * k * t) / k for k in range(1, 6))
    return (0.3 * partials * torch.exp(-3 * t)).repeat(n, 1)


def rms_db(x: torch.Tensor) -> torch.Tensor:
    return 20 * torch.log10(x.pow(2).mean(dim=1).sqrt())


def test_gain_stays_in_its_range():
    x = tone()
    change = rms_db(A.augment(x, RATE, ("gain",), seed=0)) - rms_db(x)
    assert change.min() >= A.GAIN_DB[0] - 1e-3 and change.max() <= A.GAIN_DB[1] + 1e-3
    assert change.std() > 1.0  # each sample its own draw


def test_delay_puts_silence_before_the_note():
    x = tone()
    delayed = A.augment(x, RATE, ("delay",), seed=0)
    onsets = (delayed.abs() > 1e-6).float().argmax(dim=1) / RATE
    assert onsets.max() <= A.DELAY_S[1] and onsets.max() > 0.01
    assert delayed.shape == x.shape


def test_detune_moves_the_pitch_by_whole_cents():
    x = tone(hz=440.0, n=32, seconds=2.0)
    detuned = A.augment(x, RATE, ("detune",), seed=0)
    spectrum = torch.fft.rfft(detuned[:, :RATE] * torch.hann_window(RATE)).abs()
    hz = spectrum[:, 400:480].argmax(dim=1) + 400.0  # 1 Hz bins around A4
    cents = 1200 * torch.log2(hz / 440.0)
    assert cents.abs().max() <= max(A.DETUNE_CENTS) + 4
    assert cents.abs().min() >= 1  # never left at 440 Hz


def test_reverb_keeps_sound_after_the_note_dies():
    x = tone()
    x[:, RATE // 2 :] = 0.0  # the note stops at 0.5 s
    wet = A.augment(x, RATE, ("reverb",), seed=0)
    tail = rms_db(wet[:, RATE // 2 : RATE // 2 + 800])  # the 50 ms after the stop
    assert (tail > rms_db(x[:, : RATE // 2]) - 40).all()


def test_hall_rings_on_after_the_small_rooms_tail_has_ended():
    x = tone(seconds=2.0)
    x[:, RATE // 2 :] = 0.0  # the note stops at 0.5 s
    late = slice(RATE // 2 + int(0.65 * RATE), RATE // 2 + int(0.75 * RATE))  # 0.65-0.75 s on
    room = A.augment(x, RATE, ("reverb",), seed=0)
    hall = A.augment(x, RATE, ("hall",), seed=0)
    note_db = rms_db(x[:, : RATE // 2])
    assert (rms_db(room[:, late]) < note_db - 120).all()  # its tail is 0.6 s at most: FFT dust
    assert (rms_db(hall[:, late]) > note_db - 90).all()


def test_noise_sits_within_its_snr_range():
    x = tone()
    noisy = A.augment(x, RATE, ("noise",), seed=0)
    snr = rms_db(x) - rms_db(noisy - x)
    assert snr.min() >= A.NOISE_SNR_DB[0] - 0.5 and snr.max() <= A.NOISE_SNR_DB[1] + 0.5


def test_tilt_changes_the_balance_of_bass_and_treble():
    x = torch.randn(16, RATE, generator=torch.Generator().manual_seed(1)) * 0.1
    tilted = A.augment(x, RATE, ("tilt",), seed=0)
    spectrum = torch.fft.rfft(tilted).abs().pow(2)
    bass, treble = spectrum[:, :100].mean(dim=1), spectrum[:, 5000:].mean(dim=1)
    white = torch.fft.rfft(x).abs().pow(2)
    balance = 10 * torch.log10(bass / treble) - 10 * torch.log10(
        white[:, :100].mean(dim=1) / white[:, 5000:].mean(dim=1)
    )
    assert balance.abs().max() <= 2 * A.SHELF_DB[1] + 1 and balance.std() > 1.0


def test_band_keeps_a_microphones_band_and_cuts_the_lowest_fundamentals():
    rate = 44100
    x = torch.randn(16, rate, generator=torch.Generator().manual_seed(2)) * 0.1
    banded = A.augment(x, rate, ("band",), seed=0)
    power, white = torch.fft.rfft(banded).abs().pow(2), torch.fft.rfft(x).abs().pow(2)

    def loss_db(low: int, high: int) -> torch.Tensor:  # per sample, over low-high Hz
        return 10 * torch.log10(white[:, low:high].mean(dim=1) / power[:, low:high].mean(dim=1))

    assert (loss_db(1000, 2000) < 1.5).all()  # in every drawn band
    assert (loss_db(20, 35) > 10).all()  # A0's 27.5 Hz: gone from every copy
    assert (loss_db(12000, 20000) > 20).all()  # above any drawn top edge
    assert loss_db(150, 250).std() > 1.0  # each sample its own low edge


def test_the_same_seed_gives_the_same_copy_and_another_seed_another():
    x = tone(n=4)
    first = A.augment(x, RATE, A.AUGMENTATIONS, seed=3)
    assert torch.equal(first, A.augment(x, RATE, A.AUGMENTATIONS, seed=3))
    assert not torch.allclose(first, A.augment(x, RATE, A.AUGMENTATIONS, seed=4))
    assert torch.isfinite(first).all()


def test_an_unknown_effect_is_named():
    with pytest.raises(ConfigError, match=r"field 'augment': 'gain,echo', expected comma-sep"):
        TrialConfig(augment="gain,echo")
    assert TrialConfig(augment=" gain, reverb ").augmentations == ("gain", "reverb")


def test_augmented_copies_join_the_training_set_only(small_root):
    plain = prepare_data(small_root, TrialConfig(**QUICK), torch.device("cpu"))
    config = TrialConfig(**QUICK, augment="gain,reverb,detune")
    data = prepare_data(small_root, config, torch.device("cpu"))
    assert len(data.train) == 2 * len(plain.train) and len(data.test) == len(plain.test)
    assert torch.equal(data.train.keys[: len(plain.train)], data.train.keys[len(plain.train) :])
    assert not torch.allclose(data.train.features[: len(plain.train)], plain.train.features)


def test_noisy_test_audio_at_one_snr_covers_every_test_note(small_root):
    """Scored on the same noisy audio whatever the training noise (the noise study)."""
    quiet_low = {"snr_low_db": None, "snr_mid_db": 10.0, "snr_high_db": 10.0}
    own = prepare_data(small_root, TrialConfig(**QUICK, **quiet_low), torch.device("cpu"))
    assert len(own.noisy_test) < len(own.test)  # the low notes have no noisy copy
    config = TrialConfig(**QUICK, **quiet_low, test_snr_db=10.0)
    shared = prepare_data(small_root, config, torch.device("cpu"))
    assert len(shared.noisy_test) == len(shared.test)
    assert torch.equal(shared.noisy_test.keys, shared.test.keys)
    assert not torch.allclose(shared.noisy_test.features, shared.test.features)


def test_a_notes_copy_is_the_same_in_any_batch():
    """Drawn from (seed, effect, the note's key) alone: a note's copy does not depend on
    which other notes share its batch, so the cache can store it once per note."""
    x = tone(n=6) * torch.linspace(0.5, 1.0, 6)[:, None]
    keys = ["n0", "n1", "n2", "n3", "n4", "n5"]
    whole = A.augment(x, RATE, A.AUGMENTATIONS, seed=2, keys=keys)
    part = A.augment(x[[4, 1]], RATE, A.AUGMENTATIONS, seed=2, keys=[keys[4], keys[1]])
    assert torch.allclose(whole[[4, 1]], part, rtol=0, atol=1e-6)
    # the same draws: only resampling (detune) rounds a batch of 2 and one of 6 apart
    exact = tuple(name for name in A.AUGMENTATIONS if name != "detune")
    whole = A.augment(x, RATE, exact, seed=2, keys=keys)
    assert torch.equal(whole[[4, 1]], A.augment(x[[4, 1]], RATE, exact, 2, [keys[4], keys[1]]))
    # one note, one draw: the same audio under the same key gets the same copy
    twins = A.augment(x[[3, 3]], RATE, ("gain", "delay"), seed=2, keys=["n3", "n3"])
    assert torch.equal(twins[0], twins[1])
    assert A.canonical(("noise", "gain")) == ("gain", "noise")
