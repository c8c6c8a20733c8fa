"""The onset benchmark's detectors, its verdict and its table (the full run: benchmarks/)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import onsets

RATE = 22050


def struck(lead_s: float, seconds: float = 1.5) -> np.ndarray:
    """A decaying 220 Hz tone with its partials, after `lead_s` of silence."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)) * np.exp(-3 * t)
    return np.concatenate([np.zeros(round(lead_s * RATE)), 0.3 * tone]).astype(np.float32)


def test_the_project_detector_finds_the_note_and_refuses_what_holds_none():
    assert onsets.project_onset(struck(0.3), RATE) == pytest.approx(0.3, abs=0.005)
    assert onsets.project_onset(np.zeros(RATE, np.float32), RATE) is None
    assert onsets.project_onset(struck(0.0)[: round(0.05 * RATE)], RATE) is None  # too short


def test_librosa_finds_the_note_after_silence():
    for detector in (onsets.librosa_onset, onsets.librosa_strongest_onset):
        assert detector(struck(0.3), RATE) == pytest.approx(0.3, abs=onsets.TOLERANCE_S)
        assert detector(np.zeros(RATE, np.float32), RATE) is None


def figures(at_note: int, refused: int, taken: tuple[str, ...] = ()) -> dict:
    return {
        "notes": 10,
        "found": 10,
        "at_note": at_note,
        "error_ms": {"cut at its onset, rendered": {"n": 2, "median": 1.0, "p95": 2.0}},
        "by_group_case": {
            f"{onsets.GROUPS[0]} | {onsets.CASES[0]}": {
                "notes": 10,
                "found": 10,
                "at_note": at_note,
            }
        },
        "negatives": {
            "silence": {"files": 2, "refused": 2},
            "steady noise": {"files": 3, "refused": refused},
        },
        "ms_per_file": {"median": 1.0, "mean": 1.0},
        "not_refused": [f"{colour} noise at -30 dBFS, 1.00 s" for colour in taken],
    }


def test_the_table_names_the_detector_that_cuts_more_notes_and_refuses_more_noise():
    result = {
        "cpu_kind": "AVX2 CPU",
        "librosa": "0.11.0",
        "lead_s": 0.3,
        "noise": "white-10db",
        "tolerance_s": 0.05,
        "notes_by_group": {onsets.GROUPS[0]: 10},
        "detectors": {
            onsets.PROJECT: figures(9, 3),
            onsets.LIBROSA: figures(10, 0, ("white", "brown", "white")),
        },
    }
    assert onsets.score(result["detectors"][onsets.PROJECT]) == 9 + 2 + 3
    text = onsets.render(result)
    assert f"Better: **`{onsets.PROJECT}`**" in text
    assert "ms per file (AVX2 CPU)" in text and "0/3 steady noise" in text
    assert f"Steady noise read as a note: `{onsets.LIBROSA}` 2 white, 1 brown." in text
    assert "| real: soft low (low keys, dynamics 1-4) | cut at its onset | 9 (10) / 10 |" in text
