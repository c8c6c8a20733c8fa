"""`precision: auto`: the fastest precision the hardware has, never a slower one.

The choice logic runs with the hardware and the step timings injected, so every kind of
machine is covered on any machine; the timed check and the training loop run for real.
"""

import logging
from pathlib import Path

import pytest
import torch

from tests.trainables.conftest import QUICK  # the same cached features
from trainables.training.config import TrialConfig
from trainables.training.data import prepare_data
from trainables.training.hardware import (
    HIDE_FLAGS_ENV,
    Hardware,
    cpu_flags,
    detect_hardware,
    present_cpu_flags,
)
from trainables.training.loop import train_trial
from trainables.training.precision import (
    PrecisionUnsupported,
    choose,
    resolve,
    resolve_execution,
)
from trainables.training.step import Mode

CPU_AVX2 = Hardware("cpu", "AMD EPYC 7B13", "avx2", native_bf16=False)
CPU_BF16 = Hardware("cpu", "AMD EPYC 9B14", "avx2 avx512f avx512_bf16", native_bf16=True)
GPU_AMPERE = Hardware("cuda", "NVIDIA A100-SXM4-80GB", "sm_80", native_bf16=True)
GPU_TURING = Hardware("cuda", "Tesla T4", "sm_75", native_bf16=False)

BF16_CL, BF16 = Mode("bf16", True), Mode("bf16", False)
FP32_CL, FP32 = Mode("fp32", True), Mode("fp32", False)
FP16_CL, FP16 = Mode("fp16", True), Mode("fp16", False)
#: Step seconds as measured on the two CPU kinds (width 16, kernel 5, batch 32).
AVX2_SECONDS = {FP32: 32 / 10.7, FP32_CL: 32 / 13.7, BF16: 32 / 0.8, BF16_CL: 32 / 1.0}
BF16_CPU_SECONDS = {FP32: 32 / 23.4, FP32_CL: 32 / 39.9, BF16: 32 / 43.6, BF16_CL: 32 / 72.9}


class Timer:
    """Stands in for the timed check: answers from a table, remembers what it was asked."""

    def __init__(self, seconds: dict[Mode, float]):
        self.seconds, self.asked = seconds, []

    def __call__(self, modes: list[Mode]) -> dict[Mode, float]:
        self.asked.append(list(modes))
        return {m: self.seconds[m] for m in modes}


def test_cpu_without_native_bf16_trains_in_fp32_and_never_times_bf16():
    # even if emulated bf16 were somehow faster, it is not tried
    timer = Timer({**AVX2_SECONDS, BF16_CL: 0.01, BF16: 0.01})
    execution = resolve("auto", "auto", CPU_AVX2, timer)
    assert execution.mode == FP32_CL
    assert timer.asked == [[FP32_CL, FP32]]
    assert "no native bf16" in execution.how
    assert not execution.scales_loss and not execution.grad_scaler().is_enabled()


def test_cpu_with_native_bf16_takes_bf16_when_the_check_says_it_is_faster():
    timer = Timer(BF16_CPU_SECONDS)
    execution = resolve("auto", "auto", CPU_BF16, timer)
    assert execution.mode == BF16_CL
    assert set(timer.asked[0]) == {BF16_CL, BF16, FP32_CL, FP32}
    assert execution.record()["precision"] == "bf16"
    assert execution.record()["memory_format"] == "channels_last"
    assert "1.83x the fastest fp32" in execution.how


def test_cpu_with_native_bf16_keeps_fp32_when_bf16_is_not_clearly_faster():
    barely = {**BF16_CPU_SECONDS, BF16_CL: BF16_CPU_SECONDS[FP32_CL] * 0.97}
    assert resolve("auto", "auto", CPU_BF16, Timer(barely)).mode == FP32_CL
    slower = {**BF16_CPU_SECONDS, BF16_CL: 5.0, BF16: 6.0}
    assert resolve("auto", "auto", CPU_BF16, Timer(slower)).mode == FP32_CL


def test_the_memory_format_is_chosen_by_the_same_check():
    contiguous_wins = {**AVX2_SECONDS, FP32: 1.0, FP32_CL: 2.0}
    assert resolve("auto", "auto", CPU_AVX2, Timer(contiguous_wins)).mode == FP32
    timer = Timer(AVX2_SECONDS)
    assert resolve("fp32", "contiguous", CPU_AVX2, timer).mode == FP32
    assert timer.asked == []  # nothing to choose, nothing timed


def test_cuda_with_bf16_trains_in_bf16():
    timer = Timer({BF16_CL: 0.010, BF16: 0.012})
    execution = resolve("auto", "auto", GPU_AMPERE, timer)
    assert execution.mode == BF16_CL
    assert timer.asked == [[BF16_CL, BF16]]  # fp32 is never the GPU's default
    assert not execution.scales_loss


def test_cuda_without_bf16_trains_in_fp16_with_a_gradient_scaler():
    execution = resolve("auto", "channels_last", GPU_TURING, Timer({}))
    assert execution.mode == FP16_CL
    assert execution.how == "only choice"
    assert execution.scales_loss
    assert execution.record()["device"] == "cuda: Tesla T4"
    assert execution.record()["device_capability"] == "sm_75"


