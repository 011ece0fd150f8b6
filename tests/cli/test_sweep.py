"""`tradeabm sweep`: sweep files, plans, runs, the index, resume and errors."""
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from sweep_helpers import (BINARY, SOURCE_DIR, grid_sweep, index_contents, run, run_files, same_summaries,
                           write_small_base, write_sweep)


def test_plan_prints_runs_time_memory_and_output_without_running(tmp_path):
    sweep = grid_sweep(tmp_path)
    proc = run(["sweep", sweep, "--plan", "-o", tmp_path / "out"])
    assert "6 points x 2 replicates = 12 runs" in proc.stdout
    for word in ("time", "memory", "output"):
        assert word in proc.stdout
    assert not (tmp_path / "out").exists()


def test_sweep_writes_every_run_and_the_index_layout(tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    proc = run(["sweep", sweep, "-o", out])
    assert "[12/12]" in proc.stderr and "elapsed" in proc.stderr
    assert run_files(out) == [f"p{p:04d}-r{r:02d}.h5" for p in range(6) for r in range(2)]
    with h5py.File(out / "sweep.h5", "r") as f:
        assert f.attrs["program"] == "tradeabm" and f.attrs["kind"] == "sweep"
        assert f.attrs["format_version"] == 1 and f.attrs["seed"] == 20250301
        assert f.attrs["sweep_text"] == sweep.read_text()
        assert len(f.attrs["sweep_sha256"]) == 64
        assert f["design/point"].dtype == np.int32 and f["design/seed"].dtype == np.uint64
        assert f["design/point"][...].tolist() == [p for p in range(6) for _ in range(2)]
        assert f["design/replicate"][...].tolist() == [0, 1] * 6
        assert [s.decode() for s in f["design/status"][...]] == ["complete"] * 12
        assert f["design/file"][0].decode() == "runs/p0000-r00.h5"
        assert np.all(f["design/wall_seconds"][...] >= 0)
        tariff = f["design/values/destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum"][...]
        sunk = f["design/values/sectors.machinery_tech.markets.US.sunk_cost"][...]
        # Grid order: the last listed parameter varies fastest.
        assert tariff.tolist() == [0.1] * 6 + [0.5] * 6
        assert sunk.tolist() == [44.1, 44.1, 88.3, 88.3, 176.6, 176.6] * 2
        points = f["summary/points/sectors.machinery_tech.markets.US.sunk_cost"][...].tolist()
        assert points == [44.1, 88.3, 176.6, 44.1, 88.3, 176.6]
        # The swept key reaches the firms (a destination-wide key that every
        # sector overrides would not, and is refused): under common random
        # numbers, the three points that differ only in machinery's sunk
        # cost of entering the US differ in their US entrants.
        entrants = f["summary/entrants.US/mean"][...]
        assert len(set(entrants[:3].tolist())) == 3, entrants
        units = {"non_us_share": "fraction", "export_share.US": "fraction", "export_value.US": "model money",
                 "firms_serving.CN": "firms", "entrants.US": "firms", "exiters.US": "firms"}
        for outcome, unit in units.items():
            group = f["summary"][outcome]
            assert set(group) == {"mean", "sd", "ci_low", "ci_high", "n"}
            assert group.attrs["units"] == unit and group["mean"].attrs["units"] == unit
            assert group.attrs["description"]
            assert group["n"][...].tolist() == [2] * 6
            mean, low, high = group["mean"][...], group["ci_low"][...], group["ci_high"][...]
            assert np.all(low <= mean) and np.all(mean <= high)
        # External links open each run file's root.
        assert sorted(f["runs"]) == [f"p{p:04d}-r{r:02d}" for p in range(6) for r in range(2)]
        assert f["runs/p0003-r01"].attrs["status"] == "complete"
        assert f["runs/p0003-r01"].attrs["digest"] == f["design/digest"][7].decode()
        # The summary of a point is the mean over its replicates' outcomes;
        # a run's non-US share is the ratio of its export sums over the last
        # 3 periods (docs/statistics.md); US is destination 0 of the base.
        shares, exporters = [], []
        for r in range(2):
            value = f[f"runs/p0002-r{r:02d}/series/export_value"][-3:]
            shares.append(value[:, :, 1:].sum() / value.sum())
            exporters.append(f[f"runs/p0002-r{r:02d}/series/firms_serving"][-3:, :, 1].sum() / 3)
        assert f["summary/non_us_share/mean"][2] == pytest.approx(np.mean(shares), rel=1e-12)
        assert f["summary/firms_serving.CN/mean"][2] == pytest.approx(np.mean(exporters), rel=1e-12)
        sd = np.std(shares, ddof=1)
        assert f["summary/non_us_share/sd"][2] == pytest.approx(sd, rel=1e-9)
        # t(0.975, 1) = tan(0.475 pi) = 12.7062047...
        assert f["summary/non_us_share/ci_high"][2] == pytest.approx(np.mean(shares) + 12.706204736 * sd / 2 ** 0.5,
                                                                      rel=1e-8)


def test_one_replicate_gives_nan_interval(tmp_path):
    sweep = grid_sweep(tmp_path, replicates=1)
    run(["sweep", sweep, "-o", tmp_path / "out", "-q"])
    with h5py.File(tmp_path / "out" / "sweep.h5", "r") as f:
        assert f["summary/export_share.US/n"][...].tolist() == [1] * 6
        assert np.all(np.isnan(f["summary/export_share.US/ci_low"][...]))
        assert np.all(np.isnan(f["summary/export_share.US/sd"][...]))
        assert not np.any(np.isnan(f["summary/export_share.US/mean"][...]))


def test_any_run_can_be_recreated_alone_from_the_design_table(tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "-q"])
    with h5py.File(out / "sweep.h5", "r") as f:
        i = 9
        seed = int(f["design/seed"][i])
        sets = [f"{name}={f['design/values'][name][i]!r}" for name in f["design/values"]]
        digest = f["design/digest"][i].decode()
    args = ["run", tmp_path / "small.yaml", "-q", "-o", tmp_path / "alone.h5", "--seed", seed]
    for s in sets:
        args += ["--set", s]
    run(args)
    with h5py.File(tmp_path / "alone.h5", "r") as f:
        assert f.attrs["digest"] == digest


