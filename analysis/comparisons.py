"""Which finished runs answer "what does changing X do": configs that differ only in X.

A loss table is only fair if kernel, noise and the rest are the same on every row. So a
comparison is found inside one study (the same data, epochs and code), among configs that
share every other varying field; the thesis's setting is preferred when there is a choice
(kernel 5 for the loss table, smooth L1 for the kernel table). A study that never holds
the rest fixed (TPE over everything) gives a marginal comparison, flagged as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.configs import NOISE_FIELDS, format_value, noise_label, varying_fields


@dataclass(frozen=True)
class Comparison:
    experiment: str
    factor: tuple[str, ...]  # the fields compared, e.g. ("loss",) or the three SNRs
    runs: pd.DataFrame  # finished runs of the compared configs
    held: dict[str, Any] = field(default_factory=dict)  # other varying fields, held here
    controlled: bool = True  # False: the other fields vary too and are averaged over
    alternatives: int = 0  # other settings of the held fields that also compare `factor`

    @property
    def levels(self) -> int:
        return len(self.runs.groupby(list(self.factor), dropna=False))

    def describe(self) -> str:
        """Where the comparison stands, for a caption."""
        if not self.controlled:
            others = [f for f in varying_fields(self.runs) if f not in self.factor]
            return f"averaged over the other fields that vary ({', '.join(others)})"
        if not self.held:
            return "every other field fixed by the study"
        held = ", ".join(
            f"{k}={format_value(v)}" for k, v in self.held.items() if k not in NOISE_FIELDS
        )
        if any(k in NOISE_FIELDS for k in self.held):
            noise = noise_label({f: self.held.get(f) for f in NOISE_FIELDS})
            held = ", ".join(
                filter(None, [held, noise if noise == "no noise" else f"SNR low/mid/high {noise}"])
            )
        more = f"; {self.alternatives} other setting(s) of these exist" if self.alternatives else ""
        return f"other fields fixed, at {held}{more}"


def find_comparisons(
    trials: pd.DataFrame, factor: tuple[str, ...], prefer: dict[str, Any] | None = None
) -> list[Comparison]:
    """One comparison over `factor` per study whose finished runs vary it.

    Among the settings of the other varying fields that compare at least two levels of
    `factor`, take the one matching `prefer` most, then with most levels, then most runs.
    """
    prefer = prefer or {}
    finished = trials[trials["status"] == "finished"]
    found = []
    for experiment, runs in finished.groupby("experiment", sort=False):
        varying = varying_fields(runs)
        if not any(f in varying for f in factor):
            continue
        others = [f for f in varying if f not in factor]
        if not others:
            found.append(Comparison(str(experiment), factor, runs))
            continue
        groups = [
            (dict(zip(others, key, strict=True)), group)
            for key, group in runs.groupby(others, dropna=False, sort=False)
            if len(group.groupby(list(factor), dropna=False)) >= 2
        ]
        if not groups:
            found.append(Comparison(str(experiment), factor, runs, controlled=False))
            continue

        def rank(item: tuple[dict[str, Any], pd.DataFrame]) -> tuple[int, int, int]:
            held, group = item
            matches = sum(str(held.get(k)) == str(v) for k, v in prefer.items())
            return matches, len(group.groupby(list(factor), dropna=False)), len(group)

        held, group = max(groups, key=rank)
        found.append(
            Comparison(str(experiment), factor, group, held=held, alternatives=len(groups) - 1)
        )
    return found
