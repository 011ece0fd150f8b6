"""Reading tradeabm output files: one run, a sweep index or a comparison.

`load(path)` opens any of them and returns a `Run`, a `Sweep` or a
`Comparison`. The file layout is documented in docs/output.md; what is read
here must stay in step with src/io/output.c and src/experiments/compare.c. Everything small (parameters, series, environment,
events) is read when the file is opened and the file is closed again; the
firm panel, which can be gigabytes, is only ever read in slices.
"""

import math
import os
import re

import h5py
import numpy as np
import pandas as pd
import yaml
from scipy import stats as scipy_stats

# The format version this reader understands (TM_FORMAT_VERSION in
# src/io/output.h).
FORMAT_VERSION = 1

# Bits of a panel `markets` byte (src/engine/run.h: TM_SET_MASK, TM_BORN_BIT).
SET_MASK = 0x3F
BORN_BIT = 0x80

# Series with the layout [period, sector, destination].
SECTOR_DEST_SERIES = (
    "firms_serving",
    "entrants",
    "exiters",
    "export_value",
    "tariff_paid",
    "mean_log_productivity",
    "top10_share",
)
REQUIRED_DATASETS = (
    "parameters",
    "dimensions/sectors",
    "dimensions/destinations",
    "dimensions/market_sets",
    "grid/z",
    "periods/label",
    "series/firms_serving",
    "series/entrants",
    "series/exiters",
    "series/export_value",
    "series/tariff_paid",
    "series/mean_log_productivity",
    "series/top10_share",
    "series/firms_by_market_set",
    "series/deaths",
    "series/non_us_share",
    "environment/regime",
    "environment/tariff",
    "events",
)
# Names under which a [period, sector, z, market set] histogram of firms
# may be stored; any other rank-4 dataset in /series of that shape is
# accepted too.
HISTOGRAM_NAMES = ("firms_by_productivity_and_set", "firms_by_z_and_set", "histogram")


class AnalysisError(Exception):
    """A file that cannot be analysed: wrong kind or format version, an
    incomplete run, a missing or malformed dataset. The message names the
    file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _dotted(parameters, path, default=None):
    """The value at dotted `path` in nested parameter dicts, or default."""
    node = parameters
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _read_file(path, read):
    """Open `path` read-only and call read(f); every failure to open or read
    becomes one AnalysisError naming the file."""
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise AnalysisError(path, "no such file") from None
    except OSError as exc:
        raise AnalysisError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        try:
            read(f)
        except (OSError, KeyError, ValueError) as exc:
            raise AnalysisError(path, f"cannot read the file (damaged?): {exc}") from None


# ---------------------------------------------------------------------------
# Canonical parameter text
# ---------------------------------------------------------------------------


class _ParameterLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's plain scalars,
    which is how the C side (libyaml plus its own scalar rules) reads them.
    PyYAML resolves YAML 1.1: `1e-07` and `1e+01` (the canonical text's
    shortest round-trip doubles) would load as text, since its floats need
    a dot, and `no`, `on`, `off` (a destination named NO, say) as booleans."""


_ParameterLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
        ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
        # Doubles as C prints them: exponent with or without a dot, and
        # nan/inf in C's and YAML's spellings.
        ("tag:yaml.org,2002:float",
         r"^(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
         r"|[-+]?\.?(?:inf|Inf|INF)|\.?(?:nan|NaN|NAN))$", list("-+0123456789.iInN"))):
    _ParameterLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def parse_parameters(text):
    """The canonical parameter text written by the C side
    (src/params/params.c canonical_text) as nested dicts and lists, read by
    PyYAML with the scalar rules of `_ParameterLoader`. Raises ValueError
    for text that is not YAML."""
    try:
        result = yaml.load(text, Loader=_ParameterLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"canonical parameters: {exc}") from None
    return {} if result is None else result


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\0")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _plain(value):
    """An HDF5 attribute value as a plain Python value."""
    if isinstance(value, (bytes, np.bytes_)):
        return _text(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.ndim else _plain(value[()])
    return value


def _strings(ds):
    return [_text(v) for v in ds[()]]


def _compound_frame(path, data, where, columns):
    """The fields `columns` of a compound table as a DataFrame (strings
    decoded); an AnalysisError names the table and the missing fields."""
    if data.dtype.names is None:
        raise AnalysisError(path, f"{where} is not a compound table")
    missing = [c for c in columns if c not in data.dtype.names]
    if missing:
        raise AnalysisError(path, f"{where} lacks the field(s) {', '.join(missing)}")
    out = {}
    for c in columns:
        col = data[c]
        out[c] = [_text(v) for v in col] if col.dtype.kind in "SOU" else col.tolist()
    return pd.DataFrame(out, columns=list(columns))


def period_labels_ticks(labels, max_ticks=12):
    """Positions and labels for a time axis of `labels` (every k-th)."""
    n = len(labels)
    step = max(1, int(math.ceil(n / max_ticks)))
    ticks = list(range(0, n, step))
    return ticks, [labels[i] for i in ticks]


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------


class Run:
    """One simulation run (the HDF5 file of `tradeabm run`).

    Attributes read at open:
      path, provenance (root attributes as a dict), parameters (dict),
      parameters_text, sectors, destinations, market_sets, regime_names
      (dict destination -> list), periods (labels), z_grid [sector, index],
      units / descriptions (dict dataset name -> text), arrays (dict series
      name -> numpy array with the file's axes), series (tidy DataFrame),
      market_set_firms (tidy DataFrame), regimes, tariffs, events
      (DataFrames), histogram (array or None), policy (dict or None).
    The firm panel is read with `panel()` / `iter_panel()`.
    """

    kind = "run"

    def __init__(self, path, allow_incomplete=False):
        self.path = str(path)
        _read_file(self.path, lambda f: self._read(f, allow_incomplete))

    # -- reading --------------------------------------------------------

    def _need(self, f, name):
        if name not in f:
            raise AnalysisError(self.path, f"missing dataset /{name} (truncated file, or not written by tradeabm?)")
        obj = f[name]
        if not isinstance(obj, h5py.Dataset):
            raise AnalysisError(self.path, f"/{name} is a group; expected a dataset")
        return obj

    def _read(self, f, allow_incomplete):
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        self.provenance = attrs
        if attrs.get("program") != "tradeabm":
            raise AnalysisError(self.path, "not a tradeabm run file (root attribute program is not 'tradeabm')")
        version = attrs.get("format_version")
        if version is None:
            raise AnalysisError(self.path, "missing root attribute format_version")
        if version != FORMAT_VERSION:
            raise AnalysisError(
                self.path, f"format version {version}; this reader understands version {FORMAT_VERSION}"
            )
        status = attrs.get("status")
        if status != "complete" and not allow_incomplete:
            raise AnalysisError(
                self.path, f"run status is {status!r}, not 'complete' (the run was interrupted or is still writing)"
            )
        for name in REQUIRED_DATASETS:
            self._need(f, name)
        # Damaged values are refused before anything is read from them.
        from .digest import check_series  # digest.py imports this module
        check_series(f, self.path)

        self.parameters_text = _text(f["parameters"][()])
        try:
            self.parameters = parse_parameters(self.parameters_text)
        except ValueError as exc:
            raise AnalysisError(self.path, f"/parameters: {exc}") from None
        self.sectors = _strings(f["dimensions/sectors"])
        self.destinations = _strings(f["dimensions/destinations"])
        self.market_sets = _strings(f["dimensions/market_sets"])
        self.regime_names = {}
        for d in self.destinations:
            self.regime_names[d] = _strings(self._need(f, f"dimensions/regimes/{d}"))
        self.z_grid = f["grid/z"][()]
        self.periods = _strings(f["periods/label"])
        S, D, T = len(self.sectors), len(self.destinations), len(self.periods)
        NS = len(self.market_sets)

        self.units, self.descriptions, self.arrays = {}, {}, {}
        expected = {name: (T, S, D) for name in SECTOR_DEST_SERIES}
        expected.update(
            {"firms_by_market_set": (T, S, NS), "deaths": (T, S), "non_us_share": (T,)}
        )
        for name, shape in expected.items():
            self._store(f, "series/" + name, name, shape)
        self._store(f, "environment/regime", "regime", (T, D))
        self._store(f, "environment/tariff", "tariff", (T, S, D))
        # The real exchange rate (docs/model.md section 11), only in runs with
        # exchange_rate.elasticity > 0; None otherwise (e = 1).
        self.exchange_rate = None
        if "exchange_rate" in f["environment"]:
            self._store(f, "environment/exchange_rate", "exchange_rate", (T,))
            self.exchange_rate = self.arrays["exchange_rate"]
        if self.z_grid.ndim != 2 or self.z_grid.shape[0] != S:
            raise AnalysisError(self.path, f"/grid/z has shape {self.z_grid.shape}; expected ({S}, grid points)")
        self.units["z"] = _text(f["grid/z"].attrs.get("units", ""))

        self.series = self._tidy_series()
        self.market_set_firms = self._tidy_sets()
        self.regimes = self._tidy_regimes()
        self.tariffs = self._tidy(self.arrays["tariff"], "tariff")
        self.events = self._read_events(f["events"])
        self.histogram = self._find_histogram(f)
        # Demand types: multipliers [type, destination] and firms by
        # [period, sector, type * n_z + z, market set] (None without types).
        dims = f["dimensions"]
        self.type_multipliers = dims["type_multipliers"][()] if "type_multipliers" in dims else None
        ds = f["series"].get("firms_by_type_productivity_and_set")
        self.type_histogram = ds[()] if isinstance(ds, h5py.Dataset) else None
        self.policy = self._read_policy(f)
        self.panel_sectors = []
        if "panel" in f:
            for s in self.sectors:
                g = f["panel"].get(s)
                if g is not None and "z_index" in g and "markets" in g:
                    self.panel_sectors.append(s)
            self._panel_shapes = {s: f[f"panel/{s}/z_index"].shape for s in self.panel_sectors}
        else:
            self._panel_shapes = {}

    def _store(self, f, path, key, shape):
        ds = self._need(f, path)
        if ds.shape != shape:
            raise AnalysisError(self.path, f"/{path} has shape {ds.shape}; expected {shape}")
        self.arrays[key] = ds[()]
        self.units[key] = _text(ds.attrs.get("units", ""))
        self.descriptions[key] = _text(ds.attrs.get("description", ""))

    def _tidy(self, array, variable):
        T, S, D = array.shape
        idx = pd.MultiIndex.from_product([self.periods, self.sectors, self.destinations],
                                         names=["period", "sector", "destination"])
        frame = idx.to_frame(index=False)
        frame.insert(3, "variable", variable)
        frame["value"] = array.reshape(-1).astype(float)
        return frame

    def _tidy_series(self):
        parts = [self._tidy(self.arrays[name], name) for name in SECTOR_DEST_SERIES]
        T, S = self.arrays["deaths"].shape
        parts.append(pd.DataFrame({
            "period": np.repeat(self.periods, S),
            "sector": np.tile(self.sectors, T),
            "destination": None,
            "variable": "deaths",
            "value": self.arrays["deaths"].reshape(-1).astype(float),
        }))
        parts.append(pd.DataFrame({
            "period": self.periods,
            "sector": None,
            "destination": None,
            "variable": "non_us_share",
            "value": self.arrays["non_us_share"].astype(float),
        }))
        frame = pd.concat(parts, ignore_index=True)
        frame["period"] = pd.Categorical(frame["period"], categories=self.periods, ordered=True)
        return frame

    def _tidy_sets(self):
        a = self.arrays["firms_by_market_set"]
        idx = pd.MultiIndex.from_product([self.periods, self.sectors, self.market_sets],
                                         names=["period", "sector", "market_set"])
        frame = idx.to_frame(index=False)
        frame["firms"] = a.reshape(-1)
        return frame

    def _tidy_regimes(self):
        a = self.arrays["regime"]
        rows = []
        for t, label in enumerate(self.periods):
            for j, d in enumerate(self.destinations):
                r = int(a[t, j])
                names = self.regime_names[d]
                rows.append((label, d, r, names[r] if 0 <= r < len(names) else f"#{r}"))
        return pd.DataFrame(rows, columns=["period", "destination", "regime_index", "regime"])

    def _read_events(self, ds):
        columns = ["period", "label", "kind", "destination", "sector", "regime", "value", "note"]
        return _compound_frame(self.path, ds[()], "/events", columns)

    def _find_histogram(self, f):
        S, Z, NS = len(self.sectors), self.z_grid.shape[1], len(self.market_sets)
        T = len(self.periods)
        names = list(HISTOGRAM_NAMES) + sorted(k for k in f["series"].keys() if k not in HISTOGRAM_NAMES)
        for name in names:
            ds = f["series"].get(name)
            if isinstance(ds, h5py.Dataset) and ds.shape == (T, S, Z, NS):
                self.units["histogram"] = _text(ds.attrs.get("units", "firms"))
                self.histogram_name = name
                return ds[()]
        self.histogram_name = None
        return None

    def _read_policy(self, f):
        g = f.get("policy")
        if not isinstance(g, h5py.Group):
            return None
        out = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
                self.units["policy/" + name] = _text(obj.attrs.get("units", ""))
                self.descriptions["policy/" + name] = _text(obj.attrs.get("description", ""))

        g.visititems(visit)
        return out

    # -- convenience ----------------------------------------------------

    @property
    def n_periods(self):
        return len(self.periods)

    @property
    def sigma(self):
        return float(self.parameters["demand"]["elasticity"])

    def param(self, path, default=None):
        """A parameter by dotted path (`demand.elasticity`)."""
        return _dotted(self.parameters, path, default)

    def frame(self, variable):
        """The tidy rows of one series."""
        return self.series[self.series["variable"] == variable].reset_index(drop=True)

    def __repr__(self):
        return (f"Run({self.path!r}: {len(self.sectors)} sectors, {len(self.destinations)} destinations, "
                f"{self.n_periods} periods, panel={'yes' if self.has_panel else 'no'})")

    # -- firm panel ------------------------------------------------------

    @property
    def has_panel(self):
        return bool(self.panel_sectors)

    def panel_shape(self, sector):
        """(periods, firm slots) of a sector's panel."""
        self._check_panel(sector)
        return self._panel_shapes[sector]

    def _check_panel(self, sector):
        if not self.has_panel:
            raise AnalysisError(self.path, "no firm panel in this file (run with --panel)")
        if sector not in self.panel_sectors:
            raise AnalysisError(self.path, f"no panel for sector {sector!r}; sectors: {', '.join(self.panel_sectors)}")

    def panel(self, sector, periods=slice(None), slots=slice(None)):
        """(z_index, markets) of one sector for a slice of periods and firm
        slots, read from the file without loading the rest. `periods` may be
        an index, a label ('2025Q1') or a slice; `slots` an index or slice."""
        self._check_panel(sector)
        if isinstance(periods, str):
            if periods not in self.periods:
                raise AnalysisError(self.path, f"no period {periods!r} in this run")
            periods = self.periods.index(periods)
        with h5py.File(self.path, "r") as f:
            g = f["panel"][sector]
            return g["z_index"][periods, slots], g["markets"][periods, slots]

    def panel_types(self, sector, periods=slice(None), slots=slice(None)):
        """Demand type of each firm (rows of type_multipliers) for the same
        selection as panel(); None without demand types."""
        self._check_panel(sector)
        if self.type_multipliers is None:
            return None
        if isinstance(periods, str):
            periods = self._period_index(periods)
        with h5py.File(self.path, "r") as f:
            return f["panel"][sector]["type"][periods, slots]

    def iter_panel(self, sector, slots_per_read=1 << 18):
        """Yield (period index, slot offset, z_index, markets) in slices of at
        most `slots_per_read` firms of one period."""
        T, N = self.panel_shape(sector)
        with h5py.File(self.path, "r") as f:
            g = f["panel"][sector]
            for t in range(T):
                for off in range(0, N, slots_per_read):
                    end = min(N, off + slots_per_read)
                    yield t, off, g["z_index"][t, off:end], g["markets"][t, off:end]

    # -- firm-level economics --------------------------------------------

    def market_weights(self, period):
        """a[s, d] = B tau^(1-sigma) (1+t)^(-sigma) in a period, with the
        tariff in force and demand after crowding (src/engine/economy.c). For the
        first logged period the crowding share of the last burn-in period is
        not in the file; the period's own share is used instead (exact when
        interactions.crowding is 0). With a real exchange rate e_t every
        weight is multiplied by e_t^sigma (docs/model.md eq. 32): the tables
        the series were computed from are those at e_t."""
        t = self._period_index(period)
        sigma = self.sigma
        eta = float(self.param("interactions.crowding", 0) or 0)
        serving = self.arrays["firms_serving"]
        prev = serving[t - 1] if t > 0 else serving[t]
        a = np.zeros((len(self.sectors), len(self.destinations)))
        for i, s in enumerate(self.sectors):
            n = float(self.parameters["sectors"][s]["firms"])
            for j, d in enumerate(self.destinations):
                m = self.parameters["sectors"][s]["markets"][d]
                demand = float(m["demand"]) / (1.0 + eta * prev[i, j] / n)
                tariff = float(self.arrays["tariff"][t, i, j])
                a[i, j] = demand * float(m["iceberg"]) ** (1.0 - sigma) * (1.0 + tariff) ** (-sigma)
        if self.exchange_rate is not None:
            a *= float(self.exchange_rate[t]) ** sigma
        return a

    def revenue_table(self, sector, period, type=None):
        """revenue[z index, market state, destination]: producer revenue of a
        firm at each grid point in each market state, in model money
        (src/engine/economy.c tm_econ_state_tables). Without experience levels the
        states are the market sets; with K levels state m holds level
        (m // (K+1)**d) % (K+1) in destination d (/dimensions/market_states).
        With demand types, `type` selects the firms' type (its row of
        /dimensions/type_multipliers)."""
        s = self.sectors.index(sector)
        t = self._period_index(period)
        a = self.market_weights(t)[s]
        if self.type_multipliers is not None:
            if type is None:
                raise AnalysisError(self.path, "firm-level export values need each firm's demand type "
                                    "(demand_types), which the panel does not store; use the series or "
                                    "firms_by_type_productivity_and_set")
            a = a * self.type_multipliers[type]
        sigma = self.sigma
        # A sector's own gamma_s overrides capacity.elasticity (docs/model.md eq. 4).
        gamma = self.param(f"sectors.{sector}.capacity_elasticity")
        gamma = float((self.param("capacity.elasticity", 0) if gamma is None else gamma) or 0)
        exp = self.parameters.get("experience") or {}
        K = int(exp.get("levels", 1))
        dm = [float(x) for x in exp.get("demand", [1.0] * K)]
        im = [float(x) for x in exp.get("iceberg", [1.0] * K)]
        timing_next = self.param("decision.timing", "current") == "next"
        closed = self._closed(t)
        z = self.z_grid[s]
        D = len(self.destinations)
        N = (K + 1) ** D
        mu = sigma / (sigma - 1.0)
        out = np.zeros((len(z), N, D))
        for m in range(N):
            levels = [(m // (K + 1) ** d) % (K + 1) for d in range(D)]
            # Timing next: a closed market sells nothing (the firm only holds its state).
            w = {d: a[d] * dm[k - 1] * im[k - 1] ** (1.0 - sigma)
                 for d, k in enumerate(levels) if k and not (timing_next and closed[d])}
            A = sum(w.values())
            if A <= 0:
                continue
            if gamma == 0:
                profit = np.exp((sigma - 1.0) * z) * A
                total = sigma * profit
            else:
                theta = (1 + gamma) / (1 + gamma * sigma)
                unit = (mu - 1) * mu ** (-sigma)
                scale = (mu - 1 / (1 + gamma)) * mu ** (-sigma * theta)
                profit = scale * np.exp((sigma * theta - 1) * z) * (A / unit) ** theta
                total = mu / (mu - 1 / (1 + gamma)) * profit
            for d, wd in w.items():
                out[:, m, d] = total * wd / A
        return out

    def _closed(self, t):
        """Whether each destination's regime in period t closes its market."""
        out = []
        for j, d in enumerate(self.destinations):
            r = int(self.arrays["regime"][t, j])
            regimes = self.parameters["destinations"][d]["regimes"]
            name = list(regimes)[r]
            out.append(bool(regimes[name].get("closed", False)))
        return out

    def firm_export_value(self, sector, period, slots=slice(None)):
        """Export value [slot, destination] of firms of one sector in one
        period, from the panel and the revenue rule (docs/output.md)."""
        t = self._period_index(period)
        z_index, markets = self.panel(sector, t, slots)
        states = (np.asarray(markets) & SET_MASK).astype(np.intp)
        z_index = np.asarray(z_index, dtype=np.intp)
        if self.type_multipliers is None:
            return self.revenue_table(sector, t)[z_index, states, :]
        types = np.asarray(self.panel_types(sector, t, slots), dtype=np.intp)
        out = np.zeros(z_index.shape + (len(self.destinations),))
        for k in np.unique(types):
            pick = types == k
            out[pick] = self.revenue_table(sector, t, int(k))[z_index[pick], states[pick], :]
        return out

    def _period_index(self, period):
        if isinstance(period, str):
            if period not in self.periods:
                raise AnalysisError(self.path, f"no period {period!r} in this run")
            return self.periods.index(period)
        t = int(period)
        if t < 0:
            t += self.n_periods
        if not 0 <= t < self.n_periods:
            raise AnalysisError(self.path, f"period index {period} out of range 0..{self.n_periods - 1}")
        return t

    # -- headline numbers -----------------------------------------------

    def headline(self):
        """Headline numbers of the run as a list of (name, value, unit)."""
        T = self.n_periods
        ev = self.arrays["export_value"]
        rows = []
        first, last = self.periods[0], self.periods[-1]
        total_firms = sum(int(self.parameters["sectors"][s]["firms"]) for s in self.sectors)
        rows.append(("firms", total_firms, "firms"))
        sets = self.arrays["firms_by_market_set"][T - 1]
        # Whole numbers, or expected or weighted masses (run.aggregation:
        # exact, run.resolution > 1): rounded to whole firms.
        exporters = int(round(float(sets.sum() - sets[:, 0].sum())))
        rows.append((f"exporters, {last}", exporters, "firms"))
        rows.append((f"exporter share, {last}", exporters / total_firms if total_firms else math.nan, "fraction"))
        for j, d in enumerate(self.destinations):
            rows.append((f"firms serving {d}, {last}", int(round(float(self.arrays["firms_serving"][T - 1, :, j].sum()))),
                         "firms"))
        for j, d in enumerate(self.destinations):
            rows.append((f"export value {d}, {first}", float(ev[0, :, j].sum()), self.units["export_value"]))
            rows.append((f"export value {d}, {last}", float(ev[T - 1, :, j].sum()), self.units["export_value"]))
        share = self.arrays["non_us_share"]
        rows.append((f"non-US share of exports, {first}", float(share[0]), self.units["non_us_share"]))
        rows.append((f"non-US share of exports, {last}", float(share[-1]), self.units["non_us_share"]))
        rows.append(("tariff paid, all periods", float(self.arrays["tariff_paid"].sum()), self.units["tariff_paid"]))
        rows.append(("entrants, all periods", int(self.arrays["entrants"].sum()), "firms"))
        rows.append(("exiters, all periods", int(self.arrays["exiters"].sum()), "firms"))
        rows.append(("scenario events that took effect", len(self.events), "events"))
        return rows


# ---------------------------------------------------------------------------
# A sweep index
# ---------------------------------------------------------------------------


class Sweep:
    """The index file of a parameter sweep (root attribute kind = 'sweep').

    design: one row per run (point, replicate, seed, file, status,
      wall_seconds and one column per swept parameter, named by its dotted
      path as in `--set`: destinations.US.market.sunk_cost);
    summary: one row per point: the swept values and, per outcome,
      `<outcome>_mean`, `_sd`, `_ci_low`, `_ci_high`;
    table: design joined with summary on `point`;
    parameters: swept parameter paths; outcomes: summarised outcomes.
    `runs()` iterates over the run files of complete rows.
    """

    kind = "sweep"
    STATS = ("mean", "sd", "ci_low", "ci_high")

    def __init__(self, path):
        self.path = str(path)
        _read_file(self.path, self._read)

    def _read(self, f):
        self.provenance = {k: _plain(v) for k, v in f.attrs.items()}
        if self.provenance.get("kind") != "sweep":
            raise AnalysisError(self.path, "not a sweep index (root attribute kind is not 'sweep')")
        version = self.provenance.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise AnalysisError(
                self.path, f"format version {version}; this reader understands version {FORMAT_VERSION}"
            )
        self.units, self.notes = {}, []
        design = f.get("design")
        cols = {}
        if isinstance(design, h5py.Dataset) and design.dtype.names:
            # A compound table instead of one dataset per column.
            table = design[()]
            for name in design.dtype.names:
                col = table[name]
                cols[name] = [_text(v) for v in col] if col.dtype.kind in "SO" else col
        elif isinstance(design, h5py.Group):
            for name, obj in design.items():
                if isinstance(obj, h5py.Dataset):
                    cols[name] = self._column(obj, f"/design/{name}")
        else:
            raise AnalysisError(self.path, "missing group /design")
        if "point" not in cols:
            raise AnalysisError(self.path, "missing dataset /design/point")
        self.parameters = []
        values = design.get("values") if isinstance(design, h5py.Group) else None
        if isinstance(values, h5py.Group):
            for hname in self._dataset_paths(values):
                # Parameter paths may be nested groups or dotted names;
                # either way the column is the dotted path (as for --set).
                pname = hname.replace("/", ".")
                cols[pname] = self._column(values[hname], f"/design/values/{hname}")
                self.parameters.append(pname)
        shares = design.get("regime_share") if isinstance(design, h5py.Group) else None
        if isinstance(shares, h5py.Group):
            # Share of each run's summary window in each regime: a column
            # "regime_share.US.tariffs" per destination.regime.
            for hname in self._dataset_paths(shares):
                cols["regime_share." + hname.replace("/", ".")] = self._column(shares[hname],
                                                                            f"/design/regime_share/{hname}")
        n = {len(v) for v in cols.values()}
        if len(n) > 1:
            raise AnalysisError(self.path, f"/design columns differ in length: {sorted(n)}")
        self.design = pd.DataFrame(cols)

        summary = {}
        self.outcomes = []
        sg = f.get("summary")
        if isinstance(sg, h5py.Group):
            points = sg.get("points")
            if isinstance(points, h5py.Group):
                for hname in self._dataset_paths(points):
                    pname = hname.replace("/", ".")
                    summary[pname] = self._column(points[hname], f"/summary/points/{hname}")
                    if pname not in self.parameters:
                        self.parameters.append(pname)
            for outcome, og in sg.items():
                if outcome == "points" or not isinstance(og, h5py.Group):
                    continue
                if "mean" not in og:
                    self.notes.append(f"/summary/{outcome} has no mean; skipped")
                    continue
                ok = True
                for stat in self.STATS:
                    if stat in og:
                        col = og[stat][()]
                        if col.ndim != 1:
                            self.notes.append(f"/summary/{outcome}/{stat} is not one value per point; skipped")
                            ok = False
                            break
                        summary[f"{outcome}_{stat}"] = col
                if ok:
                    if "n" in og and og["n"].ndim == 1:
                        summary[f"{outcome}_n"] = og["n"][()]
                    self.outcomes.append(outcome)
                    unit = _text(og.attrs.get("units", "")) or _text(og["mean"].attrs.get("units", ""))
                    if not unit:
                        self.notes.append(f"/summary/{outcome} states no units")
                    self.units[outcome] = unit
        else:
            self.notes.append("no /summary group: no summaries across replicates")
        lengths = {len(v) for v in summary.values()}
        if len(lengths) > 1:
            raise AnalysisError(self.path, f"/summary columns differ in length: {sorted(lengths)}")
        if summary:
            self.summary = pd.DataFrame(summary)
            if "point" not in self.summary:
                self.summary.insert(0, "point", np.arange(len(self.summary)))
        else:
            self.summary = pd.DataFrame({"point": np.unique(self.design["point"])})
        for pname in self.parameters:
            if pname not in self.summary and pname in self.design:
                first = self.design.groupby("point")[pname].first()
                self.summary[pname] = self.summary["point"].map(first)
        right = self.summary.drop(columns=[c for c in self.summary if c in self.design and c != "point"])
        self.table = self.design.merge(right, on="point", how="left")

        self.links = {}
        rg = f.get("runs")
        if isinstance(rg, h5py.Group):
            for name in rg.keys():
                link = rg.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    self.links[name] = link.filename

    @staticmethod
    def _dataset_paths(group):
        out = []
        group.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
        return out

    def _column(self, ds, where):
        data = ds[()]
        if data.ndim != 1:
            raise AnalysisError(self.path, f"{where} has shape {data.shape}; expected one value per row")
        if data.dtype.kind in "SO":
            return [_text(v) for v in data]
        return data

    def __repr__(self):
        return (f"Sweep({self.path!r}: {len(self.summary)} points, {len(self.design)} runs, "
                f"parameters {self.parameters}, outcomes {self.outcomes})")

    def run_path(self, row):
        """The path of the run file of a design row (index or Series)."""
        if not isinstance(row, pd.Series):
            row = self.design.iloc[int(row)]
        base = os.path.dirname(os.path.abspath(self.path))
        name = row.get("file") if "file" in row else None
        if name is None:
            # No file column: the /runs links, in design order, if one per row.
            links = sorted(self.links)
            if len(links) != len(self.design):
                raise AnalysisError(self.path, "no /design/file column and no /runs link per row: "
                                               "cannot find the run files")
            name = links[int(row.name)]
        name = str(name)
        if name in self.links:
            name = self.links[name]
        return name if os.path.isabs(name) else os.path.join(base, name)

    def runs(self, include_incomplete=False):
        """Yield (design row, Run) for each complete run of the sweep."""
        for _, row in self.design.iterrows():
            status = row.get("status", "complete")
            if status != "complete" and not include_incomplete:
                continue
            yield row, Run(self.run_path(row), allow_incomplete=include_incomplete)

    def grid_shape(self):
        """Number of distinct values per swept parameter."""
        return {p: int(self.summary[p].nunique()) for p in self.parameters if p in self.summary}


# ---------------------------------------------------------------------------
# A comparison of a base and a scenario (tradeabm compare)
# ---------------------------------------------------------------------------

# Series in /difference, [replicate, period, sector, destination].
DIFFERENCE_SERIES = ("export_value", "firms_serving", "entrants", "exiters", "tariff_paid")
EFFECT_FIELDS = ("sector", "measure", "units", "mean", "ci_low", "ci_high", "replicates")



def student_t975(df):
    """The 97.5% quantile of Student's t with `df` degrees of freedom (NaN
    below 1): scipy's, as the C side uses GSL's (src/base/stats.c)."""
    if df < 1:
        return math.nan
    return float(scipy_stats.t.ppf(0.975, df))


def mean_interval(values, axis=0):
    """Mean across `axis` and the 95% t interval of the mean; the interval
    is NaN with one value. Returns (mean, low, high, n). For series that
    the files do not summarise (differences per period); outcomes and
    effects come with their intervals in the files."""
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    mean = values.mean(axis=axis)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan.copy(), n
    half = student_t975(n - 1) * values.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half, n


class Comparison:
    """A comparison file (root attribute kind = 'comparison') of
    `tradeabm compare`: base and scenario runs per replicate with common
    random numbers, their differences and headline effects.

    Attributes read at open:
      path, provenance (root attributes), sectors, destinations, periods,
      replicates, seeds, effect_window_start,
      base_paths / scenario_paths (run file per replicate, absolute),
      arrays (series name -> [replicate, period, sector, destination]
      scenario minus base, as in /difference), units, descriptions,
      differences (tidy: replicate, period, sector, destination, variable,
      value), effects (one row per sector and measure, with `units`),
      effects_by_replicate (array [measure, sector + all, replicate]),
      parameters (parsed parameters of replicate 1's base run, {} if that
      run is unreadable), events (scenario events that took effect, from
      replicate 1's scenario run), effects_by_period (array [measure,
      sector + all, replicate, period]: each effect in one period alone),
      us_share (its export_share.US part as [replicate, period, sector +
      all], percentage points; None without a destination US) and notes.
    `base_run(r)` / `scenario_run(r)` open the runs of replicate r (1-based).
    """

    kind = "comparison"

    def __init__(self, path):
        self.path = str(path)
        _read_file(self.path, self._read)
        self._read_runs()

    def _need(self, f, name):
        obj = f.get(name)
        if not isinstance(obj, h5py.Dataset):
            raise AnalysisError(self.path, f"missing dataset /{name} (truncated file, or not written by "
                                           f"tradeabm compare?)")
        return obj

    def _read(self, f):
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        self.provenance = attrs
        if attrs.get("program") != "tradeabm" or attrs.get("kind") != "comparison":
            raise AnalysisError(self.path, "not a tradeabm comparison file (root attributes program/kind are not "
                                           "'tradeabm'/'comparison')")
        version = attrs.get("format_version")
        if version is None:
            raise AnalysisError(self.path, "missing root attribute format_version")
        if version != FORMAT_VERSION:
            raise AnalysisError(
                self.path, f"format version {version}; this reader understands version {FORMAT_VERSION}"
            )
        self.sectors = _strings(self._need(f, "dimensions/sectors"))
        self.destinations = _strings(self._need(f, "dimensions/destinations"))
        self.periods = _strings(self._need(f, "dimensions/periods"))
        S, D, T = len(self.sectors), len(self.destinations), len(self.periods)
        if T == 0:
            raise AnalysisError(self.path, "no periods in /dimensions/periods: nothing to compare")
        R = attrs.get("replicates")
        if not isinstance(R, int) or R < 1:
            raise AnalysisError(self.path, f"root attribute replicates is {R!r}; expected a positive integer")
        self.replicates = R
        seeds = attrs.get("seeds", [])
        self.seeds = [int(s) for s in (seeds if isinstance(seeds, list) else [seeds])]
        self.effect_window_start = attrs.get("effect_window_start", self.periods[0])

        self.units, self.descriptions, self.arrays = {}, {}, {}
        for name in DIFFERENCE_SERIES:
            ds = self._need(f, "difference/" + name)
            if ds.shape != (R, T, S, D):
                raise AnalysisError(self.path, f"/difference/{name} has shape {ds.shape}; expected "
                                               f"{(R, T, S, D)} (replicate, period, sector, destination)")
            self.arrays[name] = ds[()].astype(float)
            self.units[name] = _text(ds.attrs.get("units", ""))
            self.descriptions[name] = _text(ds.attrs.get("description", ""))

        self.effects = _compound_frame(self.path, self._need(f, "effects")[()], "/effects", EFFECT_FIELDS)
        ebr = f.get("effects_by_replicate")
        self.effects_by_replicate = ebr[()] if isinstance(ebr, h5py.Dataset) else None
        ebp = f.get("effects_by_period")
        self.effects_by_period = ebp[()] if isinstance(ebp, h5py.Dataset) else None

        base = os.path.dirname(os.path.abspath(self.path))
        self.base_paths, self.scenario_paths = [], []
        for side, out in (("base", self.base_paths), ("scenario", self.scenario_paths)):
            g = f.get(side)
            if not isinstance(g, h5py.Group):
                raise AnalysisError(self.path, f"missing group /{side} (links to the {side} runs)")
            for r in range(1, R + 1):
                name = f"r{r:02d}"
                link = g.get(name, getlink=True)
                if not isinstance(link, h5py.ExternalLink):
                    raise AnalysisError(self.path, f"/{side}/{name} is not an external link to a run file")
                fn = link.filename
                out.append(fn if os.path.isabs(fn) else os.path.join(base, fn))
        self.differences = self._tidy()

    def _tidy(self):
        parts = []
        R, T, S, D = self.arrays["export_value"].shape
        idx = pd.MultiIndex.from_product([range(1, R + 1), self.periods, self.sectors, self.destinations],
                                         names=["replicate", "period", "sector", "destination"])
        for name in DIFFERENCE_SERIES:
            frame = idx.to_frame(index=False)
            frame["variable"] = name
            frame["value"] = self.arrays[name].reshape(-1)
            parts.append(frame)
        frame = pd.concat(parts, ignore_index=True)
        frame["period"] = pd.Categorical(frame["period"], categories=self.periods, ordered=True)
        return frame

    def _us_share(self):
        """The scenario-minus-base US share of export value per period, as
        the comparison file stores it (/effects_by_period, outcome
        export_share.US): [replicate, period, sector + all], percentage
        points; None (with a note) where the file has none."""
        measures = list(dict.fromkeys(self.effects["measure"]))
        ebp = self.effects_by_period
        if "export_share.US" not in measures:
            self.notes.append("no destination US: no US share")
            return None
        shape = (len(measures), len(self.sectors) + 1, self.replicates, len(self.periods))
        if ebp is None or ebp.shape != shape:
            self.notes.append(f"/effects_by_period is missing or not of shape {shape}: no US share over time")
            return None
        row = self.effects[self.effects["measure"] == "export_share.US"].iloc[0]
        self.units["us_share"] = row["units"]
        return np.transpose(ebp[measures.index("export_share.US")], (1, 2, 0))

    def _read_runs(self):
        """Read what the report needs from the linked runs: the parameters
        and events of replicate 1. A missing run leaves a note, not an
        error: the comparison file alone holds the differences and the
        effects, over the window and per period (the US share over time)."""
        self.notes, self.parameters = [], {}
        self.us_share = self._us_share()
        self.events = pd.DataFrame(columns=["period", "label", "kind", "destination", "sector", "regime",
                                            "value", "note"])
        missing = [p for p in self.base_paths + self.scenario_paths if not os.path.exists(p)]
        if missing:
            self.notes.append(
                f"{len(missing)} of {2 * self.replicates} linked run files are missing (first: {missing[0]}); keep "
                f"the runs folder {self.provenance.get('runs_folder', '')!r} beside the comparison file. Without "
                f"them: no scenario events marked.")
            return
        try:
            with h5py.File(self.base_paths[0], "r") as f:
                self.parameters = parse_parameters(_text(f["parameters"][()]))
            with h5py.File(self.scenario_paths[0], "r") as f:
                self.events = Run._read_events(self, f["events"])
        except (OSError, KeyError, ValueError, AnalysisError) as exc:
            self.notes.append(f"the runs of replicate 1 could not be read ({exc}): no scenario events marked")

    # -- convenience ----------------------------------------------------

    @property
    def n_periods(self):
        return len(self.periods)

    def param(self, path, default=None):
        """A parameter of replicate 1's base run by dotted path."""
        return _dotted(self.parameters, path, default)

    def frame(self, variable):
        """The tidy rows of one difference series."""
        return self.differences[self.differences["variable"] == variable].reset_index(drop=True)

    def summary(self, variable):
        """(mean, ci_low, ci_high) across replicates of a difference series,
        each [period, sector, destination] (or [period, sector + all] for
        'us_share'); the interval is NaN with one replicate."""
        values = self.us_share if variable == "us_share" else self.arrays[variable]
        if values is None:
            raise AnalysisError(self.path, f"no {variable} in this comparison")
        mean, lo, hi, _ = mean_interval(values, axis=0)
        return mean, lo, hi

    def effect(self, sector, measure):
        """The /effects row of a sector ('all' for all sectors) and measure."""
        rows = self.effects[(self.effects["sector"] == sector) & (self.effects["measure"] == measure)]
        if rows.empty:
            raise AnalysisError(self.path, f"no effect {measure!r} for sector {sector!r}")
        return rows.iloc[0]

    def base_run(self, replicate=1):
        return Run(self.base_paths[replicate - 1])

    def scenario_run(self, replicate=1):
        return Run(self.scenario_paths[replicate - 1])

    def __repr__(self):
        return (f"Comparison({self.path!r}: {self.replicates} replicate(s), {len(self.sectors)} sectors, "
                f"{len(self.destinations)} destinations, {self.n_periods} periods)")


def load(path, allow_incomplete=False):
    """Open a run file, a sweep index or a comparison file; returns a `Run`,
    a `Sweep` or a `Comparison`.
    Raises `AnalysisError` naming the file and the problem."""
    path = str(path)
    if not os.path.exists(path):
        raise AnalysisError(path, "no such file")
    try:
        with h5py.File(path, "r") as f:
            kind = _plain(f.attrs.get("kind", "run"))
    except OSError as exc:
        raise AnalysisError(path, f"not a readable HDF5 file ({exc})") from None
    if kind == "sweep":
        return Sweep(path)
    if kind == "comparison":
        return Comparison(path)
    if kind not in ("run",):
        raise AnalysisError(path, f"file kind {kind!r} is not supported here (expected a run file, a sweep index "
                                  f"or a comparison file)")
    return Run(path, allow_incomplete=allow_incomplete)
