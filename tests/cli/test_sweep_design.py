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
    - {{destinations.US.market.sunk_cost: 6.6}}
    - {{destinations.US.market.sunk_cost: 9}}
    - {{destinations.US.market.sunk_cost: 6.6}}
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
