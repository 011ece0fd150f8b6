"""Figures of runs and sweeps.

Every function takes a loaded `Run` or `Sweep` and returns a `Plot`: its
name (the PNG file name), a title, a matplotlib Figure (None when the data
are absent, e.g. no solved policy) and a caption that says what is shown
and from which data. Figures are built on the Agg canvas directly, without
pyplot's global state, so they can be made in bulk and inspected in tests.
"""

import math
from dataclasses import dataclass
from typing import Optional

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .load import SET_MASK, AnalysisError, mean_interval, period_labels_ticks  # noqa: E402

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 14,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf"]
PERIOD_NAMES = {1: "year", 2: "half-year", 4: "quarter", 12: "month"}


@dataclass
class Plot:
    name: str
    title: str
    figure: Optional[Figure]
    caption: str


def _figure(width, height):
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styled(fn):
    """Run a plotting function under the house style."""

    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def label_with_unit(name, unit):
    return f"{name} ({unit})" if unit else name


def _time_axis(ax, run, xlabel=True):
    ticks, labels = period_labels_ticks(run.periods)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    if run.n_periods == 1:
        ax.set_xlim(-0.6, 0.6)
    else:
        ax.set_xlim(-0.3, run.n_periods - 1 + 0.3)
    if xlabel:
        ppy = int(run.param("run.periods_per_year", 4) or 4)
        ax.set_xlabel(f"period ({PERIOD_NAMES.get(ppy, 'period')})")


def _sector_axes(fig, n, ncols=3):
    ncols = min(ncols, n)
    nrows = int(math.ceil(n / ncols))
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return flat[:n], ncols, nrows


def _grid_size(n, ncols=3, row_height=3.3, width=13.0):
    ncols = min(ncols, n)
    nrows = int(math.ceil(n / ncols))
    return (width if ncols > 1 else 7.5), row_height * nrows + 0.9


def _legend_on_top(fig, handles, labels, ncol=None):
    # Below the axes; saved with bbox_inches="tight" so nothing is cut off.
    if ncol is None:
        rows = math.ceil(len(labels) / 6)
        ncol = math.ceil(len(labels) / rows) if labels else 1
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False)


def _dest_color(run, d):
    return COLORS[run.destinations.index(d) % len(COLORS)]


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@_styled
def export_shares(run):
    """Stacked shares of export value by destination over time, per sector
    and for all sectors together."""
    ev = run.arrays["export_value"]
    panels = [(s, ev[:, i, :]) for i, s in enumerate(run.sectors)] + [("all sectors", ev.sum(axis=1))]
    fig = _figure(*_grid_size(len(panels)))
    axes, ncols, _ = _sector_axes(fig, len(panels))
    x = np.arange(run.n_periods)
    handles = None
    for k, (ax, (title, values)) in enumerate(zip(axes, panels)):
        total = values.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total > 0, values / np.where(total > 0, total, 1), np.nan)
        colors = [_dest_color(run, d) for d in run.destinations]
        if run.n_periods > 1:
            handles = ax.stackplot(x, shares.T, labels=run.destinations, colors=colors, alpha=0.85)
        else:  # one period: a stacked bar (an area needs two points)
            bottom = np.zeros(1)
            handles = []
            for j, d in enumerate(run.destinations):
                handles.append(ax.bar(x, np.nan_to_num(shares[:, j]), 0.5, bottom=bottom, color=colors[j],
                                      alpha=0.85, label=d))
                bottom = bottom + np.nan_to_num(shares[:, j])
        ax.set_ylim(0, 1)
        ax.set_title(title)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("share of export value", "fraction"))
        _time_axis(ax, run, xlabel=k >= len(panels) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_on_top(fig, handles, run.destinations)
    fig.suptitle("Export shares by destination")
    caption = (f"Share of each destination in the export value ({run.units['export_value']}) of each sector, "
               f"and for all sectors together, {run.periods[0]}-{run.periods[-1]}.")
    return Plot("export_shares", "Export shares by destination", fig, caption)


@_styled
def market_sets(run):
    """Firms serving each (non-empty) market set over time, per sector."""
    a = run.arrays["firms_by_market_set"]
    fig = _figure(*_grid_size(len(run.sectors)))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors))
    x = np.arange(run.n_periods)
    lines = {}
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for S, name in enumerate(run.market_sets):
            if S == 0:
                continue
            label = name + " only" if "+" not in name else name
            (line,) = ax.plot(x, a[:, i, S], marker="o", ms=3, color=COLORS[(S - 1) % len(COLORS)], label=label)
            lines[label] = line
        ax.set_title(f"{s}\n(non-exporters in {run.periods[-1]}: {int(a[-1, i, 0])} of {int(a[-1, i].sum())})",
                     fontsize=11)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("firms serving the set", run.units["firms_by_market_set"]))
        ax.set_ylim(bottom=0)
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_on_top(fig, list(lines.values()), list(lines.keys()))
    fig.suptitle("Firms serving each market set")
    caption = ("Number of firms whose set of export markets is exactly the one named (US+CN: both). "
               "Non-exporters are left out of the scale; their count in the last period is in each title.")
    return Plot("market_sets", "Firms serving each market set", fig, caption)


