"""`tradeabm validate` (docs/validation.md): the verdicts on the facts of
params/validation/canada_2025.yaml are no worse than the ones recorded in
that file; a window's effect is the outcome of the run files over the
window; a bad validation file is refused before anything runs.

Cost: the verdict test runs the real validation with 2 replicates instead
of the file's 4 (8 baseline-sized runs, about 1 minute of CPU on a quiet
machine); the page itself is made with 4."""
import re

import h5py
import numpy as np
import pytest
import yaml

from helpers import PARAMS, SMALL, one_error, run, write

VALIDATION = PARAMS / "validation" / "canada_2025.yaml"

# Best first, as in src/experiments/validate.h.
ORDER = ["within", "right_sign", "wrong_sign", "undefined"]


def verdict_rank(cell):
    """The rank of a verdict as the page words it."""
    for prefix, name in [("within data tolerance", "within"), ("right sign", "right_sign"),
                         ("wrong sign", "wrong_sign"), ("no effect", "wrong_sign"), ("undefined", "undefined")]:
        if cell.startswith(prefix):
            return ORDER.index(name)
    raise AssertionError(f"not a verdict: {cell!r}")


def page_rows(page):
    """The verdict table of a page: {fact: cells}."""
    rows = {}
    for line in page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("fact", "---"):
            rows[cells[0]] = cells
    return rows


def test_no_verdict_is_worse_than_recorded(tmp_path):
    page = tmp_path / "validation.md"
    proc = run("validate", VALIDATION, "-o", page, "--replicates", 2, timeout=1800)
    facts = yaml.safe_load(VALIDATION.read_text())["facts"]
    rows = page_rows(page)
    assert set(rows) == {f["name"] for f in facts}
    worse = []
    for f in facts:
        cells = rows[f["name"]]
        # The data and its source are on the page as the file gives them.
        assert cells[1].startswith(f"{f['data']:+.1f}"), cells
        assert f["source"] in page.read_text()
        if verdict_rank(cells[4]) > ORDER.index(f["recorded"]):
            worse.append(f"{f['name']}: {cells[4]} (recorded {f['recorded']})")
    assert not worse, "verdicts worse than recorded:\n" + "\n".join(worse)
    assert "0 of %d verdicts worse than recorded" % len(facts) in proc.stdout
    # The non-US change with gold, without gold and of gold alone (the file's
    # headlines) for each comparison over its window: an interval each.
    spec = yaml.safe_load(VALIDATION.read_text())
    assert [h["outcome"] for h in spec["headlines"]] == ["non_us_export_value", "non_us_export_value_except.gold",
                                                         "non_us_export_value.gold"]
    lines = page.read_text().splitlines()
    for c in spec["comparisons"]:
        row = [ln for ln in lines if ln.startswith(f"| {c['name']} | {c['from']}-{c['to']} |")]
        assert len(row) == 1, c["name"]
        cells = [x.strip() for x in row[0].strip().strip("|").split("|")][2:]
        assert len(cells) == 3 and all(re.match(r"^[+-][0-9.]+ \[[+-][0-9.]+, [+-][0-9.]+\]$", x) for x in cells), row


SCENARIO = """extends: {small}
events:
  - at: 2025Q1
    destination: US
    regime: tariffs
  - at: 2025Q1
    destination: US
    sector: steel_aluminum
    tariff: 0.25
"""

FILE = """title: a small check
replicates: 2
comparisons:
  - name: small
    base: {small}
    scenario: scenario.yaml
facts:
  - name: US exports 2025
    comparison: small
    outcome: export_value.US
    from: 2025Q1
    to: 2025Q4
    data: -5.8
    tolerance: 3
    source: "[P] test"
    recorded: wrong_sign
    reason: test
  - name: steel US share 2026
    comparison: small
    outcome: export_share.US.steel_aluminum
    from: 2026Q1
    to: 2026Q2
    data: -1
    tolerance: 0.5
    source: "[E] test"
    recorded: wrong_sign
    reason: test
"""


def window_effect(work, outcome, first, last, replicates):
    """The effect of export_value.US (percent) or export_share.US.steel_aluminum
    (percentage points) over logged periods [first, last], mean over the
    replicates, from the run files (docs/statistics.md: ratios of sums over
    the window)."""
    effects = []
    for r in range(1, replicates + 1):
        value = {}
        for side in ("base", "scenario"):
            with h5py.File(work / "small-runs" / f"{side}-r{r:02d}.h5", "r") as f:
                x = f["series/export_value"][first:last + 1]  # [period, sector, destination]
                sectors = [s.decode() for s in f["dimensions/sectors"][:]]
                dests = [d.decode() for d in f["dimensions/destinations"][:]]
            us = dests.index("US")
            if outcome == "export_value.US":
                value[side] = x[:, :, us].sum() / x.shape[0]
            else:
                s = sectors.index("steel_aluminum")
                value[side] = x[:, s, us].sum() / x[:, s, :].sum()
        if outcome == "export_value.US":
            effects.append(100 * (value["scenario"] / value["base"] - 1))
        else:
            effects.append(100 * (value["scenario"] - value["base"]))
    return float(np.mean(effects))


