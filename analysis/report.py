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
from .load import AnalysisError, load

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

    @property
    def plots(self):
        return [i for i in self.items if isinstance(i, plots.Plot)]


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "–"
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.4g}"
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.1f}"
    return str(value)


def html_table(header, rows, numeric_from=1):
    esc = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr></thead>",
           "<tbody>"]
    for row in rows:
        cells = []
        for k, v in enumerate(row):
            cls = ' class="num"' if k >= numeric_from and isinstance(v, (int, float, np.number)) else ""
            cells.append(f"<td{cls}>{esc(_fmt(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
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


def build_run_page(run):
    if run.n_periods == 0:
        raise AnalysisError(run.path, "no logged periods: nothing to report")
    items = []
    items.append(Table("Headline numbers",
                       html_table(("quantity", "value", "unit"), [(n, v, u) for n, v, u in run.headline()]),
                       "Totals over sectors; export value is producer revenue in model money."))
    items.extend(plots.run_plots(run))
    if len(run.events):
        rows = [(r["label"], r["kind"], r["destination"], r["sector"] or "all", r["regime"],
                 r["value"], r["note"]) for _, r in run.events.iterrows()]
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
    return Page(f"tradeabm run: {os.path.basename(run.path)}", sub, run.path, items, notes)


def build_sweep_page(sweep):
    items = []
    d = sweep.design
    status = d["status"].value_counts().to_dict() if "status" in d else {}
    reps = int(d["replicate"].nunique()) if "replicate" in d else 1
    rows = [("design points", len(sweep.summary)), ("runs", len(d)), ("replicates per point", reps)]
    rows += [(f"runs {k}", int(v)) for k, v in sorted(status.items())]
    if "wall_seconds" in d:
        rows.append(("total wall time (s)", float(np.nansum(d["wall_seconds"].to_numpy(float)))))
    rows += [(f"swept: {p}", f"{sweep.summary[p].nunique()} values, {sweep.summary[p].min():g} to "
              f"{sweep.summary[p].max():g}") for p in sweep.parameters if p in sweep.summary]
    items.append(Table("Sweep", html_table(("quantity", "value"), rows)))
    items.extend(plots.sweep_plots(sweep))
    if sweep.outcomes:
        header = ["point"] + [p for p in sweep.parameters if p in sweep.summary]
        cols = list(header)
        for o in sweep.outcomes:
            for stat in ("mean", "ci_low", "ci_high"):
                if f"{o}_{stat}" in sweep.summary:
                    header.append(f"{o} {stat}")
                    cols.append(f"{o}_{stat}")
        body = [tuple(r) for r in sweep.summary[cols].itertuples(index=False)]
        items.append(Table("Summary by design point", html_table(header, body)))
    items.append(Table("Provenance", provenance_table(sweep.provenance), "Root attributes of the sweep index."))
    notes = list(sweep.notes) + [p.caption for p in items if isinstance(p, plots.Plot) and p.figure is None]
    sub = f"{len(sweep.summary)} points x {reps} replicates; parameters: {', '.join(sweep.parameters) or 'none'}"
    return Page(f"tradeabm sweep: {os.path.basename(sweep.path)}", sub, sweep.path, items, notes)


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
    return html_table(["measure", "unit"] + sectors, rows, numeric_from=2)


def build_comparison_page(cmp):
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
                       + " Percent changes are of export value summed over the window; entries and exits are "
                         "summed over destinations and periods."))
    items.extend(plots.comparison_plots(cmp))
    if len(cmp.events):
        ev_rows = [(r["label"], r["kind"], r["destination"], r["sector"] or "all", r["regime"],
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
    return Page(f"tradeabm comparison: {os.path.basename(cmp.path)}", sub, cmp.path, items, notes)


# kind -> builder.
BUILDERS = {"run": build_run_page, "sweep": build_sweep_page, "comparison": build_comparison_page}


def build_page(obj):
    builder = BUILDERS.get(getattr(obj, "kind", None))
    if builder is None:
        raise TypeError(f"no report for {type(obj).__name__}")
    return builder(obj)


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 1250px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #555; margin-top: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #444; font-size: 0.93em; margin-top: 0.4em; }
table { border-collapse: collapse; font-size: 0.92em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
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


def report(source, outdir, dpi=DPI):
    """Load `source` (a path or a loaded object), build its page and write it
    to `outdir`. Returns (html path, page)."""
    obj = load(source) if isinstance(source, (str, os.PathLike)) else source
    page = build_page(obj)
    return write(page, outdir, dpi), page
