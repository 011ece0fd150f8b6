"""Tidy export (python3 -m analysis export, tradeabm export): the tables a
Stata or R user reads instead of the HDF5 files. Each check reads the CSVs
back as such a reader would (pandas, with the seed column as text) and
compares with the HDF5 file exactly: the export must lose nothing, so no
tolerance is involved anywhere. Runs are made with the binary from the
small parameter file tests/data/analysis_small.yaml, a sweep of it and a
comparison with tests/data/analysis_scenario.yaml."""

import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from helpers import DATA, SMALL, SOURCE_DIR, environment, listing, one_error, write
from helpers import run as tradeabm

import analysis  # noqa: F401,E402  (helpers puts the source tree on sys.path)
from analysis.export import (GRID_TABLES, parquet_available, period_date,  # noqa: E402
                             stata_names)

PYTHON = "/usr/bin/python3"
SCENARIO = DATA / "analysis_scenario.yaml"
INT64_MAX = 2**63 - 1
# A seed beyond int64 (and beyond a double's 53-bit integers).
BIG_SEED = "18129094820336497254"
STATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")

# Every series kind: spells, experience levels and demand types switched on,
# and two scenario events (one with a quoted, comma-holding note).
RICH = """
demand_types:
  points: 2
  dispersion: 0.5
experience:
  levels: 2
  demand: [1.0, 1.3]
  iceberg: [1.0, 1.0]
  fixed_cost: [1.0, 0.8]
  transition:
    - [0.8, 0.2]
    - [0.0, 1.0]
events:
  - at: 2024Q3
    destination: US
    regime: tariffs
    note: "Section 232 \\"steel\\" duties, 25%"
  - at: 2025Q1
    destination: CN
    sector: agrifood
    tariff: 1.0
"""

SWEEP = """\
base: analysis_small.yaml
seed: 20250301
replicates: 2
fixed:
  run.periods: 6
design:
  grid:
    destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum: [0.1, 0.5]
    destinations.US.market.sunk_cost: [4, 9]
summary:
  outcomes: [non_us_share]
  periods: 3
"""


def export(*args, status=0, env=None):
    """python3 -m analysis export ARGS, from the source tree; the exit
    status must be `status`."""
    proc = subprocess.run([PYTHON, "-m", "analysis", "export", *map(str, args)], cwd=SOURCE_DIR,
                          capture_output=True, text=True, env=env or environment(), timeout=300)
    assert proc.returncode == status, (f"export {args} exited {proc.returncode}, expected {status}\n"
                                       f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def read(path):
    """A table as pandas reads it for a Stata/R-like user: seeds as text,
    doubles parsed exactly (pandas' default parser may be off by one unit
    in the last place; Stata, R and strtod are exact)."""
    return pd.read_csv(path, dtype={"seed": str}, float_precision="round_trip", encoding="utf-8")


def labels(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    text = SMALL.read_text().replace("  burn_in: 20\n", "  burn_in: 20\n  spells: true\n")
    assert "spells: true" in text
    write(d, "rich.yaml", text + RICH)
    tradeabm("run", d / "rich.yaml", "-o", d / "rich.h5", "-q", "--seed", BIG_SEED)
    export(d / "rich.h5", "-o", d / "rich")
    return d


@pytest.fixture(scope="module")
def sweep(work):
    d = work / "sweep"
    d.mkdir()
    (d / "analysis_small.yaml").write_text(SMALL.read_text())
    write(d, "grid.yaml", SWEEP)
    tradeabm("sweep", d / "grid.yaml", "-o", d / "out", "-q", "--jobs", "2", threads=2)
    index = d / "out" / "sweep.h5"
    proc = export(index, "-o", d / "tables")
    return index, d / "tables", proc


@pytest.fixture(scope="module")
def comparison(work):
    d = work / "cmp"
    d.mkdir()
    path = d / "compare.h5"
    tradeabm("compare", SMALL, SCENARIO, "-o", path, "--replicates", "2", "-q")
    export(path, "-o", d / "tables", "--tables", "all")
    return path, d / "tables"


def series_arrays(path, series_table=False):
    """{variable: (array, units)} of every dataset of /series and of
    /environment/tariff, straight from the file; with series_table=True
    only those of at most (period, sector, destination), which the table
    `series` holds."""
    out = {}
    with h5py.File(path, "r") as f:
        S, D = len(f["dimensions/sectors"]), len(f["dimensions/destinations"])
        datasets = list(f["series"].items()) + [("tariff", f["environment/tariff"])]
        for name, ds in datasets:
            if not series_table or ds.shape[1:] in ((), (S,), (S, D)):
                out[name] = (ds[()], labels([ds.attrs["units"]])[0])
    return out


def check_series(table_rows, array, variable, unit):
    """The rows of one variable hold every element of `array` in C order,
    exactly, with the dataset's unit."""
    rows = table_rows[table_rows["variable"] == variable]
    assert len(rows) == array.size, variable
    got = rows["value"].to_numpy(dtype=np.float64).reshape(array.shape)
    assert np.array_equal(got, array.astype(np.float64), equal_nan=True), variable
    assert (rows["unit"] == unit).all() and unit, variable


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label,date", [("2025Q1", "2025-01-01"), ("2025Q4", "2025-10-01"),
                                        ("2024M01", "2024-01-01"), ("2024M12", "2024-12-01"),
                                        ("2030H2", "2030-07-01"), ("2026", "2026-01-01")])
