"""The firm panel with demand types: each firm's type is stored next to its
productivity and markets (/panel/<sector>/type), so firm-level export values
from the panel add up to the series; the file digest is the same at 1 and 2
threads and equal to analysis.compute_digest; a run interrupted after a
checkpoint resumes to the same digest."""

import signal
import time

import h5py
import numpy as np

from helpers import SMALL, start
from helpers import run as tradeabm

import analysis  # noqa: E402  (helpers puts the source tree on sys.path)

TYPES = ["--set", "demand_types.points=2", "--set", "demand_types.dispersion=1.2", "--set", "run.periods=4"]


def run(out, *extra):
    tradeabm("run", SMALL, "-o", out, "-q", "--panel", *TYPES, *extra)
    return out


def test_types_are_stored_and_firm_values_add_up(tmp_path):
    path = run(tmp_path / "a.h5", "--threads", "2")
    r = analysis.load(path)
    with h5py.File(path) as f:
        n_types = f["dimensions/type_multipliers"].shape[0]
        for s in r.sectors:
            t = f["panel"][s]["type"][()]
            assert t.dtype == np.uint8 and t.shape == f["panel"][s]["markets"].shape
            assert t.max() < n_types
            # A firm keeps its type until its slot's firm dies (born bit set).
            born = (f["panel"][s]["markets"][1:] & 0x80) != 0
            assert np.all((t[1:] == t[:-1]) | born)
    for s in r.sectors:
        i = r.sectors.index(s)
        for period in range(r.n_periods):
            firm = r.firm_export_value(s, period).sum(axis=0)
            np.testing.assert_allclose(firm, r.arrays["export_value"][period, i], rtol=1e-9, atol=1e-9)
    assert analysis.compute_digest(path) == h5py.File(path).attrs["digest"]


def test_same_digest_with_one_or_two_threads(tmp_path):
    a = run(tmp_path / "a.h5", "--threads", "1")
    b = run(tmp_path / "b.h5", "--threads", "2")
    assert h5py.File(a).attrs["digest"] == h5py.File(b).attrs["digest"]


def test_resume_after_sigkill_gives_the_same_digest(tmp_path):
    big = ["--set", "run.periods=60", "--set", "sectors.agrifood.firms=600000", "--threads", "1"]
    ref = run(tmp_path / "ref.h5", *big)
    out = tmp_path / "cut.h5"
    proc = start("run", SMALL, "-o", out, "-q", "--panel", *TYPES, *big, "--checkpoint-every", "3")
    ckpt = tmp_path / "cut.h5.ckpt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before its first checkpoint; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not out.exists()
    tradeabm("run", "--resume", ckpt, "-q", "--threads", "2")
    assert h5py.File(out).attrs["digest"] == h5py.File(ref).attrs["digest"]
