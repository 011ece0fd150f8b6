"""The Canadian baseline stays calibrated, at seeds no fit used.

- `tradeabm calibrate params/calibration/canada.yaml --evaluate --held-out`
  simulates the no-shock baseline (params/calibration/no_shock.yaml) at the
  calibration file's five held-out seeds: every weight-1 moment is within
  its tolerance at every one of them, and every moment's mean over them is
  the one docs/calibration.md's fit table records (to its printed digits,
  or within the tolerance for the drift of a weight-0 row).
- With no shock the US share stays within one percentage point of its
  first logged value in every quarter, at every held-out seed, and within
  one percentage point of the noise-free steady state (exact aggregation).
- The moments computed here from a run file (with the analysis package's
  firm revenue, which knows demand types and experience levels) agree with
  those the program computes in memory for the same seed."""
import re

import h5py
import numpy as np
import pytest
import yaml

from helpers import BASELINE, PARAMS, SOURCE_DIR, run, write

from analysis.load import Run

BASE = str(BASELINE)
CAL = str(PARAMS / "calibration" / "canada.yaml")
NO_SHOCK = str(PARAMS / "calibration" / "no_shock.yaml")
DOC = str(SOURCE_DIR / "docs" / "calibration.md")
HELD_OUT = yaml.safe_load(open(CAL))["held_out_seeds"]
NUMBER = r"([-+\d.eE]+|nan)"


def fit_table():
    """Rows of docs/calibration.md's fit table: moment, target, tolerance,
    mean, min, max over the held-out seeds, within at every seed, weight."""
    rows, inside = {}, False
    cells = r"\s*\|\s*".join([NUMBER] * 5)
    for line in open(DOC):
        if line.startswith("## "):
            inside = line.strip() == "## Fit table"
        m = re.match(r"\|\s*`([^`]+)`\s*\|\s*" + cells + r"\s*\|\s*(\w+)\s*\|\s*" + NUMBER, line)
        if inside and m:
            target, tolerance, mean, low, high = (float(m.group(i)) for i in range(2, 7))
            rows[m.group(1)] = dict(target=target, tolerance=tolerance, mean=mean, min=low, max=high,
                                    within=m.group(7) == "yes", weight=float(m.group(8)))
    assert rows, "no fit table in docs/calibration.md"
    return rows


