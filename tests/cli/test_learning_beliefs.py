"""Learning firms with interpolated beliefs and learning from peers
(docs/model.md section 7, eqs. 12b and 13a) through the command line: the
digest does not depend on the thread count, and each mechanism changes
the run."""
import pytest

from helpers import SMALL, digest, run

LEARNING = ["--set", "run.model=learning", "--set", "decision.belief_points=3", "--set", "decision.forgetting=0.9"]
MECHANISMS = {
    "interpolation": ["--set", "decision.belief_interpolation=linear"],
    "peers": ["--set", "decision.peer_weight=50"],
    "both": ["--set", "decision.belief_interpolation=linear", "--set", "decision.peer_weight=50"],
}


def learning_run(path, *extra, threads=2):
    run("run", SMALL, "-o", path, "-q", *LEARNING, *extra, "--threads", str(threads), threads=threads)
    return digest(path)


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_one_and_two_threads_give_the_same_digest(tmp_path, mechanism):
    sets = MECHANISMS[mechanism]
    one = learning_run(tmp_path / "one.h5", *sets, threads=1)
    two = learning_run(tmp_path / "two.h5", *sets, threads=2)
    assert one == two


def test_each_mechanism_changes_the_run(tmp_path):
    plain = learning_run(tmp_path / "plain.h5")
    digests = {name: learning_run(tmp_path / f"{name}.h5", *sets) for name, sets in MECHANISMS.items()}
    assert len({plain, *digests.values()}) == 4, digests