@_styled
def entries_exits(run):
    """Entries into and exits from each destination over time, per sector."""
    ent, ex = run.arrays["entrants"], run.arrays["exiters"]
    fig = _figure(*_grid_size(len(run.sectors)))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors))
    x = np.arange(run.n_periods)
    handles, labels = [], []
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for j, d in enumerate(run.destinations):
            c = _dest_color(run, d)
            (h1,) = ax.plot(x, ent[:, i, j], color=c, marker="o", ms=3, label=f"entries {d}")
            (h2,) = ax.plot(x, ex[:, i, j], color=c, marker="x", ms=4, ls="--", label=f"exits {d}")
            if k == 0:
                handles += [h1, h2]
                labels += [f"entries into {d}", f"exits from {d}"]
        ax.set_title(s)
        ax.set_ylim(bottom=0)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("entries, exits per period", run.units["entrants"]))
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_on_top(fig, handles, labels, ncol=min(len(labels), 4))
    fig.suptitle("Entries and exits by destination")
    caption = ("Firms that started serving a destination (solid) and that stopped serving it (dashed; firm "
               "deaths included) in each period.")
    return Plot("entries_exits", "Entries and exits", fig, caption)


def _event_text(ev):
    kind = ev["kind"]
    if kind == "regime":
        what = f"regime {ev['regime']}"
    elif kind == "tariff":
        what = f"tariff {ev['value']:.0%}" + (f" {ev['sector']}" if ev["sector"] else "")
    elif kind == "escalation":
        what = f"escalation x{ev['value']:g}"
    elif kind == "sunk_cost":
        what = f"sunk cost x{ev['value']:g}" + (f" {ev['sector']}" if ev["sector"] else "")
    else:
        what = kind
    return f"{ev['label']}: {what}"


