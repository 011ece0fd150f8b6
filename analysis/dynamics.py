"""Exporter dynamics from a run: exit rates, the relative size of new
exporters, experience-level shares, completed spell lengths and the share
of a long-run change reached along a transition path.

Every function takes a `Run` from `analysis.load()` (or a path, which is
loaded) and a sector and destination (names or indexes; default the first
of each), and returns one value per logged period unless it says otherwise.
The series used beyond `Run.arrays` (`exporters_by_level`,
`entrant_export_value`, `completed_spells`) are read from the file with
h5py. Definitions follow docs/replication.md (AKKRS, v3 calc_cal_moments):

    participation[t]      = firms_serving[t] / firms
    exit_rate[t]          = exiters[t] / firms_serving[t - 1]   (deaths included; NaN at t = 0)
    new_exporter_size[t]  = (entrant_export_value[t] / entrants[t])
                            / (export_value[t] / firms_serving[t])

With `run.aggregation: exact` the counts are expected numbers of firms and
the same formulas give the moments of the distribution.

    import analysis
    from analysis import dynamics
    run = analysis.load("steady.h5")
    dynamics.exit_rate(run).mean()
    dynamics.plot_transition({"AKKRS": run}, base=..., final=..., path="fig.png")
"""

import h5py
import numpy as np
import pandas as pd

from .load import AnalysisError, Run, load


def _run(run):
    if isinstance(run, Run):
        return run
    loaded = load(run)
    if not isinstance(loaded, Run):
        raise AnalysisError(str(run), "expected a run file")
    return loaded


def _index(names, value, what):
    if value is None:
        return 0
    if isinstance(value, (int, np.integer)):
        if not 0 <= int(value) < len(names):
            raise IndexError(f"{what} index {value} out of range (0..{len(names) - 1})")
        return int(value)
    if value not in names:
        raise KeyError(f"no {what} {value!r}; the run has {', '.join(names)}")
    return names.index(value)


def _sd(run, sector, destination):
    return _index(run.sectors, sector, "sector"), _index(run.destinations, destination, "destination")


def _series(run, name):
    """A dataset of /series that `Run` does not keep (read on demand)."""
    with h5py.File(run.path, "r") as f:
        if f"series/{name}" not in f:
            raise AnalysisError(run.path, f"missing dataset /series/{name} (written by newer tradeabm versions; "
                                          f"completed_spells needs run.spells: true)")
        return f[f"series/{name}"][()]


def _ratio(num, den):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def firms(run, sector=None):
    """Number of firms of the sector (constant over time; with
    run.resolution the weighted slots, which sum to the same)."""
    run = _run(run)
    s = _index(run.sectors, sector, "sector")
    return float(run.arrays["firms_by_market_set"][0, s, :].sum())


def participation(run, sector=None, destination=None):
    """Share of the sector's firms serving the destination, per period."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    return run.arrays["firms_serving"][:, s, d].astype(float) / firms(run, s)


def exit_rate(run, sector=None, destination=None):
    """Exiters (deaths of exporters included) over last period's exporters;
    NaN in the first logged period, whose previous period is not stored."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    serving = run.arrays["firms_serving"][:, s, d].astype(float)
    exiters = run.arrays["exiters"][:, s, d].astype(float)
    out = np.full(len(serving), np.nan)
    out[1:] = _ratio(exiters[1:], serving[:-1])
    return out


def new_exporter_relative_size(run, sector=None, destination=None):
    """Mean export value of firms in the first period of a spell over the
    mean export value of all exporters, per period (NaN without entrants)."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    ev = _series(run, "entrant_export_value")[:, s, d]
    entrants = run.arrays["entrants"][:, s, d].astype(float)
    value = run.arrays["export_value"][:, s, d].astype(float)
    serving = run.arrays["firms_serving"][:, s, d].astype(float)
    return _ratio(_ratio(ev, entrants), _ratio(value, serving))


def level_shares(run, sector=None, destination=None):
    """Share of the destination's exporters at each experience level:
    DataFrame [period x level 1..K]."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    by = _series(run, "exporters_by_level")[:, s, d, :].astype(float)
    total = by.sum(axis=1, keepdims=True)
    shares = _ratio(by, np.broadcast_to(total, by.shape))
    return pd.DataFrame(shares, index=run.periods, columns=[f"level{k + 1}" for k in range(by.shape[1])])


def spell_length_distribution(run, sector=None, destination=None, first_period=0):
    """Completed export spells (ended by exit or death) by length in periods,
    summed over logged periods from `first_period` (an index or label).
    Returns a Series indexed by length 1..L-1; the last length counts that
    length and longer (`completed_spells` caps lengths). Needs run.spells: true."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    if not isinstance(first_period, (int, np.integer)):
        first_period = run.periods.index(str(first_period))
    sp = _series(run, "completed_spells")[first_period:, s, d, :].sum(axis=0)
    lengths = np.arange(sp.shape[0])
    return pd.Series(sp[1:], index=pd.Index(lengths[1:], name="length"), name="spells")


def median_spell_length(dist):
    """Median of a spell_length_distribution (the smallest length with at
    least half the spells at or below it)."""
    counts = np.asarray(dist, dtype=float)
    if counts.sum() <= 0:
        return float("nan")
    cum = np.cumsum(counts) / counts.sum()
    return float(dist.index[int(np.searchsorted(cum, 0.5))])


def share_of_long_run_change(values, base, final):
    """(log x - log base) / (log final - log base): the share of a long-run
    log change reached, for x along a transition path."""
    values = np.asarray(values, dtype=float)
    return (np.log(values) - np.log(base)) / (np.log(final) - np.log(base))


def steady_state_moments(run, sector=None, destination=None, first_period=1):
    """Averages over logged periods `first_period`.. of participation, exit
    rate, new-exporter relative size, level shares, the death rate and
    export value (for a run that is in its steady state)."""
    run = _run(run)
    s, d = _sd(run, sector, destination)
    sl = slice(first_period, None)
    out = {
        "participation": float(np.nanmean(participation(run, s, d)[sl])),
        "exit_rate": float(np.nanmean(exit_rate(run, s, d)[sl])),
        "new_exporter_relative_size": float(np.nanmean(new_exporter_relative_size(run, s, d)[sl])),
        "death_rate": float(np.mean(run.arrays["deaths"][sl, s].astype(float)) / firms(run, s)),
        "export_value": float(np.mean(run.arrays["export_value"][sl, s, d].astype(float))),
    }
    shares = level_shares(run, s, d).iloc[sl].mean()
    for name, v in shares.items():
        out[f"share_{name}"] = float(v)
    return out


def plot_transition(paths, base, final, path=None, years=None, title=None):
    """Plot the share of the long-run change of export value along one or
    more transition paths. `paths`: dict label -> array of export values by
    year since the change (year 0 = impact); `base`, `final`: export value
    in the initial and final steady states. Writes `path` when given and
    returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .palette import SERIES

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.set_prop_cycle(color=list(SERIES))  # the reports' colour-blind-safe palette
    for label, values in paths.items():
        share = share_of_long_run_change(values, base, final)
        t = np.arange(len(share)) if years is None else np.asarray(years)
        ax.plot(t, share, marker="o", markersize=3, label=label)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("years after the tariff cut (0 = impact)")
    ax.set_ylabel("share of the long-run log change")
    ax.set_ylim(0, 1.05)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig
