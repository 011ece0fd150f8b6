"""Export elasticity by horizon (analysis/elasticity.py, docs/model.md eq. 2b):
two small exact-mode runs, with and without a permanent 10% tariff rise,
give the intensive-margin closed form e(h) = e_0 + (e_L - e_0)(1 - (1 - lambda)^(h+1))
(no fixed or sunk cost, so every firm serves and only the intensive margin
moves); the command prints it and writes the figure."""
import math
import subprocess
import sys

import pytest

from helpers import PARAMS, SOURCE_DIR, run, write

E0, EL, LAMBDA = 0.3, 2.1, 0.075

WORLD = """\
run: {{model: dynamic, periods: 24, burn_in: 6, aggregation: exact}}
productivity: {{grid: 15}}
demand: {{impact_elasticity: {e0}, long_run_elasticity: {el}, adjustment: {lam}}}
sectors:
  goods: {{firms: 4000, persistence: 0.9, volatility: 0.2}}
  parts: {{firms: 3000, persistence: 0.8, volatility: 0.3}}
destinations:
  US:
    market: {{fixed_cost: 0, sunk_cost: 0}}
    regimes: {{open: {{tariff: 0}}}}
  ROW:
    market: {{demand: 0.5, fixed_cost: 0, sunk_cost: 0}}
    regimes: {{open: {{tariff: 0}}}}
events: {events}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("elasticity")
    files = []
    for name, events in (("base", "[]"), ("tariff", "[{at: 2025Q1, destination: US, tariff: 0.1}]")):
        params = write(work, f"{name}.yaml", WORLD.format(e0=E0, el=EL, lam=LAMBDA, events=events))
        out = work / f"{name}.h5"
        run("run", params, "-o", out, "-q")
        files.append(out)
    return work, files


def test_elasticity_by_horizon_matches_the_closed_form(runs):
    from analysis import elasticity

    _, (base, tariff) = runs
    frame = elasticity.by_horizon(base, tariff, "US", "2025Q1", (0.0, 0.1))
    assert list(frame["period"][:2]) == ["2025Q1", "2025Q2"]
    assert len(frame) == 20  # 2025Q1 .. 2029Q4
    want = elasticity.closed_form(frame["horizon"], E0, EL, LAMBDA)
    # Rounding only (pow, exp, log1p and sums over 15 grid points and 2 sectors).
    for h, (got, expected) in enumerate(zip(frame["elasticity"], want)):
        assert math.isclose(got, expected, rel_tol=0, abs_tol=1e-9), (h, got, expected)
    assert want[0] == pytest.approx(E0 + (EL - E0) * LAMBDA)


def test_elasticity_command_prints_the_table_and_writes_the_figure(runs):
    work, (base, tariff) = runs
    figure = work / "elasticity.png"
    proc = subprocess.run([sys.executable, "-m", "analysis", "elasticity", str(base), str(tariff), "--from", "2025Q1",
                           "--tariff", "0.1", "-o", str(figure)], cwd=SOURCE_DIR, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["horizon", "period", "elasticity"]
    first = lines[1].split()
    assert first[:2] == ["0", "2025Q1"] and float(first[2]) == pytest.approx(E0 + (EL - E0) * LAMBDA, abs=1e-4)
    assert figure.stat().st_size > 10000 and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_elasticity_command_names_a_missing_period(runs):
    work, (base, tariff) = runs
    proc = subprocess.run([sys.executable, "-m", "analysis", "elasticity", str(base), str(tariff), "--from", "2031Q1",
                           "--tariff", "0.1", "-o", str(work / "never.png")], cwd=SOURCE_DIR, capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "no period '2031Q1'" in proc.stderr
    assert not (work / "never.png").exists()


@pytest.mark.parametrize("name", ["elasticity_by_horizon.yaml", "elasticity_by_horizon_tariff.yaml"])
def test_reference_configuration_is_valid(name):
    """The documented reference (docs/model.md eq. 2c) parses and uses the
    mechanism; the companion differs by the tariff event alone."""
    body = run("check", PARAMS / "reference" / name).stdout
    assert "impact_elasticity: 0.3" in body and "long_run_elasticity: 2.1" in body and "adjustment: 0.075" in body
    assert ("tariff: 0.1" in body) == name.endswith("_tariff.yaml")
