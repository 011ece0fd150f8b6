"""Sweeps under hostile names and overlapping use: generated scripts quote
every path, every listed value is checked before the first run, and
several sweep processes over one folder do every run exactly once."""
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from sweep_helpers import BINARY, grid_sweep, index_contents, run, run_files, write_sweep

# Folder names a shell would act on if a path were pasted into a script
# unquoted or in double quotes: each would create a file named INJECTED*.
HOSTILE_NAMES = {
    "command_substitution": "out$(touch INJECTED1)",
    "backticks": "out`touch INJECTED2`",
    "spaces_and_quotes": "my \"quoted\" out 'dir' here",
    "newline": "out\ntouch INJECTED3\n#",
    "everything": "a'$(touch INJECTED4)'\"`touch INJECTED5`\" ;touch INJECTED6 %x \\",
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_emitted_script_runs_nothing_from_a_folder_name(tmp_path, name):
    # The sweep file and the output both live under the hostile name, so
    # the script carries it in the sweep path, the output path and the
    # log paths.
    hostile = tmp_path / name
    hostile.mkdir()
    sweep = grid_sweep(hostile, replicates=1)
    out = hostile / name
    script = tmp_path / "job.sbatch"
    run(["sweep", sweep, "-o", out, "--emit-slurm", "--script", script, "--tasks", "1"], cwd=tmp_path, timeout=600)
    text = script.read_text()
    # sbatch reads only the leading comment block; every line there must
    # be a comment, and the script must be valid bash.
    header = text.split("\n\n")[0].splitlines()
    assert header[0] == "#!/bin/bash" and all(line.startswith("#") for line in header), text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, text
    # Run it as the one task of a one-task array, from a clean folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SLURM_ARRAY_TASK_ID="0", SLURM_ARRAY_TASK_COUNT="1", SLURM_ARRAY_JOB_ID="77", OMP_NUM_THREADS="1")
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    injected = [p for p in tmp_path.rglob("INJECTED*")] + [p for p in pathlib.Path("/").glob("INJECTED*")]
    assert not injected, (injected, text)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "\n" + text
    # The sweep ran into the named folder, and its output went to the logs
    # there (through #SBATCH lines for a plain path, else the script's own
    # redirection, which Slurm's %A_%a pattern names the same way).
    assert index_contents(out / "sweep.h5")["status"] == ["complete"] * 6
    logs = out / "logs"
    if "#SBATCH --output" not in text:
        assert "6 runs in all" in (logs / "77_0.out").read_text()


def test_plain_folder_keeps_the_log_directives(tmp_path):
    sweep = grid_sweep(tmp_path)
    script = tmp_path / "job.sbatch"
    run(["sweep", sweep, "-o", tmp_path / "out", "--emit-slurm", "--script", script])
    text = script.read_text()
    assert f"#SBATCH --output={tmp_path / 'out'}/logs/%A_%a.out" in text
    assert f"out='{tmp_path / 'out'}'" in text and "exec >>" not in text


def points_sweep(values, path="sectors.energy.firms"):
    lines = "".join(f"    - {{{path}: {v}}}\n" for v in values)
    return f"base: small.yaml\nseed: 1\ndesign:\n  points:\n{lines}"


def test_every_listed_value_is_checked_before_the_first_run(tmp_path):
    # 301 points; the bad one (a firm count must be a whole number) lies in
    # the middle of the list and inside the range of the good values, so
    # checking only the extremes would start 150 runs before failing.
    values = [100 + i for i in range(301)]
    values[150] = 250.5
    sweep = write_sweep(tmp_path, points_sweep(values))
    proc = run(["sweep", sweep, "-o", tmp_path / "out"], check=False)
    assert proc.returncode == 2, proc.stderr
    assert "sweep.yaml:155:" in proc.stderr and "design.points[150].sectors.energy.firms" in proc.stderr, \
        proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_long_list_of_good_values_is_accepted(tmp_path):
    values = [round(0.001 * i, 3) for i in range(400)] + [0.2] * 100
    sweep = write_sweep(tmp_path, points_sweep(values, "interactions.spillover"))
    proc = run(["sweep", sweep, "--plan"])
    assert "500 points" in proc.stdout or "500 runs" in proc.stdout, proc.stdout


def children_of(pid):
    """Process ids whose parent is `pid` (from /proc)."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_failed_run_in_a_worker_process_is_reported_and_the_rest_finish(tmp_path):
    sweep = grid_sweep(tmp_path)
    # A non-empty folder under a run's final name: that run cannot be
    # written, the other eleven can.
    blocker = tmp_path / "out" / "runs" / "p0001-r00.h5"
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x")
    proc = run(["sweep", sweep, "-o", tmp_path / "out", "--jobs", "2", "--threads", "2"], check=False, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("p0001-r00 failed:") == 1, proc.stderr
    assert "11 runs done" in proc.stdout and "1 failed" in proc.stdout, proc.stdout
    assert len(run_files(tmp_path / "out")) == 12  # eleven runs and the folder
    assert not (tmp_path / "out" / "sweep.h5").exists()


def test_jobs_run_in_worker_processes_and_a_killed_worker_fails_only_its_run(tmp_path):
    sweep = grid_sweep(tmp_path, replicates=4)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env = {k: v for k, v in env.items() if not k.startswith("SLURM_")}
    proc = subprocess.Popen([BINARY, "sweep", str(sweep), "-o", str(out), "--jobs", "2", "--threads", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Wait until both workers exist and one of them is writing a run.
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline and proc.poll() is None:
        workers = children_of(proc.pid)
        if len(workers) == 2 and list((out / "runs").glob("*.h5.tmp-*")):
            break
        time.sleep(0.01)
    assert len(workers) == 2, "expected two worker processes"
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stdout + stderr
    assert stderr.count("ended by signal 9") == 1, stderr
    assert "23 runs done" in stdout and "1 failed" in stdout, stdout
    # Running again redoes what is missing; the result is the sweep run at
    # one job.
    again = run(["sweep", sweep, "-o", out, "--jobs", "2", "--threads", "2"], timeout=600)
    assert "1 runs done" in again.stdout, again.stdout
    run(["sweep", sweep, "-o", tmp_path / "one", "-q"], timeout=600)
    assert index_contents(out / "sweep.h5")["digest"] == index_contents(tmp_path / "one" / "sweep.h5")["digest"]


def runs_done(stdout):
    found = re.search(r"(\d+) runs done", stdout)
    return int(found.group(1)) if found else 0


def start(args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    full["OMP_NUM_THREADS"] = "1"
    full.update(env or {})
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full)


def finish(procs):
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, out + err
    return [out for out, _ in results]


def assert_done_once(out, reference, total):
    index = index_contents(out / "sweep.h5")
    assert index["status"] == ["complete"] * total
    assert index["digest"] == index_contents(reference / "sweep.h5")["digest"]
    leftovers = [p.name for p in (out / "runs").iterdir() if not p.name.endswith(".h5")]
    assert not leftovers, leftovers


def test_overlapping_sweeps_do_every_run_exactly_once(tmp_path):
    sweep = grid_sweep(tmp_path, replicates=4)
    run(["sweep", sweep, "-o", tmp_path / "one", "-q"], timeout=600)
    out = tmp_path / "out"
    # Three processes over one folder at once, two of them with two workers.
    procs = [start([BINARY, "sweep", sweep, "-o", out, "--jobs", str(j), "--threads", str(j)]) for j in (2, 1, 2)]
    outputs = finish(procs)
    # Before run ownership, the processes deleted each other's live
    # temporaries and redid each other's runs (more than 24 done).
    assert sum(runs_done(o) for o in outputs) == 24, outputs
    assert_done_once(out, tmp_path / "one", 24)


def test_a_resubmitted_array_task_runs_only_its_part(tmp_path):
    sweep = grid_sweep(tmp_path, replicates=2)
    run(["sweep", sweep, "-o", tmp_path / "one", "-q"], timeout=600)
    out = tmp_path / "out"
    script = tmp_path / "job.sbatch"
    run(["sweep", sweep, "-o", out, "--emit-slurm", "--script", script, "--tasks", "3"])
    array = {"SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
             "SLURM_ARRAY_TASK_MAX": "2"}
    # `sbatch --array=1 job.sbatch` while the original task 1 still runs.
    resubmitted = {"SLURM_ARRAY_JOB_ID": "6", "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "1",
                   "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "1"}
    procs = [start(["bash", script], dict(array, SLURM_ARRAY_TASK_ID=str(k))) for k in range(3)]
    procs.append(start(["bash", script], resubmitted))
    outputs = finish(procs)
    assert sum(runs_done(o) for o in outputs) == 12, outputs
    assert "part 2 of 3" in outputs[3], outputs[3]
    assert_done_once(out, tmp_path / "one", 12)
    # The same resubmission of a command without --shard is refused: it
    # cannot tell its part.
    proc = run(["sweep", sweep, "-o", out], env=resubmitted, check=False)
    assert proc.returncode == 2 and "resubmitted task" in proc.stderr, proc.stderr


def test_a_run_whose_lock_another_process_holds_is_left_to_it_and_no_lock_file_stays(tmp_path):
    # A worker moves its lock from run to run by linking it under the next
    # run's lock name; a name another process holds must stop the move,
    # never replace that process's lock.
    import fcntl

    sweep = grid_sweep(tmp_path)
    runs_dir = tmp_path / "out" / "runs"
    runs_dir.mkdir(parents=True)
    held_path = runs_dir / "p0001-r00.h5.lock"
    with open(held_path, "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        inode = os.fstat(held.fileno()).st_ino
        proc = run(["sweep", sweep, "-o", tmp_path / "out", "--jobs", "1", "--threads", "1"], check=False)
        assert "1 runs were being written by another sweep process" in proc.stdout, proc.stdout + proc.stderr
        assert len(run_files(tmp_path / "out")) == 11
        assert "p0001-r00.h5" not in run_files(tmp_path / "out")
        assert os.stat(held_path).st_ino == inode
        assert sorted(p.name for p in runs_dir.glob("*.lock")) == ["p0001-r00.h5.lock"]
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    # Its holder gone, the run is done by the next sweep, which removes the lock.
    proc = run(["sweep", sweep, "-o", tmp_path / "out", "--jobs", "2", "--threads", "2"])
    assert len(run_files(tmp_path / "out")) == 12
    assert not list(runs_dir.glob("*.lock"))
    assert (tmp_path / "out" / "sweep.h5").exists()
