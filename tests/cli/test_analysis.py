"""The analysis package: loading run files and sweep indexes, figures and
reports. Runs are made here with the binary ($TRADEABM) from the small
parameter file tests/data/analysis_small.yaml; comparisons (tradeabm
compare) of it and tests/data/analysis_scenario.yaml."""

import html
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import h5py
import matplotlib.collections
import numpy as np
import pytest

from helpers import BASELINE, DATA, PARAMS, SMALL, SOURCE_DIR, check_parameters, leaves, write
from helpers import run as tradeabm

import analysis  # noqa: E402  (helpers puts the source tree on sys.path)
from analysis import AnalysisError, load, parse_parameters  # noqa: E402
from analysis import plots as ap  # noqa: E402
from analysis import report as ar  # noqa: E402
from analysis.labels import sector_label  # noqa: E402
from analysis.load import SECTOR_DEST_SERIES, SET_MASK, mean_interval  # noqa: E402

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


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("analysis")
    write(d, "events.yaml", SMALL.read_text() + EVENTS)
    tradeabm("run", SMALL, "-o", d / "plain.h5", "-q", "--threads", "2")
    tradeabm("run", SMALL, "-o", d / "panel.h5", "-q", "--panel", "--threads", "2")
    tradeabm("run", d / "events.yaml", "-o", d / "events.h5", "-q", "--threads", "2")
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


def test_parameters_are_read_as_yaml_with_exponents_as_numbers(plain):
    """PyYAML's own safe loader (YAML 1.1) reads 1e-07 as text; the
    parameter loader reads it as the number the C side wrote."""
    import yaml
    assert "tolerance: 1e-07" in plain.parameters_text
    assert yaml.safe_load(plain.parameters_text)["decision"]["tolerance"] == "1e-07"
    assert plain.parameters["decision"]["tolerance"] == 1e-07
    assert parse_parameters("a: 1e+01\nb: NO\nc: on\n") == {"a": 10.0, "b": "NO", "c": "on"}


def canonical_files():
    paths = [BASELINE, *sorted(PARAMS.glob("scenarios/*.yaml")), *sorted(PARAMS.glob("replications/*.yaml")),
             PARAMS / "calibration" / "canada_fitted.yaml", *sorted(DATA.glob("*.yaml"))]
    return [p for p in paths if p.exists()]


@pytest.mark.parametrize("path", canonical_files(), ids=lambda p: str(p.relative_to(SOURCE_DIR)))
def test_parameters_round_trip_through_the_c_side(path, tmp_path):
    """Every canonical text of the repository's parameter files, read by
    analysis.parse_parameters and written back as YAML, resolves in the C
    side to the same canonical text (so the same values), and no number
    was read as text."""
    import yaml
    canonical, parameters = check_parameters(path)
    numeric_text = [(k, v) for k, v in leaves(parameters)
                    if isinstance(v, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v)]
    assert numeric_text == []
    again = write(tmp_path, "again.yaml", yaml.safe_dump(parameters, sort_keys=False))
    assert check_parameters(again)[0] == canonical


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


@pytest.mark.parametrize("how", ["value rewritten", "4 KiB overwritten"])
def test_loader_refuses_a_damaged_series_naming_file_and_dataset(work, how):
    path = copy_file(work, "plain.h5", "damaged.h5")
    load(path)  # intact: loads
    if how == "value rewritten":
        # Through HDF5, which recomputes the chunk's Fletcher32 checksum:
        # only the series' recorded SHA-256 tells.
        with h5py.File(path, "r+") as f:
            f["series/export_value"][1, 0, 0] *= 2
        expect = r"damaged\.h5: dataset /series/export_value is damaged: its values differ"
    else:
        with h5py.File(path, "r") as f:
            offset = f["series/export_value"].id.get_chunk_info(0).byte_offset
        data = bytearray(path.read_bytes())
        data[offset:offset + 64] = bytes(range(64))
        path.write_bytes(bytes(data))
        expect = r"damaged\.h5: dataset /series/export_value is damaged \(a chunk fails its checksum"
    with pytest.raises(AnalysisError, match=expect):
        load(path)


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
    check_time_axes(p.figure, "percent")
    assert [ax.get_title() for ax in p.figure.axes if ax.get_visible()] == [
        "Agri-food", "Steel & aluminum", "Machinery & tech", "All sectors"]
    assert legend_texts(p.figure) == ["US", "China"]

    p = ap.market_sets(events)
    check_time_axes(p.figure, "firms")
    assert legend_texts(p.figure) == ["US only", "China only", "US + China"]

    p = ap.entrants_exiters(events)
    check_time_axes(p.figure, "firms")
    # The glossary's names (docs/output.md), not "entries"/"exits".
    assert "entrants into US" in legend_texts(p.figure) and "exiters from China" in legend_texts(p.figure)
    assert p.name == "entrants_exiters" and p.figure._suptitle.get_text() == "Entrants and exiters by destination"
    # The former function names stay, for scripts that call them.
    assert ap.entries_exits is ap.entrants_exiters and ap.comparison_entries_exits is ap.comparison_entrants_exiters

    p = ap.productivity(events)
    check_time_axes(p.figure, "log productivity")
    assert legend_texts(p.figure) == ["exporters to US", "exporters to China"]

    p = ap.environment(events)
    check_time_axes(p.figure, "percent")
    axes = p.figure.axes
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["CUSMA", "Threat", "Tariffs"]
    legend = legend_texts(p.figure)
    assert "E2 China 2025Q1: tariff 100% on Agri-food" in legend and "E1 US 2024Q3: regime Tariffs" in legend
    assert "4 scenario event(s)" in p.caption


