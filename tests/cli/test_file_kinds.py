"""`info` and `reproduce` on every kind of file tradeabm writes: run file,
partial run file, sweep index, comparison, fitted parameter file of a
calibration and checkpoint, each made with the command line. `info` names
the kind; `reproduce` re-runs only complete run files and, for every other
kind, says what to do instead (exit status 2), never "corrupt"."""
import signal
import time

import h5py
import pytest

from helpers import BASELINE, DATA, copy_to, one_error, run, start
from sweep_helpers import write_small_base

SCENARIO = DATA / "analysis_scenario.yaml"

SWEEP = """\
base: small.yaml
seed: 5
replicates: 1
design:
  grid:
    destinations.US.regimes.tariffs.tariff: [0.0, 0.25]
summary:
  outcomes: [export_share.US]
  periods: 2
"""

CALIBRATION = """\
base: {base}
seed: 11
set: [run.model=myopic, run.burn_in=4, run.periods=2, sectors.machinery_tech.firms=500]
parameters:
  - name: cost_level
    mode: scale
    paths: [sectors.machinery_tech.markets.US.fixed_cost, sectors.machinery_tech.markets.US.sunk_cost]
    lower: 0.5
    upper: 2
moments:
  - name: export_participation
    target: 0.25
optimizer:
  max_evaluations: 2
"""


