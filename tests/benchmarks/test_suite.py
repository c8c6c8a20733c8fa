"""The benchmark suite: its pieces, and (slow) that every script runs at --quick sizes."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from benchmarks import common, render
from tests.commands import ROOT, run_command


def test_every_benchmark_names_itself_and_says_what_it_compares():
    for name in render.MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        assert name == module.NAME
        assert module.TITLE and callable(module.run) and callable(module.render)
        assert f"python -m benchmarks.{name} [--quick]" in module.__doc__


def test_linear_fit_finds_the_line_and_says_how_well():
    exact = common.linear_fit([1, 2, 4], [3.0, 5.0, 9.0])
    assert exact["slope"] == pytest.approx(2.0) and exact["intercept"] == pytest.approx(1.0)
    assert exact["r2"] == pytest.approx(1.0)
    assert common.linear_fit([1, 2, 4], [1.0, 4.0, 16.0])["r2"] < 0.98


def test_machine_says_where_a_figure_came_from():
    info = common.machine()
    assert {"cpu", "cores", "torch", "device"} <= set(info)
    assert info["torch"] in common.machine_line(info)


def test_render_rewrites_only_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    original = (ROOT / "benchmarks" / "README.md").read_text()
    readme.write_text(original)
    folder = tmp_path / "results" / "cpu"
    folder.mkdir(parents=True)
    result = {
        "benchmark": "features",
        "title": "t",
        "quick": True,
        "date": "2026-01-01T00:00:00+00:00",
        "machine": common.machine(),
        "wall_s": 1.0,
        "notes": 8,
        "note_s": 1.5,
        "sample_rate": 16000,
        "ms_per_note": {"constant-Q, nnAudio": 20.0, "constant-Q, spanned (the project's)": 5.0},
        "cqt_max_deviation_of_loudest": 1e-5,
        "cqt_kernel_taps": {"nnAudio": 400, "spanned": 100},
        "cold_cache": {},
    }
    (folder / "features.json").write_text(json.dumps(result))
    render.update_readme(tmp_path / "results", readme)
    text = readme.read_text()
    assert "The constant-Q spanned: **4.00x** nnAudio's speed" in text
    assert "Not run on a cpu yet." in text  # the other benchmarks
    assert "No gpu results yet" in text
    before, after = (
        original.split("<!-- results:cpu -->")[0],
        original.split("<!-- /results:gpu -->")[1],
    )
    assert text.startswith(before) and text.endswith(after)
    render.update_readme(tmp_path / "results", readme)
    assert readme.read_text() == text  # idempotent


@pytest.mark.slow
def test_the_quick_suite_runs_every_benchmark_and_leaves_the_readme_alone(tmp_path):
    """`python -m benchmarks --quick`: minutes (three sweeps start Ray)."""
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    result = run_command(
        [sys.executable, "-m", "benchmarks", "--quick", "--results", str(tmp_path)], timeout=1500
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kind = common.device_kind()
    for name in render.MODULES:
        written = json.loads((tmp_path / kind / f"{name}.json").read_text())
        assert written["quick"] is True and written["machine"]["cores"] >= 1
    assert (ROOT / "benchmarks" / "README.md").read_text() == readme
    assert "### Early stopping" in result.stdout


def test_the_precision_benchmark_judges_the_hidden_bf16_path_by_the_avx2_goal():
    from benchmarks import precision_default

    way = {"wall_s": 60.0, "epochs_s": 50.0, "trials": 4, "ran": [("fp32", "channels_last")]}
    result = {
        "hardware": "cpu: AMD EPYC (avx2 avx512f avx512_bf16)",
        "native_bf16": True,
        "ways": {"default (auto)": way, "--set precision=fp32": way, precision_default.HIDDEN: way},
        "wall_ratio_auto_vs_fp32": 0.8,
        "epochs_ratio_auto_vs_fp32": 0.6,
        "wall_ratio_hidden_vs_fp32": 1.4,
    }
    text = precision_default.render(result)
    assert "its wall time is **0.8x** fp32's" in text
    assert "(with native bf16 hidden from the choice): the default at most 1.3x" in text
    assert "**1.4x, NOT met**" in text
    assert "**1.02x, met**" in precision_default.render(
        {**result, "native_bf16": False, "wall_ratio_auto_vs_fp32": 1.02}
    )


def test_the_peak_follows_the_cpus_family_and_flags():
    from benchmarks.step_flops import peak

    zen4 = peak(
        {"vendor_id": "AuthenticAMD", "cpu family": "25", "flags": "fma avx512f avx512_bf16"}
    )
    assert (zen4["fp32"], zen4["bf16"]) == (32, 64)
    sapphire = peak({"vendor_id": "GenuineIntel", "cpu family": "6", "flags": "avx512f amx_bf16"})
    assert (sapphire["fp32"], sapphire["bf16"]) == (64, 1024)
    avx2 = peak({"vendor_id": "GenuineIntel", "cpu family": "6", "flags": "avx2 fma"})
    assert (avx2["fp32"], avx2["bf16"]) == (32, 32) and "no native bf16" in avx2["bf16_why"]


def test_flops_are_counted_per_sample_whatever_the_batch():
    import torch

    from benchmarks.step_flops import flops_per_sample
    from benchmarks.step_throughput import Trainer
    from trainables.training.config import TrialConfig

    config = TrialConfig(width=4, precision="fp32")
    small, large = (Trainer(config, torch.device("cpu"), b) for b in (2, 4))
    assert flops_per_sample(small) == pytest.approx(flops_per_sample(large), rel=1e-6)
    assert flops_per_sample(small) > 1e8  # convolutions over a 128 x 94 spectrogram and up


def test_a_power_law_fit_finds_the_exponent():
    from benchmarks.growth import power_fit

    fit = power_fit([1, 2, 4], [3.0, 12.0, 48.0])  # 3 x^2
    assert fit["exponent"] == pytest.approx(2.0) and fit["coefficient"] == pytest.approx(3.0)
    assert power_fit([1, 2, 4], [10.0, 11.0, 13.0])["exponent"] < 0.3  # mostly a fixed cost
