"""The policy environment in run files: statutory tariffs recorded beside
the effective ones (docs/model.md section 10), and the series written only
when a file uses them, so that other files keep their layout and digest."""
import h5py
import numpy as np

from helpers import ONE_SECTOR, REPLICATIONS, run, write

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


def test_reform_year_convention_of_the_replication_is_one_key(tmp_path):
    """AKKRS apply the 1980 reform to half of the year's exports: with
    `fraction: 0.5` on the 1980 regime event (timing next, so the year's
    exporters were chosen in 1979 and choices do not move) export value in
    1980 is 0.5 (1 + (1.37 / 1.04)^-3.55) = 0.688 times the full-year NTR
    value, every other year unchanged (docs/replication.md)."""
    source = (REPLICATIONS / "akkrs_us_china.yaml").read_text()
    event = "  - {at: 1980, destination: US, regime: ntr, hold: false, note:"
    assert source.count(event) == 1
    half = source.replace(event, event.replace("hold: false,", "hold: false, fraction: 0.5,"))
    half = half.replace("extends: ", f"extends: {REPLICATIONS}/", 1)
    params = write(tmp_path, "akkrs_half.yaml", half)
    run("run", REPLICATIONS / "akkrs_us_china.yaml", "-o", tmp_path / "full.h5", "-q")
    run("run", params, "-o", tmp_path / "half.h5", "-q")
    with h5py.File(tmp_path / "full.h5", "r") as f, h5py.File(tmp_path / "half.h5", "r") as g:
        labels = [x.decode() for x in f["periods/label"][:]]
        full, half_value = f["series/export_value"][:, 0, 0], g["series/export_value"][:, 0, 0]
    k = labels.index("1980")
    factor = 0.5 * (1.0 + (1.37 / 1.04) ** -3.55)
    # The mix of two tables cell by cell, summed: relative rounding < 1e-12.
    assert abs(half_value[k] / full[k] - factor) < 1e-12
    others = [t for t in range(len(labels)) if t != k]
    np.testing.assert_array_equal(half_value[others], full[others])