@_styled
def environment(run):
    """Regimes and tariffs in force over time per destination, with the
    scenario events that took effect marked."""
    D = len(run.destinations)
    fig = _figure(max(7.5, 6.2 * D), 7.6)
    axes = fig.subplots(2, D, sharex=True, squeeze=False, gridspec_kw={"height_ratios": [1, 1.6]})
    x = np.arange(run.n_periods)
    regime, tariff = run.arrays["regime"], run.arrays["tariff"]
    handles = {}
    for j, d in enumerate(run.destinations):
        ax_r, ax_t = axes[0, j], axes[1, j]
        names = run.regime_names[d]
        ax_r.step(x, regime[:, j], where="post", color=_dest_color(run, d), lw=2)
        ax_r.plot(x, regime[:, j], "o", color=_dest_color(run, d), ms=4)
        ax_r.set_yticks(range(len(names)))
        ax_r.set_yticklabels(names)
        ax_r.set_ylim(-0.4, len(names) - 0.6)
        ax_r.set_title(f"{d}: regime in force")
        ax_r.set_ylabel("regime")
        for i, s in enumerate(run.sectors):
            (h,) = ax_t.step(x, 100 * tariff[:, i, j], where="post", color=COLORS[i % len(COLORS)], lw=1.8,
                             label=s, alpha=0.9)
            handles[s] = h
        ax_t.set_title(f"{d}: tariff in force by sector")
        unit = run.units["tariff"]
        ax_t.set_ylabel("tariff (percent)" if unit == "fraction" else label_with_unit("tariff", unit))
        top = max(5.0, float(np.nanmax(100 * tariff[:, :, j])) * 1.15 if tariff.size else 5.0)
        ax_t.set_ylim(-0.02 * top, top)
        _time_axis(ax_r, run, xlabel=False)
        _time_axis(ax_t, run)
        events = run.events[run.events["destination"] == d]
        for n, (_, ev) in enumerate(events.iterrows()):
            t = int(ev["period"])
            for ax in (ax_r, ax_t):
                ax.axvline(t, color="0.35", ls=":", lw=1.2)
            ax_t.annotate(_event_text(ev), xy=(t, 1), xycoords=("data", "axes fraction"),
                          xytext=(3, -4 - 13 * (n % 4)), textcoords="offset points", fontsize=8.5,
                          va="top", ha="left", color="0.2",
                          bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    _legend_on_top(fig, list(handles.values()), list(handles.keys()))
    fig.suptitle("Trade-policy environment")
    n_ev = len(run.events)
    caption = ("Regime of each destination (top) and the ad-valorem tariff each sector faces there (bottom; "
               "sectors facing the same tariff share a line, the last drawn on top). "
               + (f"Dotted lines mark the {n_ev} scenario event(s) that took effect." if n_ev
                  else "No scenario events took effect in this run."))
    return Plot("environment", "Tariffs and regimes", fig, caption)


@_styled
def productivity(run):
    """Mean log productivity of each destination's exporters, per sector."""
    a = run.arrays["mean_log_productivity"]
    fig = _figure(*_grid_size(len(run.sectors)))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors))
    x = np.arange(run.n_periods)
    handles = []
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for j, d in enumerate(run.destinations):
            (h,) = ax.plot(x, a[:, i, j], marker="o", ms=3, color=_dest_color(run, d), label=f"exporters to {d}")
            if k == 0:
                handles.append(h)
        ax.set_title(s)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("mean z of exporters", run.units["mean_log_productivity"]))
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_on_top(fig, handles, [h.get_label() for h in handles])
    fig.suptitle("Productivity of exporters")
    caption = ("Mean log productivity of the firms serving each destination (gaps: no exporters). "
               "Log productivity is measured on each sector's grid (/grid/z).")
    return Plot("productivity", "Exporter productivity", fig, caption)


def _ccdf(values, weights):
    """Distinct values and the share of the weight at or above each."""
    v, inverse = np.unique(values, return_inverse=True)
    w = np.bincount(inverse, weights=np.asarray(weights, dtype=float))
    above = np.cumsum(w[::-1])[::-1] / w.sum()
    return v, above


