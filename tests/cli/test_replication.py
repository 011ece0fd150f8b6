"""The AKKRS replication (params/replications/, docs/replication.md) against
the reference transcription tests/reference/akkrs.py, an independent numpy
implementation of the same model and numbers: the exact aggregation agrees
with it to rounding, the firm simulation lies within bands of it, and the
tariff-cut scenario follows its path. The replication file also gives the
same digest on 1 and 2 threads.

The reference numbers are committed (tests/reference/akkrs_reference.json);
test_reference_numbers_are_what_the_transcription_computes computes them
again (about a second), so the committed file cannot drift from the code.

Bands of the firm simulation (docs/replication.md, "Convergence"): at N =
50,000 simulated firms, 20 seeds give the seed-to-seed s.d. and the mean
deviation from the exact value of each moment (averaged over the 40 logged
steady-state years); band = |mean deviation| + 4 s.d., rounded up. A
correct engine falls outside a band with probability well below 1e-3 per
moment; the test itself is deterministic (one fixed seed)."""

import json
import math
import sys

import h5py
import numpy as np
import pytest

from helpers import REPLICATIONS, SOURCE_DIR, check_parameters, digest, load, run

sys.path.insert(0, str(SOURCE_DIR / "tests" / "reference"))
import akkrs  # noqa: E402

from analysis import dynamics  # noqa: E402

HISTORY = REPLICATIONS / "akkrs_us_china.yaml"
STEADY = REPLICATIONS / "akkrs_steady_state.yaml"
CUT = REPLICATIONS / "akkrs_tariff_cut.yaml"

with open(akkrs.JSON_PATH) as _f:
    REFERENCE = json.load(_f)
EXACT = REFERENCE["steady_state"]

# The engine under exact aggregation and the transcription compute the same
# sums once their policies agree. The engine's value function is within its
# error bound (decision.tolerance, 1e-9) of the fixed point, and a choice can
# differ only where its two values are within twice that; the transcription's
# smallest gap between the two choices is checked to exceed 1e-6, so every
# choice agrees. What remains is floating-point rounding in different orders
# of summation: 140 years of sums of at most 603 terms bound it by about
# 140 x 603 x 2^-53 = 1e-11 relative, so a relative difference above 1e-9
# is a difference in the model, not in rounding.
RELATIVE = 1e-9

# Reduced firm simulation: N and the bands derived at that N (20 seeds):
# s.d. 0.00073, 0.00077, 0.0093, 0.0022; mean deviation -0.00006, +0.00016,
# +0.0037 (small-sample ratio bias), +0.0001.
N_FIRMS = 50000
BANDS = {
    "participation": 0.004,
    "exit_rate": 0.004,
    "new_exporter_relative_size": 0.045,
    "share_level1": 0.01,
}


def test_reference_numbers_are_what_the_transcription_computes():
    again = akkrs.compute()
    assert again.keys() == REFERENCE.keys()
    for (path, want), (_, got) in zip(leaf_items(REFERENCE), leaf_items(again)):
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-10, abs=1e-15), path
        else:
            assert got == want, path


