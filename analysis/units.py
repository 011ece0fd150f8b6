"""Units as readers see them: a C$ scale for model money, percent for
shares, and the feasible range of each kind of value.

Model money has no currency of its own. `money_scale` converts it to C$
billion with one factor fixed by the data: the model's export value to its
destinations over calendar year 2024, summed over sectors, is set equal to
the 2024 export values of analysis/data/canada_facts.yaml for those
destinations (US + China + rest of the world: C$730bn, the Statistics
Canada total [P]). The factor is a unit conversion chosen once per run (or
per comparison or sweep, from its base or first run); every money value of
that report is multiplied by it, so ratios and percent changes are
untouched. Where it cannot be set (the run does not cover 2024, a
destination has no 2024 figure, no exports) values stay in "model units"
and figures say so.
"""

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .facts import annual_export_value, load_facts
from .load import AnalysisError

SCALE_YEAR = 2024
PERIOD_NAMES = {1: "year", 2: "half-year", 4: "quarter", 12: "month"}


@dataclass(frozen=True)
class MoneyScale:
    factor: float  # C$ billion per unit of model money (1 for model units)
    unit: str  # "C$ billion" or "model units"
    note: str  # how the scale was set, for captions
    period: str = "period"  # length of one period of the runs it came from ("quarter")

    @property
    def is_cad(self):
        return self.unit.startswith("C$")


def model_units(reason):
    return MoneyScale(1.0, "model units", f"Money in model units (no C$ scale: {reason}).")


def money_scale(export_values, periods, periods_per_year, destinations, facts=None, source="the run"):
    """The C$ scale of model money from one or more runs' export values
    ([period, sector, destination] arrays of the same layout; several runs,
    e.g. replicates, are averaged)."""
    try:
        facts = load_facts() if facts is None else facts
    except (AnalysisError, ImportError) as exc:
        return model_units(f"facts file unreadable: {exc}")
    targets = {f.destination: f for f in facts
               if f.measure == "export_value" and f.sector == "all" and f.year == SCALE_YEAR}
    missing = [d for d in destinations if d not in targets]
    if missing:
        return model_units(f"no {SCALE_YEAR} export value for {', '.join(missing)} in the facts file")
    totals = []
    for ev in export_values:
        years = annual_export_value(np.asarray(ev, dtype=float), periods, periods_per_year)
        if SCALE_YEAR not in years:
            return model_units(f"the periods do not cover all of {SCALE_YEAR}")
        totals.append(float(years[SCALE_YEAR].sum()))
    model = float(np.mean(totals)) if totals else 0.0
    if not (model > 0 and math.isfinite(model)):
        return model_units(f"no exports in {SCALE_YEAR}")
    target = sum(targets[d].value for d in destinations)
    tags = "/".join(dict.fromkeys(targets[d].tag for d in destinations))
    dollars = 1e9 * target / model
    note = (f"C$ billion: one unit of model money is C${dollars:,.{0 if dollars >= 100 else 3}f}, which makes "
            f"the export value of {source} to {', '.join(destinations)} in {SCALE_YEAR} C${target:,.1f}bn ([{tags}], "
            f"analysis/data/canada_facts.yaml); a unit conversion, not a fitted level.")
    return MoneyScale(target / model, "C$ billion", note, PERIOD_NAMES.get(periods_per_year, "period"))


def run_money_scale(run):
    return money_scale([run.arrays["export_value"]], run.periods, _per_year(run), run.destinations)


def comparison_money_scale(cmp, base_values=None):
    """From the base runs of every replicate (their export values when
    already read; model units if unreadable)."""
    try:
        values = base_values or [cmp.base_run(r).arrays["export_value"] for r in range(1, cmp.replicates + 1)]
    except AnalysisError as exc:
        return model_units(f"base runs unreadable ({exc.problem})")
    return money_scale(values, cmp.periods, _per_year(cmp), cmp.destinations, source="the base runs (mean over replicates)")


def sweep_money_scale(sweep):
    """From the sweep's first complete run (point 0, replicate 0 when
    complete): one factor for every point."""
    for _, row in sweep.design.iterrows():
        if row.get("status", "complete") != "complete":
            continue
        try:
            from .load import Run

            run = Run(sweep.run_path(row))
        except AnalysisError as exc:
            return model_units(f"run files unreadable ({exc.problem})")
        return money_scale([run.arrays["export_value"]], run.periods, _per_year(run), run.destinations,
                           source=f"the sweep's first complete run ({row.get('file', row.name)})")
    return model_units("no complete run")


def _per_year(obj):
    return int(obj.param("run.periods_per_year", 4) or 4)


def period_name(obj):
    return PERIOD_NAMES.get(_per_year(obj), "period")


@dataclass(frozen=True)
class Display:
    """How stored values of one unit are shown: multiply by `factor`, label
    with `unit`, and keep intervals within [low, high] (None: unbounded)."""

    factor: float
    unit: str
    low: Optional[float] = None
    high: Optional[float] = None

    def clip(self, values):
        return np.clip(np.asarray(values, dtype=float), self.low if self.low is not None else -np.inf,
                       self.high if self.high is not None else np.inf)


def display(unit, money, change=False, per=None):
    """The Display of a stored unit ("fraction", "model money", "firms",
    ...). `change`: the values are differences (no bounds; shares in
    percentage points). `per`: the period of a flow ("quarter")."""
    suffix = f" per {per}" if per else ""
    if unit == "fraction":
        return Display(100.0, "percentage points" if change else "percent", *((None, None) if change else (0, 100)))
    if unit == "model money":
        return Display(money.factor, money.unit + suffix, *((None, None) if change else (0, None)))
    if unit == "firms":
        return Display(1.0, "firms", *((None, None) if change else (0, None)))
    if unit in ("percent", "percentage points"):
        return Display(1.0, unit)
    return Display(1.0, unit or "unit not stored")
