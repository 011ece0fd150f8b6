"""Scenario headlines (docs/scenarios.md): every file of params/scenarios/
has a comparison in params/validation/scenarios.yaml and a row on the page
`tradeabm validate params/validation/scenarios.yaml -o docs/scenarios.md`
writes; the command works on a reduced replicate count, and a headline is
the outcome of the run files over the comparison's window; a bad headline
file is refused before anything runs.

Cost: one real comparison (china_agrifood_2025, 12 quarters) with 2
replicates instead of the file's 4: 4 baseline-sized runs, under a minute
of CPU on a quiet machine."""
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from helpers import PARAMS, SCENARIOS, SMALL, SOURCE_DIR, one_error, run, write

HEADLINES = PARAMS / "validation" / "scenarios.yaml"
PAGE = SOURCE_DIR / "docs" / "scenarios.md"
NUMBER = r"[+-][0-9.]+"
CELL = re.compile(rf"^({NUMBER}) \[({NUMBER}), ({NUMBER})\]$")


def table(page):
    """The headline table of a page: {scenario: cells after the name}."""
    rows = {}
    for line in Path(page).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 2 and cells[0] not in ("scenario",) and set(cells[0]) != {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_every_scenario_file_has_a_comparison():
    spec = yaml.safe_load(HEADLINES.read_text())
    compared = {(HEADLINES.parent / c["scenario"]).resolve(): c["name"] for c in spec["comparisons"]}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert path.resolve() in compared, f"{path.name} has no comparison in {HEADLINES.name}"
        # Rows are named by their file, so the page can be checked by name.
        assert compared[path.resolve()] == path.stem


def test_every_scenario_file_has_a_row_on_the_page():
    rows = table(PAGE)
    heads = yaml.safe_load(HEADLINES.read_text())["headlines"]
    assert PAGE.read_text().startswith("# Scenario headlines\n\nThis page is written by "
                                       "`tradeabm validate params/validation/scenarios.yaml -o docs/scenarios.md`")
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert path.stem in rows, f"docs/scenarios.md has no row for {path.name}: rerun the command at its top"
        cells = rows[path.stem]
        assert len(cells) == 1 + len(heads), cells  # the window, then one cell per headline
        for cell in cells[1:]:
            assert cell == "undefined" or CELL.match(cell), cell
    replicates = re.search(r"Each comparison ran ([0-9]+) replicates", PAGE.read_text())
    assert replicates and int(replicates.group(1)) >= 4


def test_command_on_two_replicates_gives_the_outcomes_of_the_runs(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    page = tmp_path / "scenarios.md"
    proc = run("validate", HEADLINES, "-o", page, "--replicates", 2, "--comparison", "china_agrifood_2025",
               "--work", work, timeout=1200)
    assert "1 comparisons, 2 replicates" in proc.stdout
    rows = table(page)
    assert list(rows) == ["china_agrifood_2025"]
    cells = rows["china_agrifood_2025"]
    assert cells[0] == "2025Q1-2026Q4"
    names = [h["outcome"] for h in yaml.safe_load(HEADLINES.read_text())["headlines"]]
    # Logged periods from 2024Q1: 2025Q1-2026Q4 are 4-11. Percent effects are
    # ratios of sums over the window, share effects differences of ratios
    # (docs/statistics.md). The page prints one decimal, so the two agree to
    # its rounding (0.05).
    effects = {"export_value.CN": [], "export_share.US": []}
    for r in (1, 2):
        value = {}
        for side in ("base", "scenario"):
            with h5py.File(work / "china_agrifood_2025-runs" / f"{side}-r{r:02d}.h5", "r") as f:
                x = f["series/export_value"][4:12]  # [period, sector, destination]
                dests = [d.decode() for d in f["dimensions/destinations"][:]]
            value[side] = (x[:, :, dests.index("CN")].sum(), x[:, :, dests.index("US")].sum() / x.sum())
        effects["export_value.CN"].append(100 * (value["scenario"][0] / value["base"][0] - 1))
        effects["export_share.US"].append(100 * (value["scenario"][1] - value["base"][1]))
    for outcome, per_replicate in effects.items():
        mean, low, high = (float(g) for g in CELL.match(cells[1 + names.index(outcome)]).groups())
        assert abs(mean - np.mean(per_replicate)) <= 0.05 + 1e-9, (outcome, cells)
        assert low <= mean <= high
    # China's duties lower exports to China (canola at 30-83%).
    assert float(CELL.match(cells[1 + names.index("export_value.CN")]).group(3)) < 0


SCENARIO = """extends: {small}
events:
  - at: 2025Q1
    destination: US
    regime: tariffs
"""

FILE = """title: a small check
replicates: 2
headlines:
  - outcome: export_value.US
    label: exports to the US
comparisons:
  - name: small
    base: {small}
    scenario: scenario.yaml
    from: 2025Q1
    to: 2025Q4
"""

FACT = """facts:
  - name: a
    comparison: small
    outcome: export_value
    from: 2025Q1
    to: 2025Q4
    data: 1
    tolerance: 1
    source: s
    recorded: within
    reason: r
"""

BAD = [
    ("headline without a window", FILE.replace("    from: 2025Q1\n", ""), "comparisons[0].from"),
    ("window without headlines", FILE.split("headlines:")[0] + "comparisons:" + FILE.split("comparisons:")[1]
     + FACT, "comparisons[0].from"),
    ("empty headlines", FILE.replace("  - outcome: export_value.US\n    label: exports to the US\n", "  []\n")
     .replace("headlines:\n  []", "headlines: []"), "headlines"),
    ("headline without a label", FILE.replace("    label: exports to the US\n", ""), "headlines[0].label"),
    ("unknown headline key", FILE.replace("    label: exports", "    units: x\n    label: exports"),
     "headlines[0]"),
    ("bad headline outcome", FILE.replace("outcome: export_value.US", "outcome: export_value.XX"), "comparisons[0]"),
    ("window outside the run", FILE.replace("to: 2025Q4", "to: 2029Q4"), "comparisons[0]"),
]


@pytest.mark.parametrize("name,text,where", BAD, ids=[b[0] for b in BAD])
def test_bad_headline_file_is_refused_before_anything_runs(tmp_path, name, text, where):
    write(tmp_path, "scenario.yaml", SCENARIO.format(small=SMALL))
    path = write(tmp_path, "v.yaml", text.format(small=SMALL))
    page = tmp_path / "page.md"
    line = one_error(run("validate", path, "-o", page, "--work", tmp_path, status=2))
    assert where in line and "v.yaml:" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml", "v.yaml"]


def test_unknown_comparison_is_refused(tmp_path):
    page = tmp_path / "page.md"
    line = one_error(run("validate", HEADLINES, "-o", page, "--comparison", "nowhere", status=2))
    assert "nowhere" in line and "comparisons" in line, line
    assert not page.exists()
