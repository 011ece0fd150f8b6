"""Analysis of tradeabm output: load run files, sweep indexes and
comparison files, plot them and write reports.

    import analysis
    run = analysis.load("baseline.h5")       # a Run (or a Sweep for sweep.h5)
    run.series                               # tidy DataFrame of every series
    z, markets = run.panel("energy", "2025Q1")   # one slice of the firm panel
    cmp = analysis.load("compare.h5")        # a Comparison (tradeabm compare)
    cmp.differences, cmp.effects             # scenario minus base; effects table

    analysis.compute_digest("baseline.h5")   # == the file's digest attribute

Command line: /usr/bin/python3 -m analysis report RUN.h5 -o DIR
              /usr/bin/python3 -m analysis export FILE.h5 -o DIR   (tidy tables, analysis/export.py)
"""

from .digest import compute_digest
from .load import (FORMAT_VERSION, AnalysisError, Comparison, Run, Sweep, load,
                   parse_parameters)

__all__ = ["FORMAT_VERSION", "AnalysisError", "Comparison", "Run", "Sweep", "compute_digest", "load",
           "parse_parameters"]
