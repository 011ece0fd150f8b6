"""docs/output.md's glossary names each quantity once: every name in it is
a dataset of a run file or a named outcome, and the labels it lists are
the ones the analysis package prints (analysis/labels.py), so a label in a
figure can be traced back to its name."""
import re

import h5py
import pytest

from analysis.labels import _OUTCOME_ROOTS, outcome_label
from helpers import SMALL, SOURCE_DIR, run


def glossary_rows():
    text = (SOURCE_DIR / "docs" / "output.md").read_text()
    section = text.split("## Glossary: one name per quantity", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 10, "the glossary table is missing or short"
    out = []
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append((re.match(r"`([a-z0-9_]+)", cells[0]).group(1), cells))
    return out


ROWS = glossary_rows()


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("glossary") / "run.h5"
    run("run", SMALL, "-o", out, "-q")
    return out


@pytest.mark.parametrize("name, cells", ROWS, ids=[r[0] for r in ROWS])
def test_every_glossary_name_is_a_dataset_or_an_outcome(run_file, name, cells):
    with h5py.File(run_file, "r") as f:
        datasets = set(f["series"]) | set(f["environment"])
    assert name in datasets or name in _OUTCOME_ROOTS or name == "regime_share", name
    assert cells[2], f"{name}: no unit"


@pytest.mark.parametrize("name, cells", [r for r in ROWS if r[0] in _OUTCOME_ROOTS],
                         ids=[r[0] for r in ROWS if r[0] in _OUTCOME_ROOTS])
def test_glossary_labels_are_the_printed_ones(name, cells):
    plain, with_dest = _OUTCOME_ROOTS[name]
    label = outcome_label(f"{name}.US") if with_dest else outcome_label(name)
    assert f'"{label}"' in cells[3], (name, label, cells[3])
