"""Temporary files cannot be hijacked (issue 14, item 2). Every temporary
is created by base/tmpfile.c with O_CREAT|O_EXCL|O_NOFOLLOW under
STEM-RANDOM. Here the random source is replaced by one that always gives
zeros (tests/cli/fixed_random.c, preloaded), so the names are known in
advance: a symbolic link to a victim file is planted at each, and also at
the old predictable name STEM, before the program starts (in the child,
where the process id is known). The victim must stay unchanged, the
command must fail with a clear error (every try meets the planted link),
and the final file must not appear. A run with only the old names planted
must succeed."""
import shutil
import socket

import pytest

from helpers import BINARY, SMALL, environment, one_error
from helpers import run as tradeabm

FIXED_RANDOM = BINARY.parent / "tests" / "libtm_fixed_random.so"
ZERO_SUFFIX = "-" + "a" * 12  # twelve base-36 digits of 0
VICTIM_TEXT = "precious, must not change\n"

CALIBRATION_WORLD = """run: {model: myopic, periods: 3, burn_in: 5, seed: 7}
productivity: {grid: 21}
sectors:
  food: {firms: 500, persistence: 0.9, volatility: 0.3}
destinations:
  US:
    market: {demand: 1.0, fixed_cost: 0.3, sunk_cost: 0.5}
    regimes: {open: {}}
"""

CALIBRATION = """base: world.yaml
seed: 7
optimizer: {method: proportional, max_iterations: 2, f_tolerance: 0.002}
parameters:
  - {name: d, mode: scale, path: sectors.food.markets.US.demand, lower: 0.01, upper: 100, moment: export_weight.US.food}
moments:
  - {name: export_weight.US.food, target: 0.3, tolerance: 0.001, weight: 1}
"""

SWEEP_BASE = f"""extends: {SMALL}
run: {{periods: 3}}
"""

SWEEP = """base: small.yaml
seed: 11
replicates: 1
design:
  grid:
    destinations.US.market.sunk_cost: [4, 6]
summary:
  outcomes: [non_us_share]
  periods: 2
"""


def host():
    name = socket.gethostname()
    return name.replace("/", "_").replace(" ", "_")


def run_with_planted_links(folder, victim, args, stems, fixed_random=True):
    """Run `args` in `folder` with a link to `victim` planted at every stem
    (a function of the process id) and at stem + the zero suffix."""
    def plant():
        import os
        pid = os.getpid()
        for stem in stems:
            name = stem(pid)
            os.symlink(victim, folder / name)
            os.symlink(victim, folder / (name + ZERO_SUFFIX))

    env = {"LD_PRELOAD": str(FIXED_RANDOM)} if fixed_random else {}
    return tradeabm(*args, status=None, cwd=folder, preexec_fn=plant, env=environment(2, env))


@pytest.fixture
def setting(tmp_path):
    assert FIXED_RANDOM.exists(), f"{FIXED_RANDOM} is built with the tests"
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SMALL, work / "small.yaml")
    return work, victim


def refused(proc, victim):
    assert victim.read_text() == VICTIM_TEXT
    assert proc.returncode == 1, proc.stderr
    assert "cannot find a free temporary name" in one_error(proc)


def test_run_output(setting):
    work, victim = setting
    proc = run_with_planted_links(work, victim, ["run", "small.yaml", "-o", "out.h5", "-q"],
                                  [lambda pid: f"out.h5.tmp-{pid}"])
    refused(proc, victim)
    assert not (work / "out.h5").exists()


def test_checkpoint(setting):
    work, victim = setting
    proc = run_with_planted_links(work, victim,
                                  ["run", "small.yaml", "-o", "out.h5", "-q", "--checkpoint-every", "1"],
                                  [lambda pid: f"out.h5.ckpt.tmp-{pid}"])
    refused(proc, victim)
    assert not (work / "out.h5").exists() and not (work / "out.h5.ckpt").exists()


def test_compare_output(setting):
    work, victim = setting
    proc = run_with_planted_links(work, victim,
                                  ["compare", "small.yaml", "small.yaml", "-o", "result.h5", "--replicates", "1",
                                   "-q", "--set", "run.periods=3"],
                                  [lambda pid: f"result.h5.tmp-{pid}"])
    refused(proc, victim)
    assert not (work / "result.h5").exists()


def test_calibrate_output(setting):
    work, victim = setting
    (work / "world.yaml").write_text(CALIBRATION_WORLD)
    (work / "cal.yaml").write_text(CALIBRATION)
    proc = run_with_planted_links(work, victim, ["calibrate", "cal.yaml", "-o", "fitted.yaml", "-q"],
                                  [lambda pid: f"fitted.yaml.tmp-{pid}"])
    refused(proc, victim)
    assert not (work / "fitted.yaml").exists()


@pytest.mark.parametrize("final", ["sweep.yaml", "sweep.h5"])  # the sweep file's copy, the index
def test_sweep_files(setting, final):
    work, victim = setting
    (work / "small.yaml").write_text(SWEEP_BASE)
    (work / "sweep.yaml").write_text(SWEEP)
    (work / "out").mkdir()
    proc = run_with_planted_links(work, victim, ["sweep", "sweep.yaml", "-o", "out", "-q"],
                                  [lambda pid: f"out/{final}.tmp-{host()}-{pid}"])
    refused(proc, victim)
    assert not (work / "out" / final).exists()


def test_old_predictable_names_are_harmless(setting):
    # The report's reproduction: links at <out>.tmp-PID and <out>.ckpt.tmp-PID.
    work, victim = setting
    proc = run_with_planted_links(work, victim,
                                  ["run", "small.yaml", "-o", "out.h5", "-q", "--checkpoint-every", "1"],
                                  [lambda pid: f"out.h5.tmp-{pid}", lambda pid: f"out.h5.ckpt.tmp-{pid}"],
                                  fixed_random=False)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert (work / "out.h5").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_resume_refuses_a_link_at_the_partial_files_name(setting):
    # A killed run's partial file is replaced by a link to the victim
    # before --resume: the resume must refuse it, not open the victim.
    import time

    from helpers import start
    work, victim = setting
    proc = start("run", "small.yaml", "-o", "run.h5", "-q", "--checkpoint-every", "2", "--set", "run.periods=3000",
                 "--set", "run.burn_in=2", "--set", "sectors.agrifood.firms=1000000", cwd=work)
    t0 = time.time()
    while not (work / "run.h5.ckpt").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 60, "no checkpoint within a minute"
        time.sleep(0.01)
    proc.kill()
    proc.communicate(timeout=60)
    partial = [p for p in work.iterdir() if p.name.startswith("run.h5.tmp-")]
    assert len(partial) == 1, partial
    partial[0].unlink()
    partial[0].symlink_to(victim)
    res = tradeabm("run", "--resume", "run.h5.ckpt", "-q", status=2, cwd=work)
    assert "is not a regular file" in one_error(res) and partial[0].name in res.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert not (work / "run.h5").exists()
