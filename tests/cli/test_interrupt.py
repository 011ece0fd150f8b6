"""Interruption and checkpoints: SIGINT/SIGTERM stop a run at a period
boundary with status incomplete; a second signal kills it at once; no
finished file is ever replaced by a partial one; `--checkpoint-every` and
`run --resume` give the same digest as an uninterrupted run."""
import signal
import time

import h5py
import numpy as np
import pytest

from helpers import SMALL, copy_to, run, start
from helpers import h5_attrs as attrs

# About 20 ms a period (50 ms with the panel) on two cores.
LONG = ["--set", "run.periods=3000", "--set", "run.burn_in=2", "--set", "sectors.agrifood.firms=1000000"]
MEDIUM = ["--set", "run.periods=40", "--set", "run.burn_in=2", "--set", "sectors.agrifood.firms=1000000", "--panel"]


def params_copy(tmp_path):
    """A private copy of the parameters, so edits elsewhere cannot change a run."""
    return copy_to(SMALL, tmp_path, "small.yaml")


def wait_for(predicate, proc, timeout=60):
    t0 = time.time()
    while not predicate():
        if proc.poll() is not None:
            pytest.fail("the run ended before the test could interrupt it: " + proc.stderr.read())
        if time.time() - t0 > timeout:
            proc.kill()
            pytest.fail("timed out waiting for the run")
        time.sleep(0.01)


def temp_files(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def datasets(path):
    """Every dataset's values (NaN-safe), except wall-clock timings."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name != "policy/solve_seconds":
                out[name] = repr(obj[()].tolist()) if obj.dtype.names else obj[()]
        f.visititems(visit)
    return out


def assert_same_data(a, b):
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        x, y = da[name], db[name]
        if isinstance(x, str):
            assert x == y, name
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(np.asarray(x), np.asarray(y)), name


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_at_a_period_boundary_with_status_incomplete(tmp_path, sig):
    params = params_copy(tmp_path)
    earlier = tmp_path / "earlier.h5"
    earlier.write_bytes(b"an earlier result")
    mtime = earlier.stat().st_mtime_ns
    proc = start("run", params, "-o", "run.h5", "-q", *LONG, cwd=tmp_path)
    wait_for(lambda: temp_files(tmp_path), proc)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert f"interrupted by signal {int(sig)}" in err
    a = attrs(tmp_path / "run.h5")
    assert a["status"] == "incomplete"
    with h5py.File(tmp_path / "run.h5", "r") as f:
        logged = f["series/firms_serving"].shape[0]
        assert 0 < logged < 3000
        assert f["periods/label"].shape[0] == logged
    assert temp_files(tmp_path) == []
    assert earlier.read_bytes() == b"an earlier result" and earlier.stat().st_mtime_ns == mtime
    # `info` reads the partial file.
    assert "incomplete" in run("info", "run.h5", cwd=tmp_path).stdout


def complete_file(tmp_path, name):
    params = params_copy(tmp_path)
    run("run", params, "-o", name, "-q", "--set", "run.periods=3", cwd=tmp_path)
    return (tmp_path / name).read_bytes()


def test_partial_run_never_replaces_a_complete_file_even_with_force(tmp_path):
    before = complete_file(tmp_path, "dest.h5")
    proc = start("run", "small.yaml", "-o", "dest.h5", "-q", "--force", *LONG, cwd=tmp_path)
    wait_for(lambda: temp_files(tmp_path), proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert (tmp_path / "dest.h5").read_bytes() == before
    kept = temp_files(tmp_path)
    assert len(kept) == 1 and kept[0] in err
    assert attrs(tmp_path / kept[0])["status"] == "incomplete"


def test_second_signal_kills_at_once_and_leaves_the_complete_file(tmp_path):
    before = complete_file(tmp_path, "dest.h5")
    proc = start("run", "small.yaml", "-o", "dest.h5", "-q", "--force", *LONG, cwd=tmp_path)
    wait_for(lambda: temp_files(tmp_path), proc)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    # Either the default action killed it, or the first signal was already
    # handled at a boundary; in no case is the complete file replaced.
    assert proc.returncode in (-signal.SIGTERM, 1)
    assert (tmp_path / "dest.h5").read_bytes() == before


def reference(tmp_path, params, extra=(), base=MEDIUM):
    run("run", params, "-o", "ref.h5", "-q", *base, *extra, cwd=tmp_path)
    return attrs(tmp_path / "ref.h5")["digest"]


def killed_after_a_checkpoint(proc, tmp_path):
    """SIGKILL `proc` shortly after its first checkpoint; nothing may stand
    under the final name. Returns the checkpoint's path."""
    ckpt = tmp_path / "run.h5.ckpt"
    wait_for(ckpt.exists, proc)
    time.sleep(0.15)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "run.h5").exists()
    return ckpt


def test_resume_after_sigkill_gives_the_uninterrupted_digest(tmp_path):
    params = params_copy(tmp_path)
    digest = reference(tmp_path, params)
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "4", *MEDIUM, cwd=tmp_path)
    ckpt = killed_after_a_checkpoint(proc, tmp_path)
    assert temp_files(tmp_path), "the partial file stays under its temporary name"
    run("run", "--resume", "run.h5.ckpt", "-q", "--threads", "1", cwd=tmp_path)
    a = attrs(tmp_path / "run.h5")
    assert a["status"] == "complete"
    assert a["digest"] == digest
    assert_same_data(tmp_path / "ref.h5", tmp_path / "run.h5")
    assert not ckpt.exists() and temp_files(tmp_path) == []
    run("reproduce", "run.h5", cwd=tmp_path)