def test_period_date_is_the_first_day_of_the_period(label, date):
    assert period_date(label) == date


@pytest.mark.parametrize("label", ["2025Q5", "2025Q0", "2025M13", "2025H3", "25Q1", "2025q1", ""])
def test_period_date_refuses_what_is_not_a_period_label(label):
    with pytest.raises(ValueError):
        period_date(label)


def test_swept_parameter_columns_are_valid_distinct_stata_names():
    paths = ["destinations.US.market.sunk_cost",
             "destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum",
             "destinations.CN.regimes.tariffs.sector_tariffs.steel_aluminum",
             "run.seed", "sectors.9th.firms"]
    names = stata_names(paths, reserved={"seed"})
    assert names[paths[0]] == "destinations_US_market_sunk_cost"  # 32 characters: kept whole
    assert names[paths[1]] == "sector_tariffs_steel_aluminum"
    assert names[paths[2]] == "param_3"  # not steel_aluminum, which would hide the destination
    assert names[paths[3]] == "run_seed"
    assert names[paths[4]] == "sectors_9th_firms"
    assert stata_names(["seed"], reserved={"seed"}) == {"seed": "param_1"}
    assert stata_names(["x.9th"]) == {"x.9th": "x_9th"}
    assert stata_names(["9th"]) == {"9th": "_9th"}
    assert len(set(names.values())) == len(paths)
    assert all(STATA_NAME.match(n) for n in names.values())


# ---------------------------------------------------------------------------
# A run file
# ---------------------------------------------------------------------------


def test_run_export_holds_every_series_value_exactly(work):
    arrays = series_arrays(work / "rich.h5")
    tables = work / "rich"
    seen = set()
    series = read(tables / "series.csv")
    for variable in series["variable"].unique():
        array, unit = arrays[variable]
        check_series(series, array, variable, unit)
        seen.add(variable)
    for variable in ("firms_by_market_set", "firms_by_productivity_and_set", "firms_by_type_productivity_and_set",
                     "exporters_by_level", "completed_spells"):
        array, unit = arrays[variable]
        check_series(read(tables / f"{variable}.csv"), array, variable, unit)
        seen.add(variable)
    assert seen == set(arrays)  # every series of the file, nothing else