@_styled
def size_distribution(run, period=-1):
    """Distribution of firm export value on log-log axes (complementary
    CDF), per sector, from the panel or else from a histogram of firms by
    productivity and market set."""
    t = period % run.n_periods
    label = run.periods[t]
    sigma = run.sigma
    types = run.type_multipliers is not None
    if run.has_panel:
        source = "panel"
    elif types and run.type_histogram is not None:
        source = "types"  # the panel does not hold firms' demand types
    elif run.histogram is not None and not types:
        source = "histogram"
    else:
        return Plot("size_distribution", "Firm size distribution", None,
                    "Not drawn: this file has neither the firm panel (run with --panel) nor a histogram of firms "
                    "by productivity and market set.")
    levels = int((run.parameters.get("experience") or {}).get("levels", 1))
    if source in ("histogram", "types") and levels > 1:
        return Plot("size_distribution", "Firm size distribution", None,
                    "Not drawn: with experience levels the histogram by market set does not give firm sizes "
                    "(run with --panel).")
    try:
        if source == "panel":
            tables = [None] * len(run.sectors)  # firm values come from firm_export_value
        elif source == "types":
            # [type * n_z + z, set] total export value, one block of rows per type
            tables = [np.concatenate([run.revenue_table(s, t, k).sum(axis=2)
                                      for k in range(len(run.type_multipliers))]) for s in run.sectors]
        else:
            tables = [run.revenue_table(s, t).sum(axis=2) for s in run.sectors]  # [z, state] total export value
    except AnalysisError as e:
        return Plot("size_distribution", "Firm size distribution", None, f"Not drawn: {e.problem}")
    fig = _figure(8.5, 5.6)
    ax = fig.subplots()
    n_firms = {}
    for i, s in enumerate(run.sectors):
        table = tables[i]
        if source == "panel" and s in run.panel_sectors:
            try:
                size = run.firm_export_value(s, t).sum(axis=1)
            except AnalysisError as e:
                return Plot("size_distribution", "Firm size distribution", None, f"Not drawn: {e.problem}")
            _, m = run.panel(s, t)
            keep = (np.asarray(m) & SET_MASK) != 0
            values, weights = size[keep], np.ones(int(keep.sum()))
        else:
            h = run.type_histogram[t, i] if source == "types" else run.histogram[t, i]
            zz, ss = np.nonzero(h)
            keep = ss != 0
            values, weights = table[zz[keep], ss[keep]], h[zz[keep], ss[keep]]
        good = values > 0
        values, weights = values[good], weights[good]
        n_firms[s] = int(weights.sum())
        if values.size == 0:
            continue
        v, cum = _ccdf(values, weights)
        ax.loglog(v, cum, marker="o", ms=4, lw=1.5, color=COLORS[i % len(COLORS)],
                  label=f"{s} ({n_firms[s]} exporters)")
    ax.set_xlabel(label_with_unit("export value per firm", run.units["export_value"]))
    ax.set_ylabel(label_with_unit("share of exporters at or above", "fraction"))
    ax.set_title(f"Firm size distribution, {label}")
    ax.legend(loc="lower left", frameon=False)
    if source == "panel":
        src = f"the firm panel (/panel/<sector>, {label}: each exporting firm)"
    else:
        src = (f"the histogram /series/{run.histogram_name} ({label}: firms by productivity grid point and "
               f"market set), not the panel (this file has none)")
    caption = (f"Complementary CDF of export value per exporting firm, computed from {src}. "
               f"Firm size uses the CES rule: export value to d = sigma exp((sigma-1) z) a_d with sigma = {sigma:g} "
               f"(demand.elasticity), z from /grid/z and a_d = B tau^(1-sigma) (1+t)^(-sigma) for the markets served.")
    return Plot("size_distribution", "Firm size distribution", fig, caption)


