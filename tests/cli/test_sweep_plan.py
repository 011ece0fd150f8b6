"""`sweep --plan` times a pilot run of point 0 end to end (solve, periods,
writing and closing its file) and takes the output size from the pilot's
file; the pilot's file is written in a private temporary folder and
removed."""
import re

from sweep_helpers import run, write_sweep

# Two points, one replicate; the small base (2,200 firms, 14 periods with
# burn-in) takes well under the 2 s below which the pilot is the whole run.
SWEEP = """\
base: small.yaml
seed: 3
replicates: 1
design:
  grid:
    destinations.US.regimes.tariffs.tariff: [0.0, 0.25]
"""

SIZE = re.compile(r"output\s+about ([\d.]+) (B|KB|MB) per run")
SCALE = {"B": 1, "KB": 1e3, "MB": 1e6}


def test_plan_runs_point_0_whole_and_predicts_its_file_size(tmp_path):
    sweep = write_sweep(tmp_path, SWEEP)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = run(["sweep", sweep, "--plan"], env={"TMPDIR": str(scratch)})
    assert "solve and writing included" in proc.stdout
    assert "(point 0 run end to end:" in proc.stdout, proc.stdout
    assert list(scratch.iterdir()) == [], "the pilot run's file must be removed"
    value, unit = SIZE.search(proc.stdout).groups()
    predicted = float(value) * SCALE[unit]
    run(["sweep", sweep, "-o", tmp_path / "out", "-q"])
    actual = (tmp_path / "out" / "runs" / "p0000-r00.h5").stat().st_size
    # The pilot is point 0's own run (same parameters and seed): the files
    # differ only in attribute text (times, thread count). The plan prints
    # 4 significant digits (0.05 KB of rounding at this size), so 1% is
    # far more than the two can differ by.
    assert abs(predicted - actual) <= 0.01 * actual, (predicted, actual)