def test_rerunning_a_finished_sweep_does_no_work(tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "-q"])
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*.h5")}
    proc = run(["sweep", sweep, "-o", out])
    assert "nothing to do" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*.h5")} == before


def test_resume_after_a_killed_shard_redoes_only_unfinished_runs(tmp_path):
    # Bigger runs so that the shard is surely killed in the middle.
    text = """\
base: small.yaml
seed: 77
replicates: 4
fixed:
  sectors.machinery_tech.firms: 20000
  run.burn_in: 30
design:
  points:
    - {interactions.spillover: 0.0}
    - {interactions.spillover: 0.1}
    - {interactions.spillover: 0.2}
    - {interactions.spillover: 0.3}
    - {interactions.spillover: 0.4}
    - {interactions.spillover: 0.5}
"""
    sweep = write_sweep(tmp_path, text)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([BINARY, "sweep", sweep, "-o", out, "--shard", "1/2", "-q"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(run_files(out) if (out / "runs").exists() else []) < 3:
        assert proc.poll() is None, "the shard finished before it could be killed; make its runs bigger"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (out / "runs").glob("*.h5")}
    assert 3 <= len(finished) < 12
    # A corrupt file under a final name and a stale temporary file are redone.
    (out / "runs" / "p0004-r00.h5").write_bytes(b"not an HDF5 file")
    (out / "runs" / "p0005-r02.h5.tmp-12345").write_bytes(b"half a file")
    run(["sweep", sweep, "-o", out, "--shard", "1/2", "-q"])
    for path, stamp in finished.items():
        assert (path.stat().st_mtime_ns, path.stat().st_ino) == stamp, f"{path.name} was rewritten"
    mine = [f"p{r // 4:04d}-r{r % 4:02d}.h5" for r in range(0, 24, 2)]
    assert run_files(out) == sorted(mine)
    assert not list((out / "runs").glob("*.tmp-*"))
    assert not (out / "sweep.h5").exists()  # the other shard has not run yet
    run(["sweep", sweep, "-o", out, "--shard", "2/2", "-q"])
    index = index_contents(out / "sweep.h5")
    assert index["status"] == ["complete"] * 24


def test_shards_write_disjoint_runs_and_the_last_writes_the_index(tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "--shard", "2/3", "-q"])
    assert run_files(out) == [f"p{r // 2:04d}-r{r % 2:02d}.h5" for r in range(1, 12, 3)]
    assert not (out / "sweep.h5").exists()
    # Slurm array variables pick the part when --shard is not given.
    run(["sweep", sweep, "-o", out, "-q"], env={"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"})
    assert len(run_files(out)) == 8 and not (out / "sweep.h5").exists()
    run(["sweep", sweep, "-o", out, "-q"], env={"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5",
                                                "SLURM_ARRAY_TASK_MAX": "7"})
    assert len(run_files(out)) == 12
    assert index_contents(out / "sweep.h5")["status"] == ["complete"] * 12


