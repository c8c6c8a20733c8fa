"""The 95% intervals: Student's t from scipy, none for one seed, narrower with more seeds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from analysis.stats import difference_interval, mean_interval


def test_mean_interval_is_students_t():
    values = [18.2, 19.1, 18.7]
    interval = mean_interval(values)
    low, high = stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    assert interval.mean == pytest.approx(np.mean(values))
    assert (interval.low, interval.high) == pytest.approx((low, high))
    assert interval.n == 3


def test_one_seed_has_no_interval():
    interval = mean_interval([19.0])
    assert interval.mean == 19.0 and interval.n == 1
    assert math.isnan(interval.low) and math.isnan(interval.high)


def test_missing_values_are_dropped_not_counted():
    assert mean_interval([18.0, np.nan, 20.0]).n == 2
    assert mean_interval([]).n == 0


def test_interval_narrows_with_more_seeds_of_the_same_spread():
    widths = [mean_interval(np.tile([18.0, 20.0], n // 2)).half_width for n in (2, 4, 8, 16)]
    assert all(a > b for a, b in itertools.pairwise(widths))


def test_identical_values_give_a_point_interval():
    interval = mean_interval([19.0, 19.0, 19.0])
    assert (interval.low, interval.high) == (19.0, 19.0)


def test_paired_difference_is_scipys_paired_t():
    treated, reference = [20.1, 19.4, 20.6], [19.0, 18.9, 19.8]
    interval = difference_interval(treated, reference, paired=True)
    expected = stats.ttest_rel(treated, reference).confidence_interval(0.95)
    assert interval.mean == pytest.approx(np.mean(np.subtract(treated, reference)))
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))


def test_unpaired_difference_is_welch():
    treated, reference = [20.1, 19.4, 20.6, 21.0], [19.0, 18.9, 19.8]
    interval = difference_interval(treated, reference, paired=False)
    expected = stats.ttest_ind(treated, reference, equal_var=False).confidence_interval(0.95)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))


def test_difference_of_single_runs_has_no_interval():
    interval = difference_interval([20.0], [19.0], paired=True)
    assert interval.mean == pytest.approx(1.0)
    assert math.isnan(interval.low)
