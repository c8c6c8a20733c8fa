"""The thesis's numbers in analysis/thesis.py agree with the thesis as the project's studies
and docs state it in prose, and with one another."""

from __future__ import annotations

import re

import yaml

from analysis import scorecard, thesis
from tests.commands import ROOT
from trainables.model.losses import LOSSES
from trainables.model.net import KERNELS

NUMBER = r"(\d+(?:\.\d+)?)"


def study(name: str) -> tuple[str, dict]:
    """A shipped study file's leading comment (as one line) and its fields."""
    text = (ROOT / "search_spaces/studies" / f"{name}.yaml").read_text()
    comment = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    return comment, yaml.safe_load(text)


def stated_table(comment: str, table: str) -> tuple[str, dict[str, float]]:
    """`Table N (CONDITION: NAME PSNR, ... dB)` of a comment: the condition and the rows
    under this project's names (`smooth L1` -> smooth_l1, `5x5` -> 5)."""
    found = re.search(rf"Table {table} \(([^:]+): ([^)]+) dB\)", comment)
    assert found, comment
    rows = re.findall(rf"([A-Za-z0-9 ]+?) {NUMBER}(?:,|$)", found.group(2))
    named = {re.sub(r"^(\d)x\1$", r"\1", n.strip().lower()).replace(" ", "_"): v for n, v in rows}
    return found.group(1), {name: float(psnr) for name, psnr in named.items()}


def doc(path: str) -> str:
    return " ".join((ROOT / path).read_text().split())  # prose lines joined


def test_table_1_as_the_loss_study_states_it():
    comment, fields = study("loss")
    condition, rows = stated_table(comment, "1")
    assert rows == thesis.LOSS_PSNR
    assert condition == thesis.LOSS_CONDITION
    assert set(fields["space"]["loss"]["choice"]) == set(thesis.LOSS_PSNR) <= set(LOSSES)
    assert condition == f"kernel {thesis.KERNEL_NAMES[fields['fixed']['kernel']]}"


def test_table_2_as_the_kernel_study_states_it():
    comment, fields = study("kernel")
    condition, rows = stated_table(comment, "2")
    assert rows == thesis.KERNEL_PSNR
    assert thesis.KERNEL_CONDITION.startswith(condition)
    assert set(fields["space"]["kernel"]["choice"]) == set(thesis.KERNEL_PSNR) == set(KERNELS)
    assert thesis.LOSS_NAMES[fields["fixed"]["loss"]].lower() == condition.lower()


def test_the_tables_meet_in_one_run_the_thesis_s_best():
    """Table 1 is at kernel 5, Table 2 at smooth L1: their shared cell is one run, and the
    best of each table (the thesis's best model)."""
    kernel = study("loss")[1]["fixed"]["kernel"]
    loss = study("kernel")[1]["fixed"]["loss"]
    shared = thesis.loss_psnr(loss)
    assert shared is not None and shared == thesis.kernel_psnr(kernel)
    assert shared == max(thesis.LOSS_PSNR.values()) == max(thesis.KERNEL_PSNR.values())
    assert thesis.loss_psnr("nonexistent") is None and thesis.kernel_psnr("7") is None


def test_the_docs_cite_the_thesis_s_figures():
    best, (low, high) = max(thesis.LOSS_PSNR.values()), thesis.PER_KEY_WORST_PSNR
    findings = doc("docs/findings.md")
    stated = re.search(
        rf"The thesis's best model reached {NUMBER} dB test PSNR and about {NUMBER}-{NUMBER} "
        "dB on the low notes",
        findings,
    )
    assert stated and tuple(map(float, stated.groups())) == (best, low, high)
    gap = re.search(rf"the thesis's {NUMBER} vs {NUMBER} dB gap between them", findings)
    assert gap and tuple(map(float, gap.groups())) == (
        thesis.loss_psnr("smooth_l1"),
        thesis.loss_psnr("mse"),
    )
    for path in ("README.md", "docs/best_model.md"):  # beside our best model's test PSNR
        cited = re.search(rf"\(thesis {NUMBER};", doc(path))
        assert cited and float(cited.group(1)) == best, path
    cited = re.search(
        rf"`test_psnr_low` [^(]*\(thesis about {NUMBER}-{NUMBER}\)", doc("docs/best_model.md")
    )
    assert cited and tuple(map(float, cited.groups())) == (low, high)


def test_the_scorecard_s_thesis_column_is_the_thesis_s():
    low, high = thesis.PER_KEY_WORST_PSNR
    assert float(scorecard.THESIS_REGISTER_PSNR["all"]) == max(thesis.LOSS_PSNR.values())
    assert scorecard.THESIS_REGISTER_PSNR["low"] == f"{low:g}–{high:g}"


def test_the_per_key_finding_states_the_per_key_numbers():
    low, high = thesis.PER_KEY_WORST_PSNR
    finding = thesis.PER_KEY_FINDING
    assert f"best about {thesis.PER_KEY_BEST_PSNR:g} dB" in finding
    assert f"worst about {low:g}-{high:g} dB" in finding
    # an average over the keys lies between the worst key and the best
    assert low < high < max(thesis.LOSS_PSNR.values()) < thesis.PER_KEY_BEST_PSNR


def test_the_setup_s_sample_counts_add_up():
    counts = re.search(r"(\d+) samples \((\d+) per key, (\d+) train / (\d+) test\)", thesis.SETUP)
    assert counts
    total, per_key, train, test = map(int, counts.groups())
    assert total == 88 * per_key == train + test