def test_size_distribution_from_the_panel(work, panel, plain):
    p = ap.size_distribution(panel)
    ax = p.figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "export value per firm (C$ million per quarter)"
    assert "percent" in ax.get_ylabel() and "2026Q4" in ax.get_title()
    assert "from the firm panel" in p.caption and "sigma = 3.8" in p.caption
    assert len(ax.get_lines()) == len(panel.sectors)
    for line in ax.get_lines():
        y = line.get_ydata()
        assert y[0] == pytest.approx(100.0) and np.all(np.diff(y) < 0)
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
    tradeabm("run", SMALL, "-o", path, "-q", "--set", "run.model=dynamic", "--set", "run.periods=4",
             "--set", "productivity.grid=11", "--set", "run.burn_in=4")
    run = load(path)
    S, D = len(run.sectors), len(run.destinations)
    J = int(np.prod([len(run.regime_names[d]) for d in run.destinations]))
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(run.policy["entry_cutoff"], f["policy/entry_cutoff"][()])
        assert f.attrs["digest"] == analysis.compute_digest(path)
    assert run.policy["entry_cutoff"].shape == (S, J, D)
    p = ap.policy_cutoffs(run)
    shown = [ax for ax in p.figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == [sector_label(s) for s in run.sectors]
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
    assert [ax.get_title() for ax in shown] == [sector_label(s) for s in plain.sectors]
    assert [t.get_text() for t in shown[0].get_xticklabels()][:2] == ["CUSMA/Normal", "Threat/Normal"]
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
    assert [p.name for p in drawn] == ["export_shares", "market_sets", "entrants_exiters", "environment",
                                       "productivity", "size_distribution", "model_vs_data"]
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
                           "--dpi", "40"], cwd=SOURCE_DIR, capture_output=True, text=True)
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
                if "sha256" in ds.attrs:  # an incomplete run records no series hashes
                    del ds.attrs["sha256"]
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
    assert {ax.get_xlabel() for ax in axes} == {"US sunk entry cost (model units)",
                                                "entry-cost spillover kappa (dimensionless)"}
    assert "Non-US share of export value (percent)" in {ax.get_ylabel() for ax in axes}
    assert all(ax.collections for ax in axes)  # replicate ranges
    assert all(ax.get_legend() for ax in axes[: len(sw.parameters)])
    assert "values of the replicates" in rc.caption
    hm = ap.heat_maps(sw)
    images = [ax for ax in hm.figure.axes if ax.images]
    assert len(images) == len(sw.outcomes)
    assert images[0].get_xlabel() == "US sunk entry cost (model units)"
    assert images[0].get_ylabel() == "entry-cost spillover kappa (dimensionless)"
    bars = [ax for ax in hm.figure.axes if not ax.images and ax.get_ylabel()]
    assert any("(percent)" in ax.get_ylabel() for ax in bars)
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
    tradeabm("sweep", d / "grid.yaml", "-o", d / "out", "-q")
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
    assert hm.figure is None and "need a grid over two parameters" in hm.caption
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