def _policy_arrays(run):
    """Entry and exit cut-offs as arrays [sector, joint regime, destination]."""
    S, D = len(run.sectors), len(run.destinations)
    out = {}
    for key in ("entry_cutoff", "exit_cutoff"):
        if key in run.policy:
            arr = np.asarray(run.policy[key], dtype=float)
            if arr.ndim == 2 and arr.shape[0] == S and arr.shape[1] % D == 0:
                arr = arr.reshape(S, arr.shape[1] // D, D)
            elif arr.ndim == 1 and arr.size % (S * D) == 0:
                arr = arr.reshape(S, -1, D)
            if arr.ndim == 3 and arr.shape[0] == S and arr.shape[2] == D:
                out[key] = arr
            continue
        per_sector = [run.policy.get(f"{s}/{key}") for s in run.sectors]
        if all(p is not None for p in per_sector):
            out[key] = np.stack([np.asarray(p, dtype=float).reshape(-1, D) for p in per_sector])
    return out


def _joint_names(run, n_joint):
    names = []
    sizes = [len(run.regime_names[d]) for d in run.destinations]
    for j in range(n_joint):
        parts, rest = [], j
        for d, size in zip(run.destinations, sizes):
            parts.append(run.regime_names[d][rest % size])
            rest //= size
        names.append("/".join(parts))
    return names


@_styled
def policy_cutoffs(run):
    """Entry and exit productivity cut-offs of the solved dynamic policy,
    per sector, joint regime and destination (when /policy is present)."""
    if not run.policy:
        return Plot("policy_cutoffs", "Entry and exit cut-offs", None,
                    f"Not drawn: no solved policy in this file (/policy is written by forward-looking models; "
                    f"this run used the {run.provenance.get('model', '?')} model).")
    cut = _policy_arrays(run)
    if not cut:
        return Plot("policy_cutoffs", "Entry and exit cut-offs", None,
                    "Not drawn: /policy has no entry_cutoff / exit_cutoff datasets of a known shape "
                    f"(found: {', '.join(sorted(run.policy))}).")
    n_joint = next(iter(cut.values())).shape[1]
    names = _joint_names(run, n_joint)
    fig = _figure(*_grid_size(len(run.sectors), row_height=3.8))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors))
    x = np.arange(n_joint)
    handles, labels = [], []
    unit = run.units.get("policy/entry_cutoff") or run.units.get("z") or "log productivity"
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for j, d in enumerate(run.destinations):
            c = _dest_color(run, d)
            for key, marker, ls in (("entry_cutoff", "^", "-"), ("exit_cutoff", "v", "--")):
                if key not in cut:
                    continue
                y = cut[key][i, :, j].copy()
                y[~np.isfinite(y)] = np.nan
                (h,) = ax.plot(x, y, marker=marker, ls=ls, color=c, ms=6)
                if k == 0:
                    handles.append(h)
                    labels.append(f"{key.split('_')[0]} cut-off, {d}")
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8.5)
        ax.set_title(s)
        ax.set_xlabel("joint regime (" + "/".join(run.destinations) + ")")
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("cut-off log productivity", unit))
        ax.tick_params(labelbottom=True)
    _legend_on_top(fig, handles, labels, ncol=min(4, len(labels)))
    fig.suptitle("Solved entry and exit cut-offs")
    caption = ("Lowest log productivity at which a non-exporter enters each destination (entry, solid) and at "
               "which a firm serving only that destination keeps it (exit, dashed), by joint regime. The gap "
               "between them is the hysteresis band from sunk costs; missing points: never.")
    if "solve_iterations" in run.policy and "solve_residual" in run.policy:
        its = np.asarray(run.policy["solve_iterations"]).ravel()
        res = np.asarray(run.policy["solve_residual"], dtype=float).ravel()
        caption += (f" Value iteration: {int(its.min())}-{int(its.max())} sweeps per sector, error bound at most "
                    f"{float(res.max()):.2g} {run.units.get('policy/solve_residual', '')}.")
    return Plot("policy_cutoffs", "Entry and exit cut-offs", fig, caption)


def run_plots(run):
    """Every figure of a run report, in order."""
    return [export_shares(run), market_sets(run), entries_exits(run), environment(run), productivity(run),
            size_distribution(run), policy_cutoffs(run)]


# ---------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------


def _interval(summary, outcome):
    mean = summary[f"{outcome}_mean"].to_numpy(float)
    if f"{outcome}_ci_low" in summary and f"{outcome}_ci_high" in summary:
        lo, hi = summary[f"{outcome}_ci_low"].to_numpy(float), summary[f"{outcome}_ci_high"].to_numpy(float)
        return mean, lo, hi, "confidence interval across replicates"
    if f"{outcome}_sd" in summary:
        sd = summary[f"{outcome}_sd"].to_numpy(float)
        return mean, mean - sd, mean + sd, "mean ± 1 s.d. across replicates"
    return mean, mean, mean, "no interval stored"


