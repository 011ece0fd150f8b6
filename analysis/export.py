"""Tidy (long) tables of tradeabm output, for Stata, R and spreadsheets.

`export(path, folder)` writes a run file, a sweep index (every run at every
period) or a comparison file as long tables, one file per table: CSV always
(UTF-8, a header, no index column, dot decimals, every double written with
the shortest text that reads back as the same double), or Parquet where
pyarrow can be imported. The tables and their columns are documented in
docs/output.md, "Using results in Stata or R".

Three rules make the tables safe for readers other than this package:
- a seed is text (decimal digits) and is always the second column of a
  table that has one: seeds reach 2^64 - 1, which neither Stata's nor R's
  numbers (nor int64) hold exactly;
- every column name is a valid Stata name (letters, digits, underscores,
  at most 32 characters); swept parameters get such a name derived from
  their dotted path, and the metadata table maps it back;
- every value that has a unit has a `unit` column beside it.

Nothing is written unless the whole export succeeds: tables are written
under temporary names and renamed at the end.
"""

import os
import re
import shutil
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .load import AnalysisError, Comparison, Run, Sweep, _plain, load

FORMATS = ("csv", "parquet")

# ---------------------------------------------------------------------------
# Periods as dates
# ---------------------------------------------------------------------------

_LABEL = re.compile(r"^(\d{4})(?:([QMH])(\d{1,2}))?$")
_FIRST_MONTH = {"Q": (4, 3), "M": (12, 1), "H": (2, 6)}  # letter: (periods a year, months a period)


def period_date(label):
    """The first day of a period as an ISO date: 2025Q1 -> 2025-01-01,
    2025Q3 -> 2025-07-01, 2025M11 -> 2025-11-01, 2025H2 -> 2025-07-01,
    2025 -> 2025-01-01 (labels of src/params/params.c tm_period_label).
    Raises ValueError for any other text."""
    m = _LABEL.match(str(label))
    if not m:
        raise ValueError(f"period label {label!r} is not YYYY, YYYYHn, YYYYQn or YYYYMnn")
    year, letter, sub = int(m.group(1)), m.group(2), m.group(3)
    month = 1
    if letter:
        per_year, months = _FIRST_MONTH[letter]
        k = int(sub)
        if not 1 <= k <= per_year:
            raise ValueError(f"period label {label!r}: {letter}{sub} is not 1..{per_year}")
        month = 1 + (k - 1) * months
    return f"{year:04d}-{month:02d}-01"


def _dates(path, labels):
    """period_date of each label; a bad label is an AnalysisError naming the file."""
    try:
        return [period_date(p) for p in labels]
    except ValueError as exc:
        raise AnalysisError(path, str(exc)) from None


# ---------------------------------------------------------------------------
# Column names and types
# ---------------------------------------------------------------------------

STATA_NAME_LENGTH = 32
_STATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def stata_names(paths, reserved=()):
    """{dotted parameter path: column name} with names Stata accepts: the
    longest tail of the path's parts that fits in 32 characters, parts
    joined by underscores (characters other than letters, digits and
    underscores become underscores). destinations.US.market.sunk_cost keeps
    every part; destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum
    becomes sector_tariffs_steel_aluminum. A name taken by an earlier path
    or by `reserved` falls back to param_<k> (k = the path's position, from
    1) rather than to a shorter tail that would name something else."""
    taken = set(reserved)
    out = {}
    for k, path in enumerate(paths, start=1):
        parts = [re.sub(r"[^A-Za-z0-9_]", "_", p) for p in str(path).split(".") if p]
        tails = ("_".join(parts[first:]) for first in range(len(parts)))
        name = next((t for t in tails if len(t) <= STATA_NAME_LENGTH), "")
        if name[:1].isdigit():
            name = "_" + name
        if not _STATA_NAME.match(name) or name in taken:
            name = f"param_{k}"
            while name in taken:
                name += "_"
        taken.add(name)
        out[path] = name
    return out


# Column types, for Parquet's schema (CSV is text either way): "text",
# "int", "float" or "date" (a YYYY-MM-DD text in CSV, a date in Parquet).
# Swept parameter columns are floats; metadata values are text.
_INT_COLUMNS = {"point", "replicate", "demand_type", "z_index", "level", "spell_length", "regime_index",
                "replicates", "n", "summary_periods"}