SCENARIO = DATA / "analysis_scenario.yaml"
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
    assert [p.name for p in plots] == ["cmp_export_value", "cmp_firms_serving", "cmp_entrants_exiters", "cmp_us_share",
                                       "cmp_model_vs_data"]
    units = {"cmp_export_value": "percent of base", "cmp_firms_serving": "firms", "cmp_entrants_exiters": "firms",
             "cmp_us_share": "percentage points"}
    events = ["E1 US 2025Q1: tariff 25% on Steel & aluminum", "E2 China 2025Q3: tariff 50% on Agri-food"]
    for p in plots[:4]:
        fig = p.figure
        check_time_axes(fig, units[p.name])
        assert "scenario minus base" in fig._suptitle.get_text()
        legend = legend_texts(fig)
        assert legend[-2:] == events
        assert "range (min to max) across the 2 replicates" in legend  # the band's legend entry
        if p.name != "cmp_us_share":
            assert legend[:2] == ["US", "China"]
        shown = [ax for ax in fig.axes if ax.get_visible()]
        for ax in shown:
            vertical = sorted({line.get_xdata()[0] for line in ax.get_lines()
                               if line.get_linestyle() == ":" and len(set(line.get_xdata())) == 1})
            assert vertical == [4, 6], (p.name, ax.get_title())
        # A band (the replicates' range: 2 replicates) per drawn line on every panel with a difference.
        assert any(len(ax.collections) >= 1 for ax in shown)
        assert "range (min to max) across the 2 replicates" in p.caption and "E1-E2" in p.caption
    titles = [ax.get_title() for ax in plots[0].figure.axes if ax.get_visible()]
    assert titles == [sector_label(s) for s in c.sectors] + ["All sectors"]
    # The line is the mean across replicates of the percent effect.
    ax = plots[0].figure.axes[1]
    us_line = [line for line in ax.get_lines() if line.get_label() == "US"][0]
    base = np.stack([c.base_run(r).arrays["export_value"][:, 1, 0] for r in (1, 2)])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (100 * c.arrays["export_value"][:, :, 1, 0] / base).mean(axis=0)
    np.testing.assert_allclose(us_line.get_ydata(), expected)
    assert "no difference in any period" in [t.get_text() for t in plots[0].figure.axes[2].texts]
    titles = [ax.get_title() for ax in plots[2].figure.axes if ax.get_visible()]
    changed = [s for k, s in enumerate(c.sectors)
               if np.any(c.arrays["entrants"][:, :, k]) or np.any(c.arrays["exiters"][:, :, k])]
    assert titles == [f"{sector_label(s)}: {w}" for s in changed + ["all"] for w in ("entrants", "exiters")]
    ylabels = {ax.get_ylabel() for ax in plots[2].figure.axes if ax.get_ylabel()}
    assert ylabels == {"change in entrants (firms)", "change in exiters (firms)"}


def test_comparison_with_one_replicate_has_no_band_and_says_so(comparison_one):
    c = comparison_one
    assert c.replicates == 1 and np.isnan(c.effects["ci_low"]).all()
    for p in ap.comparison_plots(c)[:4]:
        assert p.figure is not None
        assert not any(ax.collections for ax in p.figure.axes)
        assert "One replicate, so no band" in p.caption
    page = ar.build_page(c)
    assert "one replicate: no intervals" in page.subtitle
    table = [t for t in page.items if getattr(t, "title", "") == "Effects by sector"][0]
    assert "[" not in table.html and "no interval with one replicate" in table.caption


def test_comparison_report_embeds_every_figure(work, comparison_path, capsys):
    from analysis.__main__ import main

    out = work / "report_cmp"
    assert main(["report", str(comparison_path), "-o", str(out), "--dpi", "50"]) == 0
    assert ("5 figures: cmp_export_value, cmp_firms_serving, cmp_entrants_exiters, cmp_us_share, cmp_model_vs_data"
            in capsys.readouterr().out)
    text = (out / "report.html").read_text(encoding="utf-8")
    page = ar.build_page(load(comparison_path))
    drawn = [p for p in page.plots if p.figure is not None]
    assert len(drawn) == 5 and text.count('src="data:image/png;base64,') == 5
    for p in drawn:
        png = out / f"{p.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f'data-file="{p.name}.png"' in text and html.escape(p.caption) in text
    assert "tradeabm comparison: compare.h5" in text
    for heading in ("Comparison", "Effects by sector", "Scenario events that took effect", "Provenance"):
        assert f">{heading}</h2>" in text
    assert "<th>Agri-food</th>" in text and "<th>All sectors</th>" in text and "export_share.US" in text
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


# ---------------------------------------------------------------------------
# Figures a reader can trust: labels, units, palette, layout, data
# ---------------------------------------------------------------------------

from matplotlib.colors import to_hex  # noqa: E402

from analysis import facts as af  # noqa: E402
from analysis import labels as al  # noqa: E402
from analysis import palette as apal  # noqa: E402
from analysis import units as au  # noqa: E402

PRECISE_EVENTS = """
events:
  - at: 2024Q3
    destination: US
    sector: steel_aluminum
    tariff: 0.025
  - at: 2025Q1
    destination: CN
    tariff: 0.035
"""


def test_labels_are_human_with_a_fallback():
    assert al.sector_label("machinery_tech") == "Machinery & tech"
    assert al.sector_label("steel_aluminum") == "Steel & aluminum"
    assert al.sector_label("new_sector") == "New sector"  # unknown: humanised
    assert al.destination_label("CN") == "China" and al.destination_label("EU") == "EU"
    assert al.regime_label("cusma") == "CUSMA" and al.regime_label("trade_war") == "Trade war"
    assert al.market_set_label("US+CN") == "US + China" and al.market_set_label("ROW") == "Rest of world only"
    assert al.outcome_label("firms_serving.CN") == "Firms serving China"
    assert al.outcome_label("export_share.US.canola") == "US share of export value (Canola)"
    assert al.outcome_label("exporters.steel_aluminum") == "Exporters (Steel & aluminum)"
    assert al.outcome_label("mystery_stat") == "Mystery stat"
    assert al.parameter_label("destinations.US.regimes.tariffs.tariff") == ("US tariff, Tariffs regime", "fraction")
    assert al.parameter_label("some.new.path") == ("some.new.path", "")
    # The paths of events and transition rows (docs/sweeps.md).
    assert al.parameter_label("events[2].tariff") == ("event 2: tariff", "fraction")
    assert al.parameter_label("destinations.US.transition.cusma.threat") == ("US hazard CUSMA to Threat", "fraction")
    assert ap.parameter_display("events[0].tariff") == ("event 0: tariff (percent)", 100.0)


