"""Small real data, built once per test session: two piano presets, two velocities."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainables.dataset import DatasetInfo, DatasetSpec, build_dataset

SMALL_SPEC = DatasetSpec(presets=(0, 1), velocities=(60, 110))


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetInfo:
    """352 rendered notes (88 keys x 2 presets x 2 velocities), 88 of them for testing."""
    return build_dataset(tmp_path_factory.mktemp("data") / "small", SMALL_SPEC)


@pytest.fixture(scope="session")
def small_root(small_dataset: DatasetInfo) -> Path:
    return small_dataset.root
