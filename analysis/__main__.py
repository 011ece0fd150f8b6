"""Command line: /usr/bin/python3 -m analysis report FILE.h5 -o DIR
              /usr/bin/python3 -m analysis export FILE.h5 -o DIR [--format csv|parquet]
              /usr/bin/python3 -m analysis elasticity BASE.h5 TARIFF.h5 --from PERIOD --tariff T -o FIG.png
              /usr/bin/python3 -m analysis questions RESULT.json [MORE.json ...] -o DIR [--doc PAGE.md]"""

import argparse
import os
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
    exp = sub.add_parser(
        "export",
        help="write tidy (long) tables of a run, every run of a sweep, or a comparison, for Stata and R",
        description="Write the contents of a run file, a sweep index (every run at every period) or a "
        "comparison file as long tables, one file per table, in DIR: CSV (UTF-8, header, no index column, "
        "full precision) or Parquet (needs the Python package pyarrow, not packaged in Debian 12). Seeds are "
        "text in the second column. Tables and columns: docs/output.md, 'Using results in Stata or R'. "
        "Nothing is written if the export fails.",
    )
    exp.add_argument("file", metavar="FILE.h5",
                     help="a run file (tradeabm run), a sweep index (sweep.h5) or a comparison file (tradeabm compare)")
    exp.add_argument("-o", "--output", metavar="DIR", required=True,
                     help="folder for the tables (created if missing; its parent must exist)")
    exp.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    exp.add_argument("--tables", metavar="NAME,...",
                     help="write only these tables (default: all; an unknown name lists the file's tables)")
    exp.add_argument("--force", action="store_true", help="replace tables already in DIR")
    exp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ela = sub.add_parser(
        "elasticity",
        help="export elasticity by horizon from a base run and a run with a permanent tariff rise",
        description="Print the export elasticity e(h) = -[ln X(tariff run) - ln X(base)] / "
        "ln((1 + t1) / (1 + t0)) at each period h from the rise (docs/model.md eq. 2b) and write its figure.",
    )
    ela.add_argument("base", metavar="BASE.h5", help="run without the tariff rise")
    ela.add_argument("tariff_run", metavar="TARIFF.h5", help="the same run (same seed) with the rise")
    ela.add_argument("--from", dest="start", required=True, metavar="PERIOD", help="period of the rise, e.g. 2025Q1")
    ela.add_argument("--tariff", type=float, required=True, help="tariff after the rise (fraction, e.g. 0.1)")
    ela.add_argument("--tariff-before", type=float, default=0.0, help="tariff before the rise (default 0)")
    ela.add_argument("--destination", default="US", help="destination of the rise (default US)")
    ela.add_argument("--sectors", metavar="NAME,...", help="sectors summed (default: all)")
    ela.add_argument("-o", "--output", metavar="FIG.png", required=True, help="figure to write")
    ela.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    que = sub.add_parser(
        "questions",
        help="table and figure of the answers of tradeabm target (docs/questions.md)",
        description="Write DIR/STEM.md (the answer table) and DIR/STEM.png (the ratio against each lever's "
        "size, with the target line) from a result file of tradeabm target; with --doc, also put the table "
        "between the lines <!-- table: STEM --> and <!-- end table: STEM --> of that file.",
    )
    que.add_argument("file", metavar="RESULT.json", nargs="+",
                     help="a result file of tradeabm target (several: parts of one question file, read as one)")
    que.add_argument("--name", metavar="STEM", help="name of the table and figure (default: the first file's)")
    que.add_argument("-o", "--output", metavar="DIR", required=True, help="existing folder for the table and figure")
    que.add_argument("--doc", metavar="PAGE.md", help="Markdown page whose table block to replace")
    que.add_argument("--dpi", type=int, default=110, help="resolution of the PNG (default 110)")
    que.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    prog = os.environ.get("TRADEABM_COMMAND")
    if prog:
        exp.prog = prog
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "elasticity":
        from .elasticity import main as elasticity_main

        try:
            return elasticity_main(args)
        except AnalysisError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "questions":
        from .questions import main as questions_main

        try:
            return questions_main(args)
        except AnalysisError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "export":
        from .export import main as export_main

        return export_main(args)
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
