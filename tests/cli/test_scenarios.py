"""Scenario files and `tradeabm compare`: every scenario validates, the 2025
US tariffs lower US exports of steel and aluminum against the baseline, and
a two-replicate comparison has the documented layout (docs/output.md,
"Comparison files") with confidence intervals."""
import os
import re

import h5py
import numpy as np
import pytest
import yaml

from helpers import BASELINE as BASE
from helpers import SCENARIOS, check_parameters, run, text

# Small and fast: fewer firm slots keep the comparison under a few seconds.
SMALL = ["--set", "run.burn_in=40"]


def tm(*args, check=True):
    return run(*args, status=0 if check else None)


def scenario_files():
    return sorted(str(p) for p in SCENARIOS.glob("*.yaml"))


def test_the_issue_scenarios_exist():
    names = {os.path.basename(f)[:-5] for f in scenario_files()}
    for want in ["us_tariffs_2025", "us_ruling_2026", "china_agrifood_2025", "canada_china_arrangement_2026",
                 "canola_ban_2019", "diversification_2035", "high_political_risk"]:
        assert want in names


@pytest.mark.parametrize("path", scenario_files(), ids=os.path.basename)
def test_scenario_passes_check(path):
    r = tm("check", path)
    assert "# sha256:" in r.stdout
    with open(path) as f:
        assert "extends: ../canada_baseline.yaml" in f.read()


# A source tag in brackets, as the parameter files use them: [P], [N], [M],
# [E], alone or combined and annotated ("[P/N]", "[P; lapse assumed E]").
TAG = re.compile(r"\[[PNME]\b[^\]]*\]")


def uncited_events(events):
    """The events (index, date) whose note is missing or cites no tag."""
    return [(i, e.get("at")) for i, e in enumerate(events) if not TAG.search(str(e.get("note", "")))]


def test_citation_check_finds_an_event_without_a_note_or_tag():
    events = [{"at": "2025Q1", "note": "duties from 4 Mar 2025 [P/N]"}, {"at": "2025Q2", "tariff": 0.1},
              {"at": "2025Q3", "note": "no source"}, {"at": "2025Q4", "note": "lapse [P; lapse assumed E]"}]
    assert uncited_events(events) == [(1, "2025Q2"), (2, "2025Q3")]


@pytest.mark.parametrize("path", scenario_files(), ids=os.path.basename)
def test_every_scenario_event_has_a_note_citing_a_tag(path):
    _, parameters = check_parameters(path)
    events = parameters.get("events") or []
    assert events, "a scenario is a list of dated events"
    assert uncited_events(events) == []


@pytest.fixture(scope="module")
def tariff_comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "us_tariffs.h5"
    r = tm("compare", BASE, SCENARIOS / "us_tariffs_2025.yaml", "-o", out, "--replicates", "2",
           *SMALL)
    return out, r.stdout, r.stderr


def test_compare_prints_a_line_before_each_run_with_its_seed_and_file(tariff_comparison):
    """On stderr, through the progress reporter (one line per run)."""
    out, _, stderr = tariff_comparison
    lines = [line.split("; ")[1] for line in stderr.splitlines() if "now replicate" in line]
    with h5py.File(out, "r") as f:
        seeds = [int(s) for s in f.attrs["seeds"]]
    runs = out.parent / "us_tariffs-runs"
    assert lines == [f"now replicate {r} of 2, {side} (seed {seeds[r - 1]}) -> {runs}/{side}-r{r:02d}.h5"
                     for r in (1, 2) for side in ("base", "scenario")]


def test_us_tariffs_lower_us_steel_exports(tariff_comparison):
    out, _, _ = tariff_comparison
    with h5py.File(out, "r") as f:
        sectors = [s.decode() for s in f["dimensions/sectors"][:]]
        dests = [d.decode() for d in f["dimensions/destinations"][:]]
        s, us = sectors.index("steel_aluminum"), dests.index("US")
        diff = f["difference/export_value"][:]
        # From 2025Q2 (50%) on, every replicate exports less to the US.
        periods = [p.decode() for p in f["dimensions/periods"][:]]
        t = periods.index("2025Q2")
        assert np.all(diff[:, t:, s, us] < 0)
        eff = f["effects"][:]
        row = [e for e in eff if e["sector"].decode() == "steel_aluminum"
               and e["measure"].decode() == "export_value.US"][0]
        assert row["units"].decode() == "percent" and row["mean"] < -10
        assert row["ci_high"] < 0