def test_percentages_and_numbers_keep_their_digits():
    assert [al.percent_text(v) for v in (0.025, 0.035, 0.25, 1 / 3, 0, -0.001, 1.0)] == [
        "2.5%", "3.5%", "25%", "33.33%", "0%", "-0.1%", "100%"]
    texts = [al.number_text(v) for v in (1234567.8, 123.4, 13.2, 3.3, 0.0000123, -4450.0, math.nan)]
    assert texts == ["1,234,568", "123", "13.2", "3.3", "0.0000123", "-4,450", "–"]
    assert not any("e" in t for t in texts)


def test_event_legends_keep_their_precision(work):
    (work / "precise.yaml").write_text(open(SMALL).read() + PRECISE_EVENTS)
    tradeabm("run", str(work / "precise.yaml"), "-o", str(work / "precise.h5"), "-q", "--threads", "2")
    legend = legend_texts(ap.environment(load(work / "precise.h5")).figure)
    assert "E1 US 2024Q3: tariff 2.5% on Steel & aluminum" in legend
    assert "E2 China 2025Q1: tariff 3.5%" in legend


def test_one_colour_blind_safe_palette_with_a_colour_per_destination(events, comparison):
    allowed = {to_hex(c) for c in apal.SERIES} | {to_hex(c) for c in ("0.35", "0.2", "white")}
    for p in ap.run_plots(events):
        if p.figure is None:
            continue
        for ax in p.figure.axes:
            for line in ax.get_lines():
                assert to_hex(line.get_color()) in allowed, (p.name, line.get_label(), line.get_color())
    us, cn = to_hex(apal.BLUE), to_hex(apal.VERMILLION)
    lines = ap.productivity(events).figure.axes[0].get_lines()
    assert [to_hex(line.get_color()) for line in lines] == [us, cn]
    lines = ap.comparison_plots(comparison)[1].figure.axes[0].get_lines()
    colours = {line.get_label(): to_hex(line.get_color()) for line in lines}
    assert colours["US"] == us and colours["China"] == cn


def tariff_lines(ax):
    return [line for line in ax.get_lines() if line.get_linestyle() != ":"]


def test_environment_draws_one_line_per_group_of_sectors_with_the_same_tariff(work, events):
    p = ap.environment(events)
    tariff = events.arrays["tariff"]
    for j, d in enumerate(events.destinations):
        ax = p.figure.axes[len(events.destinations) + j]  # second row: tariffs
        paths = {tuple(tariff[:, i, j]) for i in range(len(events.sectors))}
        assert len(tariff_lines(ax)) == len(paths), d
    # Every sector facing the same tariff: one line, named so, and said in the caption.
    path = copy_file(work, "events.h5", "flat_tariffs.h5")
    with h5py.File(path, "r+") as f:
        data = f["environment/tariff"][()]
        data[:, :, 1] = 0.0
        f["environment/tariff"][...] = data
        # Edited on purpose: its recorded hash would (rightly) refuse it.
        del f["environment/tariff"].attrs["sha256"]
    flat = ap.environment(load(path))
    ax = flat.figure.axes[3]
    assert [line.get_label() for line in tariff_lines(ax)] == ["all sectors"]
    assert "one line for all sectors: China" in flat.caption
    assert ax.get_ylabel() == "ad-valorem tariff (percent)"


def test_size_distribution_is_a_step_function_in_c_dollars(plain):
    p = ap.size_distribution(plain)
    ax = p.figure.axes[0]
    for line in ax.get_lines():
        assert line.get_drawstyle() == "steps-pre"
        assert line.get_ydata()[0] == pytest.approx(100.0)
    assert "C$ million per quarter" in ax.get_xlabel() and "C$" in p.caption


def test_policy_cutoffs_over_regimes_are_categories_not_lines(work, plain):
    path = copy_file(work, "plain.h5", "policy_categories.h5")
    S, D, J = len(plain.sectors), len(plain.destinations), 9
    entry = np.linspace(0.5, 1.5, S * J * D).reshape(S, J * D)
    with h5py.File(path, "r+") as f:
        f.create_dataset("policy/entry_cutoff", data=entry).attrs["units"] = "log productivity"
        f.create_dataset("policy/exit_cutoff", data=entry - 0.3)
    p = ap.policy_cutoffs(load(path))
    shown = [ax for ax in p.figure.axes if ax.get_visible()]
    for ax in shown:
        assert all(line.get_linestyle() == "None" for line in ax.get_lines())  # markers only
        assert ax.collections  # the hysteresis bars
        assert "category" in ax.get_xlabel()
    assert "hysteresis band (exit to entry cut-off)" in legend_texts(p.figure)