@_styled
def response_curves(sweep):
    """Each outcome against each swept parameter, with intervals across
    replicates; one line per combination of the other parameters."""
    params = [p for p in sweep.parameters if p in sweep.summary]
    outcomes = sweep.outcomes
    if not params or not outcomes:
        return Plot("response_curves", "Response curves", None,
                    "Not drawn: the sweep index has no swept parameters or no summarised outcomes.")
    nr, nc = len(outcomes), len(params)
    fig = _figure(max(7.0, 5.2 * nc), 3.6 * nr + 0.8)
    axes = fig.subplots(nr, nc, squeeze=False)
    summ = sweep.summary
    kinds = set()
    for r, outcome in enumerate(outcomes):
        mean, lo, hi, kind = _interval(summ, outcome)
        kinds.add(kind)
        for c, p in enumerate(params):
            ax = axes[r, c]
            others = [q for q in params if q != p]
            if not others:
                groups = [((), summ)]
            else:
                groups = list(summ.groupby(others if len(others) > 1 else others[0], sort=True))
            if len(groups) > 6:
                groups = [((), summ)]
                others = []
            for g, (key, sub) in enumerate(groups):
                idx = sub.sort_values(p).index
                xv = summ.loc[idx, p].to_numpy(float)
                m, l, h = mean[idx], lo[idx], hi[idx]
                key = key if isinstance(key, tuple) else (key,)
                lab = ", ".join(f"{q} = {v:g}" for q, v in zip(others, key)) or None
                color = COLORS[g % len(COLORS)]
                if len(groups) == 1 and len(sub) > 12 and len(np.unique(xv)) == len(xv) and len(params) > 1:
                    ax.errorbar(xv, m, yerr=[m - l, h - m], fmt="o", ms=3, color=color, alpha=0.7, label=lab)
                else:
                    ax.plot(xv, m, marker="o", ms=4, color=color, label=lab)
                    ax.fill_between(xv, l, h, color=color, alpha=0.2, lw=0)
            ax.set_xlabel(p)
            ax.set_ylabel(label_with_unit(outcome, sweep.units.get(outcome, "")))
            if others and r == 0:
                ax.legend(frameon=False, fontsize=9)
        axes[r, 0].set_title(outcome, loc="left", fontsize=12, fontweight="bold")
    fig.suptitle("Response of outcomes to swept parameters")
    caption = ("Mean outcome at each design point against each swept parameter; shaded bands: "
               + "; ".join(sorted(kinds)) + ".")
    return Plot("response_curves", "Response curves", fig, caption)


@_styled
def heat_maps(sweep):
    """Mean of each outcome over a two-parameter grid."""
    params = [p for p in sweep.parameters if p in sweep.summary]
    if len(params) != 2 or not sweep.outcomes:
        return Plot("heat_maps", "Heat maps", None,
                    f"Not drawn: heat maps need a grid over exactly two parameters (this sweep has {len(params)}).")
    px, py = params
    summ = sweep.summary
    n = len(sweep.outcomes)
    ncols = min(n, 2)
    nrows = int(math.ceil(n / ncols))
    fig = _figure(6.2 * ncols, 4.8 * nrows + 0.6)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, outcome in zip(axes, sweep.outcomes):
        table = summ.pivot_table(index=py, columns=px, values=f"{outcome}_mean", aggfunc="mean")
        im = ax.imshow(table.to_numpy(float), origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(table.shape[1]))
        ax.set_xticklabels([f"{v:g}" for v in table.columns], rotation=45 if table.shape[1] > 6 else 0,
                           ha="right" if table.shape[1] > 6 else "center")
        ax.set_yticks(range(table.shape[0]))
        ax.set_yticklabels([f"{v:g}" for v in table.index])
        ax.set_xlabel(px)
        ax.set_ylabel(py)
        ax.grid(False)
        ax.set_title(outcome)
        values = table.to_numpy(float)
        if values.size <= 64:
            lo, hi = np.nanmin(values), np.nanmax(values)
            for (iy, ix), v in np.ndenumerate(values):
                if np.isfinite(v):
                    dark = hi > lo and (v - lo) / (hi - lo) < 0.5
                    ax.text(ix, iy, f"{v:.4g}", ha="center", va="center", fontsize=10,
                            color="white" if dark else "black")
        bar = fig.colorbar(im, ax=ax)
        bar.set_label(label_with_unit("mean", sweep.units.get(outcome, "")))
    fig.suptitle(f"Outcomes over the {px} x {py} grid")
    caption = f"Mean across replicates of each outcome at each point of the {px} x {py} grid."
    return Plot("heat_maps", "Heat maps", fig, caption)


def sweep_plots(sweep):
    return [response_curves(sweep), heat_maps(sweep)]


# ---------------------------------------------------------------------------
# Comparisons (scenario minus base)
# ---------------------------------------------------------------------------


def _band_text(cmp):
    if cmp.replicates < 2:
        return ("Line: the one replicate's difference; one replicate, so no interval across replicates is drawn "
                "(run tradeabm compare with --replicates 2 or more).")
    return (f"Line: mean across the {cmp.replicates} replicates; shaded band: 95% t interval of that mean "
            f"across replicates (common random numbers: base and scenario share each replicate's seed).")


