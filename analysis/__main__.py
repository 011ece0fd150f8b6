"""Command line: /usr/bin/python3 -m analysis report FILE.h5 -o DIR"""

import argparse
import sys

from .load import AnalysisError


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m analysis",
        description="Analyse tradeabm output files (run files, sweep indexes and comparison files).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    rep = sub.add_parser(
        "report",
        help="write PNG figures and a self-contained HTML page for a run, a sweep index or a comparison",
        description="Write PNG figures and one self-contained HTML page (DIR/report.html, figures embedded) "
        "for a run file, a sweep index or a comparison file (tradeabm compare).",
    )
    rep.add_argument("file", metavar="FILE.h5",
                     help="a run file (tradeabm run), a sweep index (sweep.h5) or a comparison file (tradeabm compare)")
    rep.add_argument("-o", "--output", metavar="DIR", required=True, help="folder for report.html and the PNGs")
    rep.add_argument("--dpi", type=int, default=110, help="resolution of the PNG files (default 110)")
    rep.add_argument("--allow-incomplete", action="store_true",
                     help="report on a run whose status is not complete (interrupted runs)")
    rep.add_argument("--money", choices=("cad", "model"), default="cad",
                     help="money in C$ billion, scaled so that the model's 2024 exports match the data of "
                     "analysis/data/canada_facts.yaml (cad, the default, where the run covers 2024), or in "
                     "model units (model)")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .load import load

    try:
        obj = load(args.file, allow_incomplete=args.allow_incomplete)
        from .report import report  # matplotlib: only once there is something to draw
        from .units import model_units

        money = model_units("--money model") if args.money == "model" else None
        path, page = report(obj, args.output, dpi=args.dpi, money=money)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    drawn = [p.name for p in page.plots if p.figure is not None]
    print(f"wrote {path} ({len(drawn)} figures: {', '.join(drawn)})")
    for note in page.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