def test_comparison_file_has_the_documented_layout(tariff_comparison):
    out, stdout, _ = tariff_comparison
    with h5py.File(out, "r") as f:
        assert text(f.attrs["program"]) == "tradeabm"
        assert text(f.attrs["kind"]) == "comparison"
        assert int(f.attrs["format_version"]) == 1
        assert int(f.attrs["replicates"]) == 2
        seeds = f.attrs["seeds"]
        assert len(seeds) == 2 and seeds[0] != seeds[1]
        for side in ("base", "scenario"):
            for r in ("r01", "r02"):
                run = f[f"{side}/{r}"]  # external link to the run file
                assert text(run.attrs["status"]) == "complete"
                assert run["series/export_value"].shape == f["difference/export_value"].shape[1:]
        T, S, D = f["base/r01/series/export_value"].shape
        for name in ("export_value", "firms_serving", "entrants", "exiters", "tariff_paid"):
            d = f[f"difference/{name}"]
            assert d.shape == (2, T, S, D)
            for k, r in enumerate(("r01", "r02")):
                want = f[f"scenario/{r}/series/{name}"][:] - f[f"base/{r}/series/{name}"][:]
                np.testing.assert_array_equal(d[k], want)
        eff = f["effects"][:]
        assert set(eff.dtype.names) >= {"sector", "measure", "units", "mean", "ci_low", "ci_high", "replicates"}
        sectors = {e["sector"].decode() for e in eff}
        assert "all" in sectors and "steel_aluminum" in sectors
        measures = {e["measure"].decode() for e in eff}
        assert {"export_share.US", "export_value.US", "non_us_export_value", "entrants", "exiters"} <= measures
        units = {e["measure"].decode(): e["units"].decode() for e in eff}
        assert units["export_share.US"] == "percentage points" and units["entrants"] == "firms"
        # An effect is the outcome of the scenario minus that of the base over
        # the window: entrants per period, from the stored series.
        start = text(f.attrs["effect_window_start"])
        t0 = [p.decode() for p in f["dimensions/periods"][:]].index(start)
        per_rep = [(f[f"scenario/{r}/series/entrants"][t0:].sum() - f[f"base/{r}/series/entrants"][t0:].sum())
                   / (T - t0) for r in ("r01", "r02")]
        row = [e for e in eff if e["sector"].decode() == "all" and e["measure"].decode() == "entrants"][0]
        assert row["mean"] == pytest.approx(np.mean(per_rep), rel=1e-12, abs=1e-9)
        finite = eff[np.isfinite(eff["mean"])]
        assert np.all(finite["ci_low"] <= finite["mean"]) and np.all(finite["mean"] <= finite["ci_high"])
    assert "steel_aluminum" in stdout and " to " in stdout  # printed table with intervals "lo to hi"
    assert os.path.isfile(str(out)[:-3] + "-runs/base-r01.h5")


def test_base_against_itself_has_zero_difference(tmp_path):
    out = tmp_path / "same.h5"
    tm("compare", BASE, BASE, "-o", out, "-q", *SMALL)
    with h5py.File(out, "r") as f:
        assert np.all(f["difference/export_value"][:] == 0)


def test_compare_rejects_different_periods(tmp_path):
    r = tm("compare", BASE, SCENARIOS / "canola_ban_2019.yaml", "-o", tmp_path / "x.h5", check=False)
    assert r.returncode == 2
    assert "same periods" in r.stderr
    assert not (tmp_path / "x.h5").exists()


def test_us_duties_follow_from_statutory_rates_and_the_cusma_share(tmp_path):
    """us_tariffs_2025.yaml writes duties at their statutory rates with a
    CUSMA share of 0.9 (docs/model.md eq. 32): in 2025Q3 the sectors under
    the 35% duty pay the uniform rate t with (1 + t)^(-e_L) = 0.9 + 0.1
    (1.35)^(-e_L) (2.31% at e_L = 2.1), energy the same for 10%, steel and
    aluminum the Section 232 50% in full, autos the effective 15% beside
    the statutory 25%."""
    out = tmp_path / "us.h5"
    tm("run", SCENARIOS / "us_tariffs_2025.yaml", "-o", out, "-q", *SMALL)
    with h5py.File(out, "r") as f:
        sectors = [s.decode() for s in f["dimensions/sectors"][:]]
        us = [d.decode() for d in f["dimensions/destinations"][:]].index("US")
        t = [p.decode() for p in f["periods/label"][:]].index("2025Q3")
        paid, statutory = f["environment/tariff"][t, :, us], f["environment/statutory_tariff"][t, :, us]
    e = yaml.safe_load(open(BASE))["demand"]["long_run_elasticity"]

    def same_weight(t):
        return (0.9 + 0.1 * (1 + t) ** -e) ** (-1 / e) - 1

    want = {s: (same_weight(0.35), 0.35) for s in ("agrifood", "canola", "minerals_metals", "gold", "machinery_tech")}
    want.update(energy=(same_weight(0.10), 0.10), steel_aluminum=(0.5, 0.5), automotive=(0.15, 0.25))
    for s, (rate, stat) in want.items():
        assert paid[sectors.index(s)] == pytest.approx(rate, rel=1e-12), s
        assert statutory[sectors.index(s)] == stat, s
    assert paid[sectors.index("gold")] == pytest.approx(0.0231, abs=0.5e-4), "docs/model.md's 2.31%"


def test_true_and_perceived_political_risk_vary_apart(tmp_path):
    """high_political_risk_perceived.yaml changes what firms perceive only,
    so its regimes in China are the baseline's for the same seed;
    high_political_risk_true.yaml draws the regimes of
    high_political_risk.yaml (true hazards tripled) while firms perceive
    the baseline's hazards, so its choices differ from that file's."""
    regimes, exports = {}, {}
    for name, path in [("base", BASE), ("perceived", SCENARIOS / "high_political_risk_perceived.yaml"),
                       ("both", SCENARIOS / "high_political_risk.yaml"),
                       ("true", SCENARIOS / "high_political_risk_true.yaml")]:
        out = tmp_path / f"{name}.h5"
        tm("run", path, "-o", out, "-q", *SMALL)
        with h5py.File(out, "r") as f:
            regimes[name] = f["environment/regime"][:]
            exports[name] = f["series/export_value"][:]
    np.testing.assert_array_equal(regimes["perceived"], regimes["base"])
    np.testing.assert_array_equal(regimes["true"], regimes["both"])
    assert not np.array_equal(exports["perceived"], exports["base"]), "perception changes choices"
    assert not np.array_equal(exports["true"], exports["both"]), "beliefs differ, so choices do"
