"""Answers of `tradeabm target` (docs/questions.md): the table of lever
sizes that reach the target and the figure of the ratio against each
lever's size, both from the stored result file alone.

    python3 -m analysis questions RESULT.json [MORE.json ...] -o DIR [--doc docs/questions.md]

writes DIR/STEM.png and DIR/STEM.md (STEM: the first result file's name,
or --name); several result files of one question file are read as one; with
--doc the table replaces the block between the lines
`<!-- table: STEM -->` and `<!-- end table: STEM -->` of that file, so the
page follows the result file with one command.
"""

import json
import math
import re
from pathlib import Path

from .load import AnalysisError
from .palette import DATA, NEUTRAL, SERIES, STYLE

_STATUS = {
    "found": "reaches the target",
    "not_reached": "cannot: no size within the bounds reaches the target",
    "exceeded": "every size within the bounds exceeds the target",
    "budget": "bracketed; evaluation budget spent before the tolerance",
}


def load_one(path):
    """One result file as a dict, checked for the keys the table needs."""
    try:
        with open(path, encoding="utf-8") as f:
            res = json.load(f)
    except (OSError, ValueError) as exc:
        raise AnalysisError(path, f"cannot read a result file of tradeabm target: {exc}")
    for key in ("target", "seeds", "questions"):
        if key not in res:
            raise AnalysisError(path, f"no {key!r}: not a result file of tradeabm target")
    return res


def load(paths):
    """Result files of one question file (the same target and seeds), such
    as runs of `tradeabm target --question` in parallel, as one: the first
    file's provenance and every file's questions, in the order given."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    res = load_one(paths[0])
    for path in paths[1:]:
        more = load_one(path)
        for key in ("target", "seeds", "base_sha256", "question_sha256"):
            if more.get(key) != res.get(key):
                raise AnalysisError(path, f"{key} differs from that of {paths[0]}; expected results of one question "
                                    "file with one base")
        res["questions"] = res["questions"] + more["questions"]
    if not res["questions"]:
        raise AnalysisError(paths[0], "no question was solved")
    return res


def _num(v, digits=4):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def table(res):
    """The answer table in Markdown, one row per question."""
    t = res["target"]
    head = (f"| question | lever | size that reaches {t['ratio']:g}x | 95% interval | bounds | "
            f"ratio at that size (s.e.) | replicates | evaluations | answer |")
    rows = [head, "|" + "---|" * 9]
    for q in res["questions"]:
        found = q["status"] in ("found", "budget")
        size = _num(q["lever"]) if found else "none"
        interval = f"[{_num(q['lever_low'])}, {_num(q['lever_high'])}]" if found else "-"
        near = "" if found else f" (nearest: {_num(q['lever'])})"
        rows.append(f"| {q['name']} | {q['unit']} | {size} | {interval} | [{_num(q['lower'])}, {_num(q['upper'])}] | "
                    f"{q['ratio']:.3f} ({q['ratio_se']:.3f}){near} | {len(res['seeds'])} | {len(q['evaluations'])} | "
                    f"{_STATUS.get(q['status'], q['status'])} |")
    return "\n".join(rows) + "\n"


def figure(res, path, dpi=110):
    """One panel per question: the mean ratio (95% t interval over the
    replicates) at every evaluated size, the target line, and the size
    found with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    from scipy import stats

    qs = res["questions"]
    target = res["target"]["ratio"]
    n_seeds = len(res["seeds"])
    t975 = stats.t.ppf(0.975, n_seeds - 1)
    cols = min(3, len(qs))
    rows = math.ceil(len(qs) / cols)
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False, layout="constrained")
        for i, q in enumerate(qs):
            ax = axes[i // cols][i % cols]
            ev = sorted(q["evaluations"], key=lambda e: e["lever"])
            x = [e["lever"] for e in ev]
            y = [e["ratio"] for e in ev]
            err = [t975 * e["ratio_se"] for e in ev]
            ax.errorbar(x, y, yerr=err, color=SERIES[0], marker="o", ms=4, lw=1.2, capsize=2,
                        label="mean ratio, 95% interval")
            ax.axhline(target, color=DATA, lw=1.0, ls="--", label=f"target {target:g}x")
            if q["status"] in ("found", "budget"):
                ax.axvline(q["lever"], color=SERIES[3], lw=1.0, label="size found")
                if q["lever_low"] is not None:
                    ax.axvspan(q["lever_low"], q["lever_high"], color=SERIES[3], alpha=0.15, lw=0)
            else:
                ax.text(0.5, 0.06, "no size within the bounds reaches the target", transform=ax.transAxes,
                        ha="center", va="bottom", fontsize=9, color=NEUTRAL)
            ax.set_xlim(q["lower"] - 0.03 * (q["upper"] - q["lower"]), q["upper"] + 0.03 * (q["upper"] - q["lower"]))
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_title(q["name"].replace("_", " "), fontsize=11)
            ax.set_xlabel(q["unit"] or "lever", fontsize=9)
            if i % cols == 0:
                ax.set_ylabel(f"exports {res['target']['at']} / {res['target']['from']} mean", fontsize=9)
        for j in range(len(qs), rows * cols):
            axes[j // cols][j % cols].set_visible(False)
        axes[0][0].legend(loc="lower right", fontsize=8)
        dest = ", ".join(res["target"]["destinations"]) or "every destination but the US"
        fig.suptitle(f"Export value to {dest}, {res['target']['at']} over the {res['target']['from']} mean, "
                     f"against each lever ({n_seeds} replicates)", fontsize=12)
        fig.savefig(path, dpi=dpi)
        plt.close(fig)


def replace_block(doc, stem, text):
    """Put `text` between the table markers of `stem` in the file `doc`."""
    body = Path(doc).read_text(encoding="utf-8")
    begin, end = f"<!-- table: {stem} -->", f"<!-- end table: {stem} -->"
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(body):
        raise AnalysisError(doc, f"no lines {begin} ... {end} to put the table between")
    Path(doc).write_text(pattern.sub(lambda _: f"{begin}\n{text}{end}", body), encoding="utf-8")


def main(args):
    res = load(args.file)
    out = Path(args.output)
    if not out.is_dir():
        raise AnalysisError(args.output, "expected an existing folder")
    stem = args.name or Path(args.file[0]).stem
    md = table(res)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    figure(res, out / f"{stem}.png", dpi=args.dpi)
    if args.doc:
        replace_block(args.doc, stem, md)
    if not args.quiet:
        print(md, end="")
        print(f"wrote {out / (stem + '.md')} and {out / (stem + '.png')}" + (f"; table in {args.doc}" if args.doc else ""))
    return 0