def program_table(stdout):
    """The fit table `calibrate` prints: name -> (target, mean, tolerance, within, weight, min, max)."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 8 and re.match(r"^[a-z]", parts[0]) and re.match(NUMBER, parts[1]):
            out[parts[0]] = dict(target=float(parts[1]), mean=float(parts[2]), tolerance=float(parts[3]),
                                 within=parts[4] == "yes", weight=float(parts[5]), min=float(parts[6]),
                                 max=float(parts[7]))
    return out


@pytest.fixture(scope="module")
def held_out():
    r = run("calibrate", CAL, "--evaluate", "--held-out", timeout=600)
    table = program_table(r.stdout)
    assert table, r.stdout
    return table


def test_every_fitted_moment_is_within_tolerance_at_every_held_out_seed(held_out):
    fitted = [name for name, row in held_out.items() if row["weight"] > 0]
    assert len(fitted) >= 6
    for name in fitted:
        row = held_out[name]
        for v in (row["min"], row["max"]):
            assert abs(v - row["target"]) <= row["tolerance"], \
                f"{name}: {v:.4g} at a held-out seed, target {row['target']} +/- {row['tolerance']}"


def test_fit_table_records_the_held_out_means(held_out):
    table = fit_table()
    for name, row in held_out.items():
        assert name in table, f"{name} missing from the fit table"
        doc = table[name]
        # The program prints four significant digits (48036 as 4.804e+04).
        assert doc["target"] == pytest.approx(row["target"], rel=6e-4), name
        assert doc["tolerance"] == pytest.approx(row["tolerance"], rel=6e-4), name
        if row["weight"] > 0:
            # The table prints four significant digits.
            assert doc["mean"] == pytest.approx(row["mean"], rel=6e-4, abs=1e-9), name
            assert doc["within"]
        else:
            assert abs(doc["mean"] - row["mean"]) <= row["tolerance"], \
                f"{name}: drifted to {row['mean']:.4g} from the recorded {doc['mean']}"


@pytest.fixture(scope="module")
def no_shock_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noshock")
    paths = []
    for i, seed in enumerate(HELD_OUT):
        out = folder / f"seed{seed}.h5"
        run("run", NO_SHOCK, "--seed", seed, "-q", "-o", out, *(["--panel"] if i == 0 else []))
        paths.append(out)
    return paths


def us_share_by_period(path):
    with h5py.File(path, "r") as f:
        value = f["series/export_value"][:]
    return value[:, :, 0].sum(axis=1) / value.sum(axis=(1, 2))


def test_no_shock_us_share_stays_within_a_point_at_every_held_out_seed(no_shock_runs, tmp_path):
    # Drift: with the regimes held, a seed's US share may not move more
    # than one percentage point from its first logged quarter in any of
    # the 12 (issue 16's bound). Level: the seed's steady state is a draw
    # of a few large exporters around the noise-free expectation (exact
    # aggregation), which the calibration targets; every quarter stays
    # within one percentage point of it too (issue 16: "within 1 pp of
    # its steady state"), which needs the baseline's four slots a firm
    # (docs/calibration.md, No-shock drift).
    exact_file = tmp_path / "exact.h5"
    run("run", NO_SHOCK, "-q", "-o", exact_file, "--set", "run.aggregation=exact", "--set", "run.periods=1")
    exact = us_share_by_period(exact_file)[0]
    for path in no_shock_runs:
        with h5py.File(path, "r") as f:
            regimes = f["environment/regime"][:]
        assert (regimes == regimes[0]).all(), "the no-shock file let a regime move"
        us = us_share_by_period(path)
        assert len(us) == 12
        drift = np.abs(us - us[0]).max()
        assert drift <= 0.01, f"{path.name}: US share moves {100 * drift:.2f} pp from {us[0]:.4f}"
        level = np.abs(us - exact).max()
        assert level <= 0.01, f"{path.name}: US share {100 * level:.2f} pp from the steady state {exact:.4f}"


def python_moments(path):
    """Moments of the fit table computed from the run file alone."""
    r = Run(str(path))
    value = r.arrays["export_value"]
    with h5py.File(path, "r") as f:
        by_set = f["series/firms_by_market_set"][:]
    m = {}
    for j, d in enumerate(r.destinations):
        m[f"export_share.{d}"] = value[:, :, j].sum() / value.sum()
        for i, s in enumerate(r.sectors):
            m[f"export_share.{d}.{s}"] = value[:, i, j].sum() / value[:, i, :].sum()
    exporters = by_set[:, :, 1:].sum()
    m["export_participation"] = exporters / by_set.sum()
    m["single_market_share"] = by_set[:, :, [1 << j for j in range(len(r.destinations))]].sum() / exporters
    m["only_share.US"] = by_set[:, :, 1 << r.destinations.index("US")].sum() / exporters
    # The pooled top 1%: firms ranked by exports to every destination,
    # the boundary firm taken in part, mean over periods.
    top1 = []
    for t in range(r.n_periods):
        x = np.sort(np.concatenate([r.firm_export_value(s, t).sum(axis=1) for s in r.sectors]))[::-1]
        x = x[x > 0]
        k = 0.01 * len(x)
        whole = int(np.floor(k))
        top1.append((x[:whole].sum() + (k - whole) * x[whole]) / x.sum())
    m["top1_share"] = float(np.mean(top1))
    return m


def test_in_memory_moments_agree_with_the_file(no_shock_runs, tmp_path):
    seed = HELD_OUT[0]
    text = open(CAL).read().replace("base: no_shock.yaml", f"base: {NO_SHOCK}")
    text = re.sub(r"^seeds: .*$", f"seed: {seed}", text, flags=re.M)
    text = re.sub(r"^held_out_seeds: .*$", "", text, flags=re.M)
    # Every moment simulated at this seed, as the file's are (the fit takes
    # some from exact aggregation).
    text = re.sub(r"^\s+aggregation: exact\n", "", text, flags=re.M)
    assert not re.search(r"^\s+aggregation:", text, re.M)
    r = run("calibrate", write(tmp_path, "one_seed.yaml", text), "--evaluate")
    c_values = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 6 and re.match(r"^[a-z]", parts[0]) and re.match(NUMBER, parts[2]):
            c_values[parts[0]] = float(parts[2])
    got = python_moments(no_shock_runs[0])
    checked = 0
    for name, v in c_values.items():
        if name in got:
            checked += 1
            # The program prints four significant digits.
            assert abs(got[name] - v) <= 6e-4 * max(abs(v), 1e-3), f"{name}: file {got[name]:.6g}, in memory {v:.6g}"
    assert checked >= 20


def test_fit_table_lists_every_calibration_moment():
    table = fit_table()
    cal = yaml.safe_load(open(CAL))
    for mom in cal["moments"]:
        assert mom["name"] in table
        assert table[mom["name"]]["target"] == pytest.approx(mom["target"])
        assert table[mom["name"]]["tolerance"] == pytest.approx(mom["tolerance"])


EFFECTIVE = str(PARAMS / "calibration" / "effective_tariffs.yaml")


@pytest.fixture(scope="module")
def resolved_baseline():
    """The baseline's parameters as the program resolves them (`check`)."""
    return yaml.safe_load(run("check", BASE).stdout)


