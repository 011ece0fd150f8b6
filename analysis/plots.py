"""Figures of runs, sweeps and comparisons.

Every function takes a loaded `Run`, `Sweep` or `Comparison` and returns a
`Plot`: its name (the PNG file name), a title, a matplotlib Figure (None
when the data are absent, e.g. no solved policy) and a caption that says
what is shown and from which data. Figures are built on the Agg canvas
directly, without pyplot's global state, so they can be made in bulk and
inspected in tests.

What every figure keeps to (docs/figures.md): human labels
(analysis/labels.py), one colour-blind-safe palette (analysis/palette.py),
a unit on every axis with money in C$ billion where the C$ scale applies
and "model units" where it does not (analysis/units.py), shares in percent,
categorical axes for regimes, steps for values on a grid, and a legend entry
for every band. Bands across replicates follow one rule (`replicate_band`):
a 95% t interval from 5 replicates on, the replicates' range (or the
replicates themselves) below that, nothing with one.
"""

import math
import os
import re
import textwrap
from dataclasses import dataclass
from typing import Optional

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from . import palette  # noqa: E402
from .facts import (annual_export_value, fact_label, load_facts, load_validation_facts, model_value,  # noqa: E402
                    window_effect)
from .labels import (destination_label, market_set_label, number_text, outcome_label,  # noqa: E402
                     parameter_label, percent_text, regime_label, sector_label)
from .load import SET_MASK, AnalysisError, mean_interval, period_labels_ticks  # noqa: E402
from .units import (comparison_money_scale, display, period_name, run_money_scale,  # noqa: E402
                    sweep_money_scale)

STYLE = palette.STYLE
# From this many replicates on, bands are 95% t intervals of the mean; below
# it the t quantile is 2.78 or more (12.7 with two replicates) and a band of
# the mean says less than the replicates themselves, so those are shown.
MIN_REPLICATES_FOR_T = 5
BAND_ALPHA = 0.2


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
        ax.set_xlabel(f"period ({period_name(run)})")


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


def _legend_below(fig, handles, labels, ncol=None):
    """One legend below the axes, in as many columns as fit the figure's
    width (saved with bbox_inches="tight", so nothing is cut off)."""
    if ncol is None:
        # About 0.075 inch per character at the legend's font size, plus the handle.
        column = 0.7 + 0.075 * max((len(t) for t in labels), default=1)
        fit = max(1, int(fig.get_figwidth() // column))
        rows = math.ceil(len(labels) / fit) if labels else 1
        ncol = math.ceil(len(labels) / rows) if labels else 1
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False)


def _dest_color(obj, d):
    return palette.destination_color(d, obj.destinations)


def _all_sectors(values, axis):
    """Sectors summed along `axis`, appended as the last sector ("All sectors")."""
    return np.concatenate([values, values.sum(axis=axis, keepdims=True)], axis=axis)


def _sector_titles(obj):
    return [sector_label(s) for s in obj.sectors] + [sector_label("all")]


def _shares_percent(values, total):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * values / np.where(total > 0, total, 1), np.nan)


def replicate_band(values, axis=0):
    """(mean, low, high, what) across replicates along `axis`: the 95% t
    interval of the mean from MIN_REPLICATES_FOR_T replicates on, the
    replicates' range (min to max) with fewer, NaN with one. `what` names
    the band for legends and captions (None: no band)."""
    values = np.asarray(values, dtype=float)
    mean, lo, hi, n = mean_interval(values, axis=axis)
    if n >= MIN_REPLICATES_FOR_T:
        return mean, lo, hi, f"95% t interval of the mean across {n} replicates"
    if n >= 2:
        return mean, values.min(axis=axis), values.max(axis=axis), f"range (min to max) across the {n} replicates"
    return mean, lo, hi, None


def _band_handle(what, color=palette.NEUTRAL):
    return Patch(facecolor=color, alpha=BAND_ALPHA + 0.1, edgecolor="none", label=what)


# ---------------------------------------------------------------------------
# Scenario events: dotted lines tagged E1, E2, ... and a legend entry each
# ---------------------------------------------------------------------------


def _event_text(ev):
    kind = ev["kind"]
    value = ev["value"]
    sector = f" on {sector_label(ev['sector'])}" if ev["sector"] else ""
    if kind == "regime":
        what = f"regime {regime_label(ev['regime'])}"
    elif kind == "tariff":
        what = f"tariff {percent_text(value)}{sector}"
    elif kind == "escalation":
        what = f"escalation x{value:g}"
    elif kind == "sunk_cost":
        what = f"sunk cost x{value:g}{sector}"
    else:
        what = kind.replace("_", " ")
    return f"{ev['label']}: {what}"


def _tag_text(numbers):
    """'E1' or 'E1-E3' for consecutive event numbers, else 'E1,E4'."""
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"E{numbers[0]}-E{numbers[-1]}"
    return ",".join(f"E{n}" for n in numbers)


def _event_marks(ax, events, n_periods, tags=True, destination=None):
    """Dotted lines at the events' periods (only `destination`'s when
    given), one tag per period at the top; events keep their numbers."""
    by_period = {}
    for n, (_, ev) in enumerate(events.iterrows(), 1):
        if destination is None or ev["destination"] == destination:
            by_period.setdefault(int(ev["period"]), []).append(n)
    for g, (t, numbers) in enumerate(sorted(by_period.items())):
        if not 0 <= t < n_periods:
            continue
        ax.axvline(t, color=palette.NEUTRAL, ls=":", lw=1.2, zorder=1)
        if tags:  # staggered, so tags of neighbouring periods do not overlap
            ax.annotate(_tag_text(numbers), xy=(t, 1), xycoords=("data", "axes fraction"), xytext=(2, -3 - 11 * (g % 3)),
                        textcoords="offset points", fontsize=8.5, va="top", ha="left", color="0.2",
                        bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.8})


def _event_handles(events):
    """Legend entries (dotted line, text) for the events."""
    handles, labels = [], []
    for n, (_, ev) in enumerate(events.iterrows(), 1):
        handles.append(Line2D([], [], color=palette.NEUTRAL, ls=":", lw=1.2))
        labels.append(f"E{n} {destination_label(ev['destination'])} {_event_text(ev)}")
    return handles, labels