def test_run_export_rows_carry_their_labels(work):
    with h5py.File(work / "rich.h5", "r") as f:
        periods = labels(f["periods/label"][()])
        sectors = labels(f["dimensions/sectors"][()])
        dests = labels(f["dimensions/destinations"][()])
        sets = labels(f["dimensions/market_sets"][()])
        z = f["grid/z"][()]
    T, S, D = len(periods), len(sectors), len(dests)
    series = read(work / "rich" / "series.csv").fillna({"sector": "", "destination": ""})
    ev = series[series["variable"] == "export_value"]
    assert list(ev["period"]) == [p for p in periods for _ in range(S * D)]
    assert list(ev["sector"]) == [s for _ in periods for s in sectors for _ in dests]
    assert list(ev["destination"]) == dests * (T * S)
    deaths = series[series["variable"] == "deaths"]
    assert set(deaths["destination"]) == {""} and list(deaths["sector"]) == sectors * T
    share = series[series["variable"] == "non_us_share"]
    assert set(share["sector"]) == {""} and list(share["period"]) == periods
    grid = read(work / "rich" / "firms_by_type_productivity_and_set.csv")
    n_z = z.shape[1]
    assert sorted(grid["demand_type"].unique()) == [0, 1, 2, 3]  # 2 points ^ 2 destinations
    assert set(grid["market_set"]) == set(sets)
    s_index = grid["sector"].map({s: i for i, s in enumerate(sectors)}).to_numpy()
    assert np.array_equal(grid["log_productivity"].to_numpy(), z[s_index, grid["z_index"].to_numpy()])
    assert grid["z_index"].max() == n_z - 1
    levels = read(work / "rich" / "exporters_by_level.csv")
    assert sorted(levels["level"].unique()) == [1, 2]
    spells = read(work / "rich" / "completed_spells.csv")
    assert sorted(spells["spell_length"].unique()) == list(range(41))


