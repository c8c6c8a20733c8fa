"""A study on a merged dataset: the sweep merges its sources before any trial starts."""

from __future__ import annotations

import pytest
import yaml

from search_spaces.study import STUDIES_DIR, parse_study
from search_spaces.sweep import prepare_dataset
from trainables.data.dataset import DatasetSpec, build_dataset, open_dataset
from trainables.errors import DatasetError


def merged_study(tmp_path, sources):
    raw = yaml.safe_load((STUDIES_DIR / "smoke.yaml").read_text())
    raw["dataset"] = {
        "root": str(tmp_path / "merged"),
        "merge": [str(s) for s in sources],
        "test": ["TimGM6mb-p3"],
    }
    return parse_study(raw, tmp_path / "merged.yaml")


def test_the_sweep_merges_a_studys_sources(small_root, tmp_path):
    other = build_dataset(tmp_path / "other", DatasetSpec(presets=(3,), velocities=(70,))).root
    info = prepare_dataset(merged_study(tmp_path, [small_root, other]))
    _, frame = open_dataset(info.root)
    assert info.n_samples == 352 + 88
    assert set(frame.loc[frame["instrument"] == "TimGM6mb-p3", "split"]) == {"test"}
    assert not prepare_dataset(merged_study(tmp_path, [small_root, other])).built


def test_a_source_not_built_yet_says_how_to_build_it(small_root, tmp_path):
    with pytest.raises(DatasetError, match=r"missing.*holds no dataset.*sheetsweep-dataset"):
        prepare_dataset(merged_study(tmp_path, [small_root, tmp_path / "missing"]))