def test_jobs_share_the_threads_and_give_the_same_digests(tmp_path):
    sweep = grid_sweep(tmp_path)
    run(["sweep", sweep, "-o", tmp_path / "one", "-q", "--jobs", "1", "--threads", "1"])
    run(["sweep", sweep, "-o", tmp_path / "two", "-q", "--jobs", "2", "--threads", "2"])
    a, b = index_contents(tmp_path / "one" / "sweep.h5"), index_contents(tmp_path / "two" / "sweep.h5")
    assert a["digest"] == b["digest"] and same_summaries(a["summary"], b["summary"])


def test_sweep_index_rebuilds_the_same_index(tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "-q"])
    first = index_contents(out / "sweep.h5")
    (out / "sweep.h5").unlink()
    (out / "runs" / "p0001-r01.h5").unlink()
    proc = run(["sweep-index", out])
    assert "11 of 12 runs complete" in proc.stdout
    second = index_contents(out / "sweep.h5")
    assert second["status"][3] == "missing" and second["digest"][3] == ""
    with h5py.File(out / "sweep.h5", "r") as f:
        assert f["summary/export_share.US/n"][1] == 1 and "p0001-r01" not in f["runs"]


def test_latin_hypercube_puts_one_point_in_every_stratum(tmp_path):
    text = """\
base: small.yaml
seed: 5
design:
  latin_hypercube:
    n: 8
    seed: 11
    ranges:
      interactions.spillover: [0, 0.4]
      sectors.canola.markets.CN.sunk_cost: [200, 208]
summary:
  outcomes: [export_value.CN]
"""
    sweep = write_sweep(tmp_path, text)
    run(["sweep", sweep, "-o", tmp_path / "out", "-q"])
    with h5py.File(tmp_path / "out" / "sweep.h5", "r") as f:
        spill = f["summary/points/interactions.spillover"][...]
        sunk = f["summary/points/sectors.canola.markets.CN.sunk_cost"][...]
        assert sorted(np.floor(spill / 0.05).astype(int)) == list(range(8))
        assert sorted(np.floor((sunk - 200) / 1.0).astype(int)) == list(range(8))
        assert f["summary/export_value.CN/n"][...].tolist() == [1] * 8


def test_emit_slurm_writes_an_array_script(tmp_path):
    sweep = grid_sweep(tmp_path)
    proc = run(["sweep", sweep, "-o", tmp_path / "out", "--emit-slurm", "--tasks", "4", "--threads", "2"],
               cwd=tmp_path)
    script = (tmp_path / "runs" / "sweep.sbatch").read_text()
    assert "sbatch" in proc.stdout
    assert "#SBATCH --array=0-3" in script and "#SBATCH --cpus-per-task=2" in script
    assert f"out='{tmp_path / 'out'}'" in script and str(tmp_path / "out" / "logs") in script
    assert not run_files(tmp_path / "out")


