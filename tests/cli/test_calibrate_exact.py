"""A calibration moment with `aggregation: exact` comes from one run with
exact aggregation in every evaluation: its value is the one a calibration run
entirely with `run.aggregation=exact` gives, it is the same whatever the
seeds, the other moments still come from the seeds, and at the held-out seeds
every moment is simulated again. Firm-level moments cannot be exact."""
import re

from helpers import run as tradeabm
from test_calibrate_proportional import WORLD  # two sectors, two markets, smooth choices


PARAMETERS = """parameters:
  - {name: us_demand, mode: scale, path: sectors.food.markets.US.demand, lower: 0.5, upper: 2}
"""


def calibration(seeds, agg_us="", agg_part="", extra="", spells=True):
    text = f"base: world.yaml\nseeds: [{seeds}]\nheld_out_seeds: [11, 12]\n{extra}" + PARAMETERS + "moments:\n"
    text += f"  - {{name: export_share.US, target: 0.7, tolerance: 0.05{agg_us}}}\n"
    text += f"  - {{name: export_participation, target: 0.3, tolerance: 0.03{agg_part}}}\n"
    if spells:
        text += "  - {name: exporter_persistence, target: 0.8, tolerance: 0.05}\n"
    return text + "optimizer: {method: bobyqa, max_evaluations: 6}\n"


def table(stdout):
    """moment -> (model, min, max) from a fit table with several seeds."""
    rows = {}
    for m in re.finditer(r"^(\S+)\s+[\d.eE+-]+\s+([\d.eE+-]+)\s+[\d.eE+-]+\s+\w+\s+[\d.eE+-]+\s+([\d.eE+-]+)\s+"
                         r"([\d.eE+-]+)$", stdout, re.M):
        rows[m.group(1)] = tuple(float(m.group(i)) for i in (2, 3, 4))
    return rows


def evaluate(tmp_path, text, *extra):
    (tmp_path / "cal.yaml").write_text(text)
    res = tradeabm("calibrate", "cal.yaml", "--evaluate", *extra, status=None, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return res


def test_an_exact_moment_is_the_exact_runs_value_at_any_seeds(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    EXACT = ", aggregation: exact"
    mixed = evaluate(tmp_path, calibration("1, 2", EXACT, EXACT))
    rows = table(mixed.stdout)
    assert "export_share.US, export_participation: exact aggregation" in mixed.stdout
    # The whole calibration under run.aggregation=exact: the independent route.
    whole = evaluate(tmp_path, calibration("1, 2", extra="set: [run.aggregation=exact]\n", spells=False))
    whole_rows = {m.group(1): float(m.group(2)) for m in
                  re.finditer(r"^(\S+)\s+[\d.eE+-]+\s+([\d.eE+-]+)\s", whole.stdout, re.M)}
    for name in ("export_share.US", "export_participation"):
        value, lo, hi = rows[name]
        assert lo == hi == value, (name, rows[name])
        assert value == whole_rows[name], (name, value, whole_rows[name])
    # The simulated moment still varies with the seed.
    value, lo, hi = rows["exporter_persistence"]
    assert lo < hi, rows["exporter_persistence"]
    # Other seeds: the exact moments do not move, the simulated one does.
    other = table(evaluate(tmp_path, calibration("3, 4", EXACT, EXACT)).stdout)
    assert other["export_share.US"] == rows["export_share.US"]
    assert other["export_participation"] == rows["export_participation"]
    assert other["exporter_persistence"] != rows["exporter_persistence"]
    # Without the key the same moment is the mean over the seeds, which
    # differs from the expectation by sampling noise.
    simulated = table(evaluate(tmp_path, calibration("1, 2")).stdout)
    assert simulated["export_share.US"][1] < simulated["export_share.US"][2]
    assert simulated["export_share.US"][0] != rows["export_share.US"][0]


def test_at_the_held_out_seeds_every_moment_is_simulated(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    res = evaluate(tmp_path, calibration("1, 2", ", aggregation: exact"), "--held-out")
    assert "exact aggregation" not in res.stdout
    value, lo, hi = table(res.stdout)["export_share.US"]
    assert lo < hi, (value, lo, hi)


def test_a_fit_with_exact_moments_says_so_in_the_fitted_file(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    (tmp_path / "cal.yaml").write_text(calibration("1", ", aggregation: exact"))
    res = tradeabm("calibrate", "cal.yaml", "-o", "fitted.yaml", "-q", status=None, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    fitted = (tmp_path / "fitted.yaml").read_text()
    assert "# 1 of 3 moments from one run with run.aggregation=exact in every evaluation" in fitted
    assert "# export_share.US: exact aggregation" in fitted


def test_a_firm_level_moment_cannot_be_exact(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    text = calibration("1").replace("target: 0.8, tolerance: 0.05}", "target: 0.8, tolerance: 0.05, "
                                    "aggregation: exact}")
    (tmp_path / "cal.yaml").write_text(text)
    res = tradeabm("calibrate", "cal.yaml", "--evaluate", status=None, cwd=tmp_path)
    assert res.returncode == 2
    assert re.search(r"cal\.yaml:\d+:\d+: moments\[2\]\.name: `exporter_persistence` follows single firms",
                     res.stderr), res.stderr
    assert res.stdout == ""


def test_aggregation_takes_exact_or_simulated(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    (tmp_path / "cal.yaml").write_text(calibration("1", ", aggregation: expected"))
    res = tradeabm("calibrate", "cal.yaml", "--evaluate", status=None, cwd=tmp_path)
    assert res.returncode == 2
    assert re.search(r"cal\.yaml:\d+:\d+: moments\[0\]\.aggregation: expected exact", res.stderr), res.stderr
    assert res.stdout == ""