def test_seed_beyond_int64_stays_exact_text(work):
    assert int(BIG_SEED) > INT64_MAX
    for name in ("series", "regimes", "events", "completed_spells"):
        table = read(work / "rich" / f"{name}.csv")
        assert list(table.columns[:2]) == ["run", "seed"], name
        assert set(table["seed"]) == {BIG_SEED}, name
    first = (work / "rich" / "series.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first.startswith(f"rich,{BIG_SEED},")
    meta = read(work / "rich" / "metadata.csv")
    assert meta.loc[meta["key"] == "seed", "value"].tolist() == [BIG_SEED]


def test_dates_parse_and_match_the_period_labels(work):
    series = read(work / "rich" / "series.csv")
    dates = pd.to_datetime(series["date"], format="%Y-%m-%d")
    quarters = dates.dt.year.astype(str) + "Q" + dates.dt.quarter.astype(str)
    assert (quarters == series["period"]).all()
    assert series["date"].iloc[0] == "2024-01-01"


def test_regimes_and_events_tables_follow_the_file(work):
    run = analysis.load(work / "rich.h5")
    regimes = read(work / "rich" / "regimes.csv")
    assert list(regimes["regime"]) == list(run.regimes["regime"])
    assert list(regimes["regime_index"]) == list(run.regimes["regime_index"])
    events = read(work / "rich" / "events.csv").fillna("")
    assert list(events["kind"]) == ["regime", "tariff"]
    assert list(events["date"]) == ["2024-07-01", "2025-01-01"]
    assert events["note"].iloc[0] == 'Section 232 "steel" duties, 25%'
    assert events["value"].iloc[1] == 1.0 and events["unit"].iloc[1] == "fraction"


def test_metadata_holds_the_provenance(work):
    meta = read(work / "rich" / "metadata.csv")
    values = dict(zip(meta["key"], meta["value"]))
    with h5py.File(work / "rich.h5", "r") as f:
        attrs = {k: labels([v])[0] if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items()}
    assert values["file_kind"] == "run"
    for key in ("version", "git_commit", "params_sha256", "digest", "model"):
        assert values[key] == attrs[key], key
    assert list(meta.columns) == ["run", "file", "key", "value"]


def test_csv_is_plain_utf8_with_a_header_and_no_index(work):
    for path in sorted((work / "rich").iterdir()):
        raw = path.read_bytes()
        raw.decode("utf-8")  # UTF-8 or an exception
        assert b"\r\n" not in raw  # lines end with \n
        header = raw.split(b"\n", 1)[0].decode().split(",")
        assert header[0] == "run" and "Unnamed" not in raw.decode()
        assert all(STATA_NAME.match(c) for c in header), (path.name, header)
    series = read(work / "rich" / "series.csv")
    assert series["value"].dtype == np.float64  # dot decimals, no thousands separators


def test_parquet_or_a_clear_message(work, tmp_path):
    if parquet_available():
        export(work / "rich.h5", "-o", tmp_path / "pq", "--format", "parquet")
        table = pd.read_parquet(tmp_path / "pq" / "series.parquet")
        csv = read(work / "rich" / "series.csv")
        assert list(table.columns) == list(csv.columns)
        assert (table["seed"] == BIG_SEED).all()
        assert np.array_equal(table["value"].to_numpy(), csv["value"].to_numpy(), equal_nan=True)
        return
    proc = export(work / "rich.h5", "-o", tmp_path / "pq", "--format", "parquet", status=2)
    line = proc.stderr.strip()
    assert "\n" not in line and "pyarrow" in line and "python3-pyarrow" in line and "--format csv" in line
    assert listing(tmp_path) == []


# ---------------------------------------------------------------------------
# A sweep: every run at every period
# ---------------------------------------------------------------------------


def test_sweep_export_holds_every_run_at_every_period(sweep):
    index, tables, _ = sweep
    series = read(tables / "series.csv")
    with h5py.File(index, "r") as f:
        files = labels(f["design/file"][()])
        seeds = [str(int(s)) for s in f["design/seed"][()]]
        tariff = f["design/values/destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum"][()]
        sunk = f["design/values/destinations.US.market.sunk_cost"][()]
    assert len(files) == 8  # 2 x 2 points, 2 replicates
    for i, file in enumerate(files):
        run_id = Path(file).stem
        rows = series[series["run"] == run_id]
        assert set(rows["seed"]) == {seeds[i]}
        assert set(rows["sector_tariffs_steel_aluminum"]) == {tariff[i]}
        assert set(rows["destinations_US_market_sunk_cost"]) == {sunk[i]}
        arrays = series_arrays(index.parent / file, series_table=True)
        assert set(rows["variable"]) == set(arrays)
        for variable, (array, unit) in arrays.items():
            check_series(rows, array, variable, unit)
    assert list(series.columns[:6]) == ["run", "seed", "point", "replicate", "destinations_US_market_sunk_cost",
                                        "sector_tariffs_steel_aluminum"]


def test_sweep_design_summary_and_metadata(sweep):
    index, tables, proc = sweep
    design = read(tables / "design.csv")
    summary = read(tables / "summary.csv")
    meta = read(tables / "metadata.csv").fillna({"run": ""})
    with h5py.File(index, "r") as f:
        assert list(design["seed"]) == [str(int(s)) for s in f["design/seed"][()]]
        assert list(design["digest"]) == labels(f["design/digest"][()])
        for outcome in ("non_us_share",):
            rows = summary[summary["outcome"] == outcome]
            for stat in ("mean", "sd", "ci_low", "ci_high", "n"):
                assert np.array_equal(rows[stat].to_numpy(), f[f"summary/{outcome}/{stat}"][()], equal_nan=True)
            assert rows["unit"].notna().all()
        sweep_seed = str(int(f.attrs["seed"]))
    index_rows = meta[meta["run"] == ""]
    values = dict(zip(index_rows["key"], index_rows["value"]))
    assert values["file_kind"] == "sweep" and values["seed"] == sweep_seed
    assert values["column sector_tariffs_steel_aluminum"] == \
        "destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum"
    assert set(meta.loc[meta["key"] == "params_sha256", "run"]) == set(design["run"])
    # Many runs: the grid distributions are left out unless named, and the user is told.
    assert not any((tables / f"{t}.csv").exists() for t in GRID_TABLES)
    assert "--tables" in proc.stderr and GRID_TABLES[0] in proc.stderr


def test_sweep_grid_tables_when_named(sweep, tmp_path):
    index, _, _ = sweep
    export(index, "-o", tmp_path / "t", "--tables", "series,firms_by_productivity_and_set")
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == \
        ["firms_by_productivity_and_set.csv", "metadata.csv", "series.csv"]
    grid = read(tmp_path / "t" / "firms_by_productivity_and_set.csv")
    with h5py.File(index.parent / "runs" / "p0002-r01.h5", "r") as f:
        array = f["series/firms_by_productivity_and_set"][()]
        unit = labels([f["series/firms_by_productivity_and_set"].attrs["units"]])[0]
    check_series(grid[grid["run"] == "p0002-r01"], array, "firms_by_productivity_and_set", unit)


def test_sweep_with_a_damaged_run_writes_nothing(sweep, tmp_path):
    index, _, _ = sweep
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(index.parent), str(copy)], check=True)
    damaged = copy / "runs" / "p0001-r00.h5"
    damaged.write_bytes(damaged.read_bytes()[:2048])
    before = listing(tmp_path)
    proc = export(copy / "sweep.h5", "-o", tmp_path / "tables", "-q", status=2)
    assert "p0001-r00.h5" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert listing(tmp_path) == before


