"""The real exchange rate and index-driven hazards in run files
(docs/model.md sections 11 and 12): the series is written with its units
only when the channel is on, the digest recomputed from the file matches,
firm-level export values rebuilt from the panel add up to the series at
the period's rate, and each step of an index path is a row of /events with
the hazard of eq. 35."""
import math

import h5py
import numpy as np

import analysis
from helpers import run

WORLD = """\
run: {periods: 10, burn_in: 4, model: dynamic}
productivity: {grid: 21}
%s
sectors:
  steel: {firms: 3000}
destinations:
  US:
    market: {fixed_cost: 0.2, sunk_cost: 0.5}
    regimes: {free: {}, high: {tariff: 0.5}}
    transition: [[0.95, 0.05], [0.2, 0.8]]
  CN:
    market: {demand: 0.5, fixed_cost: 0.2, sunk_cost: 0.5}
    regimes: {open: {}}
events:
  - {at: 2024Q3, destination: US, regime: high}
"""


def simulate(tmp_path, name, section, *args):
    path = tmp_path / f"{name}.yaml"
    path.write_text(WORLD % section)
    out = tmp_path / f"{name}.h5"
    run("run", path, "-o", out, "-q", *args)
    return out


def test_exchange_rate_series_only_when_on(tmp_path):
    off = simulate(tmp_path, "off", "")
    on = simulate(tmp_path, "on", "exchange_rate: {elasticity: 0.5}")
    with h5py.File(off) as f:
        assert "exchange_rate" not in f["environment"]
    with h5py.File(on) as f:
        ds = f["environment/exchange_rate"]
        assert ds.attrs["units"] in ("index", b"index")
        e = ds[()]
        labels = [x.decode() for x in f["periods/label"][()]]
        digest = f.attrs["digest"]
    assert e.shape == (10,)
    # The US closes to half its value from 2024Q3 (a 50% tariff): the rate rises.
    assert all(e[labels.index("2024Q3"):] > 1.0)
    assert analysis.compute_digest(on) == digest
    run("verify", on)


def test_panel_export_values_add_up_at_the_period_rate(tmp_path):
    on = simulate(tmp_path, "panel", "exchange_rate: {elasticity: 0.5}", "--panel")
    loaded = analysis.load(on)
    for t in range(loaded.n_periods):
        firm = loaded.firm_export_value("steel", t)
        np.testing.assert_allclose(firm.sum(axis=0), loaded.arrays["export_value"][t, 0], rtol=1e-9)


def test_index_path_steps_are_events_with_the_closed_form_hazard(tmp_path):
    values = [100.0, 250.0, 80.0, 120.0]
    section = ""
    path = tmp_path / "index.yaml"
    text = (WORLD % section).replace(
        "  - {at: 2024Q3, destination: US, regime: high}\n",
        "  - {at: 2024Q2, destination: US, hazard_index: index.csv, hazard_intercept: -3, hazard_slope: 1.5}\n")
    path.write_text(text)
    (tmp_path / "index.csv").write_text("period,index\n" + "".join(
        f"{label},{v}\n" for label, v in zip(("2024Q2", "2024Q3", "2024Q4", "2025Q1"), values)))
    out = tmp_path / "index.h5"
    run("run", path, "-o", out, "-q")
    mean = sum(values) / len(values)
    with h5py.File(out) as f:
        rows = f["events"][()]
    kinds = [r["kind"].decode() for r in rows]
    assert kinds == ["hazard_index"] * 4
    for r, v in zip(rows, values):
        want = 1.0 / (1.0 + math.exp(-(-3.0 + 1.5 * math.log(v / mean))))
        assert abs(r["value"] - want) < 1e-15
    # The run reproduces from its stored parameters without the index file.
    (tmp_path / "index.csv").unlink()
    run("reproduce", out)