def test_comparison_entrants_and_exiters_are_laid_out_sector_by_sector(comparison):
    c = comparison
    p = ap.comparison_entrants_exiters(c)
    axes = p.figure.axes
    changed = [k for k in range(len(c.sectors))
               if np.any(c.arrays["entrants"][:, :, k]) or np.any(c.arrays["exiters"][:, :, k])]
    rows = len(changed) + 1
    assert len(axes) == 2 * rows and all(ax.get_visible() for ax in axes)  # no blank panels
    for r in range(rows):
        left, right = axes[2 * r], axes[2 * r + 1]
        assert left.get_title().endswith(": entrants") and right.get_title().endswith(": exiters")
        assert left.get_title().split(":")[0] == right.get_title().split(":")[0]
        assert left.get_ylim() == right.get_ylim()
    unchanged = [al.sector_label(s) for k, s in enumerate(c.sectors) if k not in changed]
    for name in unchanged:
        assert name in p.caption


def test_money_scale_sets_2024_exports_to_the_data(work, plain):
    scale = au.run_money_scale(plain)
    targets = {f.destination: f.value for f in af.load_facts() if f.measure == "export_value" and f.year == 2024}
    model = plain.arrays["export_value"][:4].sum()  # 2024Q1-2024Q4
    expected = targets["US"] + targets["CN"]
    assert scale.unit == "C$ billion" and scale.period == "quarter"
    assert scale.factor * model == pytest.approx(expected, rel=1e-12)  # one division and one product
    assert f"C${expected:,.1f}bn" in scale.note
    late = au.money_scale([plain.arrays["export_value"][1:]], plain.periods[1:], 4, plain.destinations)
    assert late.unit == "model units" and "do not cover all of 2024" in late.note
    other = au.money_scale([plain.arrays["export_value"]], plain.periods, 4, ["US", "XX"])
    assert other.unit == "model units" and "XX" in other.note
    page = ar.build_page(plain)
    headline = page.items[0].html
    assert "C$ billion" in headline and "percent" in headline
    assert "model money" not in headline and "fraction" not in headline
    page = ar.build_page(plain, au.model_units("--money model"))
    assert "model units" in page.items[0].html and "--money model" in page.units
    from analysis.__main__ import main

    assert main(["report", str(work / "plain.h5"), "-o", str(work / "report_model_units"), "--dpi", "30",
                 "--money", "model"]) == 0
    assert "Money: Money in model units" in (work / "report_model_units" / "report.html").read_text()


def test_facts_file_is_complete_and_checked(tmp_path):
    facts = af.load_facts()
    assert facts and len({f.id for f in facts}) == len(facts)
    for f in facts:
        assert f.source and f.tag in af.TAGS and f.unit
    money = {f.destination: f.value for f in facts if f.measure == "export_value" and f.year == 2024}
    # The destination figures are derived from the total: they add up to it.
    assert money["US"] + money["CN"] + money["ROW"] == pytest.approx(money["all"], abs=0.05)
    assert money["US"] == pytest.approx(0.759 * money["all"], abs=0.05)
    good = ("facts:\n  - {id: a, measure: share, destination: US, sector: all, year: 2024, value: 75.9, "
            "unit: percent, date: '2024', source: s, tag: P}\n")
    path = tmp_path / "facts.yaml"
    for text, message in ((good.replace("tag: P", "tag: Q"), r"facts\[0\] \(a\): tag: found 'Q'"),
                          (good.replace(", tag: P", ""), r"facts\[0\] \(a\): missing key `tag`"),
                          (good.replace("share", "level"), r"facts\[0\] \(a\): measure: found 'level'"),
                          (good + good[7:], r"facts\[1\] \(a\): id: 'a' used twice"),
                          (good.replace("measure: share", "measure: growth"), r"facts\[0\] \(a\): measure growth needs `base_year`"),
                          ("facts: 3\n", r"expected a top-level key `facts` holding a list")):
        path.write_text(text)
        with pytest.raises(AnalysisError, match=re.escape(str(path)) + ": " + message):
            af.load_facts(str(path))
    path.write_text(good)
    assert af.load_facts(str(path))[0].value == 75.9


