"""Sweeping events and regime transition rows (docs/sweeps.md, "Events and
regime transitions"): `events[i].key` addresses the i-th event of the base
file, `destinations.D.transition.FROM.TO` one probability of a transition
row whose diagonal absorbs the change. Bad paths are refused at the sweep
file's line with exit status 2."""
import h5py
import pytest

from sweep_helpers import SMALL_BASE, SOURCE_DIR, run

# The small base of the other sweep tests with one dated tariff event: a
# US tariff on every sector in every regime from the first logged period.
EVENT_BASE = SMALL_BASE + """\
events:
  - {{at: 2024Q1, destination: US, tariff: 0.1}}
"""

SWEEP = """\
base: small.yaml
seed: 7
design:
  grid:
    events[0].tariff: [0, 0.5]
    destinations.US.transition.cusma.threat: [0.01, 0.2]
summary:
  outcomes: [export_share.US, firms_serving.US]
  periods: 3
"""


def write(folder, sweep_text):
    (folder / "small.yaml").write_text(EVENT_BASE.format(baseline=SOURCE_DIR / "params" / "canada_baseline.yaml"))
    path = folder / "sweep.yaml"
    path.write_text(sweep_text)
    return path


def parameters(run_file):
    with h5py.File(run_file, "r") as f:
        return f["parameters"][()].decode()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paths")
    run(["sweep", write(folder, SWEEP), "-o", folder / "out", "-q"])
    return folder / "out"


def test_the_index_names_the_swept_event_and_transition_entry(swept):
    with h5py.File(swept / "sweep.h5", "r") as f:
        # Grid order: the last listed parameter varies fastest.
        assert f["summary/points/events[0].tariff"][...].tolist() == [0, 0, 0.5, 0.5]
        assert f["summary/points/destinations.US.transition.cusma.threat"][...].tolist() == [0.01, 0.2, 0.01, 0.2]


def test_an_event_tariff_swept_by_index_lowers_the_us_share(swept):
    # Common random numbers: points 0 and 2 share their seed and regime
    # path and differ only in the event's tariff (0 against 50% on every
    # sector's US sales from the first logged period), so the US share
    # must fall; had the path not reached the event, the two runs would
    # be identical and the means equal.
    with h5py.File(swept / "sweep.h5", "r") as f:
        share = f["summary/export_share.US/mean"][...]
        serving = f["summary/firms_serving.US/mean"][...]
    assert share[2] < share[0] and share[3] < share[1], share
    assert serving[2] < serving[0], serving
    assert "tariff: 0.5" in parameters(swept / "runs" / "p0002-r00.h5")
    assert "tariff: 0\n" in parameters(swept / "runs" / "p0000-r00.h5")


def test_a_transition_entry_swept_by_name_keeps_its_row_summing_to_one(swept):
    # US row cusma of the baseline: [0.99, 0.01, 0.00]; cusma -> threat at
    # 0.2 leaves cusma -> cusma = (0.99 + 0.01) - 0.2 = 0.8.
    text = parameters(swept / "runs" / "p0001-r00.h5")
    us = text[text.index("\n  US:"):text.index("\n  CN:")]
    assert "transition:\n      - [0.8, 0.2, 0]\n      - [0.1, 0.7, 0.2]\n" in us, us
    text = parameters(swept / "runs" / "p0000-r00.h5")
    us = text[text.index("\n  US:"):text.index("\n  CN:")]
    assert "transition:\n      - [0.99, 0.01, 0]\n" in us, us


def test_a_swept_run_is_the_run_of_its_set_options(swept, tmp_path):
    # docs/sweeps.md: a run's parameters are the base plus --set for each
    # swept path, so `run --set` with the same paths gives the same digest.
    with h5py.File(swept / "sweep.h5", "r") as f:
        seed = int(f["design/seed"][3])
        digest = f["design/digest"][3].decode()
    out = tmp_path / "again.h5"
    run(["run", swept.parent / "small.yaml", "--set", "events[0].tariff=0.5", "--set",
         "destinations.US.transition.cusma.threat=0.2", "--seed", seed, "-o", out, "-q"])
    with h5py.File(out, "r") as f:
        assert f.attrs["digest"] == digest


BAD = [
    ("events[3].tariff: [0.1]", "sweep.yaml:5:5: design.grid.events[3].tariff: not accepted by",
     "unknown index 3; expected events[0] to events[0] (1 entries)"),
    ("events[0].tarif: [0.1]", "sweep.yaml:5:5: design.grid.events[0].tarif: not accepted by",
     "did you mean `tariff`"),
    ("events[].tariff: [0.1]", "sweep.yaml:5:5: design.grid.events[].tariff: not a parameter path",
     "malformed list index"),
    ("events[0]..tariff: [0.1]", "sweep.yaml:5:5: design.grid.events[0]..tariff: not a parameter path",
     "empty name in the key path"),
    ("destinations.US.transition.cusma.thret: [0.1]",
     "sweep.yaml:5:5: design.grid.destinations.US.transition.cusma.thret: not accepted by",
     "unknown regime \"thret\"; expected one of: cusma, threat, tariffs (did you mean `threat`?)"),
    ("destinations.US.transition.cusma.cusma: [0.5]",
     "sweep.yaml:5:46: design.grid.destinations.US.transition.cusma.cusma: not accepted by",
     "the diagonal (staying in cusma) absorbs"),
    ("destinations.US.transition.threat.tariffs: [0.5, 0.95]",
     "sweep.yaml:5:54: design.grid.destinations.US.transition.threat.tariffs: not accepted by",
     "threat -> tariffs = 0.95 would leave threat -> threat below 0 (the diagonal absorbs the change); "
     "expected at most 0.9"),
    ("destinations.US.transition[1]: [0.5]", "design.grid.destinations.US.transition[1]: not accepted by",
     "a row is named by its regime"),
]


@pytest.mark.parametrize("line,where,detail", BAD,
                         ids=["event_index", "event_key", "empty_index", "empty_segment", "regime_typo", "diagonal",
                              "negative_diagonal", "row_by_position"])
def test_bad_event_and_transition_paths_exit_2_at_their_line(tmp_path, line, where, detail):
    text = f"base: small.yaml\nseed: 1\ndesign:\n  grid:\n    {line}\n"
    proc = run(["sweep", write(tmp_path, text), "-o", tmp_path / "out"], check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert where in proc.stderr and detail in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