def test_regime_rates_follow_from_statutory_rates_and_product_shares(resolved_baseline):
    # (1 + t)^(-e_L) = sum_p s_p (1 + t_p)^(-e_L) (effective_tariffs.yaml);
    # the baseline writes t with 4 decimals, so it may differ from the
    # formula by half a unit of the 4th decimal and no more.
    spec = yaml.safe_load(open(EFFECTIVE))
    section, key = spec["elasticity_key"].split(".")
    e = resolved_baseline[section][key]
    for rate in spec["rates"]:
        where = f"{rate['destination']}.{rate['regime']}.{rate['sector']}"
        shares = [p["share"] for p in rate["parts"]]
        assert sum(shares) == pytest.approx(1, abs=1e-12), where
        weight = sum(p["share"] * (1 + p["statutory"]) ** -e for p in rate["parts"])
        regime = resolved_baseline["destinations"][rate["destination"]]["regimes"][rate["regime"]]
        assert abs(regime["sector_tariffs"][rate["sector"]] - (weight ** (-1 / e) - 1)) <= 0.5e-4, where
        statutory = rate.get("statutory", max(p["statutory"] for p in rate["parts"]))
        assert regime["statutory_tariffs"][rate["sector"]] == pytest.approx(statutory), where


def test_scenario_duties_follow_from_statutory_rates_and_product_shares(resolved_baseline):
    # China's dated measures in the scenario files use the regimes' rule:
    # each event's `tariff` is the uniform rate of its parts (4 decimals),
    # its `statutory_tariff` the highest statutory rate (or the entry's).
    spec = yaml.safe_load(open(EFFECTIVE))
    section, key = spec["elasticity_key"].split(".")
    e = resolved_baseline[section][key]
    checked = 0
    for entry in spec["events"]:
        shares = [p["share"] for p in entry["parts"]]
        assert sum(shares) == pytest.approx(1, abs=1e-12), entry
        want = sum(p["share"] * (1 + p["statutory"]) ** -e for p in entry["parts"]) ** (-1 / e) - 1
        statutory = entry.get("statutory", max(p["statutory"] for p in entry["parts"]))
        for name in entry["files"]:
            events = yaml.safe_load(open(PARAMS / name))["events"]
            mine = [ev for ev in events if str(ev["at"]) == entry["at"] and ev.get("destination") == "CN"
                    and ev.get("sector") == entry["sector"] and "tariff" in ev]
            assert len(mine) == 1, f"{name}: {entry['at']} {entry['sector']}"
            assert abs(mine[0]["tariff"] - want) <= 0.5e-4, f"{name}: {entry['at']} {entry['sector']} {want:.6f}"
            assert mine[0]["statutory_tariff"] == pytest.approx(statutory), name
            checked += 1
    assert checked == 12