def _events_caption(events, whose=""):
    n = len(events)
    if n:
        tags = "E1" if n == 1 else f"E1-E{n}"
        return (f" Dotted lines ({tags}, named in the legend) mark the {n} scenario event(s) that took effect"
                f"{whose}.")
    return " No scenario events took effect."


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@_styled
def export_shares(run):
    """Stacked shares of export value by destination over time, per sector
    and for all sectors together, in percent."""
    ev = _all_sectors(np.asarray(run.arrays["export_value"], dtype=float), axis=1)
    titles = _sector_titles(run)
    fig = _figure(*_grid_size(len(titles)))
    axes, ncols, _ = _sector_axes(fig, len(titles))
    x = np.arange(run.n_periods)
    colors = [_dest_color(run, d) for d in run.destinations]
    labels = [destination_label(d) for d in run.destinations]
    handles = [Patch(facecolor=c, alpha=0.85, label=lab) for c, lab in zip(colors, labels)]
    for k, (ax, title) in enumerate(zip(axes, titles)):
        values = ev[:, k, :]
        shares = _shares_percent(values, values.sum(axis=1, keepdims=True))
        if run.n_periods > 1:
            ax.stackplot(x, shares.T, colors=colors, alpha=0.85)
        else:  # one period: a stacked bar (an area needs two points)
            bottom = np.zeros(1)
            for j in range(len(run.destinations)):
                ax.bar(x, np.nan_to_num(shares[:, j]), 0.5, bottom=bottom, color=colors[j], alpha=0.85)
                bottom = bottom + np.nan_to_num(shares[:, j])
        ax.set_ylim(0, 100)
        ax.set_title(title)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("share of export value", "percent"))
        _time_axis(ax, run, xlabel=k >= len(titles) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_below(fig, handles, labels)
    fig.suptitle("Export shares by destination")
    caption = (f"Share of each destination in the export value of each sector, and of all sectors together, in "
               f"percent of the sector's export value (/series/export_value), {run.periods[0]}-{run.periods[-1]}.")
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
            label = market_set_label(name)
            (line,) = ax.plot(x, a[:, i, S], marker="o", ms=3, color=palette.series_color(S - 1),
                              ls=palette.series_style(S - 1), label=label)
            lines[label] = line
        ax.set_title(f"{sector_label(s)}\n(non-exporters in {run.periods[-1]}: {int(a[-1, i, 0]):,} of "
                     f"{int(a[-1, i].sum()):,})", fontsize=11)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("firms serving the set", run.units["firms_by_market_set"]))
        ax.set_ylim(bottom=0)
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_below(fig, list(lines.values()), list(lines.keys()))
    fig.suptitle("Firms serving each market set")
    caption = ("Number of firms whose set of export markets is exactly the one named (US + China: both, and no "
               "other). Non-exporters are left out of the scale; their count in the last period is in each title.")
    return Plot("market_sets", "Firms serving each market set", fig, caption)


@_styled
def entrants_exiters(run):
    """Entrants into and exiters from each destination over time, per
    sector (the glossary's names, docs/output.md)."""
    ent, ex = run.arrays["entrants"], run.arrays["exiters"]
    fig = _figure(*_grid_size(len(run.sectors)))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors))
    x = np.arange(run.n_periods)
    handles, labels = [], []
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for j, d in enumerate(run.destinations):
            c = _dest_color(run, d)
            (h1,) = ax.plot(x, ent[:, i, j], color=c, marker="o", ms=3)
            (h2,) = ax.plot(x, ex[:, i, j], color=c, marker="x", ms=4, ls="--")
            if k == 0:
                handles += [h1, h2]
                labels += [f"entrants into {destination_label(d)}", f"exiters from {destination_label(d)}"]
        ax.set_title(sector_label(s))
        ax.set_ylim(bottom=0)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit(f"entrants, exiters per {period_name(run)}", run.units["entrants"]))
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_below(fig, handles, labels, ncol=min(len(labels), 6))
    fig.suptitle("Entrants and exiters by destination")
    caption = ("Firms that started serving a destination (solid, circles) and that stopped serving it (dashed, "
               "crosses; firm deaths included) in each period.")
    return Plot("entrants_exiters", "Entrants and exiters", fig, caption)


def _tariff_groups(tariff):
    """Sectors with identical tariff paths, [(path, [sector indexes])], in
    order of first sector."""
    groups = []
    for i in range(tariff.shape[1]):
        path = tariff[:, i]
        for g in groups:
            if np.array_equal(g[0], path, equal_nan=True):
                g[1].append(i)
                break
        else:
            groups.append((path, [i]))
    return groups


def _group_label(run, members, n_groups):
    if len(members) == len(run.sectors):
        return "all sectors"
    names = [sector_label(run.sectors[i]) for i in members]
    if len(members) > 4 and n_groups > 1:
        return f"the other {len(members)} sectors"
    return ", ".join(names)


@_styled
def environment(run):
    """Regimes (categories) and tariffs in force over time per destination,
    one line per group of sectors facing the same tariff, with the scenario
    events that took effect marked."""
    D = len(run.destinations)
    fig = _figure(max(7.5, 5.6 * D), 8.2)
    axes = fig.subplots(2, D, sharex=True, squeeze=False, gridspec_kw={"height_ratios": [1, 1.7]})
    x = np.arange(run.n_periods)
    regime, tariff = run.arrays["regime"], 100.0 * np.asarray(run.arrays["tariff"], dtype=float)
    shared = []
    for j, d in enumerate(run.destinations):
        ax_r, ax_t = axes[0, j], axes[1, j]
        names = run.regime_names[d]
        color = _dest_color(run, d)
        # Regimes are categories: a step path between category rows, markers at periods.
        ax_r.step(x, regime[:, j], where="post", color=color, lw=2)
        ax_r.plot(x, regime[:, j], "o", color=color, ms=4)
        ax_r.set_yticks(range(len(names)))
        ax_r.set_yticklabels([regime_label(r) for r in names])
        ax_r.set_ylim(-0.5, len(names) - 0.5)
        ax_r.grid(axis="y", alpha=0.15)
        ax_r.set_title(f"{destination_label(d)}: regime in force")
        ax_r.set_ylabel("regime (category)")
        groups = _tariff_groups(tariff[:, :, j])
        handles = []
        for g, (path, members) in enumerate(groups):
            c = palette.series_color(members[0]) if len(groups) > 1 else color
            (h,) = ax_t.step(x, path, where="post", color=c, lw=2.0 if len(members) > 1 else 1.6,
                             ls=palette.series_style(members[0]), label=_group_label(run, members, len(groups)))
            handles.append(h)
        if len(groups) == 1:
            shared.append(destination_label(d))
        ax_t.legend(handles=handles, loc="upper left", fontsize=8.5, frameon=True, framealpha=0.85,
                    title="sectors" if len(groups) > 1 else None, title_fontsize=8.5, bbox_to_anchor=(0, 0.9))
        ax_t.set_title(f"{destination_label(d)}: tariff in force")
        ax_t.set_ylabel(label_with_unit("ad-valorem tariff", "percent"))
        top = max(5.0, float(np.nanmax(tariff[:, :, j])) * 1.5 if tariff.size else 5.0)
        ax_t.set_ylim(-0.02 * top, top)
        _time_axis(ax_r, run, xlabel=False)
        _time_axis(ax_t, run)
        _event_marks(ax_r, run.events, run.n_periods, tags=False, destination=d)
        _event_marks(ax_t, run.events, run.n_periods, destination=d)
    eh, el = _event_handles(run.events)
    if eh:
        _legend_below(fig, eh, el)
    fig.suptitle("Trade-policy environment")
    n_ev = len(run.events)
    caption = ("Regime of each destination (top; regimes are categories, listed from least to most restrictive) "
               "and the ad-valorem tariff in force there (bottom), one line per group of sectors that face the same "
               "tariff in every period"
               + (f" (one line for all sectors: {', '.join(shared)})" if shared else "") + "."
               + (_events_caption(run.events) if n_ev else " No scenario events took effect in this run."))
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
            (h,) = ax.plot(x, a[:, i, j], marker="o", ms=3, color=_dest_color(run, d),
                           label=f"exporters to {destination_label(d)}")
            if k == 0:
                handles.append(h)
        ax.set_title(sector_label(s))
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("mean z of exporters", run.units["mean_log_productivity"]))
        _time_axis(ax, run, xlabel=k >= len(run.sectors) - ncols)
        ax.tick_params(labelbottom=True)
    _legend_below(fig, handles, [h.get_label() for h in handles])
    fig.suptitle("Productivity of exporters")
    caption = ("Mean log productivity z of the firms serving each destination (gaps: no exporters). "
               "z is measured on each sector's grid (/grid/z).")
    return Plot("productivity", "Exporter productivity", fig, caption)