def test_model_vs_data_shows_the_facts_beside_the_model(plain):
    p = ap.run_model_vs_data(plain)
    share_ax, growth_ax = p.figure.axes[:2]
    facts = {f.id: f for f in af.load_facts()}
    ev = plain.arrays["export_value"].astype(float)
    data = [line for line in share_ax.get_lines() if line.get_marker() == "D"]
    model = [line for line in share_ax.get_lines() if line.get_marker() == "o"]
    # One place for each fact: the 2024 level from the data file, the 2025
    # changes from the validation file (as growth over 2024).
    assert [float(line.get_ydata()[0]) for line in data] == [facts["us_share_2024"].value]
    assert "us_share_2025" not in facts and facts["Exports to the US, 2025"].base_year == 2024
    us_share_2024 = 100 * ev[:4, :, 0].sum() / ev[:4].sum()
    assert float(model[0].get_ydata()[0]) == pytest.approx(us_share_2024, rel=1e-12)
    ticks = [t.get_text() for t in growth_ax.get_xticklabels()]
    assert "Steel exports\n2025 vs 2024" in ticks and not any(t.startswith("Autos") for t in ticks)  # no autos sector
    growth_us = 100 * (ev[4:8, :, 0].sum() / ev[:4, :, 0].sum() - 1)
    first = [line for line in growth_ax.get_lines() if line.get_marker() == "o"][0]
    assert float(first.get_ydata()[0]) == pytest.approx(growth_us, rel=1e-12)
    notes = [t.get_text() for t in growth_ax.texts]
    assert "-5.8% [P/N]" in notes and "-31% [N]" in notes
    assert "data [source tag]" in legend_texts(p.figure) and "Statistics Canada" in p.caption


def test_comparison_model_vs_data_shows_validation_facts_beside_window_effects(comparison):
    p = ap.comparison_plots(comparison)[-1]
    assert p.name == "cmp_model_vs_data"
    legend = legend_texts(p.figure)
    assert legend[:2] == ["model: scenario - base, mean", "data [source tag], bar: its tolerance"]
    assert "model: range (min to max)" in legend  # 2 replicates: their range, as every band of the report
    # The model's point is the window effect of `tradeabm validate`, computed
    # here from the linked run files: exports to the US over 2025Q1-2025Q4,
    # ratio of sums, mean over the replicates (one subtraction and division
    # each: 1e-12 relative).
    facts = [f for f in af.load_validation_facts() if f.outcome == "export_value.US"]
    assert facts and facts[0].first == "2025Q1" and facts[0].last == "2025Q4"
    effects = []
    for b, sc in zip(comparison.base_paths, comparison.scenario_paths):
        with h5py.File(b, "r") as fb, h5py.File(sc, "r") as fs:
            us = [d.decode() for d in fb["dimensions/destinations"][()]].index("US")
            base, scen = (f["series/export_value"][4:8, :, us].sum() for f in (fb, fs))
        effects.append(100 * (scen / base - 1))
    ax = p.figure.axes[1]  # percent panel (the share panel first)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    col = ticks.index("Exports to the US\n2025Q1-2025Q4")
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert float(points[col].get_ydata()[0]) == pytest.approx(np.mean(effects), rel=1e-12)
    assert "-5.8% [P/N]" in [t.get_text() for t in ax.texts]
    # The test scenario is not the validation file's: the caption says whose data they are.
    assert "No fact is of this comparison's scenario" in p.caption and "measures_2025.yaml" in p.caption


def test_comparison_model_vs_data_prefers_facts_of_its_own_scenario(comparison):
    own = os.path.basename(str(comparison.provenance["scenario_parameters"]))
    fact = af.ValidationFact("Exports to China, 2025", "x", own, "export_value.CN", "2025Q1", "2025Q2", -10.0, 2.0,
                             "a test", "E", "percent")
    other = af.ValidationFact("Exports to the US, 2025", "y", "other.yaml", "export_value.US", "2025Q1", "2025Q4",
                              -5.8, 3.0, "a test", "P", "percent")
    p = ap.comparison_model_vs_data(comparison, validation=[other, fact])
    ticks = [t.get_text() for ax in p.figure.axes for t in ax.get_xticklabels()]
    assert ticks == ["Exports to China\n2025Q1-2025Q2"] and "No fact is of" not in p.caption
    unknown = af.ValidationFact("Tops", "z", own, "top1_share", "2025Q1", "2025Q2", 1.0, 1.0, "t", "E", "")
    late = af.ValidationFact("Later", "z", own, "export_value.US", "2031Q1", "2031Q4", 1.0, 1.0, "t", "E", "percent")
    assert ap.comparison_model_vs_data(comparison, validation=[unknown, late]).figure is None


def test_window_effect_follows_the_definitions_of_the_outcomes():
    # [period, sector, destination]: sectors a, gold; destinations US, CN.
    base = np.array([[[10.0, 2.0], [1.0, 4.0]], [[10.0, 2.0], [1.0, 4.0]]])
    scen = np.array([[[8.0, 3.0], [1.0, 6.0]], [[8.0, 3.0], [1.0, 6.0]]])
    args = (["2025Q1", "2025Q2"], ["a", "gold"], ["US", "CN"])

    def effect(outcome, first="2025Q1", last="2025Q2"):
        f = af.ValidationFact("f", "c", "s.yaml", outcome, first, last, 0.0, 1.0, "s", "E", "")
        return af.window_effect(f, base, scen, *args)

    assert effect("export_value.US") == pytest.approx(100 * (18 / 22 - 1), rel=1e-14)
    assert effect("non_us_export_value") == pytest.approx(100 * (18 / 12 - 1), rel=1e-14)
    assert effect("non_us_export_value_except.gold") == pytest.approx(100 * (6 / 4 - 1), rel=1e-14)
    assert effect("export_value_except.gold") == pytest.approx(100 * (22 / 24 - 1), rel=1e-14)
    assert effect("export_value_except.a") == pytest.approx(100 * (14 / 10 - 1), rel=1e-14)
    assert effect("export_share.US.a") == pytest.approx(100 * (16 / 22 - 20 / 24), rel=1e-14)
    assert effect("export_value.CN.gold", "2025Q2", "2025Q2") == pytest.approx(50.0, rel=1e-14)
    for bad in ("top1_share", "export_share", "export_value.EU", "non_us_export_value_except",
                "export_value_except", "export_value_except.US"):
        assert effect(bad) is None, bad
    assert effect("export_value", "2025Q2", "2025Q1") is None and effect("export_value", "2024Q4") is None