def test_baseline_adjusts_demand_as_the_elasticity_reference_does(resolved_baseline):
    # The baseline's partial adjustment is the configuration whose
    # elasticities by horizon docs/model.md reports against Boehm,
    # Levchenko & Pandalai-Nayar (2023); the two must not part.
    reference = yaml.safe_load(open(PARAMS / "reference" / "elasticity_by_horizon.yaml"))["demand"]
    for key in ("impact_elasticity", "long_run_elasticity", "adjustment"):
        assert resolved_baseline["demand"][key] == reference[key], key


def test_a_run_with_statutory_rates_verifies_in_c_and_python(tmp_path):
    # The baseline records statutory rates, so its files carry
    # /environment/statutory_tariff, which the running digest includes:
    # `verify` and analysis.digest must hash it too.
    from analysis.digest import compute_digest
    out = tmp_path / "statutory.h5"
    sets = ["run.burn_in=4", "run.periods=2", "productivity.grid=21"]
    sets += [f"sectors.{s}.firms=200" for s in yaml.safe_load(open(BASE))["sectors"]]
    run("run", BASE, "-q", "-o", out, *[a for s in sets for a in ("--set", s)])
    with h5py.File(out, "r") as f:
        assert "environment/statutory_tariff" in f
        recorded = f.attrs["digest"]
    recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
    assert "verified" in run("verify", out).stdout
    assert compute_digest(str(out)) == recorded


def test_china_ban_regime_closes_canola_only(resolved_baseline):
    # The 2019-22 measure revoked canola seed licences; other sectors kept selling.
    ban = resolved_baseline["destinations"]["CN"]["regimes"]["ban"]
    assert not ban["closed"]
    assert ban["closed_sectors"] == ["canola"]


SMALL_CAL = """\
base: {base}
seed: 11
set: [run.model=myopic, run.burn_in=20, run.periods=4, sectors.machinery_tech.firms=4000, sectors.agrifood.firms=2000]
parameters:
  - name: cost_level
    mode: scale
    paths: [sectors.machinery_tech.markets.US.fixed_cost, sectors.machinery_tech.markets.US.sunk_cost]
    lower: 0.2
    upper: 5
moments:
  - name: export_participation
    target: 0.25
    tolerance: 0.02
  - name: export_share.US.steel_aluminum
    target: 0.9
    weight: 0
optimizer:
  max_evaluations: 12
"""


def test_calibrate_writes_a_fitted_file_that_run_accepts(tmp_path):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE))
    fitted = tmp_path / "fitted.yaml"
    r = run("calibrate", cal, "-o", fitted)
    assert "evals" in r.stdout and "export_participation" in r.stdout
    text = fitted.read_text()
    for field in ("# date:", "# calibration file sha256:", "# method: nelder-mead", "# objective:", "# evaluations:",
                  "extends:"):
        assert field in text
    fitted_values = yaml.safe_load(text)
    us = fitted_values["sectors"]["machinery_tech"]["markets"]["US"]
    base_us = yaml.safe_load(open(BASE))["sectors"]["machinery_tech"]["markets"]["US"]
    assert us["sunk_cost"] / us["fixed_cost"] == pytest.approx(base_us["sunk_cost"] / base_us["fixed_cost"], rel=1e-9)
    run("check", fitted)


