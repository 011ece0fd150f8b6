"""Faults: unwritable output folder, disk full (a file-size limit makes
writes fail with EFBIG), missing parameter file, corrupt or truncated HDF5
files given to `info` and `reproduce`. Each gives a clear error, exit 1 or
2, and no half-written file under the final name (nor a temporary one)."""
import os
import resource
import shutil
import signal
from pathlib import Path

import pytest

from helpers import SMALL, environment, one_error
from helpers import h5_attrs
from helpers import run as tradeabm


def run(args, cwd, fsize=None, env=None):
    """The binary with `args` in `cwd`, optionally under a file-size limit
    (SIGXFSZ ignored, so that writes past it fail with EFBIG)."""
    def limits():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return tradeabm(*args, status=None, cwd=cwd, preexec_fn=limits, env=environment(2, env))


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    shutil.copy(SMALL, folder / "small.yaml")
    proc = run(["run", "small.yaml", "-o", "good.h5", "-q", "--set", "run.periods=6"], folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "good.h5"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = run(["run", str(SMALL), "-o", str(out / "x.h5"), "-q"], tmp_path)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 2
    assert "not writable" in one_error(proc)
    assert names(out) == []


def test_output_folder_where_no_file_can_be_created(tmp_path):
    # /proc accepts no new files, even from root.
    proc = run(["run", str(SMALL), "-o", "/proc/tradeabm-test.h5", "-q"], tmp_path)
    assert proc.returncode == 2
    assert "/proc" in one_error(proc)


def test_missing_output_folder(tmp_path):
    proc = run(["run", str(SMALL), "-o", "nowhere/x.h5", "-q"], tmp_path)
    assert proc.returncode == 2
    assert "nowhere" in one_error(proc) and "does not exist" in proc.stderr
    assert names(tmp_path) == []


def test_missing_parameter_file(tmp_path):
    proc = run(["run", "absent.yaml", "-o", "x.h5", "-q"], tmp_path)
    assert proc.returncode == 2
    assert "absent.yaml: cannot open" in one_error(proc)
    assert names(tmp_path) == []


def test_disk_full_is_refused_before_the_run(tmp_path):
    proc = run(["run", str(SMALL), "-o", "x.h5", "-q", "--set", "run.periods=400"], tmp_path, fsize=100_000)
    assert proc.returncode == 2
    msg = one_error(proc)
    assert "not enough disk space" in msg and "KiB" in msg
    assert names(tmp_path) == []


@pytest.mark.parametrize("extra", [
    ["--set", "run.periods=400"],
    ["--panel", "--set", "run.periods=40", "--set", "sectors.agrifood.firms=1000000"],
    ["--panel", "--set", "run.periods=40", "--set", "sectors.agrifood.firms=1000000", "--checkpoint-every", "1"],
], ids=["series", "panel", "checkpoint"])
def test_disk_full_during_the_run(tmp_path, extra):
    # Past the pre-flight check (estimates are rough), writes fail with EFBIG.
    limit = 100_000 if "--panel" not in extra else 3_000_000
    proc = run(["run", str(SMALL), "-o", "x.h5", "-q", *extra], tmp_path, fsize=limit,
               env={"TRADEABM_PREFLIGHT": "off"})
    assert proc.returncode == 1, proc.stderr
    msg = one_error(proc)
    assert "disk full" in msg or "File too large" in msg
    assert names(tmp_path) == [], "no final, temporary or checkpoint file is left"


def digest_of(path):
    return h5_attrs(path)["digest"]


# Each case fails after a few checkpoints: the first when the room a
# checkpoint's flush needs is refused (series only), the second when a
# period's panel chunks are written between checkpoints.
@pytest.mark.parametrize("extra, limit", [
    (["--set", "run.periods=400", "--checkpoint-every", "10"], 1_000_000),
    (["--panel", "--set", "run.periods=60", "--set", "sectors.agrifood.firms=200000", "--checkpoint-every", "20"],
     4_000_000),
], ids=["checkpoint-flush", "panel-write"])
def test_disk_full_keeps_the_last_checkpoint_and_resumes_bit_for_bit(tmp_path, extra, limit):
    shutil.copy(SMALL, tmp_path / "small.yaml")
    proc = run(["run", "small.yaml", "-o", "x.h5", "-q", *extra], tmp_path, fsize=limit,
               env={"TRADEABM_PREFLIGHT": "off"})
    assert proc.returncode == 1, proc.stderr
    msg = one_error(proc)
    assert "disk full" in msg and "the last checkpoint" in msg and "--resume x.h5.ckpt" in msg
    kept = names(tmp_path)
    assert "x.h5.ckpt" in kept and "x.h5" not in kept
    assert len([n for n in kept if n.startswith("x.h5.tmp-")]) == 1, "the partial file is kept"
    # Room made (no limit): the run continues to the uninterrupted result.
    tradeabm("run", "--resume", "x.h5.ckpt", "-q", cwd=tmp_path)
    tradeabm("run", "small.yaml", "-o", "ref.h5", "-q", *extra, cwd=tmp_path)
    assert digest_of(tmp_path / "x.h5") == digest_of(tmp_path / "ref.h5")
    assert names(tmp_path) == ["ref.h5", "small.yaml", "x.h5"]


def test_checkpointed_file_is_at_most_one_and_a_half_times_a_plain_one(tmp_path):
    # Every period's checkpoint flush writes the partly filled series chunks
    # anew and the space of the old ones is never reused; without the final
    # compaction this file is about 19 times the plain one (3.3 MB against
    # 178 KB).
    shutil.copy(SMALL, tmp_path / "small.yaml")
    args = ["run", "small.yaml", "-q", "--set", "run.periods=300"]
    tradeabm(*args, "-o", "plain.h5", cwd=tmp_path)
    tradeabm(*args, "-o", "ckpt.h5", "--checkpoint-every", "1", cwd=tmp_path)
    plain, ckpt = (tmp_path / "plain.h5").stat().st_size, (tmp_path / "ckpt.h5").stat().st_size
    assert ckpt <= 1.5 * plain, (ckpt, plain)
    assert digest_of(tmp_path / "ckpt.h5") == digest_of(tmp_path / "plain.h5")
    tradeabm("verify", "ckpt.h5", cwd=tmp_path)


def test_disk_full_keeps_an_existing_file(tmp_path, good_file):
    shutil.copy(good_file, tmp_path / "x.h5")
    before = (tmp_path / "x.h5").read_bytes()
    proc = run(["run", str(SMALL), "-o", "x.h5", "-q", "--force", "--set", "run.periods=400"], tmp_path,
               fsize=100_000, env={"TRADEABM_PREFLIGHT": "off"})
    assert proc.returncode == 1
    assert (tmp_path / "x.h5").read_bytes() == before
    assert names(tmp_path) == ["x.h5"]


def damaged(tmp_path, good_file, kind):
    data = bytearray(good_file.read_bytes())
    if kind == "truncated":
        data = data[: len(data) // 3]
    elif kind == "empty":
        data = bytearray()
    elif kind == "superblock":
        data[0:8] = bytes(8)
    elif kind == "flipped":
        for i in range(len(data) // 2, len(data)):
            data[i] ^= 0x5A
    elif kind == "text":
        data = bytearray(b"run:\n  periods: 4\n")
    path = tmp_path / f"{kind}.h5"
    path.write_bytes(bytes(data))
    return path


KINDS = ["truncated", "empty", "superblock", "flipped", "text"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["info", "reproduce"])
def test_corrupt_file(tmp_path, good_file, kind, command):
    path = damaged(tmp_path, good_file, kind)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = names(tmp_path)
    proc = run([command, path.name], tmp_path, env={"TMPDIR": str(scratch)})
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    assert path.name in one_error(proc)
    assert names(tmp_path) == before and names(scratch) == []


def test_hdf5_file_from_another_program(tmp_path):
    import h5py
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1, 2, 3]
    for command in ("info", "reproduce"):
        proc = run([command, "other.h5"], tmp_path)
        assert proc.returncode == 2
        assert "not a tradeabm run file" in one_error(proc)


def test_missing_file_for_info_and_reproduce(tmp_path):
    for command in ("info", "reproduce"):
        proc = run([command, "absent.h5"], tmp_path)
        assert proc.returncode == 2
        assert "absent.h5" in one_error(proc)


def test_non_finite_result_stops_the_run_naming_where(tmp_path):
    # Issue 14, item 7: with the pre-flight bound switched off, elasticity
    # 20 and volatility 5 overflow to inf; the run must stop (exit 1)
    # naming the sector, destination, period and parameters, keep nothing.
    proc = run(["run", str(SMALL), "-o", "x.h5", "-q", "--set", "demand.elasticity=20", "--set",
                "sectors.agrifood.volatility=5"], tmp_path, env={"TRADEABM_PREFLIGHT": "off"})
    assert proc.returncode == 1, proc.stderr
    msg = one_error(proc)
    assert "export value is inf in sector agrifood, destination US, period" in msg
    assert "demand.elasticity 20" in msg and "sectors.agrifood.volatility 5" in msg
    assert names(tmp_path) == []


def test_overflowing_parameters_are_refused_before_the_run(tmp_path):
    proc = run(["run", str(SMALL), "-o", "x.h5", "-q", "--set", "demand.elasticity=20", "--set",
                "sectors.agrifood.volatility=5"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "sector agrifood: profits overflow a double" in one_error(proc)
    assert names(tmp_path) == []


# Issue 14, item 8: output paths are checked before any work.
@pytest.mark.parametrize("output, expect", [("", "an empty name"), ("out/", "a folder name ending in /")])
def test_unusable_output_name_is_refused_before_the_run(tmp_path, output, expect):
    proc = run(["run", str(SMALL), "-o", output, "-q", "--set", "run.periods=400"], tmp_path)
    assert proc.returncode == 2
    assert expect in one_error(proc)
    assert names(tmp_path) == []


def test_compare_with_a_missing_output_folder_is_an_input_error(tmp_path):
    proc = run(["compare", str(SMALL), str(SMALL), "-o", "nowhere/result.h5", "-q"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "nowhere" in one_error(proc) and "does not exist" in proc.stderr
    assert names(tmp_path) == []


def test_compare_with_a_bad_window_leaves_nothing(tmp_path):
    proc = run(["compare", str(SMALL), str(SMALL), "-o", "result.h5", "-q", "--from", "1999Q1"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--from 1999Q1" in one_error(proc)
    assert names(tmp_path) == []  # no result-runs/ folder


def test_compare_whose_run_fails_removes_its_runs_folder(tmp_path):
    # The first run fails (its file exceeds the file-size limit, pre-flight
    # off): the runs folder the comparison created goes too.
    proc = run(["compare", str(SMALL), str(SMALL), "-o", "result.h5", "-q", "--set", "run.periods=400"], tmp_path,
               fsize=20_000, env={"TRADEABM_PREFLIGHT": "off"})
    assert proc.returncode == 1, proc.stderr
    assert names(tmp_path) == []


@pytest.mark.parametrize("output, expect", [("nowhere/fitted.yaml", "does not exist"), ("", "an empty name")])
def test_calibrate_checks_its_output_before_the_fit(tmp_path, output, expect):
    (tmp_path / "cal.yaml").write_text(
        f"base: {SMALL}\nseed: 7\noptimizer: {{method: proportional, max_iterations: 50}}\nparameters:\n"
        "  - {name: d, mode: scale, path: sectors.energy.markets.US.demand, lower: 0.01, upper: 100, "
        "moment: export_weight.US.energy}\nmoments:\n"
        "  - {name: export_weight.US.energy, target: 0.3, tolerance: 0.0001, weight: 1}\n")
    proc = run(["calibrate", "cal.yaml", "-o", output], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expect in one_error(proc)
    assert proc.stdout == ""  # not one line of the fit's progress: it never started
    assert names(tmp_path) == ["cal.yaml"]


def test_calibrate_refuses_bounds_whose_corner_overflows_before_the_fit(tmp_path):
    # Each bound alone is fine; elasticity 20 with volatility 5 together
    # overflow (as in test_overflowing_parameters_are_refused_before_the_run).
    (tmp_path / "cal.yaml").write_text(
        f"base: {SMALL}\nseed: 7\noptimizer: {{max_evaluations: 4}}\nparameters:\n"
        "  - {name: sigma, path: demand.elasticity, lower: 3, upper: 20}\n"
        "  - {name: vol, path: sectors.agrifood.volatility, lower: 0.05, upper: 5}\n"
        "moments:\n  - {name: export_participation, target: 0.25, tolerance: 0.02}\n")
    proc = run(["calibrate", "cal.yaml", "-o", "fitted.yaml"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    msg = one_error(proc)
    assert "cal.yaml: parameters: at sigma (demand.elasticity) = 20 (upper), vol (sectors.agrifood.volatility) = 5 " \
           "(upper) the model overflows" in msg, msg
    assert "sector agrifood: profits overflow a double" in msg
    assert proc.stdout == ""  # not one evaluation
    assert names(tmp_path) == ["cal.yaml"]
    # Narrowed so that no corner overflows, the same file passes the check.
    text = (tmp_path / "cal.yaml").read_text().replace("upper: 20", "upper: 6")
    (tmp_path / "cal.yaml").write_text(text)
    proc = run(["calibrate", "cal.yaml", "--evaluate"], tmp_path)
    assert proc.returncode == 0, proc.stderr
