"""Observed facts beside the model, from one place each: the dated changes
that `tradeabm validate` grades (params/validation/canada_2025.yaml: data,
source tag, tolerance, the outcome and window of the model's value) and the
2024 levels that fix the C$ scale (analysis/data/canada_facts.yaml; its
header documents the keys). The model's counterpart of a fact is computed
from export values: of a run summed over calendar years (`model_value`),
or of a comparison's base and scenario over the fact's window
(`window_effect`, the definition `validate` uses).

    facts = load_facts()                       # levels, and the changes as calendar-year growth
    years = annual_export_value(run.arrays["export_value"], run.periods, ppy)
    model_value(fact, years, run.sectors, run.destinations)   # None: no counterpart
    for vf in load_validation_facts():
        window_effect(vf, base_ev, scenario_ev, periods, sectors, destinations)
"""

import math
import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .load import AnalysisError

FACTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "canada_facts.yaml")
VALIDATION_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "params", "validation",
                               "canada_2025.yaml")
MEASURES = ("export_value", "share", "growth")
TAGS = ("P", "N", "M", "E", "D", "P/N")
_REQUIRED = ("id", "measure", "destination", "sector", "year", "value", "unit", "date", "source", "tag")


@dataclass(frozen=True)
class Fact:
    id: str
    measure: str
    destination: str
    sector: str
    year: int
    value: float
    unit: str
    date: str
    source: str
    tag: str
    base_year: Optional[int] = None
    product: Optional[str] = None
    label: Optional[str] = None  # the fact's own name, where it has one (validation facts)


@dataclass(frozen=True)
class ValidationFact:
    """A fact of a validation file: the model's value is the effect of
    `outcome`, scenario minus base, over the periods `first`..`last` of the
    comparison `comparison` (whose scenario file is `scenario`)."""
    name: str
    comparison: str
    scenario: str  # file name of the comparison's scenario
    outcome: str
    first: str
    last: str
    data: float
    tolerance: float
    source: str
    tag: str  # the source's leading [tag]: P, N, P/N, E, ...
    units: str  # of the effect: "percent" or "percentage points"


def load_facts(path=FACTS_PATH, validation=VALIDATION_PATH):
    """The facts of a data file, checked, followed by the validation file's
    changes over whole calendar years as growth facts (`growth_facts`;
    validation=None: the data file's alone); AnalysisError names the file,
    the fact and the key of the first problem."""
    extra = growth_facts(load_validation_facts(validation)) if validation else []
    return _load_level_facts(path) + extra


def _load_level_facts(path):
    doc = _yaml_doc(path, "facts file")
    rows = doc.get("facts") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise AnalysisError(path, "expected a top-level key `facts` holding a list")
    out, seen = [], set()
    for k, row in enumerate(rows):
        where = f"facts[{k}]"
        if not isinstance(row, dict):
            raise AnalysisError(path, f"{where}: expected a mapping of keys")
        where = f"facts[{k}] ({row.get('id', '?')})"
        for key in _REQUIRED:
            if key not in row:
                raise AnalysisError(path, f"{where}: missing key `{key}`")
        unknown = sorted(set(row) - set(_REQUIRED) - {"base_year", "product"})
        if unknown:
            raise AnalysisError(path, f"{where}: unknown key `{unknown[0]}`")
        if row["measure"] not in MEASURES:
            raise AnalysisError(path, f"{where}: measure: found {row['measure']!r}, expected one of "
                                      f"{', '.join(MEASURES)}")
        if str(row["tag"]) not in TAGS:
            raise AnalysisError(path, f"{where}: tag: found {row['tag']!r}, expected one of {', '.join(TAGS)}")
        if row["id"] in seen:
            raise AnalysisError(path, f"{where}: id: {row['id']!r} used twice")
        seen.add(row["id"])
        try:
            value = float(row["value"])
            year = int(row["year"])
            base = int(row["base_year"]) if "base_year" in row else None
        except (TypeError, ValueError):
            raise AnalysisError(path, f"{where}: value, year and base_year must be numbers") from None
        if not math.isfinite(value):
            raise AnalysisError(path, f"{where}: value: expected a finite number")
        if row["measure"] == "growth" and base is None:
            raise AnalysisError(path, f"{where}: measure growth needs `base_year`")
        out.append(Fact(str(row["id"]), row["measure"], str(row["destination"]), str(row["sector"]), year,
                        value, str(row["unit"]), str(row["date"]), str(row["source"]), str(row["tag"]), base,
                        row.get("product")))
    return out


