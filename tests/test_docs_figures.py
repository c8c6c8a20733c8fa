"""Every figure the README and docs/ cite agrees with the committed result it cites (the
marker syntax: `tests/figures.py`), and the fixer rewrites one that does not."""

from __future__ import annotations

import pytest

from tests.commands import ROOT
from tests.documents import DOCUMENTS
from tests.figures import Figure, agrees, cited_figures, fix, source_value

ALL = [figure for document in DOCUMENTS for figure in cited_figures(document)]


def test_the_docs_cite_their_figures():
    cited = {figure.document.name for figure in ALL}
    assert {"README.md", "findings.md", "best_model.md"} <= cited


@pytest.mark.parametrize("figure", ALL, ids=str)
def test_a_cited_figure_agrees_with_its_source(figure: Figure):
    assert figure.path.is_file(), f"{figure}: the cited file is not committed"
    value = source_value(figure.path, figure.selector)
    assert agrees(figure, value), f"{figure}: the source says {value}"


def test_one_digit_changed_is_caught(tmp_path):
    table = tmp_path / "scores.csv"
    table.write_text("held_out,register,psnr\n,all,44.3312\nTimGM6mb,all,41.2\n")
    record = tmp_path / "run.json"
    record.write_text('{"sweeps": [{"wall_time_s": 2739.4, "acc": 0.9942}]}')
    cite = f"<!-- figure: {table} held_out= register=all psnr -->"
    time = f"<!-- figure: {record} sweeps.0.wall_time_s as=min:s -->"
    share = f"<!-- figure: {record} sweeps.0.acc as=pct -->"
    for text, right in [
        (f"at **44.33 dB**{cite}", True),
        (f"at **44.34 dB**{cite}", False),
        (f"at 44.3 dB{cite}", True),
        (f"in 45 min 39 s{time}", True),
        (f"in 45 min 38 s{time}", False),
        (f"99.4%{share}", True),
        (f"99.5%{share}", False),
        (f"<!-- figure: from {table} --> at 41.2 dB<!-- figure: held_out=TimGM6mb psnr -->", True),
        (f"<!-- figure: from {table} --> at 41.3 dB<!-- figure: held_out=TimGM6mb psnr -->", False),
    ]:
        [figure] = cited_figures(ROOT / "README.md", text)
        assert agrees(figure, source_value(figure.path, figure.selector)) is right, text


def test_the_fixer_rewrites_what_disagrees_in_its_unit_and_digits(tmp_path):
    table = tmp_path / "scores.csv"
    table.write_text("held_out,psnr,acc,wall\n,44.3312,0.99421,2739.4\n")
    cite = f"<!-- figure: {table} held_out= "
    document = tmp_path / "doc.md"
    document.write_text(
        f"at **44.34 dB**{cite}psnr -->, 99.5%{cite}acc as=pct --> in 45 min 38 s{cite}wall "
        f"as=min:s -->, about 46{cite}wall as=min --> minutes; 44.3 dB{cite}psnr -->\n"
    )
    changes = fix(document)
    assert document.read_text() == (
        f"at **44.33 dB**{cite}psnr -->, 99.4%{cite}acc as=pct --> in 45 min 39 s{cite}wall "
        f"as=min:s -->, about 46{cite}wall as=min --> minutes; 44.3 dB{cite}psnr -->\n"
    )
    assert [c.split(": ", 1)[1] for c in changes] == [
        "44.34 -> 44.33",
        "99.5 -> 99.4",
        "45 min 38 -> 45 min 39",
    ]
    assert fix(document) == []