def _ccdf(values, weights):
    """Distinct values and the share of the weight at or above each."""
    v, inverse = np.unique(values, return_inverse=True)
    w = np.bincount(inverse, weights=np.asarray(weights, dtype=float))
    above = np.cumsum(w[::-1])[::-1] / w.sum()
    return v, above


@_styled
def size_distribution(run, period=-1, money=None):
    """Distribution of firm export value on log-log axes (complementary
    CDF, a step function), per sector, from the panel or else from a
    histogram of firms by productivity and market set."""
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
    money = money or run_money_scale(run)
    # Firm sizes read best in C$ million (C$ billion / 1000); model units as they are.
    factor, unit = (money.factor * 1000.0, "C$ million") if money.is_cad else (1.0, money.unit)
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
        # P(size >= x) is cum[k] at x = v[k] and cum[k + 1] on (v[k], v[k + 1]]:
        # a step down just after each value ("pre"), flat across empty stretches.
        ax.step(factor * v, 100.0 * cum, where="pre", marker="o", ms=3.5, lw=1.4,
                color=palette.series_color(i), ls=palette.series_style(i),
                label=f"{sector_label(s)} ({n_firms[s]:,} exporters)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:,g}")  # 0.01, 1, 1,000 rather than powers of ten
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel(label_with_unit("export value per firm", f"{unit} per {period_name(run)}"))
    ax.set_ylabel(label_with_unit("exporters at or above", "percent of exporters"))
    ax.set_title(f"Firm size distribution, {label}")
    ax.legend(loc="lower left", frameon=False)
    if source == "panel":
        src = f"the firm panel (/panel/<sector>, {label}: each exporting firm)"
    else:
        src = (f"the histogram /series/{run.histogram_name} ({label}: firms by productivity grid point and "
               f"market set; sizes take one value per grid point, so the curve is a step function), not the "
               f"panel (this file has none)")
    caption = (f"Complementary CDF of export value per exporting firm, computed from {src}. "
               f"Firm size uses the CES rule: export value to d = sigma exp((sigma-1) z) a_d with sigma = {sigma:g} "
               f"(demand.elasticity), z from /grid/z and a_d = B tau^(1-sigma) (1+t)^(-sigma) for the markets served. "
               + money.note)
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
    per sector, joint regime (a category) and destination (when /policy is
    present): markers, and the hysteresis band between them."""
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
    names = ["/".join(regime_label(r) for r in n.split("/")) for n in _joint_names(run, n_joint)]
    ncols = 2 if n_joint > 6 else 3
    fig = _figure(*_grid_size(len(run.sectors), ncols=ncols, row_height=3.6 + 0.06 * n_joint))
    axes, ncols, _ = _sector_axes(fig, len(run.sectors), ncols=ncols)
    x = np.arange(n_joint)
    D = len(run.destinations)
    offsets = (np.arange(D) - (D - 1) / 2) * min(0.25, 0.8 / D)  # destinations side by side in a category
    unit = run.units.get("policy/entry_cutoff") or run.units.get("z") or "log productivity"
    handles, labels = [], []
    for k, (ax, s) in enumerate(zip(axes, run.sectors)):
        i = run.sectors.index(s)
        for j, d in enumerate(run.destinations):
            c = _dest_color(run, d)
            xs = x + offsets[j]
            ys = {}
            for key, marker in (("entry_cutoff", "^"), ("exit_cutoff", "v")):
                if key not in cut:
                    continue
                y = cut[key][i, :, j].copy()
                y[~np.isfinite(y)] = np.nan
                ys[key] = y
                (h,) = ax.plot(xs, y, marker=marker, ls="none", color=c, ms=6,
                               mfc=c if key == "entry_cutoff" else "white")
                if k == 0:
                    handles.append(h)
                    labels.append(f"{key.split('_')[0]} cut-off, {destination_label(d)}")
            if len(ys) == 2:
                both = np.isfinite(ys["exit_cutoff"]) & np.isfinite(ys["entry_cutoff"])
                ax.vlines(xs[both], ys["exit_cutoff"][both], ys["entry_cutoff"][both], color=c, lw=2.2, alpha=0.35)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45 if n_joint > 3 else 0, ha="right" if n_joint > 3 else "center",
                           fontsize=8.5)
        ax.set_xlim(-0.6, n_joint - 0.4)
        ax.grid(axis="x", alpha=0)
        ax.set_title(sector_label(s))
        ax.set_xlabel("joint regime, category (" + "/".join(destination_label(d) for d in run.destinations) + ")")
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("cut-off log productivity", unit))
        ax.tick_params(labelbottom=True)
    if len(cut) == 2:
        handles.append(Line2D([], [], color=palette.NEUTRAL, lw=2.2, alpha=0.35))
        labels.append("hysteresis band (exit to entry cut-off)")
    _legend_below(fig, handles, labels, ncol=min(4, len(labels)))
    fig.suptitle("Solved entry and exit cut-offs")
    caption = ("Lowest log productivity at which a non-exporter enters each destination (filled triangles) and at "
               "which a firm serving only that destination keeps it (open triangles), by joint regime; regimes are "
               "categories, not a scale, so points are not joined. The shaded bar between them is the hysteresis "
               "band from sunk costs; missing points: never.")
    if "solve_iterations" in run.policy and "solve_residual" in run.policy:
        its = np.asarray(run.policy["solve_iterations"]).ravel()
        res = np.asarray(run.policy["solve_residual"], dtype=float).ravel()
        caption += (f" Value iteration: {int(its.min())}-{int(its.max())} sweeps per sector, error bound at most "
                    f"{float(res.max()):.2g} {run.units.get('policy/solve_residual', '')}.")
    return Plot("policy_cutoffs", "Entry and exit cut-offs", fig, caption)


# ---------------------------------------------------------------------------
# Model and data (analysis/data/canada_facts.yaml, params/validation/canada_2025.yaml)
# ---------------------------------------------------------------------------


def _fact_tick(fact):
    when = f"{fact.year} vs {fact.base_year}" if fact.measure == "growth" else str(fact.year)
    label = re.sub(r" \(model: [^)]*\)", "", fact_label(fact))
    return "\n".join(textwrap.wrap(label, 22)) + f"\n{when}"


@_styled
def model_vs_data(obj, sources, name="model_vs_data", facts=None):
    """The model's counterparts of the dated facts beside the facts.
    `obj`: a Run or Comparison (periods, sectors, destinations, parameters);
    `sources`: [(label, [export_value arrays [period, sector, destination]])],
    e.g. one run, or the base and scenario runs of every replicate."""
    title = "Model and data"
    try:
        facts = load_facts() if facts is None else facts
    except (AnalysisError, ImportError) as exc:
        return Plot(name, title, None, f"Not drawn: the facts file cannot be read ({exc}).")
    ppy = int(obj.param("run.periods_per_year", 4) or 4)
    annual = [(label, [annual_export_value(np.asarray(ev, dtype=float), obj.periods, ppy) for ev in arrays])
              for label, arrays in sources]
    rows = []
    for fact in facts:
        if fact.measure not in ("share", "growth"):
            continue
        per_source = []
        for label, years in annual:
            values = [model_value(fact, y, obj.sectors, obj.destinations) for y in years]
            per_source.append((label, [v for v in values if v is not None]))
        if any(values for _, values in per_source):
            rows.append((fact, per_source))
    if not rows:
        return Plot(name, title, None,
                    "Not drawn: no fact of analysis/data/canada_facts.yaml or params/validation/canada_2025.yaml has "
                    "a counterpart here (the facts need complete calendar years, 2024-2025 or 2018-2021, and the "
                    "destinations or sectors they name).")
    panels = [(m, t, u) for m, t, u in (("share", "Share of export value", "percent"),
                                        ("growth", "Change in annual export value", "percent, year on year"))
              if any(f.measure == m for f, _ in rows)]
    widths = [max(2, sum(1 for f, _ in rows if f.measure == m)) for m, _, _ in panels]
    fig = _figure(max(8.0, 1.55 * sum(widths) + 2.5), 5.6)
    axes = fig.subplots(1, len(panels), squeeze=False, gridspec_kw={"width_ratios": widths})[0]
    n_src = len(sources)
    dodge = (np.arange(n_src + 1) - n_src / 2) * 0.2  # model sources, then the data point
    ranges = False
    for ax, (measure, ptitle, unit) in zip(axes, panels):
        sub = [(f, per) for f, per in rows if f.measure == measure]
        for c, (fact, per_source) in enumerate(sub):
            for k, (label, values) in enumerate(per_source):
                if not values:
                    continue
                xk = c + dodge[k]
                ax.plot(xk, np.mean(values), "o", color=palette.series_color(k), ms=7, label=label, zorder=3)
                if len(values) > 1:
                    ranges = True
                    ax.vlines(xk, min(values), max(values), color=palette.series_color(k), lw=2.5, alpha=0.5)
            xd = c + dodge[n_src]
            ax.plot(xd, fact.value, "D", color=palette.DATA, ms=7, label="data", zorder=3)
            ax.annotate(f"{fact.value:g}% [{fact.tag}]", (xd, fact.value), xytext=(6, 0), textcoords="offset points",
                        fontsize=8.5, va="center", ha="left")
        ax.set_xticks(range(len(sub)))
        ax.set_xticklabels([_fact_tick(f) for f, _ in sub], fontsize=8.5)
        ax.set_xlim(-0.6, len(sub) - 0.1)
        ax.grid(axis="x", alpha=0)
        if measure == "growth":
            ax.axhline(0, color="0.2", lw=0.8, zorder=1)
        ax.set_title(ptitle)
        ax.set_xlabel("fact (category) and year")
        ax.set_ylabel(label_with_unit(ptitle.lower(), unit))
    handles, labels = [], []
    for k, (label, _) in enumerate(sources):
        handles.append(Line2D([], [], marker="o", ls="none", color=palette.series_color(k), ms=7))
        labels.append(f"model: {label}")
    handles.append(Line2D([], [], marker="D", ls="none", color=palette.DATA, ms=7))
    labels.append("data [source tag]")
    if ranges:
        handles.append(Line2D([], [], color=palette.NEUTRAL, lw=2.5, alpha=0.5))
        labels.append("model: range across replicates")
    _legend_below(fig, handles, labels)
    fig.suptitle("Model and data")
    shown = [f for f, _ in rows]
    caption = ("Model: calendar-year sums of /series/export_value (all sectors unless named); points are means "
               "over replicates" + (", bars their range" if ranges else "") + ". Data (diamonds; 2024 levels from "
               "analysis/data/canada_facts.yaml, changes from params/validation/canada_2025.yaml, a change over a "
               "year from the year before its comparison's first window; tags: P official release or paper, N "
               "news, E estimate, D derived): "
               + "; ".join(f"{fact_label(f)} {f.year}: {f.value:g}% ({f.source}) [{f.tag}]" for f in shown)
               + ". Steel and aluminum are one sector in the model; both data points sit beside it. Observed "
               "changes include what the model leaves out (prices, exchange rates, gold): compare directions and "
               "orders of magnitude.")
    return Plot(name, title, fig, caption)


def run_model_vs_data(run):
    return model_vs_data(run, [("this run", [run.arrays["export_value"]])])


def run_plots(run, money=None):
    """Every figure of a run report, in order."""
    money = money or run_money_scale(run)
    return [export_shares(run), market_sets(run), entrants_exiters(run), environment(run), productivity(run),
            size_distribution(run, money=money), policy_cutoffs(run), run_model_vs_data(run)]


# ---------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------


def _complete_runs(sweep):
    d = sweep.design
    return d[d["status"] == "complete"] if "status" in d else d


def sweep_replicates(sweep, outcome):
    """Per design point (in summary order), the replicate values of an
    outcome, or None when they cannot be known. From a per-run column of
    the design table when the index stores one (named as the outcome);
    else, for points with at most two replicates, from the stored mean and
    s.d.: two values a, b have mean m and s.d. |a - b| / sqrt(2), so they
    are exactly m -/+ sd / sqrt(2)."""
    summ = sweep.summary
    if outcome in sweep.design.columns:
        d = _complete_runs(sweep)
        by_point = {p: g[outcome].to_numpy(float) for p, g in d.groupby("point")}
        return [by_point.get(p, np.array([])) for p in summ["point"]]
    if f"{outcome}_sd" not in summ:
        return None
    out = []
    for m, s, n in zip(summ[f"{outcome}_mean"], summ[f"{outcome}_sd"], _replicate_counts(sweep, outcome)):
        if n == 1:
            out.append(np.array([m], dtype=float))
        elif n == 2 and math.isfinite(s):
            out.append(np.array([m - s / math.sqrt(2), m + s / math.sqrt(2)]))
        else:
            return None
    return out


def _replicate_counts(sweep, outcome):
    summ = sweep.summary
    if f"{outcome}_n" in summ:
        return summ[f"{outcome}_n"].to_numpy(int)
    if "replicate" in sweep.design:
        counts = _complete_runs(sweep).groupby("point").size()
        return np.array([int(counts.get(p, 0)) for p in summ["point"]])
    return np.ones(len(summ), dtype=int)


def sweep_band(sweep, outcome):
    """(mean, low, high, what, replicates) of an outcome per design point,
    in stored units: the stored 95% t interval where every point has at
    least MIN_REPLICATES_FOR_T replicates, else the replicates' range when
    the replicate values are known (`sweep_replicates`), else no band
    (what None). `replicates`: per point values or None."""
    summ = sweep.summary
    mean = summ[f"{outcome}_mean"].to_numpy(float)
    nan = np.full_like(mean, np.nan)
    n = _replicate_counts(sweep, outcome)
    reps = sweep_replicates(sweep, outcome)
    if len(n) and n.min() >= MIN_REPLICATES_FOR_T and f"{outcome}_ci_low" in summ:
        return (mean, summ[f"{outcome}_ci_low"].to_numpy(float), summ[f"{outcome}_ci_high"].to_numpy(float),
                f"95% t interval of the mean ({n.min()}+ replicates)", reps)
    if reps is not None and max((len(r) for r in reps), default=0) >= 2:
        lo = np.array([r.min() if len(r) else np.nan for r in reps])
        hi = np.array([r.max() if len(r) else np.nan for r in reps])
        return mean, lo, hi, f"replicates ({int(n.max())} per point): values and range", reps
    return mean, nan, nan.copy(), None, reps


def parameter_display(path):
    """(axis label, factor) of a swept parameter: fractions in percent,
    money in model units (costs are not converted to C$)."""
    label, unit = parameter_label(path)
    if unit == "fraction":
        return label_with_unit(label, "percent"), 100.0
    if unit == "model money":
        return label_with_unit(label, "model units"), 1.0
    return label_with_unit(label, unit or "unit not known"), 1.0


def _param_value_text(path, value):
    label, factor = parameter_display(path)
    return f"{label.split(' (')[0]} = {factor * float(value):g}"


def outcome_display(sweep, outcome, money):
    """The Display of a sweep outcome: its stored unit, money per period."""
    return display(sweep.units.get(outcome, ""), money, per=money.period)


@_styled
def response_curves(sweep, money=None):
    """Each outcome against each swept parameter, one line per combination
    of the other parameters, with the replicates (fewer than
    MIN_REPLICATES_FOR_T) or a t interval of the mean (more)."""
    params = [p for p in sweep.parameters if p in sweep.summary]
    outcomes = sweep.outcomes
    if not params or not outcomes:
        return Plot("response_curves", "Response curves", None,
                    "Not drawn: the sweep index has no swept parameters or no summarised outcomes.")
    money = money or sweep_money_scale(sweep)
    nr, nc = len(outcomes), len(params)
    fig = _figure(max(7.0, 5.4 * nc), 3.4 * nr + 1.2)
    axes = fig.subplots(nr, nc, squeeze=False)
    summ = sweep.summary
    bands = {}
    for r, outcome in enumerate(outcomes):
        disp = outcome_display(sweep, outcome, money)
        mean, lo, hi, what, reps = sweep_band(sweep, outcome)
        t_band = what is not None and what.startswith("95%")
        for c, p in enumerate(params):
            ax = axes[r, c]
            xlabel, xfactor = parameter_display(p)
            others = [q for q in params if q != p]
            groups = list(summ.groupby(others if len(others) > 1 else others[0], sort=True)) if others else []
            if not others or len(groups) > 6:
                groups, others = [((), summ)], []
            xs = summ[p].to_numpy(float) * xfactor
            span = (np.nanmax(xs) - np.nanmin(xs)) or 1.0
            for g, (key, sub) in enumerate(groups):
                idx = sub.sort_values(p).index.to_numpy()
                xv = summ.loc[idx, p].to_numpy(float) * xfactor
                color = palette.series_color(g)
                key = key if isinstance(key, tuple) else (key,)
                lab = ", ".join(_param_value_text(q, v) for q, v in zip(others, key)) or None
                line = len(np.unique(xv)) == len(xv)
                ax.plot(xv, disp.factor * mean[idx], marker="o", ms=4, color=color, ls="-" if line else "none",
                        label=lab, zorder=3)
                if t_band:
                    ax.fill_between(xv, disp.clip(disp.factor * lo[idx]), disp.clip(disp.factor * hi[idx]),
                                    color=color, alpha=BAND_ALPHA, lw=0)
                    bands["t"] = what
                elif what is not None:
                    # Replicates themselves, nudged apart per group so groups do not hide each other.
                    dx = (g - (len(groups) - 1) / 2) * 0.012 * span
                    for i, x in zip(idx, xv):
                        v = disp.factor * reps[i]
                        ax.vlines(x + dx, v.min(), v.max(), color=color, lw=1.2, alpha=0.6)
                        ax.plot(np.full(v.shape, x + dx), v, ls="none", marker="_", ms=8, mew=1.5, color=color,
                                alpha=0.8)
                    bands["range"] = what
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label_with_unit(outcome_label(outcome), disp.unit))
            if others and r == 0:
                ax.legend(frameon=False, fontsize=8.5)
        axes[r, 0].set_title(outcome_label(outcome), loc="left", fontsize=12, fontweight="bold")
    handles, labels = [], []
    if "t" in bands:
        handles.append(_band_handle(bands["t"]))
        labels.append(bands["t"] + ", clipped to feasible values")
    if "range" in bands:
        handles.append(Line2D([], [], color=palette.NEUTRAL, lw=1.2, marker="_", ms=8, mew=1.5))
        labels.append(bands["range"])
    if handles:
        _legend_below(fig, handles, labels, ncol=len(handles))
    fig.suptitle("Response of outcomes to swept parameters")
    periods = sweep.provenance.get("summary_periods")
    caption = ("Mean outcome at each design point (line) against each swept parameter"
               + (f"; each outcome is the run's average over its last {periods} periods" if periods else "") + ". "
               + (("Bands: " + bands["t"] + ", clipped to feasible values (counts and money at least 0, shares "
                   "within 0-100%). ") if "t" in bands else "")
               + (("Ticks: the values of the replicates at each point (fewer than "
                   f"{MIN_REPLICATES_FOR_T} replicates: a t interval would be wider than the replicates say). ")
                  if "range" in bands else "")
               + ("No spread across replicates drawn: one replicate per point, or the index stores neither per-run "
                  "values nor enough replicates for a t interval. " if not bands else "")
               + money.note)
    return Plot("response_curves", "Response curves", fig, caption)


@_styled
def heat_maps(sweep, money=None):
    """Mean of each outcome over a two-parameter grid (panels for each value
    of a third parameter); one colour scale per outcome, shared by its panels."""
    params = [p for p in sweep.parameters if p in sweep.summary]
    summ = sweep.summary
    facets = [None]
    if len(params) == 3:
        facets = sorted(summ[params[2]].unique())
    if len(params) not in (2, 3) or len(facets) > 4 or not sweep.outcomes:
        return Plot("heat_maps", "Heat maps", None,
                    f"Not drawn: heat maps need a grid over two parameters, or three with at most four values of "
                    f"the third (this sweep has {len(params)}).")
    money = money or sweep_money_scale(sweep)
    px, py = params[:2]
    xlabel, xfactor = parameter_display(px)
    ylabel, yfactor = parameter_display(py)
    n = len(sweep.outcomes)
    if len(facets) == 1:
        ncols = min(n, 2)
        nrows = int(math.ceil(n / ncols))
    else:
        ncols, nrows = len(facets), n
    fig = _figure(6.0 * ncols, 4.6 * nrows + 0.6)
    grid = fig.subplots(nrows, ncols, squeeze=False)
    spread_kinds = set()
    flat = list(grid.flat)
    for ax in flat[n * len(facets):]:
        ax.set_visible(False)
    for k, outcome in enumerate(sweep.outcomes):
        disp = outcome_display(sweep, outcome, money)
        tables = []
        for z in facets:
            sub = summ if z is None else summ[summ[params[2]] == z]
            tables.append(sub.pivot_table(index=py, columns=px, values=f"{outcome}_mean", aggfunc="mean"))
        values = [disp.factor * t.to_numpy(float) for t in tables]
        # The scale spans the spread across replicates too (band of every
        # point), so a difference between means smaller than that noise shows
        # as a small difference in colour.
        _, lo, hi, what, _ = sweep_band(sweep, outcome)
        spread = [disp.clip(disp.factor * b) for b in (lo, hi)] if what is not None else []
        finite = np.concatenate([v[np.isfinite(v)] for v in values + spread]) if values else np.array([])
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        spread_kinds.add(what)
        axes = flat[k * len(facets):(k + 1) * len(facets)]
        im = None
        for ax, z, table, v in zip(axes, facets, tables, values):
            im = ax.imshow(v, origin="lower", aspect="auto", cmap=palette.SEQUENTIAL, vmin=vmin, vmax=vmax)
            ax.set_xticks(range(table.shape[1]))
            ax.set_xticklabels([f"{xfactor * c:g}" for c in table.columns], rotation=45 if table.shape[1] > 6 else 0,
                               ha="right" if table.shape[1] > 6 else "center")
            ax.set_yticks(range(table.shape[0]))
            ax.set_yticklabels([f"{yfactor * c:g}" for c in table.index])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(False)
            title = outcome_label(outcome)
            ax.set_title(title if z is None else f"{title}\n{_param_value_text(params[2], z)}", fontsize=11)
            if v.size <= 64:
                for (iy, ix), val in np.ndenumerate(v):
                    if np.isfinite(val):
                        dark = vmax > vmin and (val - vmin) / (vmax - vmin) < 0.5
                        ax.text(ix, iy, number_text(val), ha="center", va="center", fontsize=10,
                                color="white" if dark else "black")
        bar = fig.colorbar(im, ax=axes)
        bar.set_label(label_with_unit("mean", disp.unit))
    fig.suptitle("Outcomes over the grid of swept parameters")
    spread = sorted(k for k in spread_kinds if k)
    caption = (f"Mean across replicates of each outcome at each grid point. Colours: one scale per outcome (its "
               f"colour bar{', shared by its panels' if len(facets) > 1 else ''}); outcomes do not share a scale, "
               f"so compare colours within one outcome only. "
               + (f"Each scale spans the spread across replicates at every point ({'; '.join(spread)}), so "
                  f"differences between cells smaller than that spread look small. " if spread else
                  "The index gives no spread across replicates: each scale spans the means only. ")
               + money.note)
    return Plot("heat_maps", "Heat maps", fig, caption)


def sweep_plots(sweep, money=None):
    money = money or sweep_money_scale(sweep)
    return [response_curves(sweep, money), heat_maps(sweep, money)]


# ---------------------------------------------------------------------------
# Comparisons (scenario minus base)
# ---------------------------------------------------------------------------


def comparison_levels(cmp):
    """{'base': [...], 'scenario': [...]}: /series/export_value of each
    replicate's runs, or None (with the reason) when they cannot be read."""
    try:
        return {side: [getattr(cmp, f"{side}_run")(r).arrays["export_value"].astype(float)
                       for r in range(1, cmp.replicates + 1)] for side in ("base", "scenario")}, None
    except AnalysisError as exc:
        return None, exc.problem