def test_fp32_is_there_on_request_on_a_gpu():
    execution = resolve("fp32", "channels_last", GPU_AMPERE, Timer({}))
    assert execution.mode == FP32_CL and execution.how == "requested"


@pytest.mark.parametrize(
    ("precision", "hardware", "message"),
    [
        ("fp16", CPU_BF16, r"'fp16' needs a CUDA GPU.*cpu: AMD EPYC 9B14.*use auto, bf16 or fp32"),
        ("fp16", CPU_AVX2, r"'fp16' needs a CUDA GPU"),
        ("bf16", GPU_TURING, r"'bf16' is not supported by cuda: Tesla T4 \(sm_75\)"),
    ],
)
def test_an_explicit_precision_the_device_cannot_run_is_a_clear_error(precision, hardware, message):
    with pytest.raises(PrecisionUnsupported, match=message):
        resolve(precision, "auto", hardware, Timer({}))


def test_explicit_bf16_on_a_cpu_without_native_bf16_stays_possible_for_comparisons():
    execution = resolve("bf16", "channels_last", CPU_AVX2, Timer({}))
    assert execution.mode == BF16_CL and execution.how == "requested"


def test_choose_prefers_fp32_within_the_margin():
    assert choose({FP32_CL: 1.0, BF16_CL: 0.95}) == FP32_CL
    assert choose({FP32_CL: 1.0, BF16_CL: 0.85}) == BF16_CL
    assert choose({BF16_CL: 0.5, BF16: 0.4}) == BF16  # no fp32 timed: the fastest


def test_this_machine_is_described_by_its_cpuinfo(monkeypatch):
    monkeypatch.delenv(HIDE_FLAGS_ENV, raising=False)
    hardware = detect_hardware(torch.device("cpu"))
    flags = cpu_flags()
    assert hardware.device == "cpu" and hardware.name
    assert hardware.capability == " ".join(flags)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert hardware.native_bf16 == ("avx512_bf16" in cpuinfo or "amx_bf16" in cpuinfo)


def test_hidden_flags_make_a_bf16_cpu_decide_as_one_without_and_say_so(monkeypatch):
    """How the AVX2 path is measured on a CPU with native bf16 (the benchmarks, the test
    run's times): the choice no longer sees bf16, the record still names what is there."""
    monkeypatch.setenv(HIDE_FLAGS_ENV, "avx512_bf16, amx_bf16")
    hardware = detect_hardware(torch.device("cpu"))
    present = present_cpu_flags()
    hidden = [f for f in present if f in ("avx512_bf16", "amx_bf16")]
    assert not hardware.native_bf16
    assert cpu_flags() == [f for f in present if f not in hidden]
    if hidden:
        assert hardware.capability.endswith(f"; hidden: {' '.join(hidden)}")
    else:
        assert hardware.capability == " ".join(present)
    assert resolve("auto", "channels_last", hardware, Timer(BF16_CPU_SECONDS)).mode == FP32_CL


def test_the_real_check_times_the_trials_model_once_per_process_and_says_so(caplog):
    config = TrialConfig(width=2, depth=2, bottleneck=8, n_mels=16, loss="mse")
    model = config.model(n_frames=12)
    cpu = torch.device("cpu")
    with caplog.at_level(logging.INFO, logger="trainables.training.precision"):
        first = resolve_execution("auto", "auto", model, "mse", 4, cpu)
        again = resolve_execution("auto", "auto", model, "mse", 4, cpu)
    assert again is first  # cached: the check ran once
    said = [r.getMessage() for r in caplog.records if "->" in r.getMessage()]
    assert len(said) == 1 and str(first.mode) in said[0]
    assert "timed check" in first.how and first.check_s > 0
    if not detect_hardware(cpu).native_bf16:
        assert first.precision == "fp32"


def test_a_trial_says_what_it_ran_in_and_resumes_in_the_same_mode(small_root):
    config = TrialConfig(**{**QUICK, "width": 2, "batch_size": 32, "epochs": 2})
    data = prepare_data(small_root, config, torch.device("cpu"))
    first = next(train_trial(config, data))
    assert first.execution.precision in ("bf16", "fp32")
    assert first.execution.hardware == detect_hardware(torch.device("cpu"))
    # a checkpoint from a machine that trained in fp32 + contiguous goes on in that mode
    state = {**first.state(), "execution": {"precision": "fp32", "channels_last": False}}
    resumed = next(train_trial(config, data, resume=state))
    assert resumed.epoch == 2 and resumed.execution.mode == FP32
    assert resumed.execution.how.startswith("resumed")


def test_a_trial_asking_for_fp16_on_a_cpu_stops_before_training(small_root):
    config = TrialConfig(**{**QUICK, "width": 2, "precision": "fp16"})
    data = prepare_data(small_root, config, torch.device("cpu"))
    with pytest.raises(PrecisionUnsupported, match="field 'precision': 'fp16' needs a CUDA GPU"):
        next(train_trial(config, data))
