"""Merging datasets: every note kept with its audio, splits by rule, bad merges refused."""

from __future__ import annotations

import pandas as pd
import pytest

from trainables.data.dataset import DatasetSpec, build_dataset, open_dataset
from trainables.data.merge import merge_datasets
from trainables.errors import DatasetError


@pytest.fixture(scope="module")
def other_root(tmp_path_factory):
    """88 notes of a third piano preset, all in their own stratified split."""
    spec = DatasetSpec(presets=(2,), velocities=(90,))
    return build_dataset(tmp_path_factory.mktemp("data") / "other", spec).root


def test_every_note_keeps_its_audio_and_the_rules_set_whole_instruments_splits(
    small_root, other_root, tmp_path
):
    root = tmp_path / "merged"
    info = merge_datasets(
        root, [small_root, other_root], test=("TimGM6mb-p2",), train=("TimGM6mb-p*",)
    )
    _, merged = open_dataset(root)
    small, other = open_dataset(small_root)[1], open_dataset(other_root)[1]
    assert info.n_samples == len(merged) == len(small) + len(other)
    splits = merged.groupby("instrument")["split"].unique().map(list).to_dict()
    # the first rule that matches wins: p2 is tested whole, p0 and p1 trained on whole
    assert splits == {"TimGM6mb-p0": ["train"], "TimGM6mb-p1": ["train"], "TimGM6mb-p2": ["test"]}
    by_key = merged.set_index(["instrument", "midi", "velocity"])
    for source_root, frame in ((small_root, small), (other_root, other)):
        for row in frame.sample(5, random_state=0).itertuples():
            new = by_key.loc[(row.instrument, row.midi, row.velocity), "audio_path"]
            assert (root / new).read_bytes() == (source_root / row.audio_path).read_bytes()


def test_no_rule_keeps_each_sources_split_and_merging_again_is_a_no_op(
    small_root, other_root, tmp_path
):
    root = tmp_path / "merged"
    first = merge_datasets(root, [small_root, other_root])
    merged = pd.read_csv(root / "annotations.csv")
    sources = pd.concat([open_dataset(r)[1] for r in (small_root, other_root)])
    assert merged["split"].value_counts().to_dict() == sources["split"].value_counts().to_dict()
    again = merge_datasets(root, [small_root, other_root])
    assert first.built and not again.built
    assert again.dataset_hash == first.dataset_hash


def test_a_rule_that_matches_nothing_is_refused_before_anything_is_written(
    small_root, other_root, tmp_path
):
    root = tmp_path / "merged"
    with pytest.raises(DatasetError, match=r"--test 'salamander-\*' matches no instrument"):
        merge_datasets(root, [small_root, other_root], test=("salamander-*",))
    assert not root.exists()


def test_an_instrument_in_two_sources_is_refused(small_root, tmp_path):
    copy = tmp_path / "copy"
    build_dataset(copy, DatasetSpec(presets=(1,), velocities=(60,)))
    with pytest.raises(DatasetError, match=r"instrument 'TimGM6mb-p1' is in both"):
        merge_datasets(tmp_path / "merged", [small_root, copy])