def _band_caption(what, replicates):
    if what is None:
        return (" One replicate, so no band across replicates is drawn (run tradeabm compare with --replicates 2 "
                "or more).")
    if replicates < MIN_REPLICATES_FOR_T:
        return (f" Line: mean across the {replicates} replicates; shaded band: {what} (with fewer than "
                f"{MIN_REPLICATES_FOR_T} replicates a 95% t interval would be far wider than the replicates say; "
                f"the effects table gives it). Base and scenario share each replicate's seed (common random "
                f"numbers).")
    return (f" Line: mean across the {replicates} replicates; shaded band: {what}. Base and scenario share each "
            f"replicate's seed (common random numbers).")


def _no_difference(ax, values):
    """Say so in a panel whose differences are all zero."""
    v = np.asarray(values, dtype=float)
    if v.size and np.all(np.nan_to_num(v) == 0):
        ax.set_ylim(-1, 1)
        ax.text(0.5, 0.3, "no difference in any period", transform=ax.transAxes, ha="center", va="center",
                fontsize=9.5, color="0.35", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})


def _diff_line(ax, x, values, color, label):
    """Mean across replicates (axis 0) of `values` [replicate, period] and
    its band; returns (line handle, band name or None)."""
    mean, lo, hi, what = replicate_band(values, axis=0)
    (h,) = ax.plot(x, mean, color=color, marker="o", ms=3, label=label, zorder=3)
    if what is not None and np.any(np.isfinite(lo)):
        ax.fill_between(x, lo, hi, color=color, alpha=BAND_ALPHA, lw=0, zorder=2)
    return h, what