_FLOAT_COLUMNS = {"value", "log_productivity", "mean", "sd", "ci_low", "ci_high", "wall_seconds"}
_DATE_COLUMNS = {"date", "window_start_date"}


def _column_type(table, column, parameter_columns):
    if column in _DATE_COLUMNS:
        return "date"
    if table == "metadata":
        return "text"
    if column in parameter_columns or column in _FLOAT_COLUMNS:
        return "float"
    if column in _INT_COLUMNS:
        return "int"
    return "text"


# Axes of each series after the period axis, for files without HDF5
# dimension scales (docs/output.md, /series). A dataset not listed here is
# exported when its shape fits exactly one of the layouts of _GUESSES.
SERIES_AXES = {
    "firms_serving": ("sector", "destination"),
    "entrants": ("sector", "destination"),
    "exiters": ("sector", "destination"),
    "export_value": ("sector", "destination"),
    "tariff_paid": ("sector", "destination"),
    "mean_log_productivity": ("sector", "destination"),
    "top10_share": ("sector", "destination"),
    "entrant_export_value": ("sector", "destination"),
    "deaths": ("sector",),
    "non_us_share": (),
    "tariff": ("sector", "destination"),
    "firms_by_market_set": ("sector", "market_set"),
    "firms_by_productivity_and_set": ("sector", "z", "market_set"),
    "firms_by_type_productivity_and_set": ("sector", "type_z", "market_set"),
    "exporters_by_level": ("sector", "destination", "level"),
    "completed_spells": ("sector", "destination", "spell_length"),
}
_GUESSES = ((), ("sector",), ("destination",), ("sector", "destination"), ("sector", "market_set"))

# Series whose axes are at most (period, sector, destination) share the
# table `series`; any other series is a table of its own, named after it.
SERIES_TABLE = "series"
_SERIES_TABLE_AXES = ("sector", "destination")

# Units of event values by event kind (docs/output.md, /events).
_EVENT_UNITS = {"tariff": "fraction", "escalation": "factor", "sunk_cost": "factor"}


class ExportError(AnalysisError):
    """An export that cannot be made. `status` is the exit status of the
    command: 2 for bad input (file, options, output folder), 1 for a
    failure while writing."""

    def __init__(self, path, problem, status=2):
        super().__init__(path, problem)
        self.status = status


# ---------------------------------------------------------------------------
# One run file as tables
# ---------------------------------------------------------------------------


def _fits(run, axes, lengths):
    """Whether axes (after the period) can have these lengths in `run`."""
    if len(axes) != len(lengths):
        return False
    n_z = run.z_grid.shape[1]
    known = {"sector": len(run.sectors), "destination": len(run.destinations), "market_set": len(run.market_sets),
             "z": n_z}
    for axis, n in zip(axes, lengths):
        if axis in known and n != known[axis]:
            return False
        if axis == "type_z" and n % n_z:
            return False
    return True


def _series_axes(run, name, shape):
    """The axes after the period axis of dataset `name` of `shape`, or None
    if they cannot be told."""
    if len(shape) == 0 or shape[0] != len(run.periods):
        return None
    rest = tuple(shape[1:])
    axes = SERIES_AXES.get(name)
    if axes is not None:
        return axes if _fits(run, axes, rest) else None
    fits = [g for g in _GUESSES if _fits(run, g, rest)]
    return fits[0] if len(fits) == 1 else None


def _series_datasets(run, f):
    """(variable, dataset, axes) of every series of a run file in the order
    of docs/output.md, then any others by name; and notes for datasets left
    out."""
    found, notes = {}, []
    for group in ("series", "environment"):
        g = f.get(group)
        if not isinstance(g, h5py.Group):
            continue
        for name, ds in g.items():
            if not isinstance(ds, h5py.Dataset) or (group, name) == ("environment", "regime"):
                continue  # the regime in force is the table `regimes`
            axes = _series_axes(run, name, ds.shape)
            if axes is None:
                notes.append(f"/{group}/{name} (shape {ds.shape}) left out: its axes are not known")
                continue
            found[name] = (ds, axes)
    order = [n for n in SERIES_AXES if n in found] + sorted(n for n in found if n not in SERIES_AXES)
    return [(n, found[n][0], found[n][1]) for n in order], notes


