"""The demand-side mechanisms (docs/model.md: tariff incidence eq. 4b,
capacity elasticity per sector eq. 4, partial adjustment eq. 2b) each on,
in a dynamic run with regime switches: the result digest does not depend on
the number of threads, and each mechanism changes the results (so the
comparison is not vacuous)."""
import pytest

from helpers import SMALL, digest, run

MECHANISMS = {
    "tariff_absorption": ["destinations.US.market.tariff_absorption=0.6",
                          "sectors.steel_aluminum.markets.US.tariff_absorption=1"],
    "capacity_per_sector": ["sectors.steel_aluminum.capacity_elasticity=0.5"],
    "partial_adjustment": ["demand.impact_elasticity=0.3", "demand.long_run_elasticity=2.1",
                           "demand.adjustment=0.2"],
}
COMMON = ["run.model=dynamic", "run.seed=11", "run.periods=8"]


def _run(tmp_path, name, sets, threads):
    out = tmp_path / f"{name}-t{threads}.h5"
    args = ["run", SMALL, "-o", out, "-q", "--threads", threads]
    for s in COMMON + sets:
        args += ["--set", s]
    run(*args)
    return digest(out)


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_mechanism_gives_the_same_digest_on_one_and_two_threads(tmp_path, name):
    one = _run(tmp_path, name, MECHANISMS[name], 1)
    two = _run(tmp_path, name, MECHANISMS[name], 2)
    assert one == two
    assert one != _run(tmp_path, "off", [], 1), f"{name} must change the results"