def info_fields(stdout):
    """`info`'s `key   value` lines as a dict (first occurrence of a key)."""
    out = {}
    lines = [line for line in stdout.splitlines() if line[:1].strip()]
    width = lines[0].index("/") if lines and lines[0].startswith("file ") else 15
    for line in lines:
        out.setdefault(line[:width].strip(), line[width:].strip())
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file of every kind, made with the command line."""
    d = tmp_path_factory.mktemp("kinds")
    made = {}
    # A run with events (the scenario file's tariff events).
    params = copy_to(SCENARIO, d, "scenario.yaml")
    copy_to(DATA / "analysis_small.yaml", d, "analysis_small.yaml")
    run("run", params, "-o", d / "run.h5", "-q")
    made["run"] = d / "run.h5"
    # A sweep index of two one-replicate points.
    write_small_base(d)
    (d / "sweep.yaml").write_text(SWEEP)
    run("sweep", d / "sweep.yaml", "-o", d / "sw", "-q")
    made["sweep"] = d / "sw" / "sweep.h5"
    # A comparison with one replicate.
    run("compare", d / "analysis_small.yaml", params, "--replicates", "1", "-o", d / "cmp.h5", "-q")
    made["comparison"] = d / "cmp.h5"
    # A fitted parameter file.
    (d / "cal.yaml").write_text(CALIBRATION.format(base=BASELINE))
    run("calibrate", d / "cal.yaml", "-o", d / "fitted.yaml")
    made["fitted"] = d / "fitted.yaml"
    # A checkpoint and the partial run file beside it: a long run killed
    # (SIGKILL) after its first checkpoint.
    long = ["--set", "run.periods=3000", "--set", "run.burn_in=2", "--set", "sectors.agrifood.firms=200000"]
    proc = start("run", d / "analysis_small.yaml", "-o", "long.h5", "-q", "--checkpoint-every", "2", *long, cwd=d)
    ckpt = d / "long.h5.ckpt"
    t0 = time.time()
    while not ckpt.exists():
        assert proc.poll() is None, "the long run ended before its first checkpoint: " + proc.stderr.read()
        assert time.time() - t0 < 120, "no checkpoint within 120 s"
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    made["checkpoint"] = ckpt
    partial = [p for p in d.iterdir() if p.name.startswith("long.h5.tmp-")]
    assert len(partial) == 1, sorted(p.name for p in d.iterdir())
    made["partial"] = partial[0]
    return made


def test_info_on_a_run_names_the_kind_source_events_and_whole_wall_time(files):
    out = run("info", files["run"]).stdout
    f = info_fields(out)
    assert f["kind"] == "run file"
    assert f["source"].endswith("scenario.yaml")
    assert f["wall time"].endswith("s (set-up and solve, periods, writing)")
    # The two events of the scenario file, with their tariffs in percent.
    assert f["events"].startswith("2 took effect")
    assert "2025Q1   tariff       US.steel_aluminum 25% (steel and aluminum tariff)" in out
    with h5py.File(files["run"], "r") as h:
        assert h["events"].shape[0] == 2


def test_wall_time_covers_the_solve(files):
    """The recorded wall time spans the whole run, so it is at least the
    longest sector's solve (/policy/solve_seconds, timed inside the run;
    sectors may be solved side by side, so not their sum). With one logged
    period, no burn-in and a fine grid the solve is most of the run: the
    former wall time, taken from the file's opening after the solve, was
    below it."""
    d = files["run"].parent
    run("run", DATA / "analysis_small.yaml", "-o", d / "dyn.h5", "-q", "--set", "run.model=dynamic",
        "--set", "run.periods=1", "--set", "run.burn_in=0", "--set", "productivity.grid=101")
    with h5py.File(d / "dyn.h5", "r") as h:
        solve = float(h["policy/solve_seconds"][:].max())
        wall = float(h.attrs["wall_seconds"])
    assert solve > 0
    assert wall >= solve


@pytest.mark.parametrize("kind, name, facts", [
    ("sweep", "sweep index", ["points", "replicates", "base parameters", "swept", "outcomes"]),
    ("comparison", "comparison file", ["base parameters", "scenario parameters", "replicates", "seeds",
                                       "runs folder"]),
    ("fitted", "fitted parameter file (calibration)", ["calibration file", "method", "objective"]),
    ("checkpoint", "checkpoint", ["output", "logged periods saved", "checkpoint every"]),
    ("partial", "partial run file", []),
])
def test_info_names_every_kind_and_its_facts(files, kind, name, facts):
    proc = run("info", files[kind])
    f = info_fields(proc.stdout)
    assert f["kind"] == name
    for key in facts:
        assert f.get(key), f"{key} missing from:\n{proc.stdout}"
    assert "corrupt" not in proc.stdout + proc.stderr
    assert f["reproduce"]


def test_info_of_a_sweep_reads_the_design(files):
    f = info_fields(run("info", files["sweep"]).stdout)
    assert f["points"] == "2" and f["replicates"] == "1" and f["complete runs"] == "2"
    assert f["swept"] == "destinations.US.regimes.tariffs.tariff"
    assert f["outcomes"] == "export_share.US"
    assert f["base parameters"].startswith("small.yaml")


@pytest.mark.parametrize("kind, advice", [
    ("sweep", "tradeabm reproduce {folder}/runs/p0000-r00.h5"),
    ("comparison", "tradeabm reproduce {folder}/cmp-runs/base-r01.h5"),
    ("fitted", "tradeabm run {path} -o RUN.h5"),
    ("checkpoint", "tradeabm run --resume {path}"),
    ("partial", "tradeabm run --resume FINAL.h5.ckpt"),
])
def test_reproduce_says_what_to_do_instead_with_exit_2(files, kind, advice):
    path = files[kind]
    err = one_error(run("reproduce", path, status=2))
    assert "not a run file" in err and "corrupt" not in err
    assert advice.format(folder=path.parent, path=path) in err


def test_the_advice_works_for_a_sweep(files):
    """The run the advice names reproduces."""
    run("reproduce", files["sweep"].parent / "runs" / "p0000-r00.h5")


def test_info_and_reproduce_refuse_a_file_tradeabm_does_not_write(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as h:
        h.attrs["program"] = "someone else"
    (tmp_path / "notes.yaml").write_text("run:\n  periods: 3\n")
    for path in (tmp_path / "other.h5", tmp_path / "notes.yaml"):
        assert "not a file tradeabm writes" in one_error(run("info", path, status=2))
        assert "not a file tradeabm writes" in one_error(run("reproduce", path, status=2))
    assert "a folder" in one_error(run("info", tmp_path, status=2))
