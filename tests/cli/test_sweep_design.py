"""Honest sweeps: common random numbers across points by default, seeds
that fit a signed 64-bit integer, independent seeds on request."""
import h5py
import pytest

from sweep_helpers import run, write_sweep

# Points 0 and 2 are the same parameters: under common random numbers
# their runs are the same simulation, replicate by replicate.
TWIN_POINTS = """\
base: small.yaml
seed: 20250301
{seeds}replicates: 2
design:
  points:
    - {{sectors.machinery_tech.markets.US.sunk_cost: 60}}
    - {{sectors.machinery_tech.markets.US.sunk_cost: 120}}
    - {{sectors.machinery_tech.markets.US.sunk_cost: 60}}
"""


def design(folder):
    with h5py.File(folder / "sweep.h5", "r") as f:
        seeds = f["design/seed"][...].tolist()
        digests = [d.decode() if isinstance(d, bytes) else d for d in f["design/digest"][...]]
    return seeds, digests


def test_common_random_numbers_by_default(tmp_path):
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds=""))
    run(["sweep", sweep, "-o", tmp_path / "out", "-q"])
    seeds, digests = design(tmp_path / "out")
    # Runs are point-major: run = point * 2 + replicate.
    assert seeds[0::2] == [seeds[0]] * 3 and seeds[1::2] == [seeds[1]] * 3 and seeds[0] != seeds[1]
    assert all(0 <= s < 2**63 for s in seeds)
    assert digests[0:2] == digests[4:6]      # the twin points are the same runs
    assert digests[0:2] != digests[2:4]      # the other point differs by its parameter only


def test_independent_seeds_on_request(tmp_path):
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds="seeds: independent\n"))
    run(["sweep", sweep, "-o", tmp_path / "out", "-q"])
    seeds, digests = design(tmp_path / "out")
    assert len(set(seeds)) == 6 and all(0 <= s < 2**63 for s in seeds)
    assert digests[0] != digests[4]


@pytest.mark.parametrize("value", ["shared", "[common]"])
def test_a_bad_seeds_value_is_refused_with_its_line(tmp_path, value):
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds=f"seeds: {value}\n"))
    proc = run(["sweep", sweep, "-o", tmp_path / "out"], check=False)
    assert proc.returncode == 2 and "sweep.yaml:3:8: seeds: found" in proc.stderr, proc.stderr
    assert "expected common" in proc.stderr and not (tmp_path / "out").exists()


def test_set_applies_to_every_run_and_is_part_of_the_sweep(tmp_path):
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds=""))
    out = tmp_path / "out"
    run(["sweep", sweep, "-o", out, "-q", "--set", "run.periods=3", "--set", "interactions.spillover=0.1"])
    with h5py.File(out / "runs" / "p0001-r01.h5", "r") as f:
        assert f["series/non_us_share"].shape[0] == 3
    stored = (out / "sweep.yaml").read_text()
    assert stored.startswith(sweep.read_text())
    assert "# --set run.periods=3\n# --set interactions.spillover=0.1\n" in stored
    # The same overrides resume; other overrides are another sweep.
    again = run(["sweep", sweep, "-o", out, "--set", "run.periods=3", "--set", "interactions.spillover=0.1"])
    assert "nothing to do" in again.stdout
    other = run(["sweep", sweep, "-o", out, "--set", "run.periods=4"], check=False)
    assert other.returncode == 2 and "different sweep" in other.stderr


@pytest.mark.parametrize("option,expected", [
    ("sectors.machinery_tech.markets.US.sunk_cost=3", "--set sectors.machinery_tech.markets.US.sunk_cost=3: "
                                                       "sectors.machinery_tech.markets.US.sunk_cost is swept"),
    ("sectors.tobacco.firms=10", "--set sectors.tobacco.firms=10: no sector \"tobacco\""),
    ("interactions.spillover=7", "--set interactions.spillover:1:1: interactions.spillover: found 7, out of range"),
    ("run.periods", "--set run.periods: expected KEY=VALUE"),
], ids=["swept", "new_sector", "out_of_range", "no_value"])
def test_bad_set_options_exit_2_and_write_nothing(tmp_path, option, expected):
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds=""))
    proc = run(["sweep", sweep, "-o", tmp_path / "out", "--set", option], check=False)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_threads_means_the_total_for_a_sweep_and_its_script(tmp_path):
    # --threads 4 --jobs 2: four CPUs for the task, two threads a run, as
    # a local sweep with the same options would use.
    sweep = write_sweep(tmp_path, TWIN_POINTS.format(seeds=""))
    script = tmp_path / "job.sbatch"
    run(["sweep", sweep, "-o", tmp_path / "out", "--emit-slurm", "--script", script, "--threads", "4", "--jobs",
         "2"])
    text = script.read_text()
    assert "#SBATCH --cpus-per-task=4" in text and "--jobs 2 --threads \"$OMP_NUM_THREADS\"" in text
    run(["sweep", sweep, "-o", tmp_path / "out2", "--emit-slurm", "--script", script, "--jobs", "3"])
    assert "#SBATCH --cpus-per-task=3" in script.read_text()
