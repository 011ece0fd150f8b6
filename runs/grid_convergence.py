#!/usr/bin/python3
"""Grid convergence of a parameter file's steady state (docs/calibration.md,
"Resolution"): for each productivity grid size, the steady state with exact
aggregation (no sampling noise) and the same steady state with a permanent
3.5% US tariff in the initial regime, then one Markdown table row of key
aggregates, the response to the tariff and the run time.

    runs/grid_convergence.py params/canada_baseline.yaml 41 61 81 101 151 201
    TRADEABM=build/tradeabm runs/grid_convergence.py FILE N... [--set KEY=VALUE ...]

The first logged period after the burn-in is the steady state: regimes hold
their initial values through the burn-in and the first period draws no
regime, so it needs one logged period only."""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from analysis.load import parse_parameters  # noqa: E402  (YAML 1.2 scalars, as the C side)

BINARY = os.environ.get("TRADEABM") or str(HERE / "build" / "tradeabm")
TARIFF = 0.035


def steady_state(params, grid, extra, tariff, folder):
    out = Path(folder) / f"grid{grid}-{'t' if tariff else 'b'}.h5"
    args = [BINARY, "run", params, "-q", "--force", "-o", str(out), "--set", f"productivity.grid={grid}",
            "--set", "run.aggregation=exact", "--set", "run.periods=1"] + extra
    if tariff:
        args += ["--set", f"destinations.US.regimes.{initial_us_regime(params, extra)}.tariff={TARIFF}"]
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"grid_convergence: {' '.join(args)} failed:\n{proc.stderr}")
    seconds = time.monotonic() - started
    with h5py.File(out, "r") as f:
        value = f["series/export_value"][0]          # [sector, destination]
        by_set = f["series/firms_by_market_set"][0]  # [sector, set]
        serving = f["series/firms_serving"][0]
        dests = [d.decode() for d in f["dimensions/destinations"][:]]
        cut = f["policy/entry_cutoff"][:, 0, dests.index("US")]
        z = f["grid/z"][:]
    return dict(value=value, by_set=by_set, us_serving=serving[:, dests.index("US")], cut=cut, z=z,
                dests=dests, seconds=seconds)


def resolved(params, extra):
    """The resolved parameters, as `tradeabm check` prints them."""
    proc = subprocess.run([BINARY, "check", params] + extra, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr)
    return parse_parameters(proc.stdout)


def initial_us_regime(params, extra):
    """The US regime in force at the start (initial_regime, else the first listed)."""
    us = resolved(params, extra)["destinations"]["US"]
    return us.get("initial_regime") or next(iter(us["regimes"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("params")
    ap.add_argument("grids", nargs="+", type=int)
    ap.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    a = ap.parse_args()
    extra = [x for kv in a.sets for x in ("--set", kv)]
    print(f"| grid points | step (log points, widest sector) | sales per step | US share | China share | "
          f"participation | one-market share | exporters | exports / finest grid | US exports, +3.5% US tariff | "
          f"sectors whose US exporters move | US exporters, +3.5% | median-type US entry cut-offs that move | "
          f"seconds (exact, one run) |")
    print("|" + "---|" * 14)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in a.grids:
            b = steady_state(a.params, n, extra, False, folder)
            t = steady_state(a.params, n, extra, True, folder)
            rows.append((n, b, t))
    finest = rows[-1][1]["value"].sum()
    sigma = float(resolved(a.params, extra)["demand"]["elasticity"])
    for n, b, t in rows:
        step = float(np.max(b["z"][:, 1] - b["z"][:, 0]))
        v, s = b["value"], b["by_set"]
        exporters = s[:, 1:].sum()
        singles = sum(s[:, 1 << d].sum() for d in range(len(b["dests"])))
        us = b["dests"].index("US")
        d_us = 100 * (t["value"][:, us].sum() / v[:, us].sum() - 1)
        moved = int(np.sum(np.abs(t["us_serving"] - b["us_serving"]) > 1e-9))
        d_exp = float((t["us_serving"] - b["us_serving"]).sum())
        cuts = int(np.sum(t["cut"] != b["cut"]))
        print(f"| {n} | {step:.3f} | x{np.exp((sigma - 1) * step):.2f} | {v[:, us].sum() / v.sum():.4f} | "
              f"{v[:, b['dests'].index('CN')].sum() / v.sum():.4f} | {exporters / s.sum():.4f} | "
              f"{singles / exporters:.4f} | {exporters:,.0f} | {v.sum() / finest:.3f} | {d_us:+.2f}% | "
              f"{moved} of {len(v)} | {d_exp:+,.0f} | {cuts} of {len(v)} | {b['seconds']:.1f} |")


if __name__ == "__main__":
    main()
