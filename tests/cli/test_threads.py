"""The OpenMP wait policy: unless the user chose one (OMP_WAIT_POLICY or
GOMP_SPINCOUNT), tradeabm starts itself again with a short spin
(GOMP_SPINCOUNT=10000) so that idle threads sleep soon instead of taking
a shared machine's cores (docs/performance.md). The process's initial
environment, /proc/PID/environ, shows which policy libgomp read."""

import os
import subprocess
import time

from helpers import BINARY, SOURCE_DIR, environment

import pytest


def spin_setting(tmp_path, extra, wait_for=None, seconds=10.0):
    """GOMP_SPINCOUNT in the environment of a running tradeabm process (a
    long run, stopped once read): polled until it equals `wait_for` (None:
    for half a second, every value seen)."""
    env = environment(threads=2, extra=extra)
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if key not in extra:
            env.pop(key, None)
    proc = subprocess.Popen([str(BINARY), "run", str(SOURCE_DIR / "tests" / "data" / "analysis_small.yaml"), "--set",
                             "run.periods=100000", "-o", str(tmp_path / "x.h5"), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen, value = set(), None
    try:
        end = time.monotonic() + (seconds if wait_for else 0.5)
        while time.monotonic() < end and proc.poll() is None:
            try:
                if os.readlink(f"/proc/{proc.pid}/exe") != str(BINARY):
                    continue  # still the forked test process, before exec
                with open(f"/proc/{proc.pid}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue  # between images, or just ended (the loop ends on the next poll)
            if not environ:
                continue  # inside execve: the new image's environment is not readable yet
            values = [v.split(b"=", 1)[1].decode() for v in environ.split(b"\0") if v.startswith(b"GOMP_SPINCOUNT=")]
            value = values[0] if values else None
            seen.add(value)
            if wait_for and value == wait_for:
                break
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert seen, "the run ended before its environment could be read"
    return seen, value


def test_short_spin_is_set_when_the_user_chose_no_policy(tmp_path):
    seen, value = spin_setting(tmp_path, {}, wait_for="10000")
    assert value == "10000", seen


@pytest.mark.parametrize("extra", [{"GOMP_SPINCOUNT": "777"}, {"OMP_WAIT_POLICY": "active"}])
def test_a_policy_the_user_chose_is_kept(tmp_path, extra):
    seen, _ = spin_setting(tmp_path, extra)
    assert seen == {extra.get("GOMP_SPINCOUNT")}, seen