def _yaml_doc(path, what):
    import yaml  # python3-yaml; only reports with data points need it

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise AnalysisError(path, f"cannot read the {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AnalysisError(path, f"not valid YAML: {exc}") from None


# Outcome roots whose effect `window_effect` computes from export values,
# with the units of the effect (docs/statistics.md).
EFFECT_UNITS = {"export_value": "percent", "non_us_export_value": "percent",
                "non_us_export_value_except": "percent", "export_value_except": "percent",
                "export_share": "percentage points"}
EXCEPT_ROOTS = ("non_us_export_value_except", "export_value_except")  # a sector left out


def load_validation_facts(path=VALIDATION_PATH):
    """The facts of a validation file (`tradeabm validate` checks the file
    fully; this reads what the figures need). AnalysisError names the file
    and the fact of the first problem."""
    doc = _yaml_doc(path, "validation file")
    if not isinstance(doc, dict) or not isinstance(doc.get("facts"), list) \
            or not isinstance(doc.get("comparisons"), list):
        raise AnalysisError(path, "expected top-level lists `comparisons` and `facts`")
    scenario = {c.get("name"): os.path.basename(str(c.get("scenario", ""))) for c in doc["comparisons"]
                if isinstance(c, dict)}
    out = []
    for k, row in enumerate(doc["facts"]):
        where = f"facts[{k}] ({row.get('name', '?') if isinstance(row, dict) else '?'})"
        try:
            source = str(row["source"])
            tag = source[1:source.index("]")] if source.startswith("[") else ""
            root = str(row["outcome"]).split(".")[0]
            out.append(ValidationFact(str(row["name"]), str(row["comparison"]), scenario[row["comparison"]],
                                      str(row["outcome"]), str(row["from"]), str(row["to"]), float(row["data"]),
                                      float(row["tolerance"]), source.split("]", 1)[-1].strip() if tag else source,
                                      tag, EFFECT_UNITS.get(root, "")))
        except (KeyError, TypeError, ValueError):
            raise AnalysisError(path, f"{where}: expected name, comparison (one of comparisons), outcome, from, "
                                      f"to, numbers data and tolerance, and source") from None
    return out


def _selection(outcome, sectors, destinations):
    """(root, destination indexes, sector indexes) an outcome name selects,
    or None when `window_effect` cannot compute it here."""
    parts = outcome.split(".")
    root, quals = parts[0], parts[1:]
    if root not in EFFECT_UNITS:
        return None
    dest, sector = None, None
    for q in quals:
        if q in destinations and dest is None and sector is None and root in ("export_value", "export_share"):
            dest = destinations.index(q)
        elif q in sectors and sector is None:
            sector = sectors.index(q)
        else:
            return None
    if (root == "export_share" and dest is None) or (root in EXCEPT_ROOTS and sector is None):
        return None
    us = destinations.index("US") if "US" in destinations else 0  # "non-US": as the engine
    non_us = [j for j in range(len(destinations)) if j != us]
    all_s = list(range(len(sectors)))
    if root in EXCEPT_ROOTS:
        return root, non_us if root.startswith("non_us") else list(range(len(destinations))), \
            [s for s in all_s if s != sector]
    rows = all_s if sector is None else [sector]
    if root == "non_us_export_value":
        return root, non_us, rows
    return root, (list(range(len(destinations))) if dest is None else [dest]), rows


def window_effect(fact, base_ev, scenario_ev, periods, sectors, destinations):
    """The effect of a validation fact's outcome, scenario minus base, over
    its window, from two export-value arrays [period, sector, destination]
    (one replicate): percent for values (ratio of sums over the window),
    percentage points for shares (docs/statistics.md). None when the
    window is not in `periods` or the outcome is not one of EFFECT_UNITS."""
    labels = [str(p) for p in periods]
    sel = _selection(fact.outcome, sectors, destinations)
    if sel is None or fact.first not in labels or fact.last not in labels:
        return None
    t0, t1 = labels.index(fact.first), labels.index(fact.last) + 1
    if t1 <= t0:
        return None
    root, cols, rows = sel
    value = []
    for ev in (base_ev, scenario_ev):
        w = np.asarray(ev, dtype=float)[t0:t1][:, rows, :]
        picked = float(w[:, :, cols].sum())
        value.append(picked / float(w.sum()) if root == "export_share" else picked)
    if root == "export_share":
        return 100.0 * (value[1] - value[0])
    return 100.0 * (value[1] / value[0] - 1.0) if value[0] > 0 else None


def growth_facts(validation):
    """Validation facts of a percent effect over one whole calendar year Y
    as calendar-year growth facts for run reports: the change of year Y
    from year B, B the year before the first window of the fact's
    comparison (the validation file's convention: the base over the same
    quarters stands for the year before the measures). Outcomes of one
    destination or non-US and one sector or all."""
    first_year = {}
    for vf in validation:
        first_year[vf.comparison] = min(first_year.get(vf.comparison, 9999), period_year(vf.first))
    out = []
    for vf in validation:
        parts = vf.outcome.split(".")
        if vf.units != "percent" or parts[0] not in ("export_value", "non_us_export_value") \
                or period_year(vf.first) != period_year(vf.last) or not str(vf.first).endswith(("Q1", "M01", "H1")) \
                or not str(vf.last).endswith(("Q4", "M12", "H2")):
            continue
        quals = parts[1:]
        dest = "non-US" if parts[0] == "non_us_export_value" else "all"
        if parts[0] == "export_value" and quals and quals[0].isupper():
            dest = quals.pop(0)
        if len(quals) > 1:
            continue
        out.append(Fact(vf.name, "growth", dest, quals[0] if quals else "all", period_year(vf.first), vf.data,
                        "percent", str(period_year(vf.first)), vf.source, vf.tag,
                        first_year[vf.comparison] - 1, None, re.sub(r", [0-9]{4}( vs [0-9]{4})?", "", vf.name)))
    return out


def period_year(label):
    """The calendar year of a period label (2024, 2024H1, 2024Q1, 2024M01)."""
    return int(str(label)[:4])


def annual_export_value(export_value, periods, periods_per_year):
    """{year: [sector, destination] export value summed over the year} for
    every calendar year the periods cover completely."""
    years = {}
    for t, label in enumerate(periods):
        years.setdefault(period_year(label), []).append(t)
    return {y: export_value[ts].sum(axis=0) for y, ts in years.items() if len(ts) == periods_per_year}


def _destinations(name, destinations):
    """Indexes of the destinations a fact's `destination` selects, or None."""
    if name == "all":
        return list(range(len(destinations)))
    if name == "non-US":
        return [j for j, d in enumerate(destinations) if d != "US"] if "US" in destinations else None
    return [destinations.index(name)] if name in destinations else None


def model_value(fact, years, sectors, destinations):
    """The model's counterpart of a share or growth fact from annual export
    values (`annual_export_value`), in the fact's unit (percent); None when
    the model lacks the years, the destination or the sector."""
    cols = _destinations(fact.destination, destinations)
    if fact.sector == "all":
        rows = list(range(len(sectors)))
    elif fact.sector in sectors:
        rows = [sectors.index(fact.sector)]
    else:
        return None
    if cols is None or fact.year not in years:
        return None
    now = years[fact.year]
    if fact.measure == "share":
        total = float(now[rows].sum())
        return 100.0 * float(now[rows][:, cols].sum()) / total if total > 0 else None
    if fact.measure == "growth":
        if fact.base_year not in years:
            return None
        before = float(years[fact.base_year][rows][:, cols].sum())
        return 100.0 * (float(now[rows][:, cols].sum()) / before - 1.0) if before > 0 else None
    return None


def fact_label(fact):
    """What a fact measures, in words ("Exports to US, 2025 vs 2024"), or
    the fact's own name."""
    from .labels import destination_label, sector_label

    if fact.label:
        return fact.label
    if fact.measure == "share":
        return f"{destination_label(fact.destination)} share of exports"
    if fact.sector != "all":
        what = fact.product.capitalize() if fact.product else sector_label(fact.sector)
        where = "" if fact.destination == "all" else f" to {destination_label(fact.destination)}"
        return f"{what} exports{where}"
    return f"Exports to {destination_label(fact.destination)}"