ERRORS = [
    # (sweep text, expected position and key in the message)
    ("base: small.yaml\nseed: 1\nreplicate: 2\ndesign:\n  grid: {run.periods: [3]}\n",
     "sweep.yaml:3:1: replicate: unknown key"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid:\n    interactions.spilover: [0.1]\n",
     "sweep.yaml:5:5: design.grid.interactions.spilover: not accepted"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid:\n    interactions.spillover: [0.1, 3]\n",
     "sweep.yaml:5:35: design.grid.interactions.spillover: not accepted"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid: {sectors.tobacco.firms: [10]}\n",
     "sweep.yaml:4:10: design.grid.sectors.tobacco.firms: no sector"),
    ("base: missing.yaml\nseed: 1\ndesign:\n  grid: {run.periods: [3]}\n", "sweep.yaml:1:7: base: cannot load"),
    ("base: small.yaml\nseed: x\ndesign:\n  grid: {run.periods: [3]}\n", "sweep.yaml:2:7: seed:"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid: {run.periods: [3]}\nsummary:\n  outcomes: [export_value.JP]\n",
     "sweep.yaml:6:14: summary.outcomes[0]: outcome `export_value.JP`: `JP` is not a destination or sector"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid: {run.periods: [3]}\nsummary:\n  outcomes: [exports_JP]\n",
     "sweep.yaml:6:14: summary.outcomes[0]: outcome `exports_JP` is a name of the older vocabulary; did you mean "
     "`export_value.JP`?"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid: {run.periods: [3]}\nsummary:\n  outcomes: [top1_share]\n",
     "sweep.yaml:6:14: summary.outcomes[0]: outcome `top1_share` is computed firm by firm"),
    ("base: small.yaml\nseed: 1\ndesign:\n  latin_hypercube: {n: 4, seed: 1, ranges: {run.periods: [9, 2]}}\n",
     "sweep.yaml:4:58: design.latin_hypercube.ranges.run.periods: low"),
    ("base: small.yaml\nseed: 1\ndesign:\n  points:\n    - {interactions.crowding: 1}\n    - {run.periods: 2}\n",
     "sweep.yaml:6:8: design.points[1].run.periods"),
    ("base: small.yaml\nseed: 1\ndesign:\n  grid: {run.periods: [3}\n", "sweep.yaml:4:25: YAML syntax error"),
]


ERROR_IDS = ["unknown_key", "unknown_parameter", "value_out_of_range", "new_sector", "missing_base", "bad_seed",
             "unknown_destination", "older_outcome_name", "firm_level_outcome", "inverted_range", "points_differ",
             "yaml_syntax"]


@pytest.mark.parametrize("text,expected", ERRORS, ids=ERROR_IDS)
def test_sweep_file_errors_exit_2_name_the_position_and_write_nothing(tmp_path, text, expected):
    sweep = write_sweep(tmp_path, text)
    proc = run(["sweep", sweep, "-o", tmp_path / "out"], check=False)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "out").exists()
    assert run(["sweep", sweep, "--plan"], check=False).returncode == 2


@pytest.mark.parametrize("name", ["us_tariff_grid.yaml", "interactions_lhs.yaml", "tiny.yaml"])
def test_example_sweeps_are_valid(name):
    proc = run(["sweep", SOURCE_DIR / "params" / "sweeps" / name, "--plan"])
    assert " runs" in proc.stdout


def test_bad_command_lines_exit_2_and_write_nothing(tmp_path):
    sweep = grid_sweep(tmp_path)
    for args in (["--shard", "0/3"], ["--shard", "4/3"], ["--shard", "x"], ["--jobs", "0"]):
        proc = run(["sweep", sweep, "-o", tmp_path / "out"] + args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    proc = run(["sweep-index", tmp_path / "empty"], check=False)
    assert proc.returncode == 2 and "sweep.yaml" in proc.stderr


def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    sweep = grid_sweep(tmp_path)
    run(["sweep", sweep, "-o", tmp_path / "out", "-q", "--shard", "1/6"])
    other = write_sweep(tmp_path, sweep.read_text().replace("seed: 20250301", "seed: 1"), name="other.yaml")
    proc = run(["sweep", other, "-o", tmp_path / "out"], check=False)
    assert proc.returncode == 2 and "different sweep" in proc.stderr
