"""Before any trial: can this machine or cluster run the study; its dataset spec; Ray started.

A study that cannot run here fails in seconds with what to change, not after Ray, MLflow
and the dataset have started.
"""

from __future__ import annotations

import os

import ray
import torch

from search_spaces.study import Study, StudyError
from trainables.data.dataset import DatasetSpec
from trainables.data.instruments import find_soundfont
from trainables.training.hardware import detect_hardware
from trainables.training.precision import PrecisionUnsupported, check_supported


class ClusterUnreachable(StudyError):
    """The Ray cluster named by --address could not be joined."""


def check_local_resources(study: Study) -> None:
    """Before starting Ray here: can this machine run one trial at all?"""
    cpus, gpus = os.cpu_count() or 1, torch.cuda.device_count()
    if study.cpu > cpus or study.gpu > gpus:
        raise StudyError(
            f"{study.source}: each trial asks for {study.cpu:g} CPU and {study.gpu:g} GPU; "
            f"this machine has {cpus} CPU and {gpus} GPU. Lower `resources` or pass "
            f"--address of a cluster that has them"
        )


def check_local_precision(study: Study) -> None:
    """Before starting Ray here: can this machine's trial device run every precision the
    study asks for? (`auto` always can.)"""
    device = torch.device("cuda" if study.gpu > 0 and torch.cuda.is_available() else "cpu")
    hardware = detect_hardware(device)
    asked = {study.fixed.get("precision", "auto")}
    for dimension in study.space:
        for value in dimension.values if dimension.kind == "choice" else ():
            bundle = value if isinstance(value, dict) else {dimension.name: value}
            asked.add(bundle.get("precision", "auto"))
    for precision in sorted(asked):
        try:
            check_supported(precision, hardware)
        except PrecisionUnsupported as error:
            raise StudyError(f"{study.source}: {error}") from None


def dataset_spec(study: Study) -> DatasetSpec | None:
    """The study's `dataset` section as the dataset builder (and every trial) reads it;
    None for a merged dataset, which is made of datasets already built."""
    if study.dataset.merge:
        return None
    return DatasetSpec(
        soundfonts=tuple(find_soundfont(name) for name in study.dataset.soundfonts),
        presets=study.dataset.presets,
        velocities=study.dataset.velocities,
        test_fraction=study.dataset.test_fraction,
        held_out_instruments=study.dataset.held_out_instruments,
        renderer=study.dataset.renderer,
    )


def join_cluster(address: str) -> None:
    """Join a running cluster. `ray start --head` turns on Ray's token authentication,
    which the driver only sends with RAY_AUTH_MODE=token set before it starts."""
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError) as error:
        hint = ""
        if os.environ.get("RAY_AUTH_MODE") != "token":
            hint = (
                " If the cluster uses token authentication (the default of `ray start`), "
                "run with RAY_AUTH_MODE=token and its token in ~/.ray/auth_token."
            )
        raise ClusterUnreachable(
            f"could not join the Ray cluster at {address}: {str(error).splitlines()[0]}.{hint}"
        ) from None


def start_ray(address: str | None) -> None:
    """Join the cluster at `address`, or start Ray in this process."""
    if ray.is_initialized():
        return
    if address:
        join_cluster(address)
    else:
        ray.init(  # "local": a Ray of its own, even where `ray start` runs a cluster here
            address="local",
            num_cpus=os.cpu_count(),
            num_gpus=torch.cuda.device_count(),
            include_dashboard=False,
        )


def check_cluster_resources(study: Study) -> None:
    """After joining a cluster: some node must fit one trial."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(n.get("CPU", 0) >= study.cpu and n.get("GPU", 0) >= study.gpu for n in nodes):
        largest = [(n.get("CPU", 0), n.get("GPU", 0)) for n in nodes]
        raise StudyError(
            f"{study.source}: no node can run a trial of {study.cpu:g} CPU and "
            f"{study.gpu:g} GPU; the nodes have (CPU, GPU) {largest}"
        )
