"""Observed facts beside the model: the data file analysis/data/canada_facts.yaml
(its header documents the keys) and the model's counterpart of each fact,
computed from a run's export values summed over calendar years.

    facts = load_facts()
    years = annual_export_value(run.arrays["export_value"], run.periods, ppy)
    model_value(fact, years, run.sectors, run.destinations)   # None: no counterpart
"""

import math
import os
from dataclasses import dataclass
from typing import Optional

from .load import AnalysisError

FACTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "canada_facts.yaml")
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


def load_facts(path=FACTS_PATH):
    """The facts of a data file, checked; AnalysisError names the file,
    the fact and the key of the first problem."""
    import yaml  # python3-yaml; only reports with data points need it

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise AnalysisError(path, f"cannot read the facts file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AnalysisError(path, f"not valid YAML: {exc}") from None
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
    """What a fact measures, in words ("Exports to US, 2025 vs 2024")."""
    from .labels import destination_label, sector_label

    if fact.measure == "share":
        return f"{destination_label(fact.destination)} share of exports"
    if fact.sector != "all":
        what = fact.product.capitalize() if fact.product else sector_label(fact.sector)
        where = "" if fact.destination == "all" else f" to {destination_label(fact.destination)}"
        return f"{what} exports{where}"
    return f"Exports to {destination_label(fact.destination)}"