# ---------------------------------------------------------------------------
# A comparison
# ---------------------------------------------------------------------------


def test_comparison_effects_and_differences_are_exact(comparison):
    path, tables = comparison
    effects = read(tables / "effects.csv")
    by_rep = read(tables / "effects_by_replicate.csv")
    diffs = read(tables / "differences.csv")
    with h5py.File(path, "r") as f:
        stored = f["effects"][()]
        for field in ("mean", "ci_low", "ci_high"):
            assert np.array_equal(effects[field].to_numpy(), stored[field], equal_nan=True)
        assert list(effects["measure"]) == labels(stored["measure"])
        assert list(effects["sector"]) == labels(stored["sector"])
        assert (effects["window_start"] == f.attrs["effect_window_start"]).all()
        assert (effects["window_start_date"] == "2025-01-01").all()
        ebr = f["effects_by_replicate"][()]
        assert np.array_equal(by_rep["value"].to_numpy().reshape(ebr.shape), ebr)
        seeds = [str(int(s)) for s in f.attrs["seeds"]]
        for name, ds in f["difference"].items():
            check_series(diffs.drop(columns="replicate"), ds[()], name, labels([ds.attrs["units"]])[0])
    assert list(by_rep["seed"].unique()) == seeds and list(diffs["seed"].unique()) == seeds
    units = analysis.load(path).effects["units"]
    assert list(effects["unit"]) == list(units) and all(units)
    assert dict(zip(by_rep["measure"], by_rep["unit"])) == dict(zip(effects["measure"], effects["unit"]))
    # The mean over replicates of each measure is the /effects mean, which
    # pins the order of /effects_by_replicate's axes. Two replicates: C's
    # mean and numpy's differ by the rounding of one addition and one
    # division, a few units in the last place (rel 1e-12), and by at most
    # that of the largest replicate value where the mean cancels to ~0
    # (abs 1e-9: values are below 1e4).
    for _, row in effects.iterrows():
        reps = by_rep[(by_rep["sector"] == row["sector"]) & (by_rep["measure"] == row["measure"])]
        assert reps["value"].mean() == pytest.approx(row["mean"], rel=1e-12, abs=1e-9)