def test_a_list_element_is_a_parameter_and_the_fitted_file_writes_the_whole_list(tmp_path):
    # experience.demand[0] (the new exporters' demand) starts at the base's
    # value and the fitted file writes the whole list (extends: replaces
    # lists), its other items as in the base.
    text = SMALL_CAL.format(base=BASE).replace("""  - name: cost_level
    mode: scale""", """  - name: new_exporters
    path: experience.demand[0]
    lower: 0.3
    upper: 0.99
  - name: cost_level
    mode: scale""").replace("  max_evaluations: 12", "  max_evaluations: 4")
    cal = write(tmp_path, "cal.yaml", text)
    base_demand = yaml.safe_load(open(BASE))["experience"]["demand"]
    fitted = tmp_path / "fitted.yaml"
    run("calibrate", cal, "-o", fitted, "-q")
    text = fitted.read_text()
    start = re.search(r"new_exporters = ([0-9.e+-]+)", text)
    assert start, text
    demand = yaml.safe_load(text)["experience"]["demand"]
    assert len(demand) == len(base_demand) and demand[1:] == base_demand[1:]
    assert demand[0] == pytest.approx(float(start.group(1)), rel=1e-5)
    resolved = yaml.safe_load(run("check", fitted).stdout)
    assert resolved["experience"]["demand"] == demand
    # An index into a list of lists, or past the end, is refused with the path.
    for bad in ("experience.transition[0][1]", "experience.demand[7]", "run.periods[0]"):
        r = run("calibrate", write(tmp_path, "bad.yaml", text_with(SMALL_CAL.format(base=BASE), bad)), "--evaluate",
                status=2)
        assert bad in r.stderr and "one index into it" in r.stderr, r.stderr


def text_with(cal, path):
    return cal.replace("""  - name: cost_level
    mode: scale""", f"""  - name: bad
    path: {path}
    lower: 0.1
    upper: 0.99
    start: 0.5
  - name: cost_level
    mode: scale""")


def test_calibrate_rejects_an_unknown_moment_with_its_name(tmp_path):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("export_share.US.steel_aluminum",
                                                                          "export_shares.US"))
    r = run("calibrate", cal, "--evaluate", status=2)
    assert "cal.yaml:14:11: moments[1].name: unknown outcome `export_shares.US`" in r.stderr, r.stderr


def test_calibrate_refuses_an_older_moment_name_and_names_its_successor(tmp_path):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("export_share.US.steel_aluminum",
                                                                          "us_share.steel_aluminum"))
    r = run("calibrate", cal, "--evaluate", status=2)
    assert "moments[1].name" in r.stderr and "did you mean `export_share.US.steel_aluminum`?" in r.stderr, r.stderr


@pytest.mark.parametrize("method", ["nelder-mead", "bobyqa"])
def test_each_optimizer_lowers_the_objective_within_its_budget(tmp_path, method):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("  max_evaluations: 12",
                                                                          f"  method: {method}\n  max_evaluations: 8"))
    r = run("calibrate", cal, "-o", tmp_path / "fitted.yaml")
    objectives = [float(m) for m in re.findall(r"^evals\s+\d+\s+objective\s+(\S+)", r.stdout, re.M)]
    assert len(objectives) >= 2 and objectives[-1] < objectives[0], r.stdout
    assert "after 8 evaluations" in r.stdout
    assert f"# method: {method}" in (tmp_path / "fitted.yaml").read_text()


def test_calibrate_refuses_an_optimizer_setting_of_another_method(tmp_path):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("  max_evaluations: 12", "  max_iterations: 6"))
    r = run("calibrate", cal, "--evaluate", status=2)
    assert "optimizer.max_iterations: does not apply to method nelder-mead" in r.stderr, r.stderr
    write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("  max_evaluations: 12", "  method: nelder_mead"))
    r = run("calibrate", cal, "--evaluate", status=2)
    assert "did you mean `nelder-mead`?" in r.stderr, r.stderr


