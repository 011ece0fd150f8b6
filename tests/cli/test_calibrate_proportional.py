"""`tradeabm calibrate` with optimizer.method: proportional, the step that
sets sector demand shifters: each parameter is scaled towards its own moment
until every moment is within f_tolerance of its target; the fitted file is a
parameter file that reproduces the fit; a parameter without a moment is a
clear input error."""
import re

from helpers import run as tradeabm

WORLD = """run: {model: myopic, periods: 4, burn_in: 20, seed: 7}
productivity: {grid: 41}
decision: {logit_scale: 0.05}   # smooth choices: exports move continuously with demand
sectors:
  food: {firms: 4000, persistence: 0.9, volatility: 0.3}
  metal: {firms: 4000, persistence: 0.9, volatility: 0.3}
destinations:
  US:
    market: {demand: 1.0, fixed_cost: 0.3, sunk_cost: 0.5}
    regimes: {open: {}}
  CN:
    market: {demand: 0.5, fixed_cost: 0.3, sunk_cost: 0.5}
    regimes: {open: {}}
"""

TARGETS = {("food", "US"): 0.30, ("food", "CN"): 0.15, ("metal", "US"): 0.45, ("metal", "CN"): 0.10}


def calibration(moment_key=True):
    lines = ["base: world.yaml", "seed: 7", "optimizer: {method: proportional, max_iterations: 40, f_tolerance: 0.002}",
             "parameters:"]
    for (s, d) in TARGETS:
        extra = f", moment: export_weight.{d}.{s}" if moment_key else ""
        lines.append(f"  - {{name: {s}_{d}, mode: scale, path: sectors.{s}.markets.{d}.demand, "
                     f"lower: 0.01, upper: 100{extra}}}")
    lines.append("moments:")
    for (s, d), t in TARGETS.items():
        lines.append(f"  - {{name: export_weight.{d}.{s}, target: {t}, tolerance: {t * 0.002}, weight: 1}}")
    return "\n".join(lines) + "\n"


def run(args, cwd):
    return tradeabm(*args, status=None, cwd=cwd)


def test_proportional_updates_reach_every_target(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    (tmp_path / "cal.yaml").write_text(calibration())
    res = run(["calibrate", "cal.yaml", "-o", "fitted.yaml"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "proportional updates" in res.stdout
    rounds = [int(m) for m in re.findall(r"^round\s+(\d+)", res.stdout, re.M)]
    assert rounds and rounds[-1] < 40, "converged before the budget"
    table = {m.group(1): (float(m.group(2)), float(m.group(3)), m.group(4))
             for m in re.finditer(r"^(export_weight\.\w+\.\w+)\s+([\d.eE+-]+)\s+([\d.eE+-]+)\s+[\d.eE+-]+\s+(\w+)",
                                  res.stdout, re.M)}
    assert len(table) == 4
    for name, (target, model, within) in table.items():
        # f_tolerance 0.002; the table prints 4 significant digits
        assert within == "yes" and abs(model / target - 1) < 0.0026, (name, target, model)
    fitted = (tmp_path / "fitted.yaml").read_text()
    assert "# method: proportional" in fitted
    # The fitted file reproduces the fit: evaluate it as the base.
    (tmp_path / "check.yaml").write_text(calibration().replace("base: world.yaml", "base: fitted.yaml"))
    res = run(["calibrate", "check.yaml", "--evaluate"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count(" yes ") == 4, res.stdout


def test_a_parameter_without_its_moment_is_an_input_error(tmp_path):
    (tmp_path / "world.yaml").write_text(WORLD)
    (tmp_path / "cal.yaml").write_text(calibration(moment_key=False))
    res = run(["calibrate", "cal.yaml", "-o", "fitted.yaml"], tmp_path)
    assert res.returncode == 2
    assert "parameters[0].moment" in res.stderr and "cal.yaml:" in res.stderr, res.stderr
    assert not (tmp_path / "fitted.yaml").exists()