def _event_marks(ax, cmp, annotate=True):
    """Dotted lines at the scenario's events, tagged E1, E2, ... at the top
    of `ax` (the tags are explained in the legend, `_event_handles`)."""
    for n, (_, ev) in enumerate(cmp.events.iterrows()):
        t = int(ev["period"])
        if not 0 <= t < cmp.n_periods:
            continue
        ax.axvline(t, color="0.35", ls=":", lw=1.2, zorder=1)
        if annotate:
            ax.annotate(f"E{n + 1}", xy=(t, 1), xycoords=("data", "axes fraction"), xytext=(2, -3 - 11 * (n % 3)),
                        textcoords="offset points", fontsize=8.5, va="top", ha="left", color="0.2",
                        bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.8})


def _event_handles(cmp):
    """Legend entries (dotted line, text) for the scenario's events."""
    from matplotlib.lines import Line2D

    handles, labels = [], []
    for n, (_, ev) in enumerate(cmp.events.iterrows()):
        handles.append(Line2D([], [], color="0.35", ls=":", lw=1.2))
        labels.append(" ".join(p for p in (f"E{n + 1}", ev["destination"], _event_text(ev)) if p))
    return handles, labels


def _no_difference(ax, values):
    """Say so in a panel whose differences are all zero."""
    v = np.asarray(values, dtype=float)
    if v.size and np.all(np.nan_to_num(v) == 0):
        ax.set_ylim(-1, 1)
        ax.text(0.5, 0.3, "no difference in any period", transform=ax.transAxes, ha="center", va="center",
                fontsize=9.5, color="0.35", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})


def _events_caption(cmp):
    n = len(cmp.events)
    if n:
        tags = "E1" if n == 1 else f"E1-E{n}"
        return (f" Dotted lines ({tags}, named in the legend) mark the scenario's {n} event(s) that took effect "
                f"(replicate 1's scenario run).")
    return " No scenario events took effect (or the scenario runs could not be read)."


def _diff_line(ax, x, mean, lo, hi, color, label, ls="-", marker="o"):
    (h,) = ax.plot(x, mean, color=color, ls=ls, marker=marker, ms=3, label=label, zorder=3)
    if np.any(np.isfinite(lo)):
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0, zorder=2)
    return h


def _zero_line(ax):
    ax.axhline(0, color="0.2", lw=0.8, zorder=1)


@_styled
def comparison_by_destination(cmp, variable, title, what, name):
    """Scenario minus base of a [period, sector, destination] series, one
    panel per sector and one for all sectors, a line per destination."""
    values = cmp.arrays[variable]
    panels = [(s, values[:, :, i, :]) for i, s in enumerate(cmp.sectors)] + [("all sectors", values.sum(axis=2))]
    fig = _figure(*_grid_size(len(panels)))
    axes, ncols, _ = _sector_axes(fig, len(panels))
    x = np.arange(cmp.n_periods)
    handles = []
    unit = cmp.units.get(variable, "")
    for k, (ax, (ptitle, v)) in enumerate(zip(axes, panels)):
        mean, lo, hi, _ = mean_interval(v, axis=0)
        _zero_line(ax)
        for j, d in enumerate(cmp.destinations):
            h = _diff_line(ax, x, mean[:, j], lo[:, j], hi[:, j], _dest_color(cmp, d), d)
            if k == 0:
                handles.append(h)
        _event_marks(ax, cmp)
        _no_difference(ax, v)
        ax.set_title(ptitle)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit(f"change in {what}", unit))
        _time_axis(ax, cmp, xlabel=k >= len(panels) - ncols)
        ax.tick_params(labelbottom=True)
    eh, el = _event_handles(cmp)
    _legend_on_top(fig, handles + eh, [h.get_label() for h in handles] + el)
    fig.suptitle(f"{title}: scenario minus base")
    caption = (f"Scenario minus base of {what} ({unit}) per period, by destination, for each sector and all "
               f"sectors together (/difference/{variable}). " + _band_text(cmp) + _events_caption(cmp))
    return Plot(name, f"{title}: scenario minus base", fig, caption)