def test_window_effects_are_the_outcomes_of_the_runs(tmp_path):
    write(tmp_path, "scenario.yaml", SCENARIO.format(small=SMALL))
    path = write(tmp_path, "v.yaml", FILE.format(small=SMALL))
    work = tmp_path / "work"
    work.mkdir()
    page = tmp_path / "page.md"
    run("validate", path, "-o", page, "--work", work)
    rows = page_rows(page)
    # Logged periods from 2024Q1: 2025Q1-Q4 are 4-7, 2026Q1-Q2 8-9. The page
    # prints one decimal, so the two agree to its rounding (0.05).
    for name, outcome, first, last in [("US exports 2025", "export_value.US", 4, 7),
                                       ("steel US share 2026", "export_share.US.steel_aluminum", 8, 9)]:
        printed = float(re.match(r"([+-][0-9.]+)", rows[name][2]).group(1))
        assert abs(printed - window_effect(work, outcome, first, last, 2)) <= 0.05 + 1e-9, rows[name]


def test_verdicts_follow_their_rule(tmp_path):
    """The rule of docs/validation.md at each of its cases, through a file
    whose data are set around the model's own value: a fact whose data is
    the model's value is within; one of the same sign beyond the tolerance
    is right_sign; one of the other sign is wrong_sign."""
    write(tmp_path, "scenario.yaml", SCENARIO.format(small=SMALL))
    path = write(tmp_path, "v.yaml", FILE.format(small=SMALL))
    page = tmp_path / "page.md"
    run("validate", path, "-o", page)
    m = float(re.match(r"([+-][0-9.]+)", page_rows(page)["US exports 2025"][2]).group(1))
    assert m < -1, "the duty lowers exports to the US"
    text = FILE.format(small=SMALL)
    for data, tol, rank in [(m, 0.2, 0), (2 * m, 0.2, 1), (-m, 0.2, 2)]:
        edited = text.replace("data: -5.8", f"data: {data}").replace("tolerance: 3", f"tolerance: {tol}")
        write(tmp_path, "v.yaml", edited)
        run("validate", path, "-o", page)
        assert verdict_rank(page_rows(page)["US exports 2025"][4]) == rank, (data, page.read_text())


BAD = [
    ("unknown key", "title: x\nreplicates: 2\ncomparisons: []\nfacts: []\nextra: 1\n", "extra"),
    ("no facts", FILE.split("facts:")[0] + "facts: []\n", "facts"),
    ("no source", FILE.replace('    source: "[P] test"\n', ""), "facts[0].source"),
    ("bad recorded", FILE.replace("recorded: wrong_sign", "recorded: maybe", 1), "facts[0].recorded"),
    ("unknown comparison", FILE.replace("comparison: small", "comparison: big", 1), "facts[0].comparison"),
    ("bad outcome", FILE.replace("outcome: export_value.US", "outcome: export_value.XX", 1), "facts[0]"),
    ("window outside the run", FILE.replace("to: 2025Q4", "to: 2029Q4", 1), "facts[0]"),
    ("window backwards", FILE.replace("from: 2025Q1", "from: 2026Q1", 1), "facts[0]"),
    ("zero tolerance", FILE.replace("tolerance: 3", "tolerance: 0", 1), "facts[0].tolerance"),
    ("one replicate", FILE.replace("replicates: 2", "replicates: 1"), "replicates"),
    ("twice the same comparison", FILE.replace("facts:", "  - name: small\n    base: {small}\n"
                                               "    scenario: scenario.yaml\nfacts:", 1), "comparisons[1]"),
    ("missing base file", FILE.replace("base: {small}", "base: nowhere.yaml"), "nowhere.yaml"),
]


@pytest.mark.parametrize("name,text,where", BAD, ids=[b[0] for b in BAD])
def test_bad_validation_file_is_refused_before_anything_runs(tmp_path, name, text, where):
    write(tmp_path, "scenario.yaml", SCENARIO.format(small=SMALL))
    path = write(tmp_path, "v.yaml", text.format(small=SMALL))
    page = tmp_path / "page.md"
    proc = run("validate", path, "-o", page, "--work", tmp_path, status=2)
    line = one_error(proc)
    assert where in line, line
    if name not in ("missing base file",):
        assert "v.yaml:" in line, line
    assert not page.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml", "v.yaml"]


def test_bad_options_are_usage_errors(tmp_path):
    for args in (["--replicates", "1"], ["--work", tmp_path / "absent"], []):
        proc = run("validate", *([VALIDATION] if args else []), *args, "-o", tmp_path / "p.md", status=2)
        assert "validate" in proc.stderr or "--work" in proc.stderr
    assert not (tmp_path / "p.md").exists()
