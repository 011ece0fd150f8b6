"""The sweep index records, per run, the share of its summary window spent
in each regime of each destination (/design/regime_share/<dest>.<regime>),
and `sweep-index --condition regime.DEST=REGIME[>=SHARE]` summarises only
the runs that meet it (docs/sweeps.md)."""
import h5py
import numpy as np
import pytest

import analysis
from helpers import one_error, run
from sweep_helpers import write_small_base

# Independent seeds: every point has its own regime path, so points differ
# in the regimes they went through. One replicate a point: each point's
# summary mean is its one run's value.
# US regimes that change often, so runs differ in the regimes they saw.
VOLATILE = """\
extends: small.yaml
destinations:
  US:
    initial_regime: threat
    transition:
      - [0.5, 0.5, 0.0]
      - [0.3, 0.4, 0.3]
      - [0.0, 0.5, 0.5]
"""

SWEEP = """\
base: volatile.yaml
seed: 20250307
seeds: independent
replicates: 1
design:
  grid:
    destinations.US.regimes.tariffs.tariff: [0.0, 0.05, 0.1, 0.15, 0.2, 0.25]
summary:
  outcomes: [export_share.US, firms_serving.US]
  periods: 4
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("regimes")
    write_small_base(d)
    (d / "volatile.yaml").write_text(VOLATILE)
    (d / "sweep.yaml").write_text(SWEEP)
    run("sweep", d / "sweep.yaml", "-o", d / "out", "-q", "--jobs", "2")
    return d / "out"


def window_regimes(run_file, periods):
    with h5py.File(run_file, "r") as f:
        regime = f["environment/regime"][()]
        dests = [x.decode() if isinstance(x, bytes) else x for x in f["dimensions/destinations"][()]]
        names = {d: [x.decode() if isinstance(x, bytes) else x for x in f[f"dimensions/regimes/{d}"][()]]
                 for d in dests}
    return regime[-periods:], dests, names


def test_regime_shares_are_those_of_each_run_file(sweep):
    with h5py.File(sweep / "sweep.h5", "r") as f:
        shares = {k: f["design/regime_share"][k][()] for k in f["design/regime_share"]}
        files = [x.decode() for x in f["design/file"][()]]
        periods = int(f.attrs["summary_periods"])
    seen_us = set()
    for i, rel in enumerate(files):
        regime, dests, names = window_regimes(sweep / rel, periods)
        for d, dest in enumerate(dests):
            for g, reg in enumerate(names[dest]):
                # Counted from the run file itself: periods in regime g / periods.
                expect = np.count_nonzero(regime[:, d] == g) / periods
                assert shares[f"{dest}.{reg}"][i] == pytest.approx(expect, abs=1e-15), (rel, dest, reg)
        seen_us.add(tuple(regime[:, dests.index("US")]))
    # The design must give the test something to condition on.
    assert len(seen_us) > 1, "every run went through the same US regimes"


def test_condition_keeps_only_the_runs_that_meet_it(sweep):
    run("sweep-index", sweep, "--condition", "regime.US=threat>=0.5")
    with h5py.File(sweep / "sweep.h5", "r") as f, h5py.File(sweep / "sweep-conditioned.h5", "r") as g:
        share = f["design/regime_share/US.threat"][()]
        meets = share >= 0.5
        assert 0 < meets.sum() < len(meets), f"the condition must split the runs: {share}"
        assert g.attrs["condition"] == "regime.US=threat>=0.5"
        assert int(g.attrs["included_runs"]) == int(meets.sum())
        assert list(g["design/included"][()]) == [int(m) for m in meets]
        assert list(f["design/included"][()]) == [1] * len(meets)
        for outcome in ("export_share.US", "firms_serving.US"):
            full, cond = f[f"summary/{outcome}/mean"][()], g[f"summary/{outcome}/mean"][()]
            n = g[f"summary/{outcome}/n"][()]
            # One replicate a point: a point whose run meets the condition
            # keeps its value bit for bit; the others have no run left.
            assert list(n) == [int(m) for m in meets]
            assert np.array_equal(cond[meets], full[meets])
            assert np.isnan(cond[~meets]).all()
    # The plain index is left as it was.
    assert "condition" not in h5py.File(sweep / "sweep.h5", "r").attrs


def test_the_default_share_is_every_period_and_conditions_combine(sweep):
    run("sweep-index", sweep, "--condition", "regime.US=threat>=0.5", "--condition", "regime.US=cusma",
        "-o", "two.h5")
    with h5py.File(sweep / "sweep.h5", "r") as f, h5py.File(sweep / "two.h5", "r") as g:
        # Without >= the whole window: no run here spent it all in cusma.
        meets = (f["design/regime_share/US.threat"][()] >= 0.5) & (f["design/regime_share/US.cusma"][()] == 1)
        assert list(g["design/included"][()]) == [int(m) for m in meets]
        assert g.attrs["condition"] == "regime.US=threat>=0.5 and regime.US=cusma"
    run("sweep-index", sweep, "--condition", "regime.CN=normal", "-o", "cn.h5")
    with h5py.File(sweep / "cn.h5", "r") as g:
        assert list(g["design/included"][()]) == [1] * 6


def test_analysis_reads_the_shares_as_design_columns(sweep):
    sw = analysis.load(sweep / "sweep.h5")
    assert "regime_share.US.tariffs" in sw.design.columns
    total = sum(sw.design[c] for c in sw.design.columns if c.startswith("regime_share.US."))
    assert np.allclose(total, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("args, message", [
    (["--condition", "regime.US=tarifs"], "no regime tarifs of destination US; expected one of: US.cusma"),
    (["--condition", "regime.USA=tariffs"], "no regime tariffs of destination USA; expected one of:"),
    (["--condition", "US=tariffs"], "expected regime.DEST=REGIME or regime.DEST=REGIME>=SHARE"),
    (["--condition", "regime.US="], "expected regime.DEST=REGIME"),
    (["--condition", "regime.US=tariffs>=1.5"], "the share after >= must be a number in [0, 1]"),
    (["--condition", "regime.US=tariffs>=x"], "the share after >= must be a number in [0, 1]"),
    (["-o", "sub/x.h5"], "expected a file name ending in .h5, without a folder"),
])
def test_bad_conditions_are_refused_with_exit_2(sweep, args, message):
    before = sorted(p.name for p in sweep.iterdir())
    proc = run("sweep-index", sweep, *args, status=2)
    err = proc.stderr.splitlines()[0] if args[0] == "-o" else one_error(proc)
    assert message in err
    assert sorted(p.name for p in sweep.iterdir()) == before


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_index_from_the_workers_is_the_index_from_the_files(tmp_path, jobs):
    """A sweep's workers keep each run's summary window while it runs and
    hand the index the outcomes, regime shares, digest and wall time; the
    index built from them is, dataset for dataset and bit for bit, the one
    `sweep-index` builds by reading every run file (outcomes that need the
    period before the window and regime shares included)."""
    write_small_base(tmp_path)
    (tmp_path / "volatile.yaml").write_text(VOLATILE)
    (tmp_path / "sweep.yaml").write_text(SWEEP.replace(
        "outcomes: [export_share.US, firms_serving.US]",
        "outcomes: [export_share.US, firms_serving.US, market_persistence.US, export_participation, entrants,"
        " exiters.CN, tariff_paid, non_us_share, single_market_share]").replace("replicates: 1", "replicates: 2"))
    out = tmp_path / "out"
    run("sweep", tmp_path / "sweep.yaml", "-o", out, "-q", "--jobs", str(jobs), "--threads", str(jobs))
    run("sweep-index", out, "-o", "from_files.h5")
    with h5py.File(out / "sweep.h5", "r") as a, h5py.File(out / "from_files.h5", "r") as b:
        names = []
        a.visit(lambda name: names.append(name) if isinstance(a[name], h5py.Dataset) else None)
        assert "design/regime_share/US.threat" in names and "summary/market_persistence.US/mean" in names
        other = []
        b.visit(lambda name: other.append(name) if isinstance(b[name], h5py.Dataset) else None)
        assert sorted(names) == sorted(other)
        for name in names:
            x, y = a[name][()], b[name][()]
            if x.dtype.kind == "f":
                # Bit for bit, NaN included.
                assert np.array_equal(x.view(np.uint64), y.view(np.uint64)), name
            else:
                assert np.array_equal(x, y), name