def test_calibrate_rejects_an_unknown_key_with_its_line(tmp_path):
    cal = write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE).replace("    lower: 0.2", "    lowr: 0.2"))
    r = run("calibrate", cal, "--evaluate", status=2)
    assert "lowr" in r.stderr and "cal.yaml:" in r.stderr


def test_moments_are_averaged_over_the_seeds_with_their_range(tmp_path):
    one = {}
    for seed in (11, 12):
        text = SMALL_CAL.format(base=BASE).replace("seed: 11", f"seed: {seed}")
        r = run("calibrate", write(tmp_path, f"cal{seed}.yaml", text), "--evaluate")
        one[seed] = {p[0]: float(p[2]) for p in map(str.split, r.stdout.splitlines()) if p and p[0].startswith("export_")}
    text = SMALL_CAL.format(base=BASE).replace("seed: 11", "seeds: [11, 12]\nheld_out_seeds: [11]")
    r = run("calibrate", write(tmp_path, "both.yaml", text), "--evaluate", status=2)
    assert "held_out_seeds" in r.stderr and "also a fitting seed" in r.stderr, r.stderr
    text = SMALL_CAL.format(base=BASE).replace("seed: 11", "seeds: [11, 12]\nheld_out_seeds: [13]")
    r = run("calibrate", write(tmp_path, "both.yaml", text), "--evaluate")
    table = program_table(r.stdout)
    for name in ("export_participation", "export_share.US.steel_aluminum"):
        a, b = one[11][name], one[12][name]
        # Four printed digits of each run and of the mean.
        assert table[name]["mean"] == pytest.approx((a + b) / 2, rel=1e-3), name
        assert table[name]["min"] == pytest.approx(min(a, b), rel=6e-4) and table[name]["max"] == pytest.approx(max(a, b), rel=6e-4)
    r = run("calibrate", write(tmp_path, "both.yaml", text), "--evaluate", "--held-out")
    assert "held-out seeds" in r.stdout


def test_held_out_needs_held_out_seeds(tmp_path):
    r = run("calibrate", write(tmp_path, "cal.yaml", SMALL_CAL.format(base=BASE)), "--evaluate", "--held-out", status=2)
    assert "held_out_seeds" in r.stderr, r.stderr


def test_proportional_updates_move_a_cost_down_towards_participation(tmp_path):
    # Participation falls as the cost factor rises (moves: down): from a
    # start far below the target, the rounds must raise the cost and
    # bring participation to within the file's f_tolerance of 0.25.
    text = SMALL_CAL.format(base=BASE).replace("""  - name: cost_level
    mode: scale""", """  - name: cost_level
    moment: export_participation
    moves: down
    mode: scale""").replace("  max_evaluations: 12", "  method: proportional\n  max_iterations: 12\n  f_tolerance: 0.02")
    text = text.replace("paths: [sectors.machinery_tech.markets.US.fixed_cost, sectors.machinery_tech.markets.US.sunk_cost]",
                        "paths: [" + ", ".join(f"sectors.{s}.markets.{d}.{c}" for s in ("machinery_tech", "agrifood")
                                               for d in ("US", "CN", "ROW") for c in ("fixed_cost", "sunk_cost")) + "]")
    text = text.replace("    lower: 0.2\n    upper: 5", "    lower: 0.05\n    upper: 20")
    text = text.replace("set: [", "set: [sectors.energy.firms=300, sectors.canola.firms=300, sectors.minerals_metals.firms=300, "
                        "sectors.gold.firms=300, sectors.steel_aluminum.firms=300, sectors.automotive.firms=300, ")
    r = run("calibrate", write(tmp_path, "cal.yaml", text), "-o", tmp_path / "fitted.yaml")
    assert "converged" in r.stdout, r.stdout
    table = {p[0]: float(p[2]) for p in map(str.split, r.stdout.splitlines()) if p and p[0] == "export_participation"}
    assert abs(table["export_participation"] / 0.25 - 1) <= 0.02