def _zero_line(ax):
    ax.axhline(0, color="0.2", lw=0.8, zorder=1)


def _comparison_legend(fig, cmp, handles, labels, what):
    if what is not None:
        handles = handles + [_band_handle(what)]
        labels = labels + [what]
    eh, el = _event_handles(cmp.events)
    _legend_below(fig, handles + eh, labels + el)


def _percent_effect(diff, base):
    """100 x (scenario - base) / base, NaN where the base is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base != 0, 100.0 * diff / np.where(base != 0, base, 1), np.nan)


@_styled
def comparison_by_destination(cmp, variable, title, what, name, money=None, levels=None):
    """Scenario minus base of a [replicate, period, sector, destination]
    series, one panel per sector and one for all sectors, a line per
    destination. Export value is shown as a percent effect (of the base
    run's value in the same period, as in the effects table); without the
    linked runs, as a level difference in C$ (or model units)."""
    diff = _all_sectors(cmp.arrays[variable], axis=2)
    unit = cmp.units.get(variable, "")
    how = f"/difference/{variable}"
    if variable == "export_value":
        if levels is None:
            levels, _ = comparison_levels(cmp)
        if levels is not None:
            diff = _percent_effect(diff, _all_sectors(np.stack(levels["base"]), axis=2))
            unit = "percent of base"
            how = ("percent effect: 100 x (scenario - base) / base per replicate and period, from /difference/"
                   "export_value and the base runs' /series/export_value; the effects table's percent measures "
                   "(export_value, tariff_paid) use the same ratio of sums over the effect window")
        else:
            money = money or comparison_money_scale(cmp)
            shown = display(unit, money, change=True, per=period_name(cmp))
            diff, unit = shown.factor * diff, shown.unit
            how = f"level difference, /difference/{variable}; the run files needed for a percent effect are missing. " \
                + money.note
    ylabel = f"change in {what}"
    titles = _sector_titles(cmp)
    fig = _figure(*_grid_size(len(titles)))
    axes, ncols, _ = _sector_axes(fig, len(titles))
    x = np.arange(cmp.n_periods)
    handles, band = [], None
    for k, (ax, ptitle) in enumerate(zip(axes, titles)):
        _zero_line(ax)
        for j, d in enumerate(cmp.destinations):
            h, band = _diff_line(ax, x, diff[:, :, k, j], _dest_color(cmp, d), destination_label(d))
            if k == 0:
                handles.append(h)
        _event_marks(ax, cmp.events, cmp.n_periods)
        _no_difference(ax, diff[:, :, k, :])
        ax.set_title(ptitle)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit(ylabel, unit))
        _time_axis(ax, cmp, xlabel=k >= len(titles) - ncols)
        ax.tick_params(labelbottom=True)
    _comparison_legend(fig, cmp, handles, [h.get_label() for h in handles], band)
    fig.suptitle(f"{title}: scenario minus base")
    caption = (f"Scenario minus base of {what} ({unit}) per period, by destination, for each sector and all "
               f"sectors together ({how})." + _band_caption(band, cmp.replicates)
               + _events_caption(cmp.events, " (replicate 1's scenario run)"))
    return Plot(name, f"{title}: scenario minus base", fig, caption)


@_styled
def comparison_entrants_exiters(cmp):
    """Scenario minus base of entrants (left) and exiters (right), one row per
    sector with any difference and one for all sectors, a line per
    destination."""
    ent = _all_sectors(cmp.arrays["entrants"], axis=2)
    ex = _all_sectors(cmp.arrays["exiters"], axis=2)
    titles = _sector_titles(cmp)
    changed = [k for k in range(len(titles))
               if k == len(titles) - 1 or np.any(ent[:, :, k] != 0) or np.any(ex[:, :, k] != 0)]
    unchanged = [titles[k] for k in range(len(titles)) if k not in changed]
    rows = len(changed)
    fig = _figure(11.0, 2.6 * rows + 1.6)
    axes = fig.subplots(rows, 2, sharex=True, squeeze=False)
    x = np.arange(cmp.n_periods)
    handles, band = [], None
    unit = cmp.units.get("entrants", "")
    for r, k in enumerate(changed):
        for c, (values, what) in enumerate(((ent, "entrants"), (ex, "exiters"))):
            ax = axes[r, c]
            _zero_line(ax)
            for j, d in enumerate(cmp.destinations):
                h, band = _diff_line(ax, x, values[:, :, k, j], _dest_color(cmp, d), destination_label(d))
                if r == 0 and c == 0:
                    handles.append(h)
            _event_marks(ax, cmp.events, cmp.n_periods)
            _no_difference(ax, values[:, :, k, :])
            ax.set_title(f"{titles[k]}: {what}", fontsize=11)
            ax.set_ylabel(label_with_unit(f"change in {what}", unit), fontsize=9.5)
            _time_axis(ax, cmp, xlabel=r == rows - 1)
            ax.tick_params(labelbottom=True)
        # Entrants and exiters of a sector on one scale, so their sizes compare.
        lo = min(a.get_ylim()[0] for a in axes[r])
        hi = max(a.get_ylim()[1] for a in axes[r])
        for a in axes[r]:
            a.set_ylim(lo, hi)
    if unchanged:
        fig.text(0.5, 1.0, f"No change in entrants or exiters in any period: {', '.join(unchanged)} (rows omitted).",
                 ha="center", va="bottom", fontsize=9.5, color="0.3")
    _comparison_legend(fig, cmp, handles, [h.get_label() for h in handles], band)
    fig.suptitle("Entrants and exiters: scenario minus base", y=1.03 if unchanged else None)
    caption = ("Scenario minus base of the firms that started serving each destination (left) and that stopped "
               "serving it (right; firm deaths included) in each period (/difference/entrants, /difference/exiters), "
               "one row per sector with any difference and one for all sectors; a row's two panels share one "
               "scale." + (f" Omitted (no difference in any period): {', '.join(unchanged)}." if unchanged else "")
               + _band_caption(band, cmp.replicates) + _events_caption(cmp.events, " (replicate 1's scenario run)"))
    return Plot("cmp_entrants_exiters", "Entrants and exiters: scenario minus base", fig, caption)


@_styled
def comparison_us_share(cmp):
    """Scenario minus base of the US share of export value, per sector and
    for all sectors together."""
    if cmp.us_share is None:
        return Plot("cmp_us_share", "US share of exports: scenario minus base", None,
                    "Not drawn: the US share over time is the comparison file's /effects_by_period of "
                    "export_share.US, which needs a destination named US (see the notes).")
    titles = _sector_titles(cmp)
    fig = _figure(*_grid_size(len(titles)))
    axes, ncols, _ = _sector_axes(fig, len(titles))
    x = np.arange(cmp.n_periods)
    color = _dest_color(cmp, "US")
    h, band = None, None
    for k, (ax, s) in enumerate(zip(axes, titles)):
        _zero_line(ax)
        h, band = _diff_line(ax, x, cmp.us_share[:, :, k], color, "US share, scenario minus base")
        _event_marks(ax, cmp.events, cmp.n_periods)
        _no_difference(ax, cmp.us_share[:, :, k])
        ax.set_title(s)
        if k % ncols == 0:
            ax.set_ylabel(label_with_unit("change in US share", cmp.units["us_share"]))
        _time_axis(ax, cmp, xlabel=k >= len(titles) - ncols)
        ax.tick_params(labelbottom=True)
    _comparison_legend(fig, cmp, [h], [h.get_label()], band)
    fig.suptitle("US share of export value: scenario minus base")
    caption = ("Scenario minus base of the US share of export value (100 x US export value / total export value, "
               "in percentage points), per period (/effects_by_period, outcome export_share.US); gaps: no "
               "exports in the base or the scenario." + _band_caption(band, cmp.replicates)
               + _events_caption(cmp.events, " (replicate 1's scenario run)"))
    return Plot("cmp_us_share", "US share of exports: scenario minus base", fig, caption)


@_styled
def comparison_model_vs_data(cmp, levels=None, validation=None):
    """The facts of the validation file (params/validation/canada_2025.yaml)
    beside the model's value as `tradeabm validate` defines it: the effect
    of the fact's outcome, scenario minus base, over the fact's window, in
    each replicate of this comparison. Facts of this comparison's scenario
    file if there are any, else every fact the comparison's periods,
    sectors and destinations can show (the caption says the data are then
    the outcome of another scenario)."""
    name, title = "cmp_model_vs_data", "Model and data"
    if levels is None:
        levels, problem = comparison_levels(cmp)
        if levels is None:
            return Plot(name, title, None, f"Not drawn: the linked run files cannot be read ({problem}).")
    try:
        validation = load_validation_facts() if validation is None else validation
    except (AnalysisError, ImportError) as exc:
        return Plot(name, title, None, f"Not drawn: the validation file cannot be read ({exc}).")
    rows = []
    for vf in validation:
        values = [window_effect(vf, b, sc, cmp.periods, cmp.sectors, cmp.destinations)
                  for b, sc in zip(levels["base"], levels["scenario"])]
        if values and all(v is not None and math.isfinite(v) for v in values):
            rows.append((vf, values))
    scenario = os.path.basename(str(cmp.provenance.get("scenario_parameters", "")))
    own = [(vf, v) for vf, v in rows if vf.scenario == scenario]
    rows = own or rows
    if not rows:
        return Plot(name, title, None,
                    "Not drawn: no fact of params/validation/canada_2025.yaml has a window within this comparison's "
                    "periods and an outcome its sectors and destinations can show.")
    units = [u for u in ("percentage points", "percent") if any(vf.units == u for vf, _ in rows)]
    widths = [max(2, sum(1 for vf, _ in rows if vf.units == u)) for u in units]
    fig = _figure(max(8.0, 1.6 * sum(widths) + 2.5), 5.8)
    axes = fig.subplots(1, len(units), squeeze=False, gridspec_kw={"width_ratios": widths})[0]
    band = None
    for ax, unit in zip(axes, units):
        sub = [(vf, v) for vf, v in rows if vf.units == unit]
        for c, (vf, values) in enumerate(sub):
            mean, low, high, what = replicate_band(np.asarray(values)[:, None])
            ax.plot(c - 0.12, mean[0], "o", color=palette.series_color(1), ms=7, zorder=3)
            if what:
                band = what
                ax.vlines(c - 0.12, low[0], high[0], color=palette.series_color(1), lw=2.5, alpha=0.6)
            ax.errorbar(c + 0.12, vf.data, yerr=vf.tolerance, fmt="D", color=palette.DATA, ms=7, capsize=3,
                        elinewidth=1, alpha=0.9, zorder=3)
            short = "pp" if unit == "percentage points" else "%"
            ax.annotate(f"{vf.data:+g}{'' if short == '%' else ' '}{short} [{vf.tag}]", (c + 0.12, vf.data),
                        xytext=(7, 0), textcoords="offset points", fontsize=8.5, va="center", ha="left")
        ax.set_xticks(range(len(sub)))
        ax.set_xticklabels([_validation_tick(vf) for vf, _ in sub], fontsize=8.5)
        ax.set_xlim(-0.6, len(sub) - 0.1)
        ax.grid(axis="x", alpha=0)
        ax.axhline(0, color="0.2", lw=0.8, zorder=1)
        what = "change in the share" if unit == "percentage points" else "change in export value"
        ax.set_title(what.capitalize())
        ax.set_xlabel("fact and window")
        ax.set_ylabel(label_with_unit(f"{what}, scenario - base", unit))
    handles = [Line2D([], [], marker="o", ls="none", color=palette.series_color(1), ms=7),
               Line2D([], [], marker="D", ls="-", color=palette.DATA, ms=7, lw=1)]
    labels = ["model: scenario - base, mean", "data [source tag], bar: its tolerance"]
    if band:
        handles.append(Line2D([], [], color=palette.series_color(1), lw=2.5, alpha=0.6))
        labels.append("model: " + band.split(" across")[0])
    _legend_below(fig, handles, labels)
    fig.suptitle("Model and data")
    shown = [vf for vf, _ in rows]
    caption = ("Model: the effect of each fact's outcome, scenario minus base, over the fact's window (ratios of "
               "sums of /series/export_value, docs/statistics.md), in each of the " f"{cmp.replicates} "
               "replicate(s): point the mean" + (f", bar the {band}" if band else "") + "; the value "
               "`tradeabm validate` grades. Data (diamonds; bars: the tolerance the validation file allows, with "
               "its reason there) from params/validation/canada_2025.yaml, with source tags (P official, N news, "
               "E estimate): " + "; ".join(f"{vf.name}: {vf.data:+g} {vf.units} ({vf.source}) [{vf.tag}]"
                                           for vf in shown) + ".")
    if not own:
        others = sorted({vf.scenario for vf in shown})
        caption += (f" No fact is of this comparison's scenario ({scenario or '?'}): the data are the outcome of "
                    f"{', '.join(others)}, so they measure more (or other) measures than this scenario holds.")
    return Plot(name, title, fig, caption)


def _validation_tick(vf):
    label = re.sub(r" \(model: [^)]*\)|, [0-9]{4}( vs [0-9]{4})?", "", vf.name)
    return "\n".join(textwrap.wrap(label, 22)) + f"\n{vf.first}-{vf.last}"


def comparison_plots(cmp, money=None, levels=None):
    """Every figure of a comparison report, in order; `levels`: the linked
    runs' export values (`comparison_levels`) when already read."""
    if levels is None:
        levels, _ = comparison_levels(cmp)
    return [comparison_by_destination(cmp, "export_value", "Export value", "export value", "cmp_export_value",
                                      money=money, levels=levels),
            comparison_by_destination(cmp, "firms_serving", "Firms serving", "firms serving", "cmp_firms_serving"),
            comparison_entrants_exiters(cmp),
            comparison_us_share(cmp),
            comparison_model_vs_data(cmp, levels)]


# Former names of the two figures of entrants and exiters, kept for scripts
# written against them (their files are now entrants_exiters.png and
# cmp_entrants_exiters.png).
entries_exits = entrants_exiters
comparison_entries_exits = comparison_entrants_exiters
