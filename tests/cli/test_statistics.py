"""One vocabulary of named outcomes (docs/statistics.md): the page shows
the table the program prints, the shipped sweep and calibration files use
the names the program accepts, and the analysis package's t quantile is
the exact one (scipy), as the program's is GSL's."""
import math

import pytest

from helpers import PARAMS, SOURCE_DIR, run

from analysis.load import mean_interval, student_t975


def test_the_page_shows_the_table_the_program_prints():
    table = run("calibrate", "--moments").stdout.splitlines()
    page = (SOURCE_DIR / "docs" / "statistics.md").read_text().splitlines()
    assert len(table) > 10
    start = page.index(table[0])
    assert page[start:start + len(table)] == table


@pytest.mark.parametrize("name", ["canada.yaml", "canada_sectors.yaml"])
def test_shipped_calibrations_use_accepted_names(name):
    # --evaluate validates every moment and parameter before it simulates.
    r = run("calibrate", PARAMS / "calibration" / name, "--evaluate", "--threads", "2")
    assert "objective at the start values" in r.stdout


@pytest.mark.parametrize("df,t", [(1, 12.706), (2, 4.303), (30, 2.042), (1000, 1.962)])
def test_python_t_quantile_matches_tables(df, t):
    # Tables print three decimals: within half a unit of the last digit.
    assert abs(student_t975(df) - t) <= 5e-4
    assert math.isnan(student_t975(0))


def test_python_interval_is_the_t_interval():
    mean, low, high, n = mean_interval([[1.0], [2.0], [3.0], [4.0]], axis=0)
    half = student_t975(3) * math.sqrt(5 / 3) / 2
    assert n == 4 and mean[0] == 2.5
    assert low[0] == pytest.approx(2.5 - half, rel=1e-14) and high[0] == pytest.approx(2.5 + half, rel=1e-14)