def test_capacity_sectors_keep_the_constant_cost_sales_dispersion_and_cost_ratio(resolved_baseline):
    # docs/calibration.md, "Capacity limits in energy, minerals and gold":
    # in a sector with gamma > 0 profits and sales scale as
    # exp((sigma theta - 1) z), so the innovation s.d. is the constant-cost
    # one, 0.035 r_s with r_s = 0.6 for resource sectors (params/
    # canada_baseline.yaml), times (sigma - 1) / (sigma theta - 1) with the
    # same persistence; sunk / fixed stays that of the sectors without
    # capacity limits in the same market. The file writes volatility with 5
    # decimals and costs with 6 significant digits, so a value may differ
    # from the rule by rounding and no more.
    sigma = resolved_baseline["demand"]["elasticity"]
    sectors = resolved_baseline["sectors"]
    with_gamma = [s for s, sec in sectors.items() if sec.get("capacity_elasticity", 0) > 0]
    assert sorted(with_gamma) == ["energy", "gold", "minerals_metals"]
    constant = [s for s in sectors if s not in with_gamma]
    for s in with_gamma:
        sec = sectors[s]
        gamma = sec["capacity_elasticity"]
        theta = (1 + gamma) / (1 + gamma * sigma)
        assert abs(sec["volatility"] - 0.035 * 0.6 * (sigma - 1) / (sigma * theta - 1)) <= 0.5e-5, s
        for d, market in sec["markets"].items():
            ratios = [sectors[c]["markets"][d]["sunk_cost"] / sectors[c]["markets"][d]["fixed_cost"] for c in constant]
            ratio = market["sunk_cost"] / market["fixed_cost"]
            assert min(ratios) * (1 - 1e-5) <= ratio <= max(ratios) * (1 + 1e-5), f"{s}.{d}: {ratio} vs {ratios}"


def sector_exports(path):
    """Export value [sector name][destination name] of the first logged period."""
    r = Run(str(path))
    value = r.arrays["export_value"][0]
    return {s: dict(zip(r.destinations, value[i])) for i, s in enumerate(r.sectors)}


def test_capacity_limits_divert_a_us_duty_to_other_markets_in_their_sectors_only(tmp_path):
    # The steady state (exact aggregation, one period, a coarse grid: the
    # sign of the effect does not depend on the grid) with and without a
    # permanent 10% US duty on every sector. With gamma_s > 0 a firm serving
    # the US and elsewhere sells more elsewhere when its US demand falls
    # (docs/model.md eq. 4: revenue in d is R(A_S) a_d / A_S with R concave
    # in A_S); with gamma_s = 0 markets are separate programmes, so non-US
    # sales do not move beyond rounding (1e-9 relative).
    sets = ["run.aggregation=exact", "run.periods=1", "productivity.grid=21"]
    args = [a for s in sets for a in ("--set", s)]
    base, duty = tmp_path / "base.h5", tmp_path / "duty.h5"
    run("run", BASE, "-q", "-o", base, *args, timeout=600)
    run("run", BASE, "-q", "-o", duty, *args, "--set", "destinations.US.regimes.cusma.tariff=0.1", timeout=600)
    before, after = sector_exports(base), sector_exports(duty)
    for s in ("energy", "minerals_metals", "gold"):
        assert after[s]["US"] < before[s]["US"], s
        assert after[s]["ROW"] > before[s]["ROW"], f"{s}: ROW {before[s]['ROW']:.6g} -> {after[s]['ROW']:.6g}"
    for s in ("agrifood", "machinery_tech"):
        assert after[s]["US"] < before[s]["US"], s
        for d in ("CN", "ROW"):
            assert after[s][d] == pytest.approx(before[s][d], rel=1e-9), f"{s}.{d}"