def sweep_copy(work, name, change):
    path = copy_file(work / "sweep", "sweep.h5", name)  # beside the runs: links resolve
    with h5py.File(path, "r+") as f:
        change(f)
    return load(path)


def run_values(sw, outcome):
    """Per point, the outcome of each replicate read from its run file (as
    the sweep_path fixture computes it)."""
    out = []
    for point in sw.summary["point"]:
        values = []
        for _, row in sw.design[sw.design["point"] == point].iterrows():
            with h5py.File(sw.run_path(row), "r") as f:
                if outcome == "non_us_share":
                    values.append(float(f["series/non_us_share"][-1]))
                else:
                    values.append(float(f["series/firms_serving"][-1, :, 0].sum()))
        out.append(np.array(values))
    return out


def test_sweep_with_few_replicates_shows_the_replicates(sweep_path):
    sw = load(sweep_path)
    for outcome in ("non_us_share", "firms_serving.US"):
        mean, lo, hi, what, reps = ap.sweep_band(sw, outcome)
        assert what.startswith("replicates (2 per point)")
        truth = run_values(sw, outcome)
        # Two values are mean -/+ sd / sqrt(2): exact up to a few roundings (relative 1e-12 is ample).
        np.testing.assert_allclose(lo, [v.min() for v in truth], rtol=1e-12)
        np.testing.assert_allclose(hi, [v.max() for v in truth], rtol=1e-12)
    rc = ap.response_curves(sw)
    assert not any(isinstance(c, matplotlib.collections.PolyCollection) for ax in rc.figure.axes
                   for c in ax.collections)  # no t bands
    assert "replicates (2 per point): values and range" in legend_texts(rc.figure)


def test_sweep_reads_per_run_outcomes_when_the_index_stores_them(work, sweep_path):
    truth = run_values(load(sweep_path), "non_us_share")
    sw = sweep_copy(work, "sweep_per_run.h5",
                    lambda f: f["design"].create_dataset("non_us_share", data=np.concatenate(truth)))
    for mine, theirs in zip(ap.sweep_replicates(sw, "non_us_share"), truth):
        np.testing.assert_array_equal(mine, theirs)


def test_sweep_t_bands_from_five_replicates_clipped_to_feasible_values(work, sweep_path):
    def five(f):
        for outcome in ("non_us_share", "firms_serving.US"):
            g = f["summary"][outcome]
            g.create_dataset("n", data=np.full(4, 5, dtype=np.int32))
        f["summary/non_us_share/ci_high"][...] = 1.3  # above 100%
        f["summary/firms_serving.US/ci_low"][...] = -50.0  # negative firms

    sw = sweep_copy(work, "sweep_five.h5", five)
    rc = ap.response_curves(sw)
    assert any("95% t interval" in t for t in legend_texts(rc.figure))
    rows = {ax.get_ylabel(): ax for ax in rc.figure.axes}
    for label, low, high in (("Non-US share of export value (percent)", 0, 100), ("Firms serving US (firms)", 0, None)):
        bands = [c for c in rows[label].collections if isinstance(c, matplotlib.collections.PolyCollection)]
        assert bands
        for band in bands:
            y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
            assert y.min() >= low and (high is None or y.max() <= high)

    def three(f):
        for outcome in ("non_us_share", "firms_serving.US"):
            f["summary"][outcome].create_dataset("n", data=np.full(4, 3, dtype=np.int32))

    few = sweep_copy(work, "sweep_three.h5", three)
    assert ap.sweep_band(few, "non_us_share")[3] is None
    assert "No spread across replicates drawn" in ap.response_curves(few).caption


