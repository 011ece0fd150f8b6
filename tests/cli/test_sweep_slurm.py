"""A sweep submitted as a Slurm array job to a real single-node Slurm that
the test starts (munged, slurmctld, slurmd on localhost, everything under a
temporary folder) and stops again, whatever the outcome."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from sweep_helpers import grid_sweep, index_contents, run, run_files, unavailable

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")


def find(program):
    return shutil.which(program) or next(
        (str(p) for p in (pathlib.Path("/usr/sbin") / program, pathlib.Path("/sbin") / program) if p.exists()), None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SLURM_CONF = """\
ClusterName=tmtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/munge.socket.2
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture
def slurm():
    missing = [p for p in DAEMONS if not find(p)]
    if missing:
        unavailable(f"Slurm test skipped: {', '.join(missing)} not installed (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        unavailable("Slurm test skipped: the private slurmd needs root (SlurmdUser=root)")
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tm-slurm-"))
    for sub in ("munge", "state", "spool", "log"):
        (folder / sub).mkdir()
    # munged refuses a socket folder that others cannot traverse.
    os.chmod(folder, 0o755)
    os.chmod(folder / "munge", 0o755)
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, dir=folder, ctld_port=free_port(), d_port=free_port(),
                                      cpus=os.cpu_count()))
    env = dict(os.environ, SLURM_CONF=str(conf))
    for key in [k for k in env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
        del env[key]
    started = []

    def start(args):
        log = open(folder / "log" / (pathlib.Path(args[0]).name + ".out"), "w")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        started.append(proc)
        return proc

    def logs():
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((folder / "log").iterdir()))

    try:
        subprocess.run([find("mungekey"), "-c", "-k", str(folder / "munge" / "munge.key")], check=True,
                       capture_output=True)
        start([find("munged"), "-F", f"--key-file={folder}/munge/munge.key",
               f"--socket={folder}/munge/munge.socket.2", f"--pid-file={folder}/munge/munged.pid",
               f"--seed-file={folder}/munge/seed", f"--log-file={folder}/log/munged.log"])
        deadline = time.time() + 10
        while not (folder / "munge" / "munge.socket.2").exists():
            assert time.time() < deadline, "munged did not start\n" + logs()
            time.sleep(0.05)
        start([find("slurmctld"), "-D", "-f", str(conf)])
        start([find("slurmd"), "-D", "-f", str(conf)])
        deadline = time.time() + 30
        while True:
            state = subprocess.run([find("sinfo"), "-h", "-o", "%T"], capture_output=True, text=True, env=env)
            if state.stdout.strip() == "idle":
                break
            if time.time() >= deadline:
                # Without cgroups slurmd cannot run jobs: the machine lacks
                # what the test needs; anything else is a failure.
                slurmd_log = folder / "log" / "slurmd.log"
                text = slurmd_log.read_text(errors="replace") if slurmd_log.exists() else ""
                if "cgroup" in text.lower():
                    unavailable("Slurm test skipped: slurmd cannot start without cgroups on this machine")
                raise AssertionError(f"Slurm node not idle: {state.stdout} {state.stderr}\n" + logs())
            time.sleep(0.2)
        yield {"env": env, "logs": logs}
    finally:
        # Cancel what is left in this private cluster (a failed test may
        # leave its array job running), then stop exactly the daemons
        # started here, slurmd first.
        if len(started) == 3 and find("scancel"):
            subprocess.run([find("scancel"), "--full", "--user", str(os.geteuid())], env=env, capture_output=True,
                           timeout=10)
            deadline = time.time() + 10
            while time.time() < deadline:
                queue = subprocess.run([find("squeue"), "-h"], env=env, capture_output=True, text=True, timeout=10)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.2)
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_emitted_sbatch_script_runs_the_sweep_as_an_array_job(slurm, tmp_path):
    sweep = grid_sweep(tmp_path)
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "--emit-slurm", "--tasks", "3"], cwd=tmp_path)
    script = tmp_path / "runs" / "sweep.sbatch"
    env = slurm["env"]
    submitted = subprocess.run([find("sbatch"), "--parsable", str(script)], capture_output=True, text=True, env=env,
                               cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr + slurm["logs"]()
    job = submitted.stdout.strip().split(";")[0]
    deadline = time.time() + 90
    while True:
        queue = subprocess.run([find("squeue"), "-h", "-j", job], capture_output=True, text=True, env=env)
        if queue.returncode == 0 and not queue.stdout.strip():
            break
        assert time.time() < deadline, f"array job {job} did not finish: {queue.stdout}\n" + slurm["logs"]()
        time.sleep(0.3)
    task_logs = "\n".join(p.read_text() for p in sorted((out / "logs").glob("*")))
    assert len(list((out / "logs").glob(f"{job}_*.out"))) == 3, task_logs
    for k in (1, 2, 3):
        assert f"part {k} of 3" in task_logs
    assert len(run_files(out)) == 12, task_logs
    index = index_contents(out / "sweep.h5")
    assert index["status"] == ["complete"] * 12
    local = tmp_path / "local"
    run(["sweep", sweep, "-o", local, "-q"])
    assert index_contents(local / "sweep.h5")["digest"] == index["digest"]