def _table_of(variable, axes):
    return SERIES_TABLE if set(axes) <= set(_SERIES_TABLE_AXES) else variable


def _long_frame(run, dates, variable, array, axes, unit):
    """The long rows of one series: one per element of `array` in C order,
    whose first axis is the period and the others `axes`. Columns: date and
    period, then per axis its label (sector, destination, market_set), its
    grid point (z_index and log_productivity, after demand_type for
    type_z), level (1..K) or spell_length; then variable, value, unit."""
    all_axes = ("period",) + tuple(axes)
    index = np.unravel_index(np.arange(array.size), array.shape)
    at = dict(zip(all_axes, index))
    cols = {}
    names = {"sector": run.sectors, "destination": run.destinations, "market_set": run.market_sets}
    n_z = run.z_grid.shape[1]
    for axis, i in at.items():
        if axis == "period":
            cols["date"] = np.asarray(dates, dtype=object)[i]
            cols["period"] = np.asarray(run.periods, dtype=object)[i]
        elif axis in names:
            cols[axis] = np.asarray(names[axis], dtype=object)[i]
        elif axis in ("z", "type_z"):
            z = i % n_z
            if axis == "type_z":
                cols["demand_type"] = i // n_z
            cols["z_index"] = z
            cols["log_productivity"] = run.z_grid[at["sector"], z]
        elif axis == "level":
            cols["level"] = i + 1  # index k holds experience level k + 1
        elif axis == "spell_length":
            cols["spell_length"] = i
    if SERIES_TABLE == _table_of(variable, axes):
        for axis in _SERIES_TABLE_AXES:
            cols.setdefault(axis, None)
        cols = {c: cols[c] for c in ("date", "period") + _SERIES_TABLE_AXES}
    cols["variable"] = variable
    values = array.reshape(-1)
    cols["value"] = values if values.dtype.kind in "iu" else values.astype(np.float64)
    cols["unit"] = unit
    return cols


def _frame(lead, cols):
    """A DataFrame of `lead` columns (one value each, repeated) followed by
    `cols` (arrays of one length, or single values)."""
    n = next((len(v) for v in cols.values() if isinstance(v, np.ndarray)), None)
    if n is None:
        n = next((len(v) for v in cols.values() if isinstance(v, (list, tuple))), 0)
    data = {}
    for name, value in list(lead.items()) + list(cols.items()):
        data[name] = value if isinstance(value, (np.ndarray, list)) else [value] * n
    return pd.DataFrame(data)


def run_tables(run, lead, wanted=None):
    """Yield (table, DataFrame) for one run (a loaded `Run`): the table
    `series` and one table per series with further axes (every series,
    every period), `regimes` and `events`. `lead` holds the leading
    columns (run, seed, ...) and their values; `wanted` (a set of table
    names, None: all) selects tables. Notes on left-out datasets are
    yielded as ("note", text)."""
    dates = _dates(run.path, run.periods)
    with h5py.File(run.path, "r") as f:
        datasets, notes = _series_datasets(run, f)
        for note in notes:
            yield "note", f"{run.path}: {note}"
        for variable, ds, axes in datasets:
            table = _table_of(variable, axes)
            if wanted is not None and table not in wanted:
                continue
            unit = _plain(ds.attrs.get("units", ""))
            yield table, _frame(lead, _long_frame(run, dates, variable, ds[()], axes, unit))
    if wanted is None or "regimes" in wanted:
        yield "regimes", _frame(lead, _dated(run.path, run.regimes, "period",
                                             ("destination", "regime_index", "regime")))
    if wanted is None or "events" in wanted:
        cols = _dated(run.path, run.events, "label", ("kind", "destination", "sector", "regime", "value"))
        cols["value"] = cols["value"].astype(np.float64)
        cols["unit"] = np.asarray([_EVENT_UNITS.get(k, "") for k in run.events["kind"]], dtype=object)
        cols["note"] = run.events["note"].to_numpy(dtype=object)
        yield "events", _frame(lead, cols)