def leaf_items(node, path=""):
    if isinstance(node, dict):
        for k in sorted(node):
            yield from leaf_items(node[k], f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaf_items(v, f"{path}[{i}]")
    else:
        yield path, node


def test_transcription_uses_the_parameters_of_the_replication_file():
    _, p = check_parameters(HISTORY)
    china, us = p["sectors"]["china"], p["destinations"]["US"]
    market = china["markets"]["US"]
    assert (p["run"]["model"], p["decision"]["timing"], p["productivity"]["method"], china["death_rule"]) == \
        ("dynamic", "next", "tauchen", "profitability")
    assert p["capacity"]["elasticity"] == 0 and p["decision"]["logit_scale"] == 0
    assert p["interactions"] == {"spillover": 0, "crowding": 0}
    assert (p["demand"]["elasticity"], p["decision"]["discount"]) == (akkrs.SIGMA, akkrs.BETA)
    assert (p["productivity"]["grid"], p["productivity"]["tauchen_width"]) == (akkrs.N_Z, akkrs.WIDTH)
    assert (china["persistence"], china["volatility"]) == (akkrs.RHO_Z, akkrs.VOL_Z)
    assert (china["death_slope"], china["death_shift"]) == (akkrs.DELTA0, akkrs.DELTA1)
    assert (market["demand"], market["iceberg"], market["fixed_cost"], market["sunk_cost"]) == \
        (akkrs.DEMAND, akkrs.ICEBERG, akkrs.FIXED, akkrs.SUNK)
    x = p["experience"]
    assert (x["levels"], tuple(x["iceberg"]), tuple(x["demand"]), tuple(x["fixed_cost"])) == \
        (2, akkrs.XI, akkrs.LEVEL_DEMAND, akkrs.LEVEL_FIXED)
    assert tuple(map(tuple, x["transition"])) == akkrs.RHO_EXP
    assert {r: v["sector_tariffs"]["china"] for r, v in us["regimes"].items()} == akkrs.TARIFF
    for path, shape in ((STEADY, akkrs.STEADY), (CUT, akkrs.CUT)):
        _, q = check_parameters(path)
        assert (q["run"]["burn_in"], q["run"]["periods"]) == (shape["burn_in"], shape["periods"]), path.name
        assert q["run"]["aggregation"] == "exact"
    _, cut = check_parameters(CUT)
    assert cut["destinations"]["US"]["transition"] == [[1.0, 0.0], [0.0, 1.0]]
    assert [(str(e["at"]), e["regime"], e["hold"]) for e in cut["events"]] == [("2000", "ntr", True)]
    assert int(cut["run"]["start"]) + akkrs.CUT["cut_index"] == 2000


def test_every_choice_of_the_reference_is_far_from_a_tie():
    """The premise of RELATIVE: no choice of the reference policy is within
    the engine's error bound of a tie."""
    assert min(REFERENCE["smallest_choice_gap"].values()) > 1e-6


@pytest.mark.parametrize("aggregation", ["firms", "exact"])
def test_history_same_digest_on_1_and_2_threads(tmp_path, aggregation):
    digests = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.h5"
        run("run", HISTORY, "-o", out, "--force", "--threads", threads,
            "--set", "sectors.china.firms=20000", "--set", f"run.aggregation={aggregation}")
        with h5py.File(out, "r") as f:
            assert int(f.attrs["threads"]) == threads
            digests.append(f.attrs["digest"])
        assert digest(out) == (digests[-1].decode() if isinstance(digests[-1], bytes) else digests[-1])
    assert digests[0] == digests[1]


def test_history_follows_the_realised_regimes(tmp_path):
    out = tmp_path / "hist.h5"
    run("run", HISTORY, "-o", out)
    history = load(out)
    regimes = history.regimes.set_index("period")["regime"]
    assert set(regimes.loc["1971":"1979"]) == {"column2"}
    assert set(regimes.loc["1980":"2008"]) == {"ntr"}
    part = dynamics.participation(history)
    assert part[0] == 0  # 1971: nobody exports (decisions take effect next year)
    # Exports grow after the reform and stay below the no-TPU NTR steady state.
    x = history.arrays["export_value"][:, 0, 0]
    t80, t08 = history.periods.index("1980"), history.periods.index("2008")
    assert x[t08] > 10 * x[t80]
    assert part[t08] < EXACT["participation"]


def test_exact_steady_state_equals_the_transcription(tmp_path):
    out = tmp_path / "exact.h5"
    run("run", STEADY, "-o", out, "--set", "run.aggregation=exact")
    steady = load(out)
    got = dynamics.steady_state_moments(steady)
    got["export_value_per_firm"] = got.pop("export_value") / dynamics.firms(steady)
    for moment, want in EXACT.items():
        assert got[moment] == pytest.approx(want, rel=RELATIVE), moment


@pytest.fixture(scope="module")
def steady_firms(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "steady.h5"
    run("run", STEADY, "-o", out, "--set", "run.aggregation=firms", "--set", f"sectors.china.firms={N_FIRMS}",
        "--set", "run.spells=true")
    return load(out)


@pytest.mark.parametrize("moment", sorted(BANDS))
def test_steady_state_moments_within_bands(steady_firms, moment):
    got = dynamics.steady_state_moments(steady_firms)[moment]
    assert abs(got - EXACT[moment]) < BANDS[moment], f"{moment} = {got:.5f}, expected {EXACT[moment]} +- {BANDS[moment]}"


def test_completed_spells_follow_the_reference_length_law(steady_firms):
    """Shares of completed spells of 1 and 2 years against the reference
    cohort law, within 5 binomial standard errors sqrt(p (1 - p) / n), n the
    spells counted. Spells of different firms are independent; successive
    spells of one firm share its productivity, which may inflate the variance
    (a firm's spells are few in 40 years): 5 s.e. allow an inflation by 2.3
    at the 1e-3 level of a normal test."""
    dist = dynamics.spell_length_distribution(steady_firms)
    n = float(dist.sum())
    assert n > 10000
    assert dynamics.median_spell_length(dist) == REFERENCE["spells"]["median"] == 4
    share = dist / n
    for length in (1, 2):
        p = REFERENCE["spells"]["share_by_length"][length - 1]
        se = math.sqrt(p * (1 - p) / n)
        assert abs(share.loc[length] - p) < 5 * se, f"length {length}: {share.loc[length]:.4f}, reference {p:.4f}"


def test_tariff_cut_follows_the_reference_path(tmp_path):
    out = tmp_path / "cut.h5"
    run("run", CUT, "-o", out)
    path = load(out)
    ref = REFERENCE["tariff_cut"]
    x = path.arrays["export_value"][:, 0, 0] / dynamics.firms(path)
    cut = path.periods.index("2000")
    assert cut == ref["cut_index"]
    assert x[cut - 1] == pytest.approx(x[0], rel=1e-9)  # column-2 steady state before the cut
    # Impact: the exporters are last year's; only the tariff factor moves.
    sigma = akkrs.SIGMA
    assert x[cut] / x[cut - 1] == pytest.approx(((1 + akkrs.TARIFF["column2"]) / (1 + akkrs.TARIFF["ntr"])) ** sigma,
                                                rel=1e-9)
    assert np.all(np.diff(x[cut - 1:]) > 0)
    np.testing.assert_allclose(x, ref["export_value_per_firm"], rtol=RELATIVE)
    np.testing.assert_allclose(dynamics.participation(path), ref["participation"], rtol=RELATIVE)
    share = dynamics.share_of_long_run_change(x[cut:], x[cut - 1], x[-1])
    np.testing.assert_allclose(share, ref["share_of_long_run_change"], rtol=RELATIVE, atol=1e-12)
