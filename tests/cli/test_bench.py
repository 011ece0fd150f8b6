"""`tradeabm bench`: every figure is printed as `bench NAME VALUE UNIT`
and written to the JSON file; the figures that read the repository's
parameter files (exact_cells_per_s, calibrate_eval_s) say `unavailable`,
not a number, when those files are not there."""

import json
import math

from helpers import PARAMS, run

FIGURES = ["dynamic_fps_per_core", "myopic_fps_per_core", "kernel_fps_per_core", "dynamic_vs_kernel",
           "myopic_vs_kernel", "panel_overhead", "output_share", "sweep_runs_per_s_jobs1", "sweep_runs_per_s_jobsN",
           "sweep_overhead_ms", "dp_solve_s", "state_bytes_per_firm", "exact_cells_per_s", "calibrate_eval_s",
           "peak_rss_mb"]


def bench(tmp_path, params_dir):
    out = tmp_path / "bench.json"
    proc = run("bench", "--quick", "--threads", 1, "--params-dir", params_dir, "--json", out, threads=1,
               env=None, timeout=600)
    lines = {}
    for line in proc.stdout.splitlines():
        if line.startswith("bench "):
            _, name, value, unit = line.split()
            lines[name] = (value, unit)
    return proc, lines, json.loads(out.read_text())["figures"]


def test_every_figure_is_printed_and_written_with_a_positive_value(tmp_path):
    proc, lines, figures = bench(tmp_path, PARAMS)
    assert list(lines) == FIGURES, proc.stdout
    for name in FIGURES:
        value = figures[name]["value"]
        assert value is not None and math.isfinite(value) and value > 0, (name, proc.stdout, proc.stderr)
        assert float(lines[name][0]) == value, name
    assert lines["exact_cells_per_s"][1] == "updates/s"
    assert lines["calibrate_eval_s"][1] == "s"
    # A share of the run's own total time, which contains the output time.
    assert figures["output_share"]["value"] < 1 and lines["output_share"][1] == "fraction"
    # With --threads 1 both sweep lines are the one-job sweep.
    assert figures["sweep_runs_per_s_jobsN"]["value"] == figures["sweep_runs_per_s_jobs1"]["value"]
    assert lines["sweep_runs_per_s_jobs1"][1] == "runs/s" and lines["sweep_overhead_ms"][1] == "ms/run"
    assert "# sweep of 200 runs, --jobs 1: outside the runs" in proc.stdout


def test_figures_without_their_parameter_files_are_unavailable(tmp_path):
    empty = tmp_path / "no-params"
    empty.mkdir()
    proc, lines, figures = bench(tmp_path, empty)
    for name in ["exact_cells_per_s", "calibrate_eval_s"]:
        assert lines[name][0] == "unavailable", proc.stdout
        assert figures[name]["value"] is None
    assert "akkrs_steady_state.yaml" in proc.stderr or "canada.yaml" in proc.stderr, proc.stderr
    assert figures["dynamic_fps_per_core"]["value"] > 0