def _dated(path, frame, label, columns):
    """Columns date and period from the period labels in frame[label], then
    `columns` of `frame`."""
    cols = {"date": np.asarray(_dates(path, frame[label]), dtype=object),
            "period": frame[label].to_numpy(dtype=object)}
    cols.update({c: frame[c].to_numpy() for c in columns})
    return cols


def run_table_names(run):
    """The tables `run_tables` writes for a run, in order."""
    with h5py.File(run.path, "r") as f:
        datasets, _ = _series_datasets(run, f)
    names = []
    for variable, _, axes in datasets:
        table = _table_of(variable, axes)
        if table not in names:
            names.append(table)
    return names + ["regimes", "events"]


# ---------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------


def _attribute_text(value):
    """A root attribute as text: integers (seeds included) exactly,
    doubles with the shortest text that reads back, lists space-separated."""
    if isinstance(value, (list, tuple)):
        return " ".join(_attribute_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _metadata(run_id, file, kind, attributes, extra=()):
    """Rows (run, file, key, value) of one file's provenance: its kind, its
    root attributes by name, then `extra` (key, value) pairs."""
    rows = [("file_kind", kind)]
    rows += [(k, _attribute_text(v)) for k, v in sorted(attributes.items())]
    rows += list(extra)
    return pd.DataFrame({"run": run_id, "file": str(file), "key": [k for k, _ in rows],
                         "value": [v for _, v in rows]})


# ---------------------------------------------------------------------------
# The three kinds of file
# ---------------------------------------------------------------------------


def _seed_text(value):
    """A seed (a uint64 number or its decimal text) as decimal text."""
    return str(int(value)) if not isinstance(value, str) else value.strip()


def _run_export(run, wanted):
    lead = {"run": Path(run.path).stem, "seed": _seed_text(run.provenance.get("seed", ""))}
    yield from run_tables(run, lead, wanted)
    yield "metadata", _metadata(lead["run"], run.path, "run", run.provenance)


def _sweep_export(sweep, wanted, columns):
    """Tables of a sweep index: `design`, `summary` and the run tables of
    every complete run, each row led by run, seed, point, replicate and the
    swept values (columns named by `columns`)."""
    design = sweep.design
    params = sweep.parameters

    def swept(row):
        return {columns[p]: float(row[p]) for p in params}

    if wanted is None or "design" in wanted:
        cols = {"run": [Path(str(f)).stem for f in design["file"]],
                "seed": [_seed_text(s) for s in design["seed"]],
                "point": design["point"].to_numpy(dtype=np.int64),
                "replicate": design["replicate"].to_numpy(dtype=np.int64)}
        cols.update({columns[p]: design[p].to_numpy(dtype=np.float64) for p in params})
        for extra in ("status", "digest", "wall_seconds", "file", "included"):
            if extra in design:
                cols[extra] = design[extra].to_numpy()
        # Share of the summary window in each regime: regime_share_US_tariffs.
        for c in design.columns:
            if c.startswith("regime_share."):
                cols[c.replace(".", "_")[:32]] = design[c].to_numpy(dtype=np.float64)
        yield "design", pd.DataFrame(cols)
    status = design["status"] if "status" in design else pd.Series("complete", index=design.index)
    if (wanted is None or "summary" in wanted) and sweep.outcomes:
        s = sweep.summary
        periods = sweep.provenance.get("summary_periods")
        # Replicates behind each point's summary, for indexes without /summary/<outcome>/n.
        complete = design[status == "complete"].groupby("point").size()
        for outcome in sweep.outcomes:
            cols = {"point": s["point"].to_numpy(dtype=np.int64)}
            cols.update({columns[p]: s[p].to_numpy(dtype=np.float64) for p in params if p in s})
            cols["outcome"] = outcome
            for stat in Sweep.STATS:
                key = f"{outcome}_{stat}"
                cols[stat] = s[key].to_numpy(dtype=np.float64) if key in s else np.full(len(s), np.nan)
            key = f"{outcome}_n"
            cols["n"] = (s[key] if key in s else s["point"].map(complete).fillna(0)).to_numpy(dtype=np.int64)
            cols["unit"] = sweep.units.get(outcome, "")
            if periods is not None:
                cols["summary_periods"] = int(periods)
            yield "summary", _frame({}, cols)
    skipped, done, total = [], 0, int((status == "complete").sum())
    for i, row in design.iterrows():
        lead = {"run": Path(str(row["file"])).stem, "seed": _seed_text(row["seed"]),
                "point": int(row["point"]), "replicate": int(row["replicate"])}
        lead.update(swept(row))
        if status[i] != "complete":
            skipped.append(f"{lead['run']} ({status[i]})")
            continue
        done += 1
        yield "progress", (done, total, lead["run"])
        run = Run(sweep.run_path(row))
        yield from run_tables(run, lead, wanted)
        yield "metadata", _metadata(lead["run"], Path(str(row["file"])), "run", run.provenance)
    if skipped:
        yield "note", (f"{len(skipped)} of {len(design)} runs not complete, left out: "
                       f"{', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''}")
    extra = [(f"column {columns[p]}", p) for p in params]
    yield "metadata", _metadata("", Path(sweep.path).name, "sweep", sweep.provenance, extra)


def _comparison_export(cmp, wanted):
    """Tables of a comparison: `effects` (means with 95% intervals),
    `effects_by_replicate`, `differences` (scenario minus base, per
    replicate and period) and the run tables of every linked run, led by
    run (base-r01, ...), seed, arm and replicate."""
    seeds = [_seed_text(s) for s in cmp.seeds]
    seed_of = {r: seeds[r - 1] if r - 1 < len(seeds) else "" for r in range(1, cmp.replicates + 1)}
    start = str(cmp.effect_window_start)
    if wanted is None or "effects" in wanted:
        e = cmp.effects
        yield "effects", pd.DataFrame({
            "sector": e["sector"].to_numpy(dtype=object),
            "measure": e["measure"].to_numpy(dtype=object),
            "mean": e["mean"].to_numpy(dtype=np.float64),
            "ci_low": e["ci_low"].to_numpy(dtype=np.float64),
            "ci_high": e["ci_high"].to_numpy(dtype=np.float64),
            "replicates": e["replicates"].to_numpy(dtype=np.int64),
            "unit": e["units"].to_numpy(dtype=object),
            "window_start_date": _dates(cmp.path, [start])[0],
            "window_start": start,
        })
    if (wanted is None or "effects_by_replicate" in wanted) and cmp.effects_by_replicate is not None:
        yield "effects_by_replicate", _effects_by_replicate(cmp, seed_of, cmp.effects_by_replicate)
    by_period = getattr(cmp, "effects_by_period", None)
    if (wanted is None or "effects_by_period" in wanted) and by_period is not None:
        yield "effects_by_period", _effects_by_replicate(cmp, seed_of, by_period)
    if wanted is None or "differences" in wanted:
        dates = _dates(cmp.path, cmp.periods)
        R, T, S, D = cmp.arrays["export_value"].shape
        for variable, array in cmp.arrays.items():
            index = np.unravel_index(np.arange(array.size), array.shape)
            yield "differences", pd.DataFrame({
                "replicate": index[0] + 1,
                "seed": np.asarray([seed_of[r] for r in range(1, R + 1)], dtype=object)[index[0]],
                "date": np.asarray(dates, dtype=object)[index[1]],
                "period": np.asarray(cmp.periods, dtype=object)[index[1]],
                "sector": np.asarray(cmp.sectors, dtype=object)[index[2]],
                "destination": np.asarray(cmp.destinations, dtype=object)[index[3]],
                "variable": variable,
                "value": array.reshape(-1).astype(np.float64),
                "unit": cmp.units.get(variable, ""),
            })
    linked = [(r, arm, paths[r - 1]) for r in range(1, cmp.replicates + 1)
              for arm, paths in (("base", cmp.base_paths), ("scenario", cmp.scenario_paths))]
    missing = [path for _, _, path in linked if not os.path.exists(path)]
    if missing:
        yield "note", (f"{len(missing)} of {len(linked)} linked run files are missing (first: {missing[0]}); "
                       f"their tables are left out")
    done, total = 0, len(linked) - len(missing)
    for r, arm, path in linked:
        if os.path.exists(path):
            done += 1
            yield "progress", (done, total, f"{arm}-r{r:02d}")
            run = Run(path)
            lead = {"run": f"{arm}-r{r:02d}", "seed": seed_of[r], "arm": arm, "replicate": r}
            yield from run_tables(run, lead, wanted)
            yield "metadata", _metadata(lead["run"], os.path.relpath(path, os.path.dirname(os.path.abspath(cmp.path))),
                                        "run", run.provenance)
    yield "metadata", _metadata("", Path(cmp.path).name, "comparison", cmp.provenance)


def _effects_by_replicate(cmp, seed_of, values):
    """/effects_by_replicate [measure, sector + all, replicate] or
    /effects_by_period [..., replicate, period] as long rows; measures in
    the order of their first row in /effects."""
    measures = list(dict.fromkeys(cmp.effects["measure"]))
    sectors = list(cmp.sectors) + ["all"]
    expected = (len(measures), len(sectors), cmp.replicates) + ((len(cmp.periods),) if values.ndim == 4 else ())
    if values.shape != expected:
        raise AnalysisError(cmp.path, f"effects by replicate have shape {values.shape}; expected {expected} "
                                      f"(measure, sector + all, replicate{', period' if values.ndim == 4 else ''})")
    units = dict(zip(cmp.effects["measure"], cmp.effects["units"]))
    index = np.unravel_index(np.arange(values.size), values.shape)
    replicate = index[2] + 1
    measure = np.asarray(measures, dtype=object)[index[0]]
    cols = {"replicate": replicate, "seed": np.asarray([seed_of[r] for r in replicate], dtype=object)}
    if values.ndim == 4:
        cols["date"] = np.asarray(_dates(cmp.path, cmp.periods), dtype=object)[index[3]]
        cols["period"] = np.asarray(cmp.periods, dtype=object)[index[3]]
    cols.update({
        "sector": np.asarray(sectors, dtype=object)[index[1]],
        "measure": measure,
        "value": values.reshape(-1).astype(np.float64),
        "unit": np.asarray([units[m] for m in measure], dtype=object),
    })
    return pd.DataFrame(cols)


def _first_run(obj):
    """A loaded run of a sweep or comparison whose tables show which run
    tables an export will have (None if there is none)."""
    if isinstance(obj, Run):
        return obj
    if isinstance(obj, Sweep):
        for _, row in obj.design.iterrows():
            if row.get("status", "complete") == "complete":
                return Run(obj.run_path(row))
        return None
    for path in obj.base_paths:
        if os.path.exists(path):
            return Run(path)
    return None


# Firm distributions over the productivity grid: most of a run's rows
# (220,416 of 251,244 for the baseline run, 24 of 27 MiB). An export of a
# sweep or a comparison, which holds many runs, writes them only when
# they are named (--tables).
GRID_TABLES = ("firms_by_productivity_and_set", "firms_by_type_productivity_and_set")


def table_names(obj):
    """Every table an export of `obj` (a Run, Sweep or Comparison) can write."""
    first = _first_run(obj)
    runs = run_table_names(first) if first is not None else []
    if isinstance(obj, Sweep):
        return ["design", "summary"] + runs + ["metadata"]
    if isinstance(obj, Comparison):
        by_period = ["effects_by_period"] if getattr(obj, "effects_by_period", None) is not None else []
        return ["effects", "effects_by_replicate"] + by_period + ["differences"] + runs + ["metadata"]
    return runs + ["metadata"]


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def parquet_available():
    """Whether pyarrow (and so Parquet output) can be imported."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


PARQUET_MISSING = ("--format parquet needs the Python package pyarrow, which cannot be imported here "
                   "(Debian 12 has no python3-pyarrow package); use --format csv, or a Python that has "
                   "pyarrow")


class _TableFile:
    """One table being written under a temporary name. Chunks must have the
    same columns as the first."""

    def __init__(self, folder, name, fmt, parameter_columns):
        self.name, self.fmt = name, fmt
        self.final = Path(folder) / f"{name}.{fmt}"
        self.temp = Path(folder) / f".{name}.{fmt}.tmp-{os.getpid()}"
        self.parameter_columns = parameter_columns
        self.columns = None
        self.rows = 0
        self._csv = None
        self._header_written = False
        self._parquet = None

    def write(self, frame):
        if self.columns is None:
            self.columns = list(frame.columns)
            if self.fmt == "csv":
                self._csv = open(self.temp, "w", encoding="utf-8", newline="")
        elif list(frame.columns) != self.columns:
            raise ExportError(self.final, f"internal: columns {list(frame.columns)} differ from {self.columns}",
                              status=1)
        if self.fmt == "csv":
            # Doubles as numpy's shortest round-trip text; NaN as an empty cell.
            frame.to_csv(self._csv, header=not self._header_written, index=False)
            self._header_written = True
        else:
            self._write_parquet(frame)
        self.rows += len(frame)

    def _write_parquet(self, frame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        kinds = {"text": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32()}
        arrays = []
        for column in self.columns:
            kind = _column_type(self.name, column, self.parameter_columns)
            values = frame[column]
            if kind == "date":
                data = values.to_numpy(dtype=object).astype("datetime64[D]")
            elif kind == "text":
                data = np.asarray([None if v is None or v != v else str(v) for v in values], dtype=object)
            else:
                data = values.to_numpy(dtype=np.float64 if kind == "float" else np.int64)
            arrays.append(pa.array(data, type=kinds[kind], from_pandas=True))
        table = pa.Table.from_arrays(arrays, names=self.columns)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(str(self.temp), table.schema)
        self._parquet.write_table(table)

    def close(self):
        if self._csv is not None:
            self._csv.close()
            self._csv = None
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def discard(self):
        self.close()
        try:
            os.unlink(self.temp)
        except FileNotFoundError:
            pass


class _Output:
    """The output folder: a new folder is built under a temporary sibling
    name and renamed when complete; in an existing folder each table is
    written under a temporary name and renamed. Either way a failed export
    leaves nothing behind."""

    def __init__(self, folder, fmt, force):
        self.folder, self.fmt, self.force = Path(folder), fmt, force
        if self.folder.exists() and not self.folder.is_dir():
            raise ExportError(self.folder, "exists and is not a folder; -o takes a folder for the tables")
        parent = self.folder.absolute().parent
        if not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise ExportError(self.folder, f"cannot write here: {parent} {what}")
        self.existed = self.folder.is_dir()
        where = self.folder if self.existed else parent
        if not os.access(where, os.W_OK | os.X_OK):
            raise ExportError(self.folder, f"cannot write here: no permission to write in {where}")
        self.work = self.folder if self.existed else parent / f".{self.folder.name}.tmp-{os.getpid()}"
        self.tables = {}

    def check_clobber(self, names):
        """Refuse (without --force) to replace tables already in the folder."""
        if not self.existed or self.force:
            return
        present = [f"{n}.{self.fmt}" for n in names if (self.folder / f"{n}.{self.fmt}").exists()]
        if present:
            raise ExportError(self.folder, f"already holds {', '.join(present)}; use --force to replace them, "
                                           f"or another folder")

    def start(self):
        if not self.existed:
            try:
                os.mkdir(self.work)
            except OSError as exc:
                raise ExportError(self.folder, f"cannot create the folder: {exc.strerror}") from None

    def write(self, name, frame, parameter_columns):
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = _TableFile(self.work, name, self.fmt, parameter_columns)
        table.write(frame)

    def commit(self):
        """Move every table to its final name; returns [(name, path, rows, bytes)]."""
        for t in self.tables.values():
            t.close()
        self.check_clobber(self.tables)
        if self.existed:
            for t in self.tables.values():
                os.replace(t.temp, t.final)
        else:
            for t in self.tables.values():
                os.rename(t.temp, t.final)
            os.rename(self.work, self.folder)
        return [(t.name, self.folder / t.final.name, t.rows, (self.folder / t.final.name).stat().st_size)
                for t in self.tables.values()]

    def discard(self):
        for t in self.tables.values():
            t.discard()
        if not self.existed:
            shutil.rmtree(self.work, ignore_errors=True)


def export(path, folder, fmt="csv", tables=None, force=False, progress=None):
    """Write the tidy tables of a run file, sweep index or comparison file
    `path` to `folder` in `fmt` ("csv" or "parquet"). `tables` (names)
    restricts the export; `force` replaces tables already in the folder;
    `progress(done, total, run id)` is called before each run of a sweep or
    comparison is exported. Returns
    ([(table, path, rows, bytes)], notes). Raises ExportError (or
    AnalysisError for an unreadable input) and then writes nothing."""
    if fmt not in FORMATS:
        raise ExportError(path, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "parquet" and not parquet_available():
        raise ExportError(path, PARQUET_MISSING)
    obj = load(path)
    available = table_names(obj)
    notes = list(obj.notes) if isinstance(obj, Sweep) else []
    if tables and "all" in tables:
        wanted = set(available)
    elif tables:
        unknown = [t for t in tables if t not in available]
        if unknown:
            raise ExportError(path, f"no table {', '.join(unknown)} in this {obj.kind} file; its tables: "
                                    f"{', '.join(available)} (or all)")
        wanted = set(tables)
    else:
        wanted = set(available)
        if not isinstance(obj, Run):
            left = [t for t in GRID_TABLES if t in wanted]
            wanted -= set(left)
            if left:
                notes.append(f"left out the firm distributions over the productivity grid ({', '.join(left)}: "
                             f"most of each run's rows); name them with --tables, or --tables all")
    wanted.add("metadata")  # provenance travels with every export
    out = _Output(folder, fmt, force)
    out.check_clobber(wanted)
    if isinstance(obj, Sweep):
        columns = stata_names(obj.parameters, reserved=_RESERVED)
        chunks = _sweep_export(obj, wanted, columns)
        parameter_columns = set(columns.values())
    elif isinstance(obj, Comparison):
        chunks, parameter_columns = _comparison_export(obj, wanted), set()
    else:
        chunks, parameter_columns = _run_export(obj, wanted), set()
    out.start()
    try:
        for name, chunk in chunks:
            if name == "note":
                notes.append(chunk)
            elif name == "progress":
                if progress is not None:
                    progress(*chunk)
            elif name in wanted:
                out.write(name, chunk, parameter_columns)
        written = out.commit()
    except AnalysisError:
        out.discard()
        raise
    except OSError as exc:
        out.discard()
        raise ExportError(folder, f"writing failed: {exc}", status=1) from None
    except BaseException:
        out.discard()
        raise
    return written, notes


# Names of columns the tables use, which a swept parameter's column may not take.
_RESERVED = {"run", "seed", "point", "replicate", "arm", "date", "period", "sector", "destination", "market_set",
             "demand_type", "z_index", "log_productivity", "level", "spell_length", "variable", "value", "unit",
             "regime_index", "regime", "kind", "note", "status", "digest", "wall_seconds", "file", "outcome",
             "mean", "sd", "ci_low", "ci_high", "n", "summary_periods", "key"}


def main(args):
    """`python3 -m analysis export`: exit status 0, 1 (writing failed) or 2
    (bad input); the tables written on stdout, progress (sweeps and
    comparisons: one line per run, at most one a second, with the time
    left) and errors on stderr. TRADEABM_ERROR_PREFIX (set by `tradeabm
    export`) replaces the "error" that starts an error line."""
    prefix = os.environ.get("TRADEABM_ERROR_PREFIX") or "error"
    started = time.monotonic()
    shown = [0.0]

    def progress(done, total, run):
        now = time.monotonic() - started
        if args.quiet or (now - shown[0] < 1.0 and done < total):
            return
        shown[0] = now
        left = now / done * (total - done)
        print(f"export: run {done}/{total} ({run}), {now:.1f} s elapsed, about {left:.0f} s left",
              file=sys.stderr, flush=True)

    try:
        written, notes = export(args.file, args.output, fmt=args.format,
                                tables=[t for t in (args.tables or "").split(",") if t] or None,
                                force=args.force, progress=progress)
    except ExportError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return exc.status
    except AnalysisError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        total = sum(size for _, _, _, size in written)
        print(f"wrote {len(written)} tables to {args.output} ({_size_text(total)}, "
              f"{time.monotonic() - started:.1f} s):")
        for name, path, rows, size in written:
            print(f"  {path.name:<40} {rows:>12,} rows {_size_text(size):>12}")
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def _size_text(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
