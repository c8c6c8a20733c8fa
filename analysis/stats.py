"""95% t-intervals over seeds: the only statistics the report shows.

A handful of seeds is a small sample, so the interval is Student's t (scipy), not a
normal approximation. One run gives no interval: NaN, never a made-up width.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # NaN when n < 2
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Mean of `values` and its t-interval (NaN values are dropped first)."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    n = len(array)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    if n == 1:
        return Interval(float(array[0]), np.nan, np.nan, 1)
    with warnings.catch_warnings():  # identical values: scipy warns, the interval is [m, m]
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = stats.ttest_1samp(array, 0.0).confidence_interval(confidence)
    return Interval(float(array.mean()), float(low), float(high), n)


def difference_interval(
    treated: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    paired: bool,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Mean of treated - reference and its t-interval.

    Paired (same seeds on both sides, so init and noise draws cancel) when `paired`,
    else Welch's unequal-variance interval. Fewer than two on a side: no interval.
    """
    a, b = np.asarray(treated, dtype=float), np.asarray(reference, dtype=float)
    if paired:
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
    else:
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n = min(len(a), len(b))
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    mean = float((a - b).mean()) if paired else float(a.mean() - b.mean())
    if n < 2:
        return Interval(mean, np.nan, np.nan, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        test = stats.ttest_rel(a, b) if paired else stats.ttest_ind(a, b, equal_var=False)
        low, high = test.confidence_interval(confidence)
    return Interval(mean, float(low), float(high), n)