def test_comparison_exports_the_series_of_every_linked_run(comparison):
    path, tables = comparison
    series = read(tables / "series.csv")
    assert list(series.columns[:4]) == ["run", "seed", "arm", "replicate"]
    assert sorted(series["run"].unique()) == ["base-r01", "base-r02", "scenario-r01", "scenario-r02"]
    for run_id in series["run"].unique():
        arm, rep = run_id.split("-r")
        rows = series[series["run"] == run_id]
        assert set(rows["arm"]) == {arm} and set(rows["replicate"]) == {int(rep)}
        arrays = series_arrays(path.parent / "compare-runs" / f"{run_id}.h5", series_table=True)
        assert set(rows["variable"]) == set(arrays)
        for variable, (array, unit) in arrays.items():
            check_series(rows, array, variable, unit)
    assert all((tables / f"{t}.csv").exists() for t in GRID_TABLES[:1])  # --tables all


# ---------------------------------------------------------------------------
# tradeabm export and bad input
# ---------------------------------------------------------------------------


def test_tradeabm_export_writes_the_same_tables(work, tmp_path):
    tradeabm("export", work / "rich.h5", "-o", tmp_path / "t", "-q")
    for path in (work / "rich").iterdir():
        assert (tmp_path / "t" / path.name).read_bytes() == path.read_bytes(), path.name


def test_tradeabm_lists_export_and_hands_it_the_options():
    assert "export FILE.h5 -o DIR" in tradeabm("--help").stdout
    text = tradeabm("export", "--help").stdout
    assert text.startswith("usage: tradeabm export") and "--format {csv,parquet}" in text
    assert "pyarrow" in text


def test_existing_tables_are_replaced_only_with_force(work, tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    (out / "series.csv").write_text("old\n")
    (out / "mine.txt").write_text("keep\n")
    proc = tradeabm("export", work / "rich.h5", "-o", out, status=2)
    assert "series.csv" in one_error(proc) and "--force" in one_error(proc)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt", "series.csv"]
    assert (out / "series.csv").read_text() == "old\n"
    tradeabm("export", work / "rich.h5", "-o", out, "--force", "-q")
    assert (out / "series.csv").read_bytes() == (work / "rich" / "series.csv").read_bytes()
    assert (out / "mine.txt").read_text() == "keep\n" and not list(out.glob(".*"))


@pytest.mark.parametrize("case", ["missing file", "text file", "hdf5 not from tradeabm", "output is a file",
                                  "output under a file", "output parent missing", "unknown table"])
def test_bad_input_is_one_clear_error_and_nothing_written(work, tmp_path, case):
    folder = tmp_path / "case"
    folder.mkdir()
    source, out, extra, expect = work / "rich.h5", folder / "tables", [], None
    if case == "missing file":
        source, expect = folder / "nothere.h5", "no such file"
    elif case == "text file":
        source = write(folder, "notes.h5", "not an HDF5 file\n")
        expect = "not a readable HDF5 file"
    elif case == "hdf5 not from tradeabm":
        source = folder / "other.h5"
        with h5py.File(source, "w") as f:
            f["x"] = np.arange(3)
        expect = "not a tradeabm"
    elif case == "output is a file":
        out = write(folder, "taken", "x")
        expect = "not a folder"
    elif case == "output under a file":
        out = write(folder, "plain", "x") / "tables"
        expect = "not a folder"
    elif case == "output parent missing":
        out, expect = folder / "no" / "such" / "tables", "does not exist"
    elif case == "unknown table":
        extra, expect = ["--tables", "series,sales"], "no table sales"
    before = listing(folder)
    line = one_error(tradeabm("export", source, "-o", out, *extra, status=2))
    assert expect in line and (str(source) in line or str(out) in line), line
    assert listing(folder) == before
    # The same through python3 -m analysis export.
    proc = export(source, "-o", out, *extra, status=2)
    assert proc.stderr.strip().splitlines() == [line.replace("tradeabm: error: ", "error: ", 1)]
    assert listing(folder) == before
