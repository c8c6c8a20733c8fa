"""Figures on real runs: readable PNGs with titles, units, legends and the keyboard."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Rectangle

from analysis.configs import config_labels
from analysis.figures import (
    draw_keyboard,
    learning_curves,
    per_key_means,
    per_key_scatter,
    per_key_trend,
    png_bytes,
    save_png,
    top_configs,
)
from tests.analysis.png import assert_real_png


@pytest.fixture(scope="module")
def finished(smoke_runs):
    runs = smoke_runs.finished.copy()
    runs["config"] = config_labels(runs)
    return runs


def texts(figure) -> str:
    parts = [t.get_text() for t in figure.texts]
    for axis in figure.axes:
        parts += [axis.get_title(loc=loc) for loc in ("left", "center")]
        parts += [axis.get_ylabel(), axis.get_xlabel()]
        parts += [t.get_text() for t in axis.get_xticklabels()]
        legend = axis.get_legend()
        if legend:
            parts += [t.get_text() for t in legend.get_texts()]
    for legend in figure.legends:
        parts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(parts)


def test_keyboard_strip_has_the_88_keys():
    figure, axis = plt.subplots()
    draw_keyboard(axis)
    keys = [p for p in axis.patches if isinstance(p, Rectangle) and p.get_height() > 0.5]
    black = [p for p in keys if p.get_facecolor()[:3] == (0.0, 0.0, 0.0)]
    assert len(keys) == 88 and len(black) == 36
    labels = [t.get_text() for t in axis.get_xticklabels()]
    assert labels == ["A0", *(f"C{octave}" for octave in range(1, 9))]
    plt.close(figure)


def test_per_key_scatter(smoke_runs, finished, tmp_path):
    figure = per_key_scatter(smoke_runs.per_key, finished, "smoke: per-key", 22.8)
    text = texts(figure)
    for expected in (
        "PSNR (dB)",
        "loss=mse",
        "loss=smooth_l1",
        "low register",
        "mean-image baseline (22.8 dB)",
        "C4",
        "smoke: per-key",
    ):
        assert expected in text
    assert len(figure.axes) == 2 + 1  # a panel per config and the keyboard
    assert_real_png(save_png(figure, tmp_path / "scatter.png"), 1000, 500)


def test_per_key_means_average_the_seeds(smoke_runs, finished):
    means = per_key_means(smoke_runs.per_key, finished)
    assert len(means) == 2 * 88 and means["seeds"].eq(2).all()
    mse = set(finished.loc[finished["loss"] == "mse", "run_id"])
    per_key = smoke_runs.per_key
    c4 = per_key[(per_key["midi"] == 60) & per_key["run_id"].isin(mse)]["psnr"].mean()
    assert means.query("config == 'loss=mse' and midi == 60")["psnr"].iloc[0] == pytest.approx(c4)


def test_per_key_trend(smoke_runs, finished):
    figure = per_key_trend(smoke_runs.per_key, finished, "smoke: trend", 22.8)
    text = texts(figure)
    assert "note accuracy (%)" in text and "95% interval over seeds" in text
    assert "loss=mse" in text
    assert_real_png(png_bytes(figure), 1000, 500)


def test_learning_curves(smoke_runs, finished):
    figure = learning_curves(smoke_runs.history, finished, "smoke", 22.8)
    text = texts(figure)
    for expected in (
        "Train loss",
        "Test loss",
        "Test PSNR",
        "epoch",
        "PSNR (dB)",
        "mean-image baseline",
        "loss=smooth_l1",
    ):
        assert expected in text
    assert_real_png(png_bytes(figure), 1200, 300)


def test_at_most_six_configs_are_drawn(finished):
    many = finished.assign(config=[f"c{i}" for i in range(len(finished))])
    assert top_configs(many, limit=3) == list(
        many.sort_values("test_psnr", ascending=False)["config"][:3]
    )