@_styled
def comparison_entries_exits(cmp):
    """Scenario minus base of entries (top row) and exits (bottom row) per
    sector, a line per destination."""
    S = len(cmp.sectors)
    ncols = min(S, 3)
    blocks = int(math.ceil(S / ncols))
    fig = _figure(13.0 if ncols > 1 else 7.5, 2 * blocks * 3.3 + 0.9)
    axes = fig.subplots(2 * blocks, ncols, sharex=True, squeeze=False)
    for k in range(S, blocks * ncols):
        axes[2 * (k // ncols), k % ncols].set_visible(False)
        axes[2 * (k // ncols) + 1, k % ncols].set_visible(False)
    x = np.arange(cmp.n_periods)
    handles = []
    for row, (variable, what) in enumerate((("entrants", "entries"), ("exiters", "exits"))):
        values = cmp.arrays[variable]
        unit = cmp.units.get(variable, "")
        for k, s in enumerate(cmp.sectors):
            ax = axes[2 * (k // ncols) + row, k % ncols]
            mean, lo, hi, _ = mean_interval(values[:, :, k, :], axis=0)
            _zero_line(ax)
            for j, d in enumerate(cmp.destinations):
                h = _diff_line(ax, x, mean[:, j], lo[:, j], hi[:, j], _dest_color(cmp, d), d)
                if row == 0 and k == 0:
                    handles.append(h)
            _event_marks(ax, cmp)
            _no_difference(ax, values[:, :, k, :])
            ax.set_title(f"{s}: {what}")
            if k % ncols == 0:
                ax.set_ylabel(label_with_unit(f"change in {what}", unit))
            _time_axis(ax, cmp, xlabel=row == 1 and k >= S - ncols)
            ax.tick_params(labelbottom=True)
    eh, el = _event_handles(cmp)
    _legend_on_top(fig, handles + eh, [h.get_label() for h in handles] + el)
    fig.suptitle("Entries and exits: scenario minus base")
    caption = ("Scenario minus base of the firms that started serving each destination (top) and that stopped "
               "serving it (bottom; firm deaths included) in each period (/difference/entrants, "
               "/difference/exiters). " + _band_text(cmp) + _events_caption(cmp))
    return Plot("cmp_entries_exits", "Entries and exits: scenario minus base", fig, caption)


@_styled
def comparison_us_share(cmp):
    """Scenario minus base of the US share of export value, per sector and
    for all sectors together."""
    if cmp.us_share is None:
        return Plot("cmp_us_share", "US share of exports: scenario minus base", None,
                    "Not drawn: the US share over time is computed from the linked run files and needs a "
                    "destination named US (see the notes).")
    names = list(cmp.sectors) + ["all sectors"]
    fig = _figure(*_grid_size(len(names)))
    axes, ncols, _ = _sector_axes(fig, len(names))
    x = np.arange(cmp.n_periods)
    mean, lo, hi, _ = mean_interval(cmp.us_share, axis=0)
    color = _dest_color(cmp, "US")
    h = None
    for k, (ax, s) in enumerate(zip(axes, names)):
        _zero_line(ax)
        h = _diff_line(ax, x, mean[:, k], lo[:, k], hi[:, k], color, "US share, scenario minus base")
        _event_marks(ax, cmp)
        _no_difference(ax, cmp.us_share[:, :, k])
        ax.set_title(s)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("change in US share", cmp.units["us_share"]))
        _time_axis(ax, cmp, xlabel=k >= len(names) - ncols)
        ax.tick_params(labelbottom=True)
    eh, el = _event_handles(cmp)
    _legend_on_top(fig, [h] + eh, [h.get_label()] + el)
    fig.suptitle("US share of export value: scenario minus base")
    caption = ("Scenario minus base of the US share of export value (100 x US export value / total export value, "
               "in percentage points), per period, from /series/export_value of the linked run files; gaps: no "
               "exports in the base or the scenario. " + _band_text(cmp) + _events_caption(cmp))
    return Plot("cmp_us_share", "US share of exports: scenario minus base", fig, caption)


def comparison_plots(cmp):
    """Every figure of a comparison report, in order."""
    return [comparison_by_destination(cmp, "export_value", "Export value", "export value", "cmp_export_value"),
            comparison_by_destination(cmp, "firms_serving", "Firms serving", "firms serving", "cmp_firms_serving"),
            comparison_entries_exits(cmp),
            comparison_us_share(cmp)]
