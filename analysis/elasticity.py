"""Export elasticities by horizon from two runs with common random numbers:
a base run and one where a destination's tariff rises permanently from
period `start` on (docs/model.md eq. 2b; params/reference/elasticity_by_horizon.yaml).

    e(h) = -[ln X(start + h, tariff run) - ln X(start + h, base run)] / ln((1 + t1) / (1 + t0))

X is the export value to the destination at producer prices, summed over the
chosen sectors (all by default), t0 and t1 the tariffs before and after. With
demand that adjusts partially, on the intensive margin
e(h) = e_0 + (e_L - e_0)(1 - (1 - lambda)^(h+1)).

    from analysis import elasticity
    e = elasticity.by_horizon("base.h5", "tariff.h5", destination="US", start="2025Q1", tariff=(0.0, 0.1))
    elasticity.plot(e, path="elasticity.png", periods_per_year=4)

Command line: python3 -m analysis elasticity BASE.h5 TARIFF.h5 --from 2025Q1 --tariff 0.1 -o FIG.png
"""

import numpy as np
import pandas as pd

from .dynamics import _run  # a Run, or a path loaded as one
from .load import AnalysisError


def _exports(run, destination, sectors):
    if destination not in run.destinations:
        raise AnalysisError(run.path, f"no destination {destination!r}; the run has {', '.join(run.destinations)}")
    d = run.destinations.index(destination)
    values = run.arrays["export_value"][:, :, d]  # [period, sector]
    if sectors is None:
        return values.sum(axis=1)
    idx = []
    for s in sectors:
        if s not in run.sectors:
            raise AnalysisError(run.path, f"no sector {s!r}; the run has {', '.join(run.sectors)}")
        idx.append(run.sectors.index(s))
    return values[:, idx].sum(axis=1)


def by_horizon(base, tariff_run, destination, start, tariff, sectors=None):
    """Elasticity of exports to `destination` by horizon h = 0, 1, ... periods
    after `start` (a period label). `tariff`: (t0, t1), the tariff before and
    after the rise (fractions). Returns a DataFrame with columns horizon,
    period, elasticity."""
    a, b = _run(base), _run(tariff_run)
    if a.periods != b.periods:
        raise AnalysisError(b.path, "the two runs cover different periods")
    if start not in a.periods:
        raise AnalysisError(a.path, f"no period {start!r}; the run covers {a.periods[0]} to {a.periods[-1]}")
    t0, t1 = tariff
    step = np.log1p(t1) - np.log1p(t0)
    if step == 0:
        raise AnalysisError(b.path, "the tariff does not change; expected two different tariffs")
    first = a.periods.index(start)
    xa, xb = _exports(a, destination, sectors), _exports(b, destination, sectors)
    e = -(np.log(xb[first:]) - np.log(xa[first:])) / step
    return pd.DataFrame({"horizon": np.arange(len(e)), "period": a.periods[first:], "elasticity": e})


def closed_form(horizons, impact, long_run, adjustment):
    """The intensive-margin elasticity of eq. 2b at the given horizons."""
    h = np.asarray(horizons, dtype=float)
    return impact + (long_run - impact) * (1.0 - (1.0 - adjustment) ** (h + 1.0))


def plot(frame, path=None, periods_per_year=4, targets=((1.0, 0.76), (8.5, 2.0)), title=None, closed=None):
    """Plot the elasticity against years since the rise. `targets`: (years,
    value) points drawn for comparison (default: Boehm, Levchenko and
    Pandalai-Nayar 2023, about 0.76 at one year and about 2 after 7-10
    years); `closed`: optional (impact, long_run, adjustment) of eq. 2b to
    draw the intensive-margin curve. Writes `path` when given and returns the
    figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .palette import SERIES

    years = (frame["horizon"].to_numpy() + 1) / periods_per_year  # end of the h-th period
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(years, frame["elasticity"], color=SERIES[0], marker="o", markersize=3, label="model")
    if closed is not None:
        ax.plot(years, closed_form(frame["horizon"], *closed), color=SERIES[1], linestyle="--",
                label="eq. 2b, intensive margin")
    for i, (x, y) in enumerate(targets or ()):
        ax.plot([x], [y], marker="s", color="black", linestyle="none",
                label="Boehm, Levchenko, Pandalai-Nayar (2023)" if i == 0 else None)
    if targets and len(targets) > 1:
        ax.axvspan(7, 10, color="grey", alpha=0.12, linewidth=0)
    ax.set_xlabel("years since the tariff rise")
    ax.set_ylabel("export elasticity to 1 + tariff")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def main(args):
    """`python3 -m analysis elasticity`: prints the table, writes the figure."""
    frame = by_horizon(args.base, args.tariff_run, args.destination, args.start, (args.tariff_before, args.tariff),
                       sectors=args.sectors.split(",") if args.sectors else None)
    params = _run(args.base).parameters
    ppy = params.get("run", {}).get("periods_per_year", 4)
    demand = params.get("demand", {})
    sigma = float(demand.get("elasticity", 3.8))
    closed = None
    if "impact_elasticity" in demand or "long_run_elasticity" in demand:
        closed = (float(demand.get("impact_elasticity", sigma)), float(demand.get("long_run_elasticity", sigma)),
                  float(demand.get("adjustment", 1.0)))
    plot(frame, path=args.output, periods_per_year=int(ppy), closed=closed)
    if not args.quiet:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
