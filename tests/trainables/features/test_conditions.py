"""The recording conditions a model is scored under do what their names say, the same way
every time for the same recording."""

from __future__ import annotations

import numpy as np
import pytest

from trainables.features.conditions import CONDITIONS, conditions

RATE = 44100


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-2 * t)).astype(np.float32)


def db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def test_a_condition_draws_the_same_audio_for_the_same_recording_only():
    noisy = CONDITIONS["white-10db"]
    first, _ = noisy.apply(tone(440), RATE, "C4.wav")
    again, _ = noisy.apply(tone(440), RATE, "C4.wav")
    other, _ = noisy.apply(tone(440), RATE, "D4.wav")
    assert np.array_equal(first, again) and not np.allclose(first, other)


@pytest.mark.parametrize("name, snr", [("white-20db", 20), ("white-10db", 10), ("brown-10db", 10)])
def test_noise_is_added_at_its_snr(name, snr):
    clean = tone(440)
    noisy, rate = CONDITIONS[name].apply(clean, RATE, "x")
    assert rate == RATE and noisy.shape == clean.shape
    assert db(clean) - db(noisy - clean) == pytest.approx(snr, abs=0.05)


def test_brown_noise_puts_its_power_low_and_white_noise_everywhere():
    silence = np.zeros(RATE, dtype=np.float32) + 1e-3 * tone(440)
    shares = {}
    for name in ("white-10db", "brown-10db"):
        noise = CONDITIONS[name].apply(silence, RATE, "x")[0] - silence
        power = np.abs(np.fft.rfft(noise)) ** 2
        shares[name] = power[: len(power) * 500 // (RATE // 2)].sum() / power.sum()  # < 500 Hz
    assert shares["white-10db"] < 0.05 and shares["brown-10db"] > 0.9


def test_a_room_rings_on_for_about_its_rt60():
    click = np.zeros(2 * RATE, dtype=np.float32)
    click[:100] = 1.0
    for rt60 in (0.3, 1.2):
        wet, _ = CONDITIONS[f"room-{rt60}s"].apply(click, RATE, "click")
        early, late = wet[RATE // 100 : RATE // 20], wet[round(rt60 * RATE) - 2000 :][:2000]
        assert 45 < db(early) - db(late) < 75, rt60  # about 60 dB down after rt60


def test_a_phone_keeps_300_to_3400_hz_at_8_khz():
    kept, rate = CONDITIONS["phone"].apply(tone(1000), RATE, "x")
    low, _ = CONDITIONS["phone"].apply(tone(100), RATE, "x")
    assert rate == 8000 and kept.shape[0] == 8000
    assert db(tone(1000)) - db(kept) < 1.5 and db(tone(100)) - db(low) > 20


def test_conditions_are_named_or_all():
    assert [c.name for c in conditions("clean, phone")] == ["clean", "phone"]
    assert len(conditions("all")) == len(CONDITIONS)
    with pytest.raises(ValueError, match="'hall'.*expected 'all' or"):
        conditions("clean,hall")
