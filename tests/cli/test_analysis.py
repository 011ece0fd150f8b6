"""The analysis package: loading run files and sweep indexes, figures and
reports. Runs are made here with the binary ($TRADEABM) from the small
parameter file tests/data/analysis_small.yaml; comparisons (tradeabm
compare) of it and tests/data/analysis_scenario.yaml."""

import html
import math
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

SOURCE = os.environ.get("TRADEABM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, SOURCE)

import analysis  # noqa: E402
from analysis import AnalysisError, load, parse_parameters  # noqa: E402
from analysis import plots as ap  # noqa: E402
from analysis import report as ar  # noqa: E402
from analysis.load import SECTOR_DEST_SERIES, SET_MASK, mean_interval  # noqa: E402

BINARY = os.environ.get("TRADEABM", os.path.join(SOURCE, "build", "tradeabm"))
SMALL = os.path.join(SOURCE, "tests", "data", "analysis_small.yaml")
QUARTER = re.compile(r"^\d{4}Q[1-4]$")

EVENTS = """
events:
  - at: 2024Q3
    destination: US
    regime: tariffs
    note: "Section 232 \\"steel\\" duties"
  - at: 2025Q1
    destination: CN
    sector: agrifood
    tariff: 1.0
  - at: 2025Q3
    destination: US
    release: true
  - at: 2025Q4
    destination: CN
    escalation_scale: 2
"""


def tradeabm(*args):
    proc = subprocess.run([BINARY, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"no tradeabm binary at {BINARY} (set TRADEABM)")
    d = tmp_path_factory.mktemp("analysis")
    with open(SMALL) as f:
        text = f.read()
    (d / "events.yaml").write_text(text + EVENTS)
    tradeabm("run", SMALL, "-o", str(d / "plain.h5"), "-q", "--threads", "2")
    tradeabm("run", SMALL, "-o", str(d / "panel.h5"), "-q", "--panel", "--threads", "2")
    tradeabm("run", str(d / "events.yaml"), "-o", str(d / "events.h5"), "-q", "--threads", "2")
    return d


@pytest.fixture(scope="module")
def plain(work):
    return load(work / "plain.h5")


@pytest.fixture(scope="module")
def panel(work):
    return load(work / "panel.h5")


@pytest.fixture(scope="module")
def events(work):
    return load(work / "events.h5")


def copy_file(work, name, new):
    path = work / new
    shutil.copyfile(work / name, path)
    return path


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


def test_parameter_parser_reads_the_canonical_subset():
    text = (
        "# comment\n"
        "run:\n  model: myopic\n  seed: 18446744073709551615\n  start: 2024Q1\n"
        "decision:\n  tolerance: 1e-07\n  discount: 0.99\n  flag: true\n  other: false\n"
        "values:\n  a: nan\n  b: inf\n  c: -inf\n"
        "destinations:\n  US:\n    transition:\n      - [0.9, 0.1]\n      - [0.2, 0.8]\n"
        "events:\n  - at: 2025Q1\n    destination: US\n    note: \"say \\\"hi\\\" \\\\ there\"\n"
        "  - at: 2026Q1\n    tariff: 0.25\n"
    )
    p = parse_parameters(text)
    assert p["run"] == {"model": "myopic", "seed": 18446744073709551615, "start": "2024Q1"}
    assert p["decision"] == {"tolerance": 1e-07, "discount": 0.99, "flag": True, "other": False}
    assert math.isnan(p["values"]["a"]) and p["values"]["b"] == math.inf and p["values"]["c"] == -math.inf
    assert p["destinations"]["US"]["transition"] == [[0.9, 0.1], [0.2, 0.8]]
    assert p["events"] == [{"at": "2025Q1", "destination": "US", "note": 'say "hi" \\ there'},
                           {"at": "2026Q1", "tariff": 0.25}]


def test_parameters_round_trip_the_stored_text(work, events):
    with h5py.File(work / "events.h5", "r") as f:
        text = f["parameters"][()].decode()
        attrs = dict(f.attrs)
    assert events.parameters_text == text
    p = events.parameters
    assert p["demand"]["elasticity"] == 3.8
    assert p["run"]["seed"] == 7 and p["run"]["periods"] == 12
    assert p["sectors"]["steel_aluminum"]["firms"] == 2000
    assert p["sectors"]["agrifood"]["markets"]["CN"]["demand"] == 0.3
    assert p["destinations"]["US"]["regimes"]["tariffs"]["sector_tariffs"]["steel_aluminum"] == 0.25
    assert p["destinations"]["CN"]["transition"][0] == [0.95, 0.04, 0.01]
    assert [e["at"] for e in p["events"]] == ["2024Q3", "2025Q1", "2025Q3", "2025Q4"]
    assert p["events"][0]["note"] == 'Section 232 "steel" duties'
    assert p["events"][1]["sector"] == "agrifood" and p["events"][1]["tariff"] == 1
    assert events.param("interactions.crowding") == 0
    for key, value in attrs.items():
        got = events.provenance[key]
        assert got == (value.item() if isinstance(value, np.generic) else value), key


def test_parameters_match_python_yaml_where_installed(plain):
    yaml = pytest.importorskip("yaml")
    number = re.compile(r"^[-+]?\d+(\.\d*)?[eE][-+]?\d+$")

    def numbers(node):
        # PyYAML (YAML 1.1) reads 1e-07 or 1e+01 (no dot) as text.
        if isinstance(node, dict):
            return {k: numbers(v) for k, v in node.items()}
        if isinstance(node, list):
            return [numbers(v) for v in node]
        return float(node) if isinstance(node, str) and number.match(node) else node

    assert numbers(yaml.safe_load(plain.parameters_text)) == plain.parameters


# ---------------------------------------------------------------------------
# Series, environment and events
# ---------------------------------------------------------------------------


def test_series_round_trip_the_stored_values(work, plain):
    with h5py.File(work / "plain.h5", "r") as f:
        labels = [v.decode() for v in f["periods/label"][()]]
        assert plain.periods == labels
        assert plain.sectors == [v.decode() for v in f["dimensions/sectors"][()]]
        assert plain.destinations == ["US", "CN"]
        np.testing.assert_array_equal(plain.z_grid, f["grid/z"][()])
        for name in SECTOR_DEST_SERIES:
            stored = f["series/" + name][()]
            tidy = plain.frame(name)
            assert list(tidy.columns) == ["period", "sector", "destination", "variable", "value"]
            assert len(tidy) == stored.size
            back = tidy["value"].to_numpy().reshape(stored.shape)
            np.testing.assert_array_equal(back, stored.astype(float))
            assert plain.units[name] == f["series/" + name].attrs["units"]
            row = tidy.iloc[len(plain.destinations) + 1]
            assert (row["period"], row["sector"], row["destination"]) == (labels[0], plain.sectors[1], "CN")
        np.testing.assert_array_equal(plain.frame("deaths")["value"].to_numpy().reshape(f["series/deaths"].shape),
                                      f["series/deaths"][()])
        np.testing.assert_array_equal(plain.frame("non_us_share")["value"].to_numpy(), f["series/non_us_share"][()])
        sets = f["series/firms_by_market_set"][()]
        np.testing.assert_array_equal(plain.market_set_firms["firms"].to_numpy().reshape(sets.shape), sets)
        assert list(plain.market_set_firms["market_set"][:4]) == ["none", "US", "CN", "US+CN"]


def test_series_satisfy_the_documented_identities(events):
    a = events.arrays
    np.testing.assert_array_equal(a["entrants"][1:] - a["exiters"][1:], np.diff(a["firms_serving"], axis=0))
    sets = a["firms_by_market_set"]
    for d in range(len(events.destinations)):
        members = [m for m in range(len(events.market_sets)) if m >> d & 1]
        np.testing.assert_array_equal(sets[:, :, members].sum(axis=2), a["firms_serving"][:, :, d])
    firms = [events.parameters["sectors"][s]["firms"] for s in events.sectors]
    assert (sets.sum(axis=2) == firms).all()
    np.testing.assert_allclose(a["tariff_paid"], a["tariff"] * a["export_value"], rtol=1e-12)


def test_environment_and_events_round_trip(work, events):
    with h5py.File(work / "events.h5", "r") as f:
        regime = f["environment/regime"][()]
        tariff = f["environment/tariff"][()]
        table = f["events"][()]
    assert events.regimes["regime_index"].to_numpy().reshape(regime.shape).tolist() == regime.tolist()
    us = events.regimes[events.regimes["destination"] == "US"]
    assert list(us["regime"][us["period"] == "2024Q3"]) == ["tariffs"]
    np.testing.assert_array_equal(events.tariffs["value"].to_numpy().reshape(tariff.shape), tariff)
    assert len(events.events) == len(table) == 4
    assert list(events.events["kind"]) == ["regime", "tariff", "release", "escalation"]
    assert list(events.events["period"]) == list(table["period"]) == [2, 4, 6, 7]
    assert list(events.events["label"]) == ["2024Q3", "2025Q1", "2025Q3", "2025Q4"]
    assert events.events["sector"][1] == "agrifood" and events.events["value"][1] == 1.0
    assert events.events["note"][0] == 'Section 232 "steel" duties'
    agri = events.sectors.index("agrifood")
    assert tariff[4, agri, 1] == 1.0 and events.tariffs.query(
        "period == '2025Q1' and sector == 'agrifood' and destination == 'CN'")["value"].item() == 1.0


# ---------------------------------------------------------------------------
# Firm panel
# ---------------------------------------------------------------------------


def test_panel_is_read_in_slices(work, panel):
    assert panel.has_panel and panel.panel_sectors == panel.sectors
    # Nothing the size of the panel is held by the loaded run.
    # (The firm histogram is small: its size does not grow with the firms.)
    sizes = [v.size for v in vars(panel).values() if isinstance(v, np.ndarray) and v is not panel.histogram]
    sizes += [v.size for v in panel.arrays.values()]
    assert max(sizes) < panel.panel_shape("agrifood")[1]
    with h5py.File(work / "panel.h5", "r") as f:
        z = f["panel/agrifood/z_index"]
        m = f["panel/agrifood/markets"]
        zs, ms = panel.panel("agrifood", "2025Q2", slice(100, 200))
        np.testing.assert_array_equal(zs, z[5, 100:200])
        np.testing.assert_array_equal(ms, m[5, 100:200])
        zs, ms = panel.panel("agrifood", slice(2, 4))
        np.testing.assert_array_equal(zs, z[2:4])
        seen = 0
        for t, off, zz, mm in panel.iter_panel("agrifood", slots_per_read=700):
            np.testing.assert_array_equal(zz, z[t, off:off + len(zz)])
            seen += len(zz)
        assert seen == z.shape[0] * z.shape[1]


def test_firm_export_values_from_the_panel_add_up_to_the_series(panel):
    for i, s in enumerate(panel.sectors):
        for t in (0, 6, panel.n_periods - 1):
            firm = panel.firm_export_value(s, t)
            np.testing.assert_allclose(firm.sum(axis=0), panel.arrays["export_value"][t, i], rtol=1e-9)
            _, markets = panel.panel(s, t)
            serving = [(np.asarray(markets) >> j & 1).sum() for j in range(len(panel.destinations))]
            assert serving == list(panel.arrays["firms_serving"][t, i])


def test_panel_absent_is_a_clear_error(plain):
    with pytest.raises(AnalysisError, match=r"plain\.h5: no firm panel"):
        plain.panel("agrifood", 0)


def test_digest_recomputed_from_the_file_matches(work):
    for name in ("plain.h5", "panel.h5", "events.h5"):
        with h5py.File(work / name, "r") as f:
            stored = f.attrs["digest"]
        assert analysis.compute_digest(work / name) == stored, name
    path = copy_file(work, "events.h5", "tampered.h5")
    with h5py.File(path, "r+") as f:
        f["series/export_value"][3, 0, 0] += 1.0
    assert analysis.compute_digest(path) != stored


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def check_time_axes(fig, units):
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert shown
    labelled = 0
    for ax in shown:
        assert ax.get_title()
        # Axes sharing x with the row below may hide their tick labels.
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert all(QUARTER.match(x) for x in labels), labels
        labelled += bool(labels)
        assert any(line.get_xydata().size for line in ax.get_lines()) or ax.collections
    assert labelled >= len(shown) / 2
    assert any("period (quarter)" == ax.get_xlabel() for ax in shown)
    assert any(f"({units})" in ax.get_ylabel() for ax in shown)
    assert fig._suptitle is not None and fig._suptitle.get_text()


def legend_texts(fig):
    out = []
    for lg in list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        out += [t.get_text() for t in lg.get_texts()]
    return out


def test_run_figures_have_titles_axes_units_and_legends(events):
    p = ap.export_shares(events)
    check_time_axes(p.figure, "fraction")
    assert [ax.get_title() for ax in p.figure.axes if ax.get_visible()] == events.sectors + ["all sectors"]
    assert legend_texts(p.figure) == ["US", "CN"]

    p = ap.market_sets(events)
    check_time_axes(p.figure, "firms")
    assert legend_texts(p.figure) == ["US only", "CN only", "US+CN"]

    p = ap.entries_exits(events)
    check_time_axes(p.figure, "firms")
    assert "entries into US" in legend_texts(p.figure) and "exits from CN" in legend_texts(p.figure)

    p = ap.productivity(events)
    check_time_axes(p.figure, "log productivity")
    assert legend_texts(p.figure) == ["exporters to US", "exporters to CN"]

    p = ap.environment(events)
    check_time_axes(p.figure, "percent")
    axes = p.figure.axes
    assert [t.get_text() for t in axes[0].get_yticklabels()] == events.regime_names["US"]
    assert legend_texts(p.figure) == events.sectors
    notes = [t.get_text() for ax in axes for t in ax.texts]
    assert "2025Q1: tariff 100% agrifood" in notes and "2024Q3: regime tariffs" in notes
    assert "4 scenario event(s)" in p.caption


def test_size_distribution_from_the_panel(work, panel, plain):
    p = ap.size_distribution(panel)
    ax = p.figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "export value per firm (model money)"
    assert "fraction" in ax.get_ylabel() and "2026Q4" in ax.get_title()
    assert "from the firm panel" in p.caption and "sigma = 3.8" in p.caption
    assert len(ax.get_lines()) == len(panel.sectors)
    for line in ax.get_lines():
        y = line.get_ydata()
        assert y[0] == pytest.approx(1.0) and np.all(np.diff(y) < 0)
    from_histogram = ap.size_distribution(plain)
    assert from_histogram.figure is not None and "histogram" in from_histogram.caption
    path = copy_file(work, "plain.h5", "no_histogram.h5")
    with h5py.File(path, "r+") as f:
        del f["series/firms_by_productivity_and_set"]
    missing = ap.size_distribution(load(path))
    assert missing.figure is None and "--panel" in missing.caption


def test_size_distribution_from_a_histogram_matches_the_panel(work, panel):
    """The [period, sector, z, set] histogram the C side writes counts the
    panel's firms exactly, and a file without the panel gives the same curves."""
    T, S = panel.n_periods, len(panel.sectors)
    Z, NS = panel.z_grid.shape[1], len(panel.market_sets)
    hist = np.zeros((T, S, Z, NS), dtype=np.int64)
    for i, s in enumerate(panel.sectors):
        for t in range(T):
            z, m = panel.panel(s, t)
            np.add.at(hist[t, i], (z.astype(int), (m & SET_MASK).astype(int)), 1)
    np.testing.assert_array_equal(panel.histogram, hist)
    path = copy_file(work, "panel.h5", "histogram.h5")
    with h5py.File(path, "r+") as f:
        del f["panel"]
        f.attrs["panel"] = np.int32(0)
    run = load(path)
    p = ap.size_distribution(run)
    assert "histogram /series/firms_by_productivity_and_set" in p.caption
    assert "not the panel" in p.caption
    ref = ap.size_distribution(panel).figure.axes[0].get_lines()
    for mine, theirs in zip(p.figure.axes[0].get_lines(), ref):
        np.testing.assert_allclose(mine.get_xydata(), theirs.get_xydata(), rtol=1e-12)
        assert mine.get_label() == theirs.get_label()


def test_dynamic_run_policy_is_loaded_drawn_and_in_the_digest(work):
    path = work / "dynamic.h5"
    proc = subprocess.run([BINARY, "run", SMALL, "-o", str(path), "-q", "--set", "run.model=dynamic",
                           "--set", "run.periods=4", "--set", "productivity.grid=11", "--set", "run.burn_in=4"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"the dynamic model did not run: {proc.stderr.strip()}")
    run = load(path)
    S, D = len(run.sectors), len(run.destinations)
    J = int(np.prod([len(run.regime_names[d]) for d in run.destinations]))
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(run.policy["entry_cutoff"], f["policy/entry_cutoff"][()])
        assert f.attrs["digest"] == analysis.compute_digest(path)
    assert run.policy["entry_cutoff"].shape == (S, J, D)
    p = ap.policy_cutoffs(run)
    shown = [ax for ax in p.figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == run.sectors
    assert shown[0].get_ylabel() == "cut-off log productivity (log productivity)"
    assert "Value iteration" in p.caption


def test_policy_cutoffs_drawn_when_present_and_noted_when_absent(work, plain):
    absent = ap.policy_cutoffs(plain)
    assert absent.figure is None and "no solved policy" in absent.caption
    path = copy_file(work, "plain.h5", "policy.h5")
    S, D, J = len(plain.sectors), len(plain.destinations), 9
    entry = np.linspace(0.5, 1.5, S * J * D).reshape(S, J * D)
    entry[0, 5] = np.inf
    with h5py.File(path, "r+") as f:
        ds = f.create_dataset("policy/entry_cutoff", data=entry)
        ds.attrs["units"] = "log productivity"
        f.create_dataset("policy/exit_cutoff", data=entry - 0.3)
    p = ap.policy_cutoffs(load(path))
    shown = [ax for ax in p.figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == plain.sectors
    assert [t.get_text() for t in shown[0].get_xticklabels()][:2] == ["cusma/normal", "threat/normal"]
    assert "log productivity" in shown[0].get_ylabel()
    assert len(shown[0].get_lines()) == 2 * D
    assert "entry cut-off, US" in legend_texts(p.figure)


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------


def test_run_report_embeds_every_figure(work, panel):
    out = work / "report_panel"
    html_path, page = ar.report(panel, out, dpi=60)
    text = open(html_path, encoding="utf-8").read()
    drawn = [p for p in page.plots if p.figure is not None]
    assert [p.name for p in drawn] == ["export_shares", "market_sets", "entries_exits", "environment",
                                       "productivity", "size_distribution"]
    assert text.count('src="data:image/png;base64,') == len(drawn)
    for p in drawn:
        png = out / f"{p.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f'data-file="{p.name}.png"' in text and html.escape(p.caption) in text
    assert "Headline numbers" in text and "Provenance" in text
    assert panel.provenance["digest"] in text and panel.provenance["params_sha256"] in text
    assert "no solved policy" in text
    assert "<img src=\"http" not in text and "<script" not in text


def test_report_command_line(work, capsys, sweep_path):
    from analysis.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["report", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert "FILE.h5" in help_text and "-o DIR" in help_text
    assert main(["report", str(work / "nope.h5"), "-o", str(work / "unused")]) == 2
    assert "nope.h5: no such file" in capsys.readouterr().err
    # The module runs as a program (on a sweep index: two figures, quick).
    out = work / "report_cli"
    proc = subprocess.run([sys.executable, "-m", "analysis", "report", str(sweep_path), "-o", str(out),
                           "--dpi", "40"], cwd=SOURCE, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "2 figures: response_curves, heat_maps" in proc.stdout
    assert (out / "report.html").exists() and (out / "heat_maps.png").exists()


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------


def test_wrong_format_version_is_a_clear_error(work):
    path = copy_file(work, "plain.h5", "format9.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int32(9)
    with pytest.raises(AnalysisError) as exc:
        load(path)
    assert str(exc.value) == f"{path}: format version 9; this reader understands version 1"


def test_incomplete_run_is_a_clear_error(work):
    path = copy_file(work, "plain.h5", "incomplete.h5")
    with h5py.File(path, "r+") as f:
        del f.attrs["status"]
        f.attrs["status"] = "incomplete"
    with pytest.raises(AnalysisError, match=r"incomplete\.h5: run status is 'incomplete', not 'complete'"):
        load(path)
    assert load(path, allow_incomplete=True).provenance["status"] == "incomplete"


def test_interrupted_run_without_periods_is_a_clear_error_in_reports(work):
    path = copy_file(work, "plain.h5", "empty.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "incomplete"
        for group in ("periods", "series", "environment"):
            for ds in f[group].values():
                ds.resize(0, axis=0)
    run = load(path, allow_incomplete=True)
    assert run.n_periods == 0 and run.series.empty
    with pytest.raises(AnalysisError, match=r"empty\.h5: no logged periods"):
        ar.report(run, work / "report_empty")


def test_missing_dataset_is_a_clear_error(work):
    path = copy_file(work, "plain.h5", "missing.h5")
    with h5py.File(path, "r+") as f:
        del f["series/entrants"]
    with pytest.raises(AnalysisError, match=r"missing\.h5: missing dataset /series/entrants"):
        load(path)


def test_other_files_are_clear_errors(work):
    with pytest.raises(AnalysisError, match="no such file"):
        load(work / "absent.h5")
    text = work / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(AnalysisError, match=r"text\.h5: not a readable HDF5 file"):
        load(text)
    other = work / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["program"] = "something else"
    with pytest.raises(AnalysisError, match="not a tradeabm run file"):
        load(other)


# ---------------------------------------------------------------------------
# Sweep indexes
# ---------------------------------------------------------------------------

SWEEP_PARAMS = ("destinations.US.market.sunk_cost", "interactions.spillover")


def str_data(values):
    return np.array(values, dtype=h5py.string_dtype())


@pytest.fixture(scope="module")
def sweep_path(work):
    """A 2 x 2 grid with 2 replicates, as the sweep command lays it out."""
    d = work / "sweep"
    d.mkdir()
    grid = [(f, k) for f in (3.0, 6.6) for k in (0.0, 0.5)]
    rows = []
    for point, (sunk, spill) in enumerate(grid):
        for rep in range(2):
            seed = 100 + 10 * point + rep
            name = f"p{point:03d}-r{rep:02d}.h5"
            tradeabm("run", SMALL, "-o", str(d / name), "-q", "--seed", str(seed), "--set",
                     f"{SWEEP_PARAMS[0]}={sunk}", "--set", f"{SWEEP_PARAMS[1]}={spill}",
                     "--set", "run.periods=4", "--set", "run.burn_in=8")
            with h5py.File(d / name, "r") as f:
                share = float(f["series/non_us_share"][-1])
                exporters = float(f["series/firms_serving"][-1, :, 0].sum())
            rows.append((point, rep, seed, name, sunk, spill, share, exporters))
    path = d / "sweep.h5"
    with h5py.File(path, "w") as f:
        f.attrs["kind"] = "sweep"
        f.attrs["program"] = "tradeabm"
        f.attrs["format_version"] = np.int32(1)
        f.attrs["sweep_seed"] = np.uint64(42)
        g = f.create_group("design")
        g["point"] = np.array([r[0] for r in rows], dtype=np.int32)
        g["replicate"] = np.array([r[1] for r in rows], dtype=np.int32)
        g["seed"] = np.array([r[2] for r in rows], dtype=np.uint64)
        g["file"] = str_data([r[3] for r in rows])
        g["status"] = str_data(["complete"] * len(rows))
        g["wall_seconds"] = np.full(len(rows), 0.05)
        g["values/destinations/US/market/sunk_cost"] = np.array([r[4] for r in rows])
        # Parameter paths as nested groups or as dotted names: both read alike.
        g["values/interactions.spillover"] = np.array([r[5] for r in rows])
        s = f.create_group("summary")
        s["points/destinations/US/market/sunk_cost"] = np.array([p[0] for p in grid])
        s["points/interactions/spillover"] = np.array([p[1] for p in grid])
        for k, (outcome, unit) in enumerate((("non_us_share", "fraction"), ("firms_serving.US", "firms"))):
            vals = np.array([[r[6 + k] for r in rows if r[0] == p] for p in range(len(grid))])
            og = s.create_group(outcome)
            og.attrs["units"] = unit
            og["mean"] = vals.mean(axis=1)
            og["sd"] = vals.std(axis=1, ddof=1)
            og["ci_low"] = vals.mean(axis=1) - 12.7 * og["sd"][()] / np.sqrt(2)
            og["ci_high"] = vals.mean(axis=1) + 12.7 * og["sd"][()] / np.sqrt(2)
        r = f.create_group("runs")
        for row in rows:
            r[row[3][:-3]] = h5py.ExternalLink(row[3], "/")
    return path


def test_sweep_index_loads_design_joined_with_summaries(sweep_path):
    sw = load(sweep_path)
    assert isinstance(sw, analysis.Sweep)
    params = list(SWEEP_PARAMS)
    assert sw.parameters == params
    assert sw.outcomes == ["firms_serving.US", "non_us_share"]
    assert len(sw.design) == 8 and len(sw.summary) == 4
    assert set(["point", "replicate", "seed", "file", "status", "wall_seconds"] + params) <= set(sw.design.columns)
    assert len(sw.table) == 8
    for stat in ("mean", "sd", "ci_low", "ci_high"):
        assert f"non_us_share_{stat}" in sw.table
    with h5py.File(sweep_path, "r") as f:
        means = f["summary/non_us_share/mean"][()]
    for _, row in sw.table.iterrows():
        assert row["non_us_share_mean"] == means[row["point"]]
    assert sw.units["non_us_share"] == "fraction"
    assert sw.grid_shape() == {params[0]: 2, params[1]: 2}


def test_sweep_iterates_over_its_runs(sweep_path):
    sw = load(sweep_path)
    seen = []
    for row, run in sw.runs():
        assert isinstance(run, analysis.Run)
        assert run.provenance["seed"] == row["seed"]
        # Destination market defaults are resolved into every sector's markets.
        for sector in run.sectors:
            assert run.param(f"sectors.{sector}.markets.US.sunk_cost") == row["destinations.US.market.sunk_cost"]
        assert run.param("interactions.spillover") == row["interactions.spillover"]
        seen.append(row["file"])
    assert len(seen) == 8
    assert sorted(sw.links) == sorted(name[:-3] for name in seen)


def test_sweep_figures_and_report(work, sweep_path):
    sw = load(sweep_path)
    rc = ap.response_curves(sw)
    axes = rc.figure.axes
    assert len(axes) == len(sw.outcomes) * len(sw.parameters)
    assert {ax.get_xlabel() for ax in axes} == set(sw.parameters)
    assert "non_us_share (fraction)" in {ax.get_ylabel() for ax in axes}
    assert all(ax.collections for ax in axes)  # interval bands
    assert all(ax.get_legend() for ax in axes[: len(sw.parameters)])
    assert "confidence interval" in rc.caption
    hm = ap.heat_maps(sw)
    images = [ax for ax in hm.figure.axes if ax.images]
    assert len(images) == len(sw.outcomes)
    assert images[0].get_xlabel() == sw.parameters[0] and images[0].get_ylabel() == sw.parameters[1]
    bars = [ax for ax in hm.figure.axes if not ax.images and ax.get_ylabel()]
    assert any("(fraction)" in ax.get_ylabel() for ax in bars)
    html_path, page = ar.report(sw, work / "report_sweep", dpi=50)
    text = open(html_path, encoding="utf-8").read()
    assert text.count("data:image/png;base64,") == 2
    assert "Summary by design point" in text and "sweep_seed" in text


def test_sweep_index_written_by_the_binary(work):
    d = work / "real_sweep"
    d.mkdir()
    (d / "grid.yaml").write_text(
        f"base: {SMALL}\nseed: 3\nreplicates: 2\nfixed:\n  run.periods: 3\n  run.burn_in: 4\n"
        "design:\n  grid:\n    interactions.spillover: [0, 0.5]\n    sectors.agrifood.markets.CN.demand: [0.3, 0.6]\n"
        "summary:\n  outcomes: [non_us_share, firms_serving.CN]\n")
    proc = subprocess.run([BINARY, "sweep", str(d / "grid.yaml"), "-o", str(d / "out"), "-q"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"tradeabm sweep did not run: {proc.stderr.strip()}")
    sw = load(d / "out" / "sweep.h5")
    assert sw.parameters == ["interactions.spillover", "sectors.agrifood.markets.CN.demand"]
    assert sw.outcomes == ["firms_serving.CN", "non_us_share"]
    assert sw.units == {"firms_serving.CN": "firms", "non_us_share": "fraction"}
    assert len(sw.table) == 8 and sw.table["non_us_share_mean"].notna().all()
    runs = list(sw.runs())
    assert len(runs) == 8
    for row, run in runs:
        assert run.provenance["digest"] == row["digest"]
        assert run.param("sectors.agrifood.markets.CN.demand") == row["sectors.agrifood.markets.CN.demand"]
    assert ap.heat_maps(sw).figure is not None


def test_one_parameter_sweep_has_no_heat_map(work, sweep_path):
    path = copy_file(work / "sweep", "sweep.h5", "sweep1.h5")
    with h5py.File(path, "r+") as f:
        del f["design/values/interactions.spillover"]
        del f["summary/points/interactions"]
    sw = load(path)
    assert sw.parameters == ["destinations.US.market.sunk_cost"]
    hm = ap.heat_maps(sw)
    assert hm.figure is None and "exactly two parameters" in hm.caption
    assert ap.response_curves(sw).figure is not None


def test_sweep_of_another_format_version_is_a_clear_error(work, sweep_path):
    path = copy_file(work / "sweep", "sweep.h5", "sweep9.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int32(2)
        del f["design/point"]
    with pytest.raises(AnalysisError, match=r"sweep9\.h5: format version 2"):
        load(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int32(1)
    with pytest.raises(AnalysisError, match=r"sweep9\.h5: missing dataset /design/point"):
        load(path)


# ---------------------------------------------------------------------------
# Comparisons (tradeabm compare)
# ---------------------------------------------------------------------------

SCENARIO = os.path.join(SOURCE, "tests", "data", "analysis_scenario.yaml")
DIFF_VARIABLES = ("export_value", "firms_serving", "entrants", "exiters", "tariff_paid")


@pytest.fixture(scope="module")
def comparison_path(work):
    path = work / "cmp" / "compare.h5"
    path.parent.mkdir()
    tradeabm("compare", SMALL, SCENARIO, "-o", str(path), "--replicates", "2", "-q", "--threads", "2")
    return path


@pytest.fixture(scope="module")
def comparison(comparison_path):
    return load(comparison_path)


@pytest.fixture(scope="module")
def comparison_one(work):
    path = work / "cmp1" / "compare1.h5"
    path.parent.mkdir()
    tradeabm("compare", SMALL, SCENARIO, "-o", str(path), "--replicates", "1", "-q", "--threads", "2")
    return load(path)


def test_comparison_loads_runs_differences_and_effects(comparison_path, comparison):
    c = comparison
    assert isinstance(c, analysis.Comparison) and c.kind == "comparison" and c.replicates == 2
    folder = comparison_path.parent
    assert c.base_paths == [str(folder / "compare-runs" / f"base-r0{r}.h5") for r in (1, 2)]
    assert c.scenario_paths == [str(folder / "compare-runs" / f"scenario-r0{r}.h5") for r in (1, 2)]
    with h5py.File(comparison_path, "r") as f:
        assert c.sectors == [s.decode() for s in f["dimensions/sectors"][()]]
        assert c.destinations == ["US", "CN"] and c.periods[0] == "2024Q1" and len(c.periods) == 12
        assert c.seeds == [int(s) for s in f.attrs["seeds"]] and c.seeds[0] == 7
        assert c.effect_window_start == "2025Q1"
        for name in DIFF_VARIABLES:
            stored = f["difference/" + name][()]
            np.testing.assert_array_equal(c.arrays[name], stored)
            assert c.units[name] == f["difference/" + name].attrs["units"]
            tidy = c.frame(name)
            assert list(tidy.columns) == ["replicate", "period", "sector", "destination", "variable", "value"]
            np.testing.assert_array_equal(tidy["value"].to_numpy(), stored.reshape(-1))
            row = tidy.iloc[-1]
            assert (row["replicate"], row["period"], row["sector"], row["destination"]) == (
                2, c.periods[-1], c.sectors[-1], c.destinations[-1])
        effects = f["effects"][()]
        by_rep = f["effects_by_replicate"][()]
    assert len(c.effects) == len(effects)
    for k, rec in enumerate(effects):
        row = c.effects.iloc[k]
        assert row["sector"] == rec["sector"].decode() and row["measure"] == rec["measure"].decode()
        assert row["units"] == rec["units"].decode()
        for col in ("mean", "ci_low", "ci_high"):
            assert row[col] == rec[col]
        assert row["replicates"] == 2
    units = dict(zip(c.effects["measure"], c.effects["units"]))
    assert units["export_share.US"] == "percentage points" and units["entrants"] == "firms"
    assert units["export_value.CN"] == "percent"
    # The loader's t interval is the one of the file (/effects: sector-major;
    # /effects_by_replicate: [measure, sector]).
    mean, lo, hi, n = mean_interval(by_rep, axis=2)
    assert n == 2
    np.testing.assert_allclose(c.effects["mean"].to_numpy(), mean.T.reshape(-1), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(c.effects["ci_low"].to_numpy(), lo.T.reshape(-1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(c.effects["ci_high"].to_numpy(), hi.T.reshape(-1), rtol=1e-9, atol=1e-9)
    assert c.effect("all", "entrants")["mean"] == pytest.approx(by_rep[3, -1].mean())
    # The differences are scenario minus base of the linked runs; so is the US share.
    for r in (1, 2):
        base, scen = c.base_run(r), c.scenario_run(r)
        np.testing.assert_allclose(c.arrays["export_value"][r - 1],
                                   scen.arrays["export_value"] - base.arrays["export_value"], atol=1e-9)
        share = [100 * run.arrays["export_value"][:, :, 0].sum(axis=1) / run.arrays["export_value"].sum(axis=(1, 2))
                 for run in (base, scen)]
        np.testing.assert_allclose(c.us_share[r - 1, :, -1], share[1] - share[0], atol=1e-9)
    assert c.param("run.periods_per_year") == 4 and not c.notes
    assert list(c.events["label"]) == ["2025Q1", "2025Q3"]
    assert list(c.events["destination"]) == ["US", "CN"]
    # Nothing changes before the first event (common random numbers).
    assert not np.any(c.arrays["export_value"][:, :4])
    assert np.any(c.arrays["export_value"][:, 4:])


def test_comparison_figures_have_titles_axes_units_legends_bands_and_events(comparison):
    c = comparison
    plots = ap.comparison_plots(c)
    assert [p.name for p in plots] == ["cmp_export_value", "cmp_firms_serving", "cmp_entries_exits", "cmp_us_share"]
    units = {"cmp_export_value": "model money", "cmp_firms_serving": "firms", "cmp_entries_exits": "firms",
             "cmp_us_share": "percentage points"}
    events = ["E1 US 2025Q1: tariff 25% steel_aluminum", "E2 CN 2025Q3: tariff 50% agrifood"]
    for p in plots:
        fig = p.figure
        check_time_axes(fig, units[p.name])
        assert "scenario minus base" in fig._suptitle.get_text()
        legend = legend_texts(fig)
        assert legend[-2:] == events
        if p.name != "cmp_us_share":
            assert legend[:2] == ["US", "CN"]
        shown = [ax for ax in fig.axes if ax.get_visible()]
        for ax in shown:
            vertical = sorted({line.get_xdata()[0] for line in ax.get_lines()
                               if line.get_linestyle() == ":" and len(set(line.get_xdata())) == 1})
            assert vertical == [4, 6], (p.name, ax.get_title())
        # A band (95% t interval) per drawn line on every panel with a difference.
        assert any(len(ax.collections) >= 1 for ax in shown)
        assert "95% t interval" in p.caption and "E1-E2" in p.caption
    titles = [ax.get_title() for ax in plots[0].figure.axes if ax.get_visible()]
    assert titles == c.sectors + ["all sectors"]
    # The line is the mean across replicates.
    ax = plots[0].figure.axes[1]
    us_line = [line for line in ax.get_lines() if line.get_label() == "US"][0]
    np.testing.assert_allclose(us_line.get_ydata(), c.arrays["export_value"][:, :, 1, 0].mean(axis=0))
    assert "no difference in any period" in [t.get_text() for t in plots[0].figure.axes[2].texts]
    titles = [ax.get_title() for ax in plots[2].figure.axes if ax.get_visible()]
    assert titles == [f"{s}: entries" for s in c.sectors] + [f"{s}: exits" for s in c.sectors]
    ylabels = {ax.get_ylabel() for ax in plots[2].figure.axes if ax.get_ylabel()}
    assert ylabels == {"change in entries (firms)", "change in exits (firms)"}


def test_comparison_with_one_replicate_has_no_band_and_says_so(comparison_one):
    c = comparison_one
    assert c.replicates == 1 and np.isnan(c.effects["ci_low"]).all()
    for p in ap.comparison_plots(c):
        assert p.figure is not None
        assert not any(ax.collections for ax in p.figure.axes)
        assert "one replicate, so no interval" in p.caption
    page = ar.build_page(c)
    assert "one replicate: no intervals" in page.subtitle
    table = [t for t in page.items if getattr(t, "title", "") == "Effects by sector"][0]
    assert "[" not in table.html and "no interval with one replicate" in table.caption


def test_comparison_report_embeds_every_figure(work, comparison_path, capsys):
    from analysis.__main__ import main

    out = work / "report_cmp"
    assert main(["report", str(comparison_path), "-o", str(out), "--dpi", "50"]) == 0
    assert ("4 figures: cmp_export_value, cmp_firms_serving, cmp_entries_exits, cmp_us_share"
            in capsys.readouterr().out)
    text = (out / "report.html").read_text(encoding="utf-8")
    page = ar.build_page(load(comparison_path))
    drawn = [p for p in page.plots if p.figure is not None]
    assert len(drawn) == 4 and text.count('src="data:image/png;base64,') == 4
    for p in drawn:
        png = out / f"{p.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f'data-file="{p.name}.png"' in text and html.escape(p.caption) in text
    assert "tradeabm comparison: compare.h5" in text
    for heading in ("Comparison", "Effects by sector", "Scenario events that took effect", "Provenance"):
        assert f">{heading}</h2>" in text
    assert "<th>agrifood</th>" in text and "<th>all</th>" in text and "export_share.US" in text
    assert "percentage points" in text and "compare-runs/scenario-r02.h5" in text
    assert "<img src=\"http" not in text and "<script" not in text


def test_bad_comparison_files_are_clear_errors(work, comparison_path):
    folder = comparison_path.parent

    def damaged(name, change):
        path = folder / name  # beside the original: the relative run links still resolve
        shutil.copyfile(comparison_path, path)
        with h5py.File(path, "r+") as f:
            change(f)
        return path

    path = damaged("no_entrants.h5", lambda f: f["difference"].__delitem__("entrants"))
    with pytest.raises(AnalysisError, match=r"no_entrants\.h5: missing dataset /difference/entrants"):
        load(path)
    path = damaged("v9.h5", lambda f: f.attrs.__setitem__("format_version", np.int64(9)))
    with pytest.raises(AnalysisError, match=r"v9\.h5: format version 9; this reader understands version 1"):
        load(path)

    def reshape(f):
        data = f["difference/exiters"][()]
        del f["difference/exiters"]
        f["difference/exiters"] = data[:1]

    path = damaged("one_rep.h5", reshape)
    with pytest.raises(AnalysisError, match=r"one_rep\.h5: /difference/exiters has shape \(1, 12, 3, 2\); "
                                            r"expected \(2, 12, 3, 2\)"):
        load(path)

    def no_fields(f):
        data = f["effects"][()]
        del f["effects"]
        f["effects"] = data[["sector", "measure", "mean"]]

    path = damaged("no_ci.h5", no_fields)
    with pytest.raises(AnalysisError, match=r"no_ci\.h5: /effects lacks the field\(s\) units, ci_low, ci_high, "
                                            r"replicates"):
        load(path)
    path = damaged("no_link.h5", lambda f: f["scenario"].__delitem__("r02"))
    with pytest.raises(AnalysisError, match=r"no_link\.h5: /scenario/r02 is not an external link"):
        load(path)
    path = damaged("kind.h5", lambda f: f.attrs.__setitem__("kind", "merger"))
    with pytest.raises(AnalysisError, match=r"kind\.h5: file kind 'merger' is not supported"):
        load(path)
    with pytest.raises(AnalysisError, match=r"kind\.h5: not a tradeabm comparison file"):
        analysis.Comparison(path)
    # Run files gone: the comparison still loads and reports, the US share
    # over time included (it is in the comparison file); no events marked.
    moved = work / "moved"
    moved.mkdir()
    shutil.copyfile(comparison_path, moved / "compare.h5")
    c = load(moved / "compare.h5")
    assert c.us_share is not None and len(c.events) == 0 and c.notes
    page = ar.build_page(c)
    us = [p for p in page.plots if p.name == "cmp_us_share"][0]
    assert us.figure is not None
    assert any("4 of 4 linked run files are missing" in n and "compare-runs" in n for n in page.notes)
