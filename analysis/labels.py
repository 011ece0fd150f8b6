"""Human labels for what figures and tables show: sectors, destinations,
regimes, market sets, sweep outcomes and swept parameters.

Identifiers in files are short and stable (`machinery_tech`, `CN`,
`destinations.US.market.sunk_cost`); readers of a figure want "Machinery &
tech", "China" and "US sunk entry cost". Known identifiers come from the
tables below; an unknown one falls back to `humanise`: underscores become
spaces and the first letter is capitalised (`new_sector` -> "New sector"),
short all-capital codes stay as they are (`EU`). Labels never change what
is computed, only what is printed.
"""

import math
import re

import numpy as np

SECTORS = {
    "energy": "Energy",
    "agrifood": "Agri-food",
    "canola": "Canola",
    "minerals_metals": "Minerals & metals",
    "gold": "Gold",
    "steel_aluminum": "Steel & aluminum",
    "automotive": "Automotive",
    "machinery_tech": "Machinery & tech",
    "all": "All sectors",
    "all sectors": "All sectors",
}

DESTINATIONS = {
    "US": "US",
    "CN": "China",
    "ROW": "Rest of world",
    "non-US": "non-US",
    "all": "all destinations",
}

REGIMES = {
    "cusma": "CUSMA",
    "usmca": "USMCA",
    "nntr": "NNTR",
    "mfn": "MFN",
}


def humanise(identifier):
    """A readable label for an identifier no table knows."""
    text = str(identifier)
    if re.fullmatch(r"[A-Z0-9]{1,4}", text):
        return text
    text = text.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def sector_label(name):
    return SECTORS.get(name, humanise(name))


def destination_label(name):
    """Known codes in any case (`us` -> 'US')."""
    return DESTINATIONS.get(name) or DESTINATIONS.get(str(name).upper()) or humanise(name)


def regime_label(name):
    return REGIMES.get(name, humanise(name))


def market_set_label(name):
    """'US' -> 'US only', 'US+CN' -> 'US + China'."""
    parts = [p for p in str(name).split("+") if p]
    if not parts:
        return "No market"
    if len(parts) == 1:
        return f"{destination_label(parts[0])} only"
    return " + ".join(destination_label(p) for p in parts)


def percent_text(fraction, decimals=2):
    """A fraction as a percentage with the digits it needs: 0.025 -> '2.5%',
    0.35 -> '35%', 1/3 -> '33.33%' (never rounds 2.5% to '2%')."""
    text = f"{100.0 * float(fraction):.{decimals}f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('', '-0') else text}%"


# ---------------------------------------------------------------------------
# Named outcomes (docs/statistics.md): a root, then optionally a destination
# and a sector, dot-separated (`export_value.US.canola`). The table may grow,
# so an unknown root is humanised.
# ---------------------------------------------------------------------------

# Root -> label without and with a destination ({d}: the destination's label).
_OUTCOME_ROOTS = {
    "export_value": ("Export value", "Export value to {d}"),
    "firms_serving": ("Firm-destination pairs served", "Firms serving {d}"),
    "entrants": ("Entrants into destinations", "Entrants into {d}"),
    "exiters": ("Exiters from destinations", "Exiters from {d}"),
    "tariff_paid": ("Tariff paid", "Tariff paid on exports to {d}"),
    "export_share": (None, "{d} share of export value"),
    "non_us_share": ("Non-US share of export value", None),
    "non_us_export_value": ("Non-US export value", None),
    "export_weight": (None, "{d} weight in all exports"),
    "exporters": ("Exporters", None),
    "export_participation": ("Export participation", None),
    "single_market_share": ("Share of exporters serving one destination", None),
    "only_share": (None, "Share of exporters serving {d} only"),
    "market_persistence": (None, "Annual persistence of firms serving {d}"),
    "exporter_persistence": ("Annual persistence of exporters", None),
    "top1_share": ("Top 1% exporters' share of export value", None),
    "top10_share": ("Top 10% exporters' share of export value", None),
}


def outcome_label(name):
    """'firms_serving.CN' -> 'Firms serving China', 'export_share.US.canola'
    -> 'US share of export value (Canola)'. A qualifier is read as a
    destination where the root takes one, else as a sector."""
    root, *quals = str(name).split(".")
    forms = _OUTCOME_ROOTS.get(root)
    if forms is None or len(quals) > 2:
        return humanise(name)
    plain, with_dest = forms
    dest = None
    if quals and with_dest is not None and (plain is None or len(quals) == 2 or quals[0] in DESTINATIONS
                                            or quals[0].upper() == quals[0]):
        dest = quals.pop(0)
    if quals and len(quals) > 1:
        return humanise(name)
    text = with_dest.format(d=destination_label(dest)) if dest is not None else plain
    if text is None:
        return humanise(name)
    return f"{text} ({sector_label(quals[0])})" if quals else text


