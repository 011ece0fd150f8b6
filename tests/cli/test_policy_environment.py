"""The policy environment in run files: statutory tariffs recorded beside
the effective ones (docs/model.md section 10), and the series written only
when a file uses them, so that other files keep their layout and digest."""
import h5py
import numpy as np

from helpers import ONE_SECTOR, run, write

STATUTORY = """\
extends: {base}
destinations:
  US:
    regimes:
      war: {{tariff: 0.3, statutory_tariffs: {{steel: 0.75}}}}
events:
  - {{at: 2024Q2, destination: US, regime: war}}
  - {{at: 2024Q4, destination: US, tariff: 0.1, statutory_tariff: 0.5}}
"""


def test_statutory_tariffs_are_written_beside_the_effective_ones(tmp_path):
    params = write(tmp_path, "statutory.yaml", STATUTORY.format(base=ONE_SECTOR))
    run("run", params, "-o", tmp_path / "s.h5", "-q")
    run("run", ONE_SECTOR, "-o", tmp_path / "plain.h5", "-q")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        effective = f["environment/tariff"][:, 0, 0]
        statutory = f["environment/statutory_tariff"][:, 0, 0]
        assert f["environment/statutory_tariff"].attrs["units"] in (b"fraction", "fraction")
    # 2024Q1 open (0), 2024Q2-Q3 war (0.3 effective, 0.75 statutory), from
    # 2024Q4 the event's override (0.1, statutory 0.5).
    np.testing.assert_array_equal(effective[:4], [0.0, 0.3, 0.3, 0.1])
    np.testing.assert_array_equal(statutory[:4], [0.0, 0.75, 0.75, 0.5])
    assert (statutory >= effective).all()
    with h5py.File(tmp_path / "plain.h5", "r") as f:
        assert "statutory_tariff" not in f["environment"]