def test_heat_maps_share_one_colour_scale_per_outcome(tmp_path):
    """A 2 x 2 x 3 grid (no run files: money stays in model units)."""
    path = tmp_path / "grid3.h5"
    grid = [(a, b, c) for a in (1.0, 2.0) for b in (0.1, 0.2) for c in (0.0, 0.5, 1.0)]
    with h5py.File(path, "w") as f:
        f.attrs.update({"kind": "sweep", "program": "tradeabm", "format_version": np.int32(1)})
        f["design/point"] = np.repeat(np.arange(len(grid)), 2).astype(np.int32)
        f["design/replicate"] = np.tile([0, 1], len(grid)).astype(np.int32)
        for k, name in enumerate(("destinations.US.market.sunk_cost", "interactions.spillover",
                                  "interactions.crowding")):
            f[f"summary/points/{name}"] = np.array([g[k] for g in grid])
        mean = 100 + np.arange(len(grid), dtype=float) * 10
        f["summary/firms_serving.US/mean"] = mean
        f["summary/firms_serving.US/sd"] = np.full(len(grid), 2.0)
        f["summary/firms_serving.US/n"] = np.full(len(grid), 2, dtype=np.int32)
        f["summary/firms_serving.US"].attrs["units"] = "firms"
    sw = load(path)
    hm = ap.heat_maps(sw)
    images = [ax.images[0] for ax in hm.figure.axes if ax.images]
    facets = sw.summary[sw.parameters[2]].nunique()
    assert facets in (2, 3) and len(images) == facets  # one panel per value of the third parameter
    assert len({im.get_clim() for im in images}) == 1
    low, high = images[0].get_clim()
    half = 2.0 / math.sqrt(2)  # replicate spread of every point
    assert low == pytest.approx(mean.min() - half) and high == pytest.approx(mean.max() + half)
    assert "one scale per outcome" in hm.caption and "shared by its panels" in hm.caption
    assert "model units" in hm.caption


def test_sweep_page_wraps_its_table_and_keeps_the_yaml_line_breaks(work, sweep_path):
    text = "# a sweep\nbase: small.yaml\nreplicates: 2\n"
    sw = sweep_copy(work, "sweep_text.h5", lambda f: f.attrs.__setitem__("sweep_text", text))
    page = ar.build_page(sw)
    out = ar.render_html(page, {p.name: b"" for p in page.plots})
    summary = out[out.index(">Summary by design point</h2>"):]
    assert summary.split("</h2>\n", 1)[1].startswith('<div class="table-wrap"><table>')
    assert f"<pre>{html.escape(text)}</pre>" in out
    assert "US sunk entry cost (model units)" in summary and "Non-US share of export value (percent)" in summary


# A script added to a copy of a report page (the pages themselves hold no
# scripts): after load it writes the page's width, its scroll width, each
# image's decoded size and every element that reaches past the right edge
# (outside scroll containers) into the DOM, which --dump-dom prints.
LAYOUT_PROBE = """<script>
window.addEventListener("load", function () {
  var root = document.documentElement, width = root.clientWidth;
  var images = Array.prototype.map.call(document.images, function (img) {
    var r = img.getBoundingClientRect();
    return {file: img.getAttribute("data-file"), complete: img.complete, naturalWidth: img.naturalWidth,
            naturalHeight: img.naturalHeight, right: r.right};
  });
  var wide = [];
  Array.prototype.forEach.call(document.body.querySelectorAll("*"), function (e) {
    var inside = e.parentElement && e.parentElement.closest(".table-wrap, pre");
    if (!inside && e.getBoundingClientRect().right > width + 0.5) {
      wide.push(e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
    }
  });
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify({clientWidth: width, scrollWidth: root.scrollWidth, images: images,
                                    wide: wide, title: document.title});
  document.body.appendChild(out);
});
</script>"""
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync")


def chromium():
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; runs/setup.sh installs it and CI must run the page test")
        pytest.skip("chromium is not installed (apt-get install chromium): report pages not rendered")
    return path


def page_layout(browser, page, width, profile):
    """Render `page` (report.html) with the probe in headless chromium at
    `width` pixels and return the probe's measurements."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", LAYOUT_PROBE + "</body>"),
                     encoding="utf-8")
    proc = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},1200",
                           "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page did not load in chromium: {proc.stdout[:500]} {proc.stderr[-1000:]}"
    import json

    return json.loads(html.unescape(found.group(1)))


def test_report_pages_render_in_chromium(work, panel, sweep_path, comparison_path, tmp_path):
    browser = chromium()
    pages = {"run": ar.report(panel, work / "browser_run", dpi=60),
             "sweep": ar.report(load(sweep_path), work / "browser_sweep", dpi=60),
             "comparison": ar.report(load(comparison_path), work / "browser_cmp", dpi=60)}
    for kind, (path, page) in pages.items():
        drawn = [p.name + ".png" for p in page.plots if p.figure is not None]
        for width in (1280, 800):
            got = page_layout(browser, pathlib.Path(path), width, tmp_path / f"profile-{kind}-{width}")
            assert got["title"] == page.title
            assert [img["file"] for img in got["images"]] == drawn, kind
            for img in got["images"]:
                assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, (kind, img)
                assert img["right"] <= got["clientWidth"] + 0.5, (kind, width, img)
            assert got["scrollWidth"] <= got["clientWidth"], (kind, width, got["wide"][:10])
            assert got["wide"] == [], (kind, width)
