"""Reports: PNG figures and one self-contained HTML page per input file.

A report is a `Page`: a title, the figures (`plots.Plot`) and tables (HTML
fragments) in order. Builders turn a loaded object into a Page; they are
registered by the object's `kind` (run, sweep, comparison), so a new input
type needs only a builder function and a `BUILDERS` entry. `write()`
renders any Page: every figure is saved as DIR/<name>.png and embedded in
DIR/report.html as a base64 data URI, so the page stands alone.
"""

import base64
import datetime
import html
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import plots
from .labels import number_text, outcome_label, sector_label
from .load import AnalysisError, load
from .units import comparison_money_scale, display, run_money_scale, sweep_money_scale

DPI = 110


@dataclass
class Table:
    title: str
    html: str
    caption: str = ""


@dataclass
class Page:
    title: str
    subtitle: str
    source: str
    items: list = field(default_factory=list)  # Plot or Table, in order
    notes: list = field(default_factory=list)
    units: str = ""  # how money is shown (the C$ scale or model units)

    @property
    def plots(self):
        return [i for i in self.items if isinstance(i, plots.Plot)]


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return number_text(value)
    return str(value)


def html_table(header, rows, numeric_from=1):
    """A table in a container that scrolls sideways when the table is wider
    than the page (the page itself never does); text with line breaks is
    shown as a <pre> block."""
    esc = html.escape
    out = ['<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for row in rows:
        cells = []
        for k, v in enumerate(row):
            if isinstance(v, str) and "\n" in v:
                cells.append(f"<td><pre>{esc(v)}</pre></td>")
                continue
            cls = ' class="num"' if k >= numeric_from and isinstance(v, (int, float, np.number)) else ""
            cells.append(f"<td{cls}>{esc(_fmt(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


PROVENANCE_ORDER = ("program", "version", "git_commit", "model", "seed", "threads", "status", "format_version",
                    "params_source", "params_sha256", "digest", "start_time", "end_time", "wall_seconds",
                    "compiler", "compiler_flags", "build_type", "hdf5_version", "block_size", "panel")


def provenance_table(prov):
    keys = [k for k in PROVENANCE_ORDER if k in prov] + sorted(k for k in prov if k not in PROVENANCE_ORDER)
    # Seeds are identifiers: shown as plain digits, not as formatted numbers.
    rows = [(k, str(prov[k]) if k == "seed" else prov[k]) for k in keys]
    return html_table(("attribute", "value"), rows, numeric_from=1)


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def _headline_rows(run, money):
    """run.headline() with money in the page's unit and fractions in percent."""
    rows = []
    for name, value, unit in run.headline():
        if unit in ("model money", "fraction"):
            shown = display(unit, money)
            value, unit = shown.factor * value, shown.unit
        rows.append((name, value, unit))
    return rows


def build_run_page(run, money=None):
    if run.n_periods == 0:
        raise AnalysisError(run.path, "no logged periods: nothing to report")
    money = money or run_money_scale(run)
    items = []
    items.append(Table("Headline numbers", html_table(("quantity", "value", "unit"), _headline_rows(run, money)),
                       "Totals over sectors; export value is producer revenue per period (the period in the "
                       "quantity's name) or summed over all periods. " + money.note))
    items.extend(plots.run_plots(run, money))
    if len(run.events):
        rows = [(r["label"], r["kind"], r["destination"], sector_label(r["sector"]) if r["sector"] else "all",
                 r["regime"], r["value"], r["note"]) for _, r in run.events.iterrows()]
        items.append(Table("Scenario events that took effect",
                           html_table(("period", "kind", "destination", "sector", "regime", "value", "note"), rows)))
    items.append(Table("Provenance", provenance_table(run.provenance),
                       "Root attributes of the run file: what made it and how to reproduce it "
                       "(tradeabm reproduce FILE)."))
    items.append(Table("Parameters", "<details><summary>canonical resolved parameters (YAML)</summary><pre>"
                       + html.escape(run.parameters_text) + "</pre></details>"))
    sub = (f"{run.provenance.get('model', '?')} model, {len(run.sectors)} sectors, "
           f"{len(run.destinations)} destinations ({', '.join(run.destinations)}), {run.n_periods} periods "
           f"{run.periods[0]}–{run.periods[-1]}, seed {run.provenance.get('seed')}")
    if run.provenance.get("status") != "complete":
        sub += f" — status {run.provenance.get('status')!r}: the run did not finish"
    notes = [p.caption for p in items if isinstance(p, plots.Plot) and p.figure is None]
    return Page(f"tradeabm run: {os.path.basename(run.path)}", sub, run.path, items, notes, money.note)


def _interval_text(mean, lo, hi):
    if not math.isfinite(lo):
        return number_text(mean)
    return f"{number_text(mean)} [{number_text(lo)}, {number_text(hi)}]"


def sweep_summary_table(sweep, money):
    """One row per design point: the swept values, then per outcome its
    mean and band (the figures' band: t interval or replicate range) in
    display units, one column per outcome."""
    params = [p for p in sweep.parameters if p in sweep.summary]
    header = ["point"] + [plots.parameter_display(p)[0] for p in params]
    columns, kinds = [], set()
    for o in sweep.outcomes:
        disp = plots.outcome_display(sweep, o, money)
        mean, lo, hi, what, _ = plots.sweep_band(sweep, o)
        if what is not None:
            kinds.add(what)
            lo, hi = disp.clip(disp.factor * lo), disp.clip(disp.factor * hi)
        header.append(f"{outcome_label(o)} ({disp.unit})")
        columns.append((disp.factor * mean, lo, hi))
    body = []
    for i, (_, row) in enumerate(sweep.summary.iterrows()):
        cells = [int(row["point"])] + [plots.parameter_display(p)[1] * float(row[p]) for p in params]
        cells += [_interval_text(m[i], lo[i], hi[i]) for m, lo, hi in columns]
        body.append(tuple(cells))
    bracket = ["95% t interval of the mean" if k.startswith("95%") else "lowest, highest replicate" for k in kinds]
    caption = ("Mean across replicates" + (" [" + "; ".join(sorted(set(bracket))) + "], clipped to feasible values"
                                            if kinds else " (no spread across replicates in the index)") + ". "
               + money.note)
    return html_table(header, body), caption


def build_sweep_page(sweep, money=None):
    money = money or sweep_money_scale(sweep)
    items = []
    d = sweep.design
    status = d["status"].value_counts().to_dict() if "status" in d else {}
    reps = int(d["replicate"].nunique()) if "replicate" in d else 1
    rows = [("design points", len(sweep.summary)), ("runs", len(d)), ("replicates per point", reps)]
    rows += [(f"runs {k}", int(v)) for k, v in sorted(status.items())]
    if "wall_seconds" in d:
        rows.append(("total wall time (s)", float(np.nansum(d["wall_seconds"].to_numpy(float)))))
    for p in sweep.parameters:
        if p in sweep.summary:
            label, factor = plots.parameter_display(p)
            rows.append((f"swept: {label}", f"{sweep.summary[p].nunique()} values, {factor * sweep.summary[p].min():g} "
                                            f"to {factor * sweep.summary[p].max():g} ({p})"))
    items.append(Table("Sweep", html_table(("quantity", "value"), rows)))
    items.extend(plots.sweep_plots(sweep, money))
    if sweep.outcomes:
        table, caption = sweep_summary_table(sweep, money)
        items.append(Table("Summary by design point", table, caption))
    items.append(Table("Provenance", provenance_table(sweep.provenance), "Root attributes of the sweep index."))
    notes = list(sweep.notes) + [p.caption for p in items if isinstance(p, plots.Plot) and p.figure is None]
    sub = f"{len(sweep.summary)} points x {reps} replicates; parameters: {', '.join(sweep.parameters) or 'none'}"
    return Page(f"tradeabm sweep: {os.path.basename(sweep.path)}", sub, sweep.path, items, notes, money.note)


def _effect_num(v):
    """Three significant digits; rounding noise (|v| < 1e-9) shows as 0."""
    v = float(v)
    if math.isnan(v):
        return "–"
    if abs(v) < 1e-9:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _effect_cell(row):
    if not math.isfinite(float(row["ci_low"])):
        return _effect_num(row["mean"])
    return f"{_effect_num(row['mean'])} [{_effect_num(row['ci_low'])}, {_effect_num(row['ci_high'])}]"


def effects_table(cmp):
    """/effects as one row per measure and one column per sector (and all
    sectors): mean [95% interval]."""
    eff = cmp.effects
    sectors = list(dict.fromkeys(eff["sector"]))
    measures = list(dict.fromkeys(eff["measure"]))
    rows = []
    for m in measures:
        row = [m, eff.loc[eff["measure"] == m, "units"].iloc[0]]
        for s in sectors:
            sel = eff[(eff["measure"] == m) & (eff["sector"] == s)]
            row.append(_effect_cell(sel.iloc[0]) if len(sel) else "–")
        rows.append(tuple(row))
    return html_table(["measure", "unit"] + [sector_label(s) for s in sectors], rows, numeric_from=2)


def build_comparison_page(cmp, money=None):
    levels, _ = plots.comparison_levels(cmp)  # the linked runs, read once for the scale and the figures
    money = money or comparison_money_scale(cmp, levels["base"] if levels else None)
    prov = cmp.provenance
    items = []
    rows = [("base parameters", prov.get("base_parameters", "?")),
            ("scenario parameters", prov.get("scenario_parameters", "?")),
            ("replicates", cmp.replicates),
            ("seeds", ", ".join(str(s) for s in cmp.seeds)),
            ("periods", f"{cmp.periods[0]}–{cmp.periods[-1]} ({cmp.n_periods})"),
            ("effect window", f"{cmp.effect_window_start}–{cmp.periods[-1]}")]
    rows += [(f"replicate {r}: base / scenario run", f"{os.path.relpath(b, os.path.dirname(os.path.abspath(cmp.path)))}"
              f" / {os.path.relpath(sc, os.path.dirname(os.path.abspath(cmp.path)))}")
             for r, (b, sc) in enumerate(zip(cmp.base_paths, cmp.scenario_paths), 1)]
    items.append(Table("Comparison", html_table(("quantity", "value"), rows),
                       "Base and scenario of each replicate share the seed (common random numbers), so the "
                       "difference is the effect of the scenario alone."))
    one = cmp.replicates < 2
    items.append(Table("Effects by sector", effects_table(cmp),
                       f"Scenario minus base over the effect window ({cmp.effect_window_start} to the end; /effects): "
                       + ("the one replicate's value; no interval with one replicate." if one else
                          f"mean across {cmp.replicates} replicates [95% t interval].")
                       + " Percent changes are of export value summed over the window; entrants and exiters are "
                         "summed over destinations and periods."))
    items.extend(plots.comparison_plots(cmp, money, levels))
    if len(cmp.events):
        ev_rows = [(r["label"], r["kind"], r["destination"], sector_label(r["sector"]) if r["sector"] else "all",
                    r["regime"],
                    r["value"], r["note"]) for _, r in cmp.events.iterrows()]
        items.append(Table("Scenario events that took effect",
                           html_table(("period", "kind", "destination", "sector", "regime", "value", "note"), ev_rows),
                           "From replicate 1's scenario run."))
    items.append(Table("Provenance", provenance_table(prov), "Root attributes of the comparison file."))
    notes = list(cmp.notes) + [p.caption for p in items if isinstance(p, plots.Plot) and p.figure is None]
    sub = (f"{os.path.basename(str(prov.get('scenario_parameters', '?')))} minus "
           f"{os.path.basename(str(prov.get('base_parameters', '?')))}: {cmp.replicates} replicate(s), "
           f"{len(cmp.sectors)} sectors, {len(cmp.destinations)} destinations ({', '.join(cmp.destinations)}), "
           f"{cmp.n_periods} periods {cmp.periods[0]}–{cmp.periods[-1]}")
    if one:
        sub += "; one replicate: no intervals"
    return Page(f"tradeabm comparison: {os.path.basename(cmp.path)}", sub, cmp.path, items, notes, money.note)


# kind -> builder.
BUILDERS = {"run": build_run_page, "sweep": build_sweep_page, "comparison": build_comparison_page}


def build_page(obj, money=None):
    """The page of a loaded object; `money`: a units.MoneyScale, or None for
    the C$ scale where it applies."""
    builder = BUILDERS.get(getattr(obj, "kind", None))
    if builder is None:
        raise TypeError(f"no report for {type(obj).__name__}")
    return builder(obj, money)


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 1250px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #555; margin-top: 0; overflow-wrap: anywhere; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #444; font-size: 0.93em; margin-top: 0.4em; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 0.5em 0; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
td pre { margin: 0; padding: 0.4em; white-space: pre; max-width: 70em; overflow-x: auto; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.8em; margin: 0.6em 0; }
pre { background: #f8f8f8; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


def render_html(page, images):
    """The page as HTML; `images` maps plot name -> PNG bytes."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{esc(page.title)}</title>", f"<style>{CSS}</style></head><body>",
             f"<h1>{esc(page.title)}</h1>", f'<p class="sub">{esc(page.subtitle)}</p>',
             f'<p class="sub">Source: <code>{esc(os.path.abspath(page.source))}</code>; report written '
             f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>"]
    if page.units:
        parts.append(f'<p class="sub">Money: {esc(page.units)}</p>')
    for item in page.items:
        parts.append(f'<h2 id="{esc(getattr(item, "name", item.title).replace(" ", "-").lower())}">'
                     f"{esc(item.title)}</h2>")
        if isinstance(item, plots.Plot):
            if item.figure is None:
                parts.append(f'<p class="note">{esc(item.caption)}</p>')
                continue
            data = base64.b64encode(images[item.name]).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(item.title)}" '
                         f'data-file="{esc(item.name)}.png">'
                         f"<figcaption>{esc(item.caption)} (Also saved as {esc(item.name)}.png.)</figcaption>"
                         "</figure>")
        else:
            parts.append(item.html)
            if item.caption:
                parts.append(f'<p class="caption">{esc(item.caption)}</p>')
    if page.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in page.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def png_bytes(fig, dpi=DPI):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.15, facecolor="white")
    return buf.getvalue()


def write(page, outdir, dpi=DPI):
    """Save the page's figures as PNG files and the page as report.html in
    `outdir` (created if needed). Returns the HTML path."""
    os.makedirs(outdir, exist_ok=True)
    images = {}
    for p in page.plots:
        if p.figure is None:
            continue
        images[p.name] = png_bytes(p.figure, dpi)
        with open(os.path.join(outdir, p.name + ".png"), "wb") as f:
            f.write(images[p.name])
    path = os.path.join(outdir, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(page, images))
    return path


def report(source, outdir, dpi=DPI, money=None):
    """Load `source` (a path or a loaded object), build its page and write it
    to `outdir`. Returns (html path, page)."""
    obj = load(source) if isinstance(source, (str, os.PathLike)) else source
    page = build_page(obj, money)
    return write(page, outdir, dpi), page
