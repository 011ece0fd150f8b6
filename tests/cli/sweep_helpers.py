"""Shared pieces of the sweep tests: the binary, a small base parameter
file, sweep files, and reading an index into comparable values."""
import os
import pathlib
import shutil
import subprocess

import h5py
import numpy as np

from helpers import BINARY, SOURCE_DIR, require  # noqa: F401  (the sweep tests import BINARY from here)

# A few thousand firms, a short burn-in and a coarse productivity grid
# (the start-of-run solve dominates a small run: 1.7 s at the baseline's 81
# points, 0.4 s at 21), so whole sweeps stay well inside the test budget.
SMALL_BASE = """\
extends: {baseline}
run:
  periods: 6
  burn_in: 8
productivity:
  grid: 21
sectors:
  energy: {{firms: 300}}
  agrifood: {{firms: 400}}
  canola: {{firms: 200}}
  minerals_metals: {{firms: 300}}
  steel_aluminum: {{firms: 300}}
  automotive: {{firms: 300}}
  machinery_tech: {{firms: 400}}
"""

GRID_SWEEP = """\
base: small.yaml
seed: 20250301
replicates: {replicates}
design:
  grid:
    destinations.US.regimes.tariffs.sector_tariffs.steel_aluminum: [0.1, 0.5]
    sectors.machinery_tech.markets.US.sunk_cost: [44.1, 88.3, 176.6]
summary:
  outcomes: [non_us_share, export_share.US, export_value.US, firms_serving.CN, entrants.US, exiters.US]
  periods: 3
"""


def write_small_base(folder):
    path = pathlib.Path(folder) / "small.yaml"
    path.write_text(SMALL_BASE.format(baseline=SOURCE_DIR / "params" / "canada_baseline.yaml"))
    return path


def write_sweep(folder, text, name="sweep.yaml"):
    write_small_base(folder)
    path = pathlib.Path(folder) / name
    path.write_text(text)
    return path


def grid_sweep(folder, replicates=2):
    return write_sweep(folder, GRID_SWEEP.format(replicates=replicates))


def run(args, env=None, check=True, timeout=600, cwd=None):
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", "1")
    for key in [k for k in full_env if k.startswith("SLURM_")]:
        del full_env[key]
    if env:
        full_env.update(env)
    proc = subprocess.run([BINARY] + [str(a) for a in args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"tradeabm {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def unavailable(reason):
    """A test that needs Slurm, cgroups or MPI: a failure under CI=true,
    where they must be present, else a skip that ctest reports as Skipped
    with the reason printed after its summary (helpers.require)."""
    require(False, reason)


def mpi_env():
    return {
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        "OMP_NUM_THREADS": "1",
    }


def mpirun_available():
    if not shutil.which("mpirun"):
        return False, "mpirun is not installed (apt-get install openmpi-bin)"
    help_text = run(["sweep", "--help"]).stdout
    if "This build has MPI" not in help_text:
        return False, "this tradeabm was built without MPI (TRADEABM_MPI=OFF or OpenMPI not found)"
    return True, ""


def index_contents(path):
    """Digests, seeds, statuses and every summary array of an index."""
    with h5py.File(path, "r") as f:
        out = {
            "digest": [d.decode() if isinstance(d, bytes) else d for d in f["design/digest"][...]],
            "status": [d.decode() if isinstance(d, bytes) else d for d in f["design/status"][...]],
            "seed": f["design/seed"][...].tolist(),
            "summary": {},
        }
        for outcome in f["summary"]:
            for stat in f["summary"][outcome]:
                out["summary"][f"{outcome}/{stat}"] = f["summary"][outcome][stat][...]
    return out


def same_summaries(a, b):
    if a.keys() != b.keys():
        return False
    return all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def run_files(folder):
    return sorted(p.name for p in (pathlib.Path(folder) / "runs").glob("*.h5"))
