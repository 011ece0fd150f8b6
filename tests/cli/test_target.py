"""`tradeabm target`: a lever's size at which an export ratio reaches a
target (docs/questions.md). On a tiny world whose answer is known in
closed form, on a bound that cannot reach the target, and on bad question
files (file:line, exit 2, nothing written)."""
import json
import math
import subprocess
import sys

import pytest

from helpers import SOURCE_DIR, one_error, run, write

# One sector, myopic firms, no deaths and a productivity spread of 1e-9
# (every firm's revenue is the same to 1e-8 relative), and no fixed or
# sunk cost in CN, so every firm serves CN in every period and export value
# to CN is N sigma phi^(sigma-1) a B b(t) (docs/model.md eq. 3): its ratio
# to the 2024 mean is the demand multiplier b(t) / b(2024) exactly, up to
# the productivity spread. The revenue elasticity of exports in B is 1.
TINY = """\
run: {model: myopic, periods: 12, burn_in: 4, seed: 5}
productivity: {grid: 11}
sectors:
  steel: {firms: 300, persistence: 0.9, volatility: 1.0e-9, death_rate: 0.0}
destinations:
  US:
    market: {fixed_cost: 0.6, sunk_cost: 0.8}
    regimes: {open: {tariff: 0}}
  CN:
    market: {demand: 0.6, fixed_cost: 0, sunk_cost: 0}
    regimes: {normal: {}}
"""

# Growth g a quarter over the 8 quarters 2025Q1-2026Q4 (eq. 28): the
# ratio of 2026Q4 to the 2024 mean is (1 + g)^8.
QUESTIONS = """\
base: tiny.yaml
seeds: [1, 2, 3]
target: {ratio: 2.0, tolerance: 0.02, at: 2026Q4, from: 2024, destinations: [CN]}
questions:
  - name: growth
    lower: 0.0
    upper: 0.2
    unit: per quarter
    events:
      - {at: 2025Q1, until: 2026Q4, destination: CN, demand_growth: $lever}
  - name: short
    lower: 0.0
    upper: 0.02
    events:
      - {at: 2025Q1, until: 2026Q4, destination: CN, demand_growth: $lever}
  - name: iceberg
    lower: 1.0
    upper: 2.0
    events:
      - {at: 2025Q1, destination: CN, iceberg_scale: $lever}
"""
STEPS = 8
# The productivity spread makes the ratio differ from the closed form by
# about (sigma - 1) x 1e-9 relative; 1e-7 leaves room for rounding.
CLOSED_FORM = 1e-7


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("target")
    write(folder, "tiny.yaml", TINY)
    spec = write(folder, "q.yaml", QUESTIONS.replace("ratio: 2.0", "ratio: 2.0"))
    out = folder / "r.json"
    proc = run("target", spec, "-o", out, cwd=folder)
    res = json.loads(out.read_text())
    return proc, {q["name"]: q for q in res["questions"]}, res


def test_demand_growth_root_is_two_to_the_one_over_steps(answered):
    _, qs, _ = answered
    q = qs["growth"]
    assert q["status"] == "found"
    g_star = 2.0 ** (1.0 / STEPS) - 1.0
    # The search stops once |ratio - 2| <= 0.02; ratio(g) = (1 + g)^8 has
    # slope 8 (1 + g)^7 >= 8 (1 + g* - 0.002)^7 > 14 near g*, so the lever
    # found lies within 0.02 / 14 of g*.
    assert abs(q["lever"] - g_star) <= 0.02 / 14, q
    assert abs(q["ratio"] - 2.0) <= 0.02
    for e in q["evaluations"]:
        want = (1.0 + e["lever"]) ** STEPS
        for r in e["replicates"]:
            assert abs(r / want - 1.0) <= CLOSED_FORM, (e, want)


def test_interval_contains_the_lever_found(answered):
    _, qs, _ = answered
    q = qs["growth"]
    assert q["lever_low"] <= q["lever"] <= q["lever_high"]


def test_bound_that_cannot_reach_reports_no_lever_size(answered):
    proc, qs, _ = answered
    q = qs["short"]
    assert q["status"] == "not_reached"
    assert q["lever"] == 0.02
    assert abs(q["ratio"] / 1.02 ** STEPS - 1.0) <= CLOSED_FORM
    assert q["lever_low"] is None and q["lever_high"] is None
    assert "no lever size within bounds" in proc.stdout


def test_a_lever_that_lowers_exports_is_searched_the_same_way(tmp_path):
    """An iceberg multiplier i multiplies export value by i^(1 - sigma)
    (eq. 2): the ratio 0.5 is reached at i* = 0.5^(1 / (1 - sigma))."""
    write(tmp_path, "tiny.yaml", TINY)
    spec = write(tmp_path, "q.yaml", QUESTIONS.replace("ratio: 2.0", "ratio: 0.5"))
    out = tmp_path / "r.json"
    run("target", spec, "-o", out, "--question", "iceberg", cwd=tmp_path)
    res = json.loads(out.read_text())
    (q,) = res["questions"]
    sigma = 3.8  # the default demand elasticity (params --doc)
    i_star = 0.5 ** (1.0 / (1.0 - sigma))
    # slope of i^(1-sigma) near i*: (1 - sigma) i*^(-sigma) ~ -0.79 in size
    slope = (sigma - 1.0) * (i_star + 0.05) ** (-sigma)
    assert q["status"] == "found"
    assert abs(q["lever"] - i_star) <= 0.02 / slope, (q, i_star)