# Twice MEDIUM's periods, so that on a fast, quiet machine the run is still
# going when the signal comes (at 40 periods it could end within 0.4 s).
LONGER = MEDIUM + ["--set", "run.periods=80"]


def test_resume_after_sigterm_gives_the_uninterrupted_digest(tmp_path):
    params = params_copy(tmp_path)
    digest = reference(tmp_path, params, base=LONGER)
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "50", *LONGER, cwd=tmp_path)
    wait_for(lambda: temp_files(tmp_path), proc)
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "--resume" in err
    assert attrs(tmp_path / "run.h5")["status"] == "incomplete"
    run("run", "--resume", "run.h5", "-q", cwd=tmp_path)
    assert attrs(tmp_path / "run.h5")["digest"] == digest
    assert_same_data(tmp_path / "ref.h5", tmp_path / "run.h5")


# Learning firms: beliefs per (sector, cohort) and the firms' birth periods
# are carried by the checkpoint. A coarse hazard grid and forgetting make
# cohorts change belief class during the run.
LEARNING = ["--set", "run.model=learning", "--set", "decision.belief_points=3", "--set", "decision.hazard_max=0.4",
            "--set", "decision.forgetting=0.9"]


def test_learning_run_resumed_after_sigkill_gives_the_uninterrupted_digest(tmp_path):
    params = params_copy(tmp_path)
    digest = reference(tmp_path, params, LEARNING)
    assert attrs(tmp_path / "ref.h5")["model"] == "learning"
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "4", *MEDIUM, *LEARNING, cwd=tmp_path)
    ckpt = killed_after_a_checkpoint(proc, tmp_path)
    run("run", "--resume", "run.h5.ckpt", "-q", "--threads", "3", cwd=tmp_path)
    a = attrs(tmp_path / "run.h5")
    assert a["status"] == "complete"
    assert a["digest"] == digest
    assert_same_data(tmp_path / "ref.h5", tmp_path / "run.h5")
    assert not ckpt.exists() and temp_files(tmp_path) == []


def killed_checkpoint(tmp_path):
    params = params_copy(tmp_path)
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "2", *MEDIUM, cwd=tmp_path)
    ckpt = tmp_path / "run.h5.ckpt"
    wait_for(ckpt.exists, proc)
    proc.kill()
    proc.communicate(timeout=60)
    return ckpt


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_checkpoint_is_refused(tmp_path, damage):
    ckpt = killed_checkpoint(tmp_path)
    data = bytearray(ckpt.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x40
    else:
        data = bytearray(b"not a checkpoint at all")
    ckpt.write_bytes(bytes(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    res = run("run", "--resume", ckpt, "-q", status=2, cwd=tmp_path)
    assert "run.h5.ckpt" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "run.h5").exists()


def test_resume_takes_no_parameter_file(tmp_path):
    ckpt = killed_checkpoint(tmp_path)
    res = run("run", "small.yaml", "--resume", ckpt, status=2, cwd=tmp_path)
    assert "--resume" in res.stderr


def test_resume_of_a_missing_checkpoint(tmp_path):
    res = run("run", "--resume", "nothing.h5", status=2, cwd=tmp_path)
    assert "nothing.h5.ckpt" in res.stderr


# A burn-in long enough to be interrupted in (2-20 ms a period on two
# cores, quiet or loaded: 1,000 periods outlast the 0.5 s the test waits
# before its signal on a quiet machine), followed by a short logged run.
BURN_IN = ["--set", "run.periods=6", "--set", "run.burn_in=1000", "--set", "sectors.agrifood.firms=1000000"]


def test_sigterm_in_the_burn_in_stops_there_and_resumes_bit_for_bit(tmp_path):
    params = params_copy(tmp_path)
    digest = reference(tmp_path, params, base=BURN_IN)
    # No periodic checkpoint falls in this run: only the signal writes one.
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "100000", *BURN_IN, cwd=tmp_path)
    wait_for(lambda: temp_files(tmp_path), proc)
    time.sleep(0.5)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # Within one period of the burn-in, not at its end (seconds later):
    # one period takes about 20 ms, the bound leaves room for a loaded machine.
    assert time.time() - sent < 2.0, "the burn-in was not stopped within a period"
    assert proc.returncode == 1, err
    assert "(burn-in)" in err and "--resume" in err
    assert attrs(tmp_path / "run.h5")["status"] == "incomplete"
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f["series/firms_serving"].shape[0] == 0, "stopped before the first logged period"
    res = run("run", "--resume", "run.h5", cwd=tmp_path)
    assert "of the burn-in" in res.stdout
    assert attrs(tmp_path / "run.h5")["digest"] == digest
    assert_same_data(tmp_path / "ref.h5", tmp_path / "run.h5")
    assert not (tmp_path / "run.h5.ckpt").exists() and temp_files(tmp_path) == []


def test_checkpoint_written_in_the_burn_in_resumes_bit_for_bit(tmp_path):
    params = params_copy(tmp_path)
    digest = reference(tmp_path, params, base=BURN_IN)
    # The first checkpoint after 40 of the 200 burn-in periods; killed
    # 0.15 s (about 8 periods) later, still in the burn-in.
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "40", *BURN_IN, cwd=tmp_path)
    ckpt = killed_after_a_checkpoint(proc, tmp_path)
    res = run("run", "--resume", ckpt, "--threads", "1", cwd=tmp_path)
    assert "of the burn-in" in res.stdout, res.stdout
    a = attrs(tmp_path / "run.h5")
    assert a["status"] == "complete" and a["digest"] == digest
    assert_same_data(tmp_path / "ref.h5", tmp_path / "run.h5")
    assert not ckpt.exists() and temp_files(tmp_path) == []
