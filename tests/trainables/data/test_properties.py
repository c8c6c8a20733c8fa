"""Property-based: malformed annotation rows and study files never escape as a bare
traceback; the loaders answer with their own typed error or accept the input."""

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from search_spaces.study import StudyError, parse_study
from search_spaces.study_schema import REQUIRED, TOP_LEVEL
from trainables.data.annotations import COLUMNS, check_annotations
from trainables.errors import DatasetError

ROOT = Path("/tmp/sheetsweep-property-root")
cell = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-10, 200).map(str),
    st.floats().map(str),
    st.sampled_from(
        [
            "A0",
            "C#4",
            "Bb3",
            "low",
            "mid",
            "high",
            "train",
            "test",
            "../x.wav",
            "audio/a.wav",
            "/etc/passwd",
            "60",
            "21",
            "108",
            "nan",
        ]
    ),
)
row = st.fixed_dictionaries({c: cell for c in COLUMNS})
rows = st.lists(row, min_size=0, max_size=6)
dropped = st.sets(st.sampled_from(COLUMNS), max_size=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, dropped=dropped)
@example(rows=[{c: "INFINITY" if c == "midi" else "0" for c in COLUMNS}], dropped=set())
def test_malformed_annotations_give_a_dataset_error(rows, dropped):
    frame = pd.DataFrame(rows, columns=list(COLUMNS)).drop(columns=list(dropped))
    try:
        checked = check_annotations(frame, ROOT, ROOT / "annotations.csv")
    except DatasetError as error:
        assert "annotations.csv" in str(error)
    else:  # accepted: then it really meets the contract
        assert set(checked["split"]) <= {"train", "test"}
        assert checked["midi"].between(21, 108).all()


scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True), st.text(max_size=8)
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
study_keys = st.sampled_from(
    [
        "name",
        "question",
        "metric",
        "mode",
        "searcher",
        "optuna",
        "scheduler",
        "asha",
        "num_trials",
        "seeds",
        "dataset",
        "fixed",
        "space",
        "resources",
        "max_concurrent",
        "max_failures",
        "oops",
    ]
)
valid = {
    "name": "p",
    "question": "q?",
    "metric": "test_psnr",
    "mode": "max",
    "searcher": "grid",
    "seeds": [0],
    "fixed": {"epochs": 1},
    "space": {"loss": {"choice": ["mse"]}},
}


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(study_keys, value, max_size=4),
    removed=st.sets(st.sampled_from(sorted(valid)), max_size=2),
)
def test_malformed_studies_give_a_study_error(changes, removed):
    raw = {k: v for k, v in {**valid, **changes}.items() if k not in removed}
    try:
        study = parse_study(raw, Path("fuzzed.yaml"))
    except StudyError as error:
        assert "fuzzed.yaml" in str(error) or "field" in str(error)
    else:
        assert study.planned_trials >= 1


@settings(max_examples=100, deadline=None)
@given(raw=value.filter(lambda v: not isinstance(v, dict)))
def test_a_yaml_value_other_than_a_mapping_is_refused_as_a_study(raw):
    kind = type(raw).__name__
    with pytest.raises(
        StudyError, match=rf"^fuzzed\.yaml: expected a mapping of study fields, got {kind}$"
    ):
        parse_study(raw, Path("fuzzed.yaml"))


strangers = st.dictionaries(
    st.text(max_size=8).filter(lambda k: k not in TOP_LEVEL), value, max_size=2
)


@settings(max_examples=100, deadline=None)
@given(
    known=st.dictionaries(st.sampled_from(sorted(TOP_LEVEL)), value, max_size=3), unknown=strangers
)
@example(known={}, unknown={})
@example(known={"name": None}, unknown={})
@example(known={"name": "p"}, unknown={"oops": 1})
def test_a_mapping_that_is_no_study_is_refused_naming_the_fields(known, unknown):
    """At most 3 known fields, of the 8 required: never a study. Unknown fields are named
    first, else the required ones missing or empty (None)."""
    if unknown:
        expected = f"unknown field(s) {sorted(unknown)}; known: "
    else:
        expected = f"missing or empty field(s) {[k for k in REQUIRED if known.get(k) is None]}"
    with pytest.raises(StudyError, match="^" + re.escape(f"fuzzed.yaml: {expected}")):
        parse_study({**known, **unknown}, Path("fuzzed.yaml"))