def test_every_size_above_the_target_reports_exceeded(tmp_path):
    """Ratios 1 and 1.02^8 at the bounds, both above 0.5: the nearer bound
    is reported, with its closed-form ratio."""
    write(tmp_path, "tiny.yaml", TINY)
    spec = write(tmp_path, "q.yaml", QUESTIONS.replace("ratio: 2.0", "ratio: 0.5"))
    out = tmp_path / "r.json"
    proc = run("target", spec, "-o", out, "--question", "short", cwd=tmp_path)
    (q,) = json.loads(out.read_text())["questions"]
    assert q["status"] == "exceeded" and q["lever"] == 0.0
    assert abs(q["ratio"] - 1.0) <= CLOSED_FORM
    assert "every lever size within bounds exceeds" in proc.stdout


def test_search_stopped_by_the_budget_says_so(tmp_path):
    """Three evaluations: the two bounds and one Brent step, which on
    [0, 0.2] (ratios 1 and 4.3) lands at the secant's g = 0.0606, ratio 1.6,
    outside the tolerance."""
    write(tmp_path, "tiny.yaml", TINY)
    spec = write(tmp_path, "q.yaml", QUESTIONS.replace("tolerance: 0.02,", "tolerance: 0.02, max_evaluations: 3,"))
    out = tmp_path / "r.json"
    proc = run("target", spec, "-o", out, "--question", "growth", cwd=tmp_path)
    (q,) = json.loads(out.read_text())["questions"]
    assert q["status"] == "budget" and len(q["evaluations"]) == 3
    assert abs(q["ratio"] - 2.0) > 0.02
    assert "stopped at the evaluation budget" in proc.stdout


def test_base_is_an_input_and_is_recorded(answered, tmp_path):
    _, _, res = answered
    assert res["base"].endswith("tiny.yaml") and len(res["base_sha256"]) == 64
    # --base replaces the file's base: one without CN is refused at the
    # target's destinations.
    write(tmp_path, "tiny.yaml", TINY)
    other = write(tmp_path, "other.yaml", TINY.replace("CN:", "EU:"))
    spec = write(tmp_path, "q.yaml", QUESTIONS)
    proc = run("target", spec, "--check", "--base", other, cwd=tmp_path, status=2)
    assert "CN is not a destination" in one_error(proc)
    run("target", spec, "--check", cwd=tmp_path)


# (what changes in QUESTIONS, the line named, a fragment of the message)
BAD = [
    ("      - {at: 2025Q1, until: 2026Q4, destination: CN, demand_growth: $lever}\n  - name: short",
     "      - {at: 2025Q1, until: 2026Q4, destination: CN, demand_growth: 0.01}\n  - name: short",
     5, "no $lever"),
    ("    upper: 0.2\n", "    upper: 0.0\n", 7, "must exceed lower"),
    ("    unit: per quarter\n", "    units: per quarter\n", 8, "units"),
    ("at: 2026Q4", "at: 2027Q1", 3, "expected a period of the runs"),
    ("destinations: [CN]", "destinations: [XX]", 3, "XX is not a destination"),
    ("seeds: [1, 2, 3]", "seeds: [1]", 2, "seeds"),
    ("seeds: [1, 2, 3]", "set: [\"events=[]\"]\nseeds: [1, 2, 3]", 2, "events go in the base file"),
    ("destination: CN, demand_growth: $lever}\n  - name: short",
     "destination: XX, demand_growth: $lever}\n  - name: short", 5, "questions[0] (growth) at lever = lower"),
]


@pytest.mark.parametrize("old,new,line,fragment", BAD, ids=[b[3] for b in BAD])
def test_bad_question_file_is_refused_at_its_line(tmp_path, old, new, line, fragment):
    assert old in QUESTIONS
    write(tmp_path, "tiny.yaml", TINY)
    spec = write(tmp_path, "q.yaml", QUESTIONS.replace(old, new, 1))
    out = tmp_path / "r.json"
    proc = run("target", spec, "-o", out, cwd=tmp_path, status=2)
    msg = one_error(proc)
    assert f"q.yaml:{line}:" in msg and fragment in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.yaml", "tiny.yaml"]


def test_analysis_writes_table_figure_and_doc_block(answered, tmp_path):
    _, _, res = answered
    result = tmp_path / "doubling.json"
    result.write_text(json.dumps(res))
    doc = write(tmp_path, "page.md", "before\n<!-- table: doubling -->\nold\n<!-- end table: doubling -->\nafter\n")
    proc = subprocess.run([sys.executable, "-m", "analysis", "questions", str(result), "-o", str(tmp_path),
                           "--doc", str(doc)], cwd=SOURCE_DIR, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "doubling.png").stat().st_size > 0
    page = doc.read_text()
    assert "old" not in page and page.startswith("before\n") and page.endswith("after\n")
    rows = [r for r in page.splitlines() if r.startswith("| growth") or r.startswith("| short")]
    assert len(rows) == 2 and "none" in rows[1] and "cannot" in rows[1]
    assert f"{res['questions'][0]['lever']:.4g}" in rows[0]
