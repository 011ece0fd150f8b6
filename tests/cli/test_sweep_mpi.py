"""Sweeps under `mpirun`, and the identity of a sweep run locally, as
shards and under MPI (DESIGN.md section 3)."""
import os
import re
import subprocess

from sweep_helpers import (BINARY, grid_sweep, index_contents, mpi_env, mpirun_available, run, run_files,
                           same_summaries, unavailable)


def mpirun(args, timeout=120):
    ok, why = mpirun_available()
    if not ok:
        unavailable(why)
    env = dict(os.environ)
    env.update(mpi_env())
    cmd = ["mpirun", "-np", "2", BINARY] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_mpirun_two_ranks_share_the_runs(tmp_path):
    sweep = grid_sweep(tmp_path, replicates=3)
    out = tmp_path / "out"
    proc = mpirun(["sweep", sweep, "-o", out])
    assert len(run_files(out)) == 18
    # Both ranks ran some of the runs, each run exactly once.
    done = re.findall(r"(p\d+-r\d+) done in", proc.stderr)
    assert sorted(done) == sorted(name[:-3] for name in run_files(out))
    assert any(line.startswith("rank 0 ") for line in proc.stderr.splitlines())
    assert any(line.startswith("rank 1 ") for line in proc.stderr.splitlines())
    assert proc.stdout.count("wrote") == 1  # rank 0 alone writes the index
    assert index_contents(out / "sweep.h5")["status"] == ["complete"] * 18
    again = mpirun(["sweep", sweep, "-o", out])
    assert "nothing to do" in again.stdout


def test_local_three_shards_and_mpirun_give_identical_digests_and_summaries(tmp_path):
    sweep = grid_sweep(tmp_path)
    run(["sweep", sweep, "-o", tmp_path / "local", "-q"])
    for k in (1, 2, 3):
        run(["sweep", sweep, "-o", tmp_path / "shards", "--shard", f"{k}/3", "-q"])
    local = index_contents(tmp_path / "local" / "sweep.h5")
    shards = index_contents(tmp_path / "shards" / "sweep.h5")
    assert local["digest"] == shards["digest"] and all(local["digest"])
    assert same_summaries(local["summary"], shards["summary"])
    mpirun(["sweep", sweep, "-o", tmp_path / "mpi", "-q"])
    mpi = index_contents(tmp_path / "mpi" / "sweep.h5")
    assert local["digest"] == mpi["digest"]
    assert same_summaries(local["summary"], mpi["summary"])
    assert local["seed"] == shards["seed"] == mpi["seed"]