# ---------------------------------------------------------------------------
# Swept parameters: (label, unit) from the parameter path. Units are those
# of `tradeabm params --doc`; "fraction" values are shown in percent.
# ---------------------------------------------------------------------------

_MARKET_LEAVES = {
    "sunk_cost": ("sunk entry cost", "model money"),
    "fixed_cost": ("fixed cost per period", "model money"),
    "demand": ("demand shifter", "model money"),
    "iceberg": ("iceberg trade cost", "ratio"),
}
_GLOBAL_PARAMETERS = {
    "interactions.spillover": ("entry-cost spillover kappa", "dimensionless"),
    "interactions.crowding": ("demand crowding eta", "dimensionless"),
    "capacity.elasticity": ("marginal-cost elasticity gamma", "dimensionless"),
    "demand.elasticity": ("elasticity of substitution sigma", "dimensionless"),
    "demand_types.dispersion": ("demand-type dispersion", "log points"),
    "decision.discount": ("discount factor", "per period"),
    "decision.logit_scale": ("logit choice noise", "model money"),
    "run.periods": ("logged periods", "periods"),
    "run.burn_in": ("burn-in periods", "periods"),
}
_SECTOR_LEAVES = {
    "firms": ("firm slots", "firms"),
    "persistence": ("productivity persistence", "per period"),
    "volatility": ("productivity volatility", "log points"),
    "death_rate": ("death rate", "per period"),
}


# Keys of an event (`events[i].KEY`, docs/sweeps.md) that a sweep varies.
_EVENT_LEAVES = {
    "tariff": ("tariff", "fraction"),
    "statutory_tariff": ("statutory tariff", "fraction"),
    "escalation_scale": ("escalation scale of hazards", "dimensionless"),
    "perceived_escalation_scale": ("perceived escalation scale", "dimensionless"),
    "sunk_cost_scale": ("sunk cost scale", "dimensionless"),
    "demand_scale": ("demand scale", "dimensionless"),
    "iceberg_scale": ("iceberg cost scale", "dimensionless"),
    "fixed_cost_scale": ("fixed cost scale", "dimensionless"),
    "demand_growth": ("demand growth", "per period"),
    "fraction": ("point of its period", "fraction"),
}


def parameter_label(path):
    """(label, unit) of a dotted parameter path; unit '' when unknown."""
    if path in _GLOBAL_PARAMETERS:
        return _GLOBAL_PARAMETERS[path]
    event = re.fullmatch(r"events\[(\d+)\]\.([a-z_]+)", path)
    if event and event.group(2) in _EVENT_LEAVES:
        what, unit = _EVENT_LEAVES[event.group(2)]
        return f"event {event.group(1)}: {what}", unit
    parts = path.split(".")
    # destinations.D.transition.FROM.TO: one probability of a transition row.
    if len(parts) == 5 and parts[0] == "destinations" and parts[2] == "transition":
        return (f"{destination_label(parts[1])} hazard {regime_label(parts[3])} to {regime_label(parts[4])}",
                "fraction")
    if len(parts) >= 4 and parts[0] == "destinations" and parts[2] == "regimes":
        dest, regime = destination_label(parts[1]), regime_label(parts[3])
        if parts[-1] == "tariff":
            return f"{dest} tariff, {regime} regime", "fraction"
        if len(parts) == 6 and parts[4] == "sector_tariffs":
            return f"{dest} tariff on {sector_label(parts[5])}, {regime} regime", "fraction"
    if len(parts) == 4 and parts[0] == "destinations" and parts[2] == "market" and parts[3] in _MARKET_LEAVES:
        what, unit = _MARKET_LEAVES[parts[3]]
        return f"{destination_label(parts[1])} {what}", unit
    if len(parts) == 5 and parts[0] == "sectors" and parts[2] == "markets" and parts[4] in _MARKET_LEAVES:
        what, unit = _MARKET_LEAVES[parts[4]]
        return f"{sector_label(parts[1])}: {destination_label(parts[3])} {what}", unit
    if len(parts) == 3 and parts[0] == "sectors" and parts[2] in _SECTOR_LEAVES:
        what, unit = _SECTOR_LEAVES[parts[2]]
        return f"{sector_label(parts[1])} {what}", unit
    if parts[-1] == "escalation_scale":
        return "escalation scale of hazards", "dimensionless"
    return path, ""


def number_text(value):
    """A number for a table cell or a figure label: thousands separators,
    about three significant digits, never e-notation; '–' for NaN."""
    v = float(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.3g}"
    if a < 1e-12:
        return "0"
    return np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-")
