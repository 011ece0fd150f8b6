"""Command-line contract of tradeabm: exit statuses (0 ok, 1 runtime, 2 input
or usage), the HDF5 layout and provenance of a run file, thread-count
invariance of the digest, `reproduce`, and that bad input or an existing
file never leaves or replaces anything.

Runs use the built-in baseline made small with --set, so the whole file takes
a few seconds.
"""

import hashlib
import math
import re
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import BASELINE, BINARY, ONE_SECTOR, SOURCE_DIR, check_parameters, copy_to, environment, leaves, require, run, start, text as attr_str


def tradeabm(*args, cwd=None, check_status=None):
    """Run the binary; with check_status, the exit status must be that."""
    return run(*args, cwd=cwd, status=check_status)


def baseline_sectors():
    """Sector names of the baseline, read from its canonical text."""
    out = tradeabm("check", BASELINE, check_status=0).stdout
    block = out.split("\nsectors:\n", 1)[1].split("\ndestinations:\n", 1)[0]
    return re.findall(r"^  ([A-Za-z0-9_-]+):$", block, flags=re.M)


@pytest.fixture(scope="session")
def small_sets():
    """--set options that shrink the baseline to a few thousand firms."""
    sets = ["run.burn_in=4", "run.periods=6"]
    sets += [f"sectors.{name}.firms=500" for name in baseline_sectors()]
    args = []
    for s in sets:
        args += ["--set", s]
    return args


def run_small(out, small_sets, *extra, cwd=None, status=0):
    args = ["run", "-q", *small_sets, *extra]
    if out is not None:
        args += ["-o", out]
    return tradeabm(*args, cwd=cwd, check_status=status)


@pytest.fixture(scope="session")
def run_file(tmp_path_factory, small_sets):
    """One complete small run of the baseline with one thread."""
    path = tmp_path_factory.mktemp("run") / "base.h5"
    run_small(path, small_sets, "--threads", "1")
    return path


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# ---- help, version, usage errors -------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-h"], ["run", "--help"], ["check", "--help"], ["reproduce", "--help"], ["info", "--help"]],
)
def test_help_exits_0_and_prints_usage(args):
    proc = tradeabm(*args, check_status=0)
    assert "usage: tradeabm" in proc.stdout


def test_version_exits_0_and_names_program_and_hdf5():
    proc = tradeabm("--version", check_status=0)
    assert proc.stdout.startswith("tradeabm ")
    assert "HDF5" in proc.stdout


def test_version_names_the_commit_the_binary_was_built_from():
    # The commit is read at every build, not only when CMake configures:
    # an incremental build after a commit must not record an older one.
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=SOURCE_DIR, capture_output=True, text=True)
    expected = head.stdout.strip() if head.returncode == 0 else "unknown"
    proc = tradeabm("--version", check_status=0)
    commit = re.search(r"\(commit ([0-9a-f]+|unknown)(-dirty)?,", proc.stdout)
    assert commit, proc.stdout
    assert commit.group(1) == expected, f"binary built from {commit.group(1)}, tree at {expected}: rebuild"


def test_no_command_exits_2_with_usage():
    proc = tradeabm(check_status=2)
    assert "usage: tradeabm" in proc.stderr


def test_unknown_command_exits_2():
    proc = tradeabm("frobnicate", check_status=2)
    assert "unknown command" in proc.stderr
    assert "frobnicate" in proc.stderr


def test_unknown_option_exits_2(tmp_path):
    proc = tradeabm("run", "--no-such-option", cwd=tmp_path, check_status=2)
    assert "no-such-option" in proc.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_bad_thread_count_exits_2(tmp_path, value):
    proc = tradeabm("run", "--threads", value, cwd=tmp_path, check_status=2)
    assert "--threads" in proc.stderr
    assert leftovers(tmp_path) == []


def test_extra_argument_exits_2(tmp_path):
    tradeabm("check", BASELINE, "extra.yaml", check_status=2)


# ---- the run file ------------------------------------------------------------


def test_run_file_is_complete_with_provenance(run_file):
    with h5py.File(run_file, "r") as f:
        a = f.attrs
        assert attr_str(a["status"]) == "complete"
        assert re.fullmatch(r"[0-9a-f]{64}", attr_str(a["digest"]))
        assert re.fullmatch(r"[0-9a-f]{64}", attr_str(a["params_sha256"]))
        assert int(a["format_version"]) >= 1
        assert int(a["threads"]) == 1
        for key in ("version", "git_commit", "compiler", "hdf5_version", "seed", "wall_seconds"):
            assert key in a, f"missing attribute {key}"


def test_stored_parameters_hash_to_params_sha256(run_file):
    with h5py.File(run_file, "r") as f:
        text = f["parameters"][()]
        text = text.decode() if isinstance(text, bytes) else text
        recorded = attr_str(f.attrs["params_sha256"])
    assert hashlib.sha256(text.encode()).hexdigest() == recorded
    assert "firms: 500" in text, "the --set overrides are part of the stored parameters"


def test_series_datasets_carry_units_and_description(run_file):
    with h5py.File(run_file, "r") as f:
        series = f["series"]
        names = set(series.keys())
        for required in ("firms_serving", "entrants", "exiters", "export_value", "tariff_paid", "non_us_share"):
            assert required in names
        for name in names:
            ds = series[name]
            assert "units" in ds.attrs, f"series/{name} lacks units"
            assert attr_str(ds.attrs["description"]).strip(), f"series/{name} lacks a description"


def test_series_have_one_row_per_logged_period_and_satisfy_the_accounting_identity(run_file):
    with h5py.File(run_file, "r") as f:
        serving = f["series/firms_serving"][()]
        entrants = f["series/entrants"][()]
        exiters = f["series/exiters"][()]
        by_set = f["series/firms_by_market_set"][()]
        n_sectors = f["dimensions/sectors"].shape[0]
        n_dest = f["dimensions/destinations"].shape[0]
    assert serving.shape == (6, n_sectors, n_dest)
    np.testing.assert_array_equal(serving[1:] - serving[:-1], entrants[1:] - exiters[1:])
    np.testing.assert_array_equal(by_set.sum(axis=2), np.full((6, n_sectors), 500))


def test_threads_1_2_and_4_give_identical_digests_and_series(tmp_path, run_file, small_sets):
    with h5py.File(run_file, "r") as f:
        digest = attr_str(f.attrs["digest"])
        exports = f["series/export_value"][()]
    for threads in (2, 4):
        path = tmp_path / f"t{threads}.h5"
        run_small(path, small_sets, "--threads", threads)
        with h5py.File(path, "r") as g:
            assert int(g.attrs["threads"]) == threads
            assert attr_str(g.attrs["digest"]) == digest, f"{threads} threads changed the digest"
            assert np.array_equal(g["series/export_value"][()], exports)


def test_another_seed_gives_another_digest(tmp_path, run_file, small_sets):
    path = tmp_path / "seed.h5"
    run_small(path, small_sets, "--seed", "12345")
    with h5py.File(run_file, "r") as f, h5py.File(path, "r") as g:
        assert attr_str(g.attrs["digest"]) != attr_str(f.attrs["digest"])
        assert int(g.attrs["seed"]) == 12345


def test_reproduce_exits_0_and_reports_matching_digests(run_file):
    proc = tradeabm("reproduce", run_file, "--threads", "2", check_status=0)
    assert "digests match" in proc.stdout


def test_reproduce_of_a_tampered_digest_exits_1(tmp_path, run_file):
    copy = copy_to(run_file, tmp_path, "tampered.h5")
    with h5py.File(copy, "r+") as f:
        old = attr_str(f.attrs["digest"])
        new = ("0" if old[0] != "0" else "1") + old[1:]
        f.attrs["digest"] = new  # a Python str is stored as a UTF-8 variable-length string, as written
    proc = tradeabm("reproduce", copy, check_status=1)
    # The stored data no longer give the recorded digest: refused before re-running.
    assert "not the recorded " + new[:12] in proc.stderr and proc.stdout == ""


def test_reproduce_of_tampered_parameters_exits_2(tmp_path, run_file):
    copy = copy_to(run_file, tmp_path, "params_tampered.h5")
    with h5py.File(copy, "r+") as f:
        text = f["parameters"][()]
        text = text.decode() if isinstance(text, bytes) else text
        del f["parameters"]
        f["parameters"] = text.replace("seed: ", "seed: 1", 1)
    proc = tradeabm("reproduce", copy, check_status=2)
    assert "SHA-256" in proc.stderr


def test_info_prints_provenance_of_a_run_file(run_file):
    proc = tradeabm("info", run_file, check_status=0)
    assert "complete" in proc.stdout
    with h5py.File(run_file, "r") as f:
        assert attr_str(f.attrs["digest"]) in proc.stdout


def test_info_on_a_non_hdf5_file_exits_2_with_a_clear_message(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a run file\n")
    proc = tradeabm("info", path, check_status=2)
    assert "not an HDF5 file" in proc.stderr
    assert "notes.txt" in proc.stderr


def test_info_on_a_missing_file_exits_2(tmp_path):
    proc = tradeabm("info", tmp_path / "absent.h5", check_status=2)
    assert "absent.h5" in proc.stderr


# ---- check and params --doc ----------------------------------------------------


def test_check_prints_canonical_text_and_its_sha256():
    proc = tradeabm("check", BASELINE, check_status=0)
    body, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    match = re.fullmatch(r"# sha256: ([0-9a-f]{64})", last)
    assert match, last
    assert hashlib.sha256((body + "\n").encode()).hexdigest() == match.group(1)
    assert "sectors:" in body and "destinations:" in body


def test_check_output_is_itself_a_valid_parameter_file_with_the_same_hash(tmp_path):
    first = tradeabm("check", BASELINE, "--set", "run.seed=5", check_status=0).stdout
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(first)
    second = tradeabm("check", resolved, check_status=0).stdout
    assert second == first


def test_check_without_a_file_checks_the_built_in_baseline(tmp_path):
    """`check` alone resolves the baseline compiled into the binary: from a
    folder without parameter files, the same text as the shipped file."""
    built_in = tradeabm("check", cwd=tmp_path, check_status=0).stdout
    assert built_in == tradeabm("check", BASELINE, check_status=0).stdout
    with_set = tradeabm("check", "--set", "run.seed=5", cwd=tmp_path, check_status=0).stdout
    assert "seed: 5" in with_set


SEVEN_ERRORS = """\
extends: {base}
run:
  periods: -3
  sed: 4
sectors:
  enrgy:
    firms: 5
  energy:
    firms: many
    volatility: 9
destinations:
  US:
    regimes:
      tarifs: {{tariff: 0.2}}
events:
  - {{at: 2025Q1, destination: USA, tariff: 0.1}}
"""


def test_check_reports_every_error_in_one_pass(tmp_path):
    """Seven independent mistakes, seven error lines (each with its line
    and key), then the count; `run` still stops at the first."""
    params = tmp_path / "seven.yaml"
    params.write_text(SEVEN_ERRORS.format(base=BASELINE))
    proc = tradeabm("check", params, check_status=2)
    lines = proc.stderr.strip().splitlines()
    expected = ["seven.yaml:3:12: run.periods: found -3", "seven.yaml:4:3: run.sed: unknown key",
                "seven.yaml:9:12: sectors.energy.firms: found \"many\"",
                "seven.yaml:10:17: sectors.energy.volatility: found 9",
                "seven.yaml:6:3: sectors.enrgy: unknown sector", "seven.yaml:14:7: destinations.US.regimes.tarifs",
                "seven.yaml:16:31: events[0].destination: unknown destination \"USA\""]
    assert len(lines) == len(expected) + 1, proc.stderr
    for line, fragment in zip(lines, expected):
        assert line.startswith("tradeabm: error: ") and fragment in line, (fragment, line)
    assert lines[-1] == "tradeabm: 7 errors"
    assert proc.stdout == ""
    first = tradeabm("run", params, "-o", tmp_path / "x.h5", "-q", check_status=2)
    assert first.stderr.strip().splitlines() == [lines[0]]


DOC_COLUMNS = ["path", "type", "default", "baseline", "range", "unit", "symbol", "description", "source"]


def doc_cells(line):
    """The cells of one Markdown table row: split at `|` not escaped as
    `\\|`, then unescaped."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def doc_table():
    """Every row of `tradeabm params --doc` as a dict by column name."""
    out = tradeabm("params", "--doc", check_status=0).stdout
    return [dict(zip(DOC_COLUMNS, doc_cells(line))) for line in out.splitlines() if line.startswith("| `")]


def doc_rows():
    """(path, type, default, range) of every row of `tradeabm params --doc`;
    a choice's options are joined by "|"."""
    return [(r["path"].strip("`"), r["type"], r["default"], r["range"]) for r in doc_table()]


def test_params_doc_rows_have_every_cell_with_bars_escaped():
    """Every row splits into exactly the header's cells (a bare `|` inside a
    description or a choice list would add cells), and `|` is escaped."""
    out = tradeabm("params", "--doc", check_status=0).stdout
    header = next(line for line in out.splitlines() if line.startswith("| path"))
    assert doc_cells(header) == DOC_COLUMNS
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(rows) > 50
    for line in rows:
        assert len(doc_cells(line)) == len(DOC_COLUMNS), line
    assert any("\\|" in line for line in rows)


def test_params_doc_shows_the_baseline_value_beside_the_default():
    """The baseline column holds the built-in baseline's resolved value of
    each single-valued parameter (as `check` prints it, to the 6 significant
    digits the table shows), and a range "lo to hi" for per-sector values."""
    _, baseline = check_parameters()
    checked = 0
    for row in doc_table():
        path = row["path"].strip("`")
        if "<" in path or "[" in path or row["baseline"] == "see the file":
            continue
        try:
            value = at_path(baseline, path)
        except KeyError:  # `check` leaves out a quiet key at its default
            assert row["baseline"] == row["default"], path
            continue
        if isinstance(value, float):
            assert float(row["baseline"]) == pytest.approx(value, rel=5e-6), path
        else:
            assert row["baseline"] == flow(value), path
        checked += 1
    assert checked >= 20  # run, productivity, demand, decision, ... sections
    firms = [s["firms"] for s in baseline["sectors"].values()]
    row = next(r for r in doc_table() if r["path"] == "`sectors.<sector>.firms`")
    assert row["baseline"] == f"{min(firms)} to {max(firms)}" and row["default"] == "2000"


DOC_ROWS = doc_rows()

# Names in tests/data/cli_one_sector.yaml for the placeholders of --doc.
PLACEHOLDERS = {"<sector>": "steel", "<dest>": "US", "<regime>": "war"}

# Values that the generic rule below would get wrong (a constraint beyond
# the range), and settings a value needs alongside (the keys it depends on).
SPECIAL_VALUES = {"run.periods_per_year": 12, "run.start": "2023Q3",
                  "demand_types.destinations": ["CN"],
                  "destinations.US.initial_regime": "war",
                  "destinations.US.transition": [[0.5, 0.5], [0.25, 0.75]],
                  "events[].at": "2025Q2", "events[].destination": "CN", "events[].sector": "steel",
                  "events[].regime": "war", "events[].escalation_scale": 2.0,
                  "events[].transition": [[0.5, 0.5], [0.25, 0.75]],
                  "destinations.US.regimes.war.closed_sectors": ["steel"],
                  "events[].perceived_escalation_scale": 2.0,
                  "events[].until": "2025Q2",
                  "events[].date": "2024-08-16", "events[].fraction": 0.5,
                  "experience.levels": 2, "experience.demand": [1.0, 1.5], "experience.iceberg": [1.0, 0.8],
                  "experience.fixed_cost": [1.0, 0.5], "experience.transition": [[0.9, 0.1], [0.2, 0.8]]}
COMPANIONS = {"experience.": ["experience.levels=2", "experience.transition=[[0.9, 0.1], [0.2, 0.8]]"],
              "demand.adjustment": ["demand.impact_elasticity=0.5"],
              "destinations.US.regimes.war.closed_above_quantile": ["destinations.US.regimes.war.closed_sectors=[steel]"],
              "sectors.steel.markets.US.switching_rate": ["sectors.steel.markets.US.market_share=0.5"],
              "destinations.US.market.switching_rate": ["sectors.steel.markets.US.market_share=0.5"]}
# Where `check` shows a value that resolves into other keys: destination
# market values are the defaults of every sector's market, a regime's
# tariff that of every sector.
SHOWN_AT = {"destinations.US.market.": "sectors.steel.markets.US.",
            "destinations.US.regimes.war.tariff": "destinations.US.regimes.war.sector_tariffs.steel"}


def in_range(value, rng):
    """Whether a number lies in a --doc range like "(0, 1]" or "[1, 1e+06]"."""
    m = re.fullmatch(r"([\[(])\s*([^,]+),\s*([^\])]+)([\])])", rng)
    if not m:
        return True
    lo, hi = float(m.group(2)), float(m.group(3))
    return (value > lo or m.group(1) == "[" and value == lo) and (value < hi or m.group(4) == "]" and value == hi)


def other_value(path, kind, default, rng):
    """A valid value of the parameter other than its default."""
    if path in SPECIAL_VALUES:
        return SPECIAL_VALUES[path]
    if kind == "bool":
        return default != "true"
    if kind == "choice":
        return next(c for c in rng.split("|") if c != default)
    if kind == "text":
        return "a note"
    try:
        base = float(default)
    except ValueError:
        base = math.nan
    m = re.fullmatch(r"[\[(]\s*([^,]+),\s*([^\])]+)[\])]", rng)
    lo, hi = (float(m.group(1)), float(m.group(2))) if m else (math.nan, math.nan)
    for value in (base / 2, (lo + hi) / 2, (lo + 3 * hi) / 4, base + 1):
        if kind == "integer":
            value = int(base + 1) if in_range(base + 1, rng) else int(base - 1)
        if math.isfinite(value) and value != base and in_range(value, rng):
            return value
    raise AssertionError(f"no value found for {path} ({kind}, default {default}, range {rng})")


def flow(value):
    """A value in YAML flow form for --set."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return str(value)


EVENT_ACTIONS = {"regime": "war", "tariff": 0.2, "escalation_scale": 2.0, "sunk_cost_scale": 0.5,
                 "release": True, "transition": [[0.5, 0.5], [0.25, 0.75]], "perceived_escalation_scale": 2.0,
                 "demand_scale": 2.0, "price_scale": 1.5, "iceberg_scale": 1.5, "fixed_cost_scale": 0.5,
                 "demand_growth": 0.01}


def event_setting(key, value):
    """--set of an event list whose one event sets `key` to `value`, with the
    action the key needs (hold goes with a regime, sector with a tariff)."""
    event = {"at": "2024Q3", "destination": "US"}
    if key not in EVENT_ACTIONS:
        event.update({"hold": {"regime": "war"}, "sector": {"tariff": 0.2},
                      "until": {"demand_growth": 0.01}}.get(key, {"tariff": 0.2}))
    if key == "demand_growth":
        event["until"] = "2025Q2"
    event[key] = value
    return "events=[{" + ", ".join(f"{k}: {flow(v)}" for k, v in event.items()) + "}]"


def at_path(parameters, path):
    node = parameters
    for part in re.split(r"\.(?![^\[]*\])", path):
        m = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        node = node[m.group(1)][int(m.group(2))] if m else node[part]
    return node


@pytest.mark.parametrize("row", DOC_ROWS, ids=[r[0] for r in DOC_ROWS])
def test_every_parameter_path_listed_by_params_doc_is_settable_and_shown_by_check(row):
    """Each path `params --doc` lists takes a non-default value through
    --set (events through an event list) and `check` shows that value at
    that path of the resolved parameters."""
    doc_path, kind, default, rng = row
    path = doc_path
    for placeholder, name in PLACEHOLDERS.items():
        path = path.replace(placeholder, name)
    event_key = path[len("events[]."):] if path.startswith("events[].") else None
    value = other_value(path, kind, default, rng)
    if event_key:
        sets, shown_at = [event_setting(event_key, value)], f"events[0].{event_key}"
    else:
        sets, shown_at = [f"{path}={flow(value)}"], path
        for prefix, resolved in SHOWN_AT.items():
            if path.startswith(prefix):
                shown_at = resolved + path[len(prefix):]
    sets = [c for prefix, extra in COMPANIONS.items() if path.startswith(prefix) for c in extra] + sets
    args = [a for s in sets for a in ("--set", s)]
    _, parameters = check_parameters(ONE_SECTOR, *args)
    assert at_path(parameters, shown_at) == value, f"{doc_path}: set {value!r}"


def doc_pattern(path):
    """A resolved parameter path with its names replaced by --doc's placeholders."""
    parts = path.split(".")
    if parts[0] == "sectors" and len(parts) > 1:
        parts[1] = "<sector>"
        if len(parts) > 3 and parts[2] == "markets":
            parts[3] = "<dest>"
    if parts[0] == "destinations" and len(parts) > 1:
        parts[1] = "<dest>"
        if len(parts) > 3 and parts[2] == "regimes":
            parts[3] = "<regime>"
            if len(parts) > 5 and parts[4] in ("sector_tariffs", "statutory_tariffs"):
                parts[5] = "<sector>"
    return re.sub(r"^events\[\d+\]", "events[]", ".".join(parts))


@pytest.mark.parametrize("path", [BASELINE, ONE_SECTOR], ids=lambda p: p.name)
def test_params_doc_lists_every_parameter_of_a_resolved_file(path):
    """The other direction: every parameter `check` resolves for the
    baseline and the one-sector file (with experience and an event) is a
    row of `params --doc`."""
    listed = {r[0] for r in DOC_ROWS}
    _, parameters = check_parameters(path, "--set", "experience.levels=2",
                                     "--set", "experience.transition=[[0.9, 0.1], [0.2, 0.8]]",
                                     "--set", "events=[{at: 2024Q3, destination: US, tariff: 0.2, note: a note}]")
    assert parameters["events"] and parameters["experience"]
    missing = sorted({doc_pattern(p) for p, _ in leaves(parameters, matrices=True)} - listed)
    assert missing == []


# ---- bad input writes nothing ---------------------------------------------------


BAD_PARAMS = """\
run:
  periods: 4
sectors:
  steel:
    firms: 100
    death_rate: 1.5
destinations:
  US:
    regimes:
      open: {tariff: 0}
"""


def test_bad_parameter_file_exits_2_naming_file_line_col_and_key(tmp_path):
    params = tmp_path / "bad.yaml"
    params.write_text(BAD_PARAMS)
    out = tmp_path / "out"
    out.mkdir()
    proc = tradeabm("run", params, "-o", out / "run.h5", check_status=2)
    assert "bad.yaml:6:17:" in proc.stderr
    assert "sectors.steel.death_rate" in proc.stderr
    assert proc.stderr.count("error:") == 1, "one clear error"
    assert leftovers(out) == [], "no output and no temporary file"


def test_bad_parameter_file_with_default_name_leaves_the_folder_empty(tmp_path):
    params = tmp_path / "bad.yaml"
    params.write_text(BAD_PARAMS)
    work = tmp_path / "work"
    work.mkdir()
    tradeabm("run", params, cwd=work, check_status=2)
    assert leftovers(work) == []


def test_check_of_a_bad_file_exits_2(tmp_path):
    params = tmp_path / "bad.yaml"
    params.write_text(BAD_PARAMS)
    proc = tradeabm("check", params, check_status=2)
    assert "bad.yaml:6:17:" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "setting, needle",
    [
        ("run.periods", "expected path.to.key=value"),
        ("run.seed=", "the value is empty"),
        ("run.periods.x=1", "not a mapping"),
        ("run.perods=3", "did you mean `periods`"),
        ("demand.elasticity=nan", "demand.elasticity"),
    ],
)
def test_bad_set_exits_2_and_writes_nothing(tmp_path, setting, needle):
    proc = tradeabm("run", "--set", setting, cwd=tmp_path, check_status=2)
    assert needle in proc.stderr
    assert leftovers(tmp_path) == []


def test_missing_parameter_file_exits_2(tmp_path):
    proc = tradeabm("run", tmp_path / "absent.yaml", cwd=tmp_path, check_status=2)
    assert "absent.yaml" in proc.stderr
    assert leftovers(tmp_path) == []


def test_binary_parameter_file_exits_2(tmp_path):
    params = tmp_path / "blob.yaml"
    params.write_bytes(b"run:\n  seed: 1\n\x00\x01\x02")
    proc = tradeabm("check", params, check_status=2)
    assert "NUL" in proc.stderr


def test_output_in_a_missing_folder_exits_2(tmp_path, small_sets):
    proc = run_small(tmp_path / "no" / "such" / "run.h5", small_sets, status=2)
    assert "does not exist" in proc.stderr


# ---- never overwrite without --force --------------------------------------------


def test_existing_output_is_kept_without_force(tmp_path, run_file, small_sets):
    target = tmp_path / "keep.h5"
    target.write_bytes(run_file.read_bytes())
    before = target.read_bytes()
    mtime = target.stat().st_mtime_ns
    proc = run_small(target, small_sets, "--seed", "99", status=2)
    assert "--force" in proc.stderr
    assert target.read_bytes() == before
    assert target.stat().st_mtime_ns == mtime
    assert leftovers(tmp_path) == ["keep.h5"]


def test_existing_output_is_replaced_with_force(tmp_path, run_file, small_sets):
    target = tmp_path / "replace.h5"
    target.write_bytes(run_file.read_bytes())
    run_small(target, small_sets, "--seed", "99", "--force")
    with h5py.File(target, "r") as f:
        assert int(f.attrs["seed"]) == 99
        assert attr_str(f.attrs["status"]) == "complete"
    assert leftovers(tmp_path) == ["replace.h5"]


def test_default_output_names_never_overwrite(tmp_path, small_sets):
    run_small(None, small_sets, cwd=tmp_path)
    run_small(None, small_sets, cwd=tmp_path)
    names = leftovers(tmp_path)
    assert len(names) == 2, names
    assert all(name.endswith(".h5") for name in names)
    assert names[0].startswith("canada_baseline-s")
    with h5py.File(tmp_path / names[0], "r") as a, h5py.File(tmp_path / names[1], "r") as b:
        assert attr_str(a.attrs["digest"]) == attr_str(b.attrs["digest"])


def test_default_output_name_follows_the_parameter_file(tmp_path):
    params = tmp_path / "tiny.yaml"
    params.write_text(BAD_PARAMS.replace("death_rate: 1.5", "death_rate: 0.05") + "run_extra: 0\n")
    # An unknown section fails; the same file without it runs and is named after it.
    tradeabm("run", "-q", params, cwd=tmp_path, check_status=2)
    params.write_text(BAD_PARAMS.replace("death_rate: 1.5", "death_rate: 0.05"))
    tradeabm("run", "-q", params, "--set", "run.burn_in=2", "--seed", "3", cwd=tmp_path, check_status=0)
    assert (tmp_path / "tiny-s3.h5").exists()


def test_file_appearing_at_the_output_path_during_a_run_is_not_replaced(tmp_path):
    """Two runs may pick the same name; the later one must not clobber the
    file the earlier one finished. A bigger run gives time to step in."""
    target = tmp_path / "race.h5"
    proc = start("run", "-q", ONE_SECTOR, "--set", "sectors.steel.firms=400000", "--set", "run.periods=60",
                 "--threads", "2", "-o", target)
    deadline = time.monotonic() + 60
    while not any(".tmp-" in name for name in leftovers(tmp_path)):
        assert proc.poll() is None, "the run ended before its temporary file was seen"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    target.write_bytes(b"someone else's results")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert "not replaced" in stderr
    assert target.read_bytes() == b"someone else's results"
    kept = [name for name in leftovers(tmp_path) if ".tmp-" in name]
    assert len(kept) == 1 and kept[0] in stderr, "the finished results are kept and named"
    with h5py.File(tmp_path / kept[0], "r") as f:
        assert attr_str(f.attrs["status"]) == "complete"


def test_small_parameter_file_runs_and_reproduces(tmp_path):
    out = tmp_path / "one.h5"
    tradeabm("run", "-q", ONE_SECTOR, "-o", out, check_status=0)
    proc = tradeabm("reproduce", out, "--threads", "1", check_status=0)
    assert "digests match" in proc.stdout


def test_info_on_an_hdf5_file_that_is_not_a_run_file_exits_2(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
    proc = tradeabm("info", path, check_status=2)
    assert "not a tradeabm run file" in proc.stderr


def test_reproduce_refuses_an_incomplete_file_with_exit_2(tmp_path, run_file):
    copy = copy_to(run_file, tmp_path, "partial.h5")
    with h5py.File(copy, "r+") as f:
        f.attrs["status"] = "incomplete"
    proc = tradeabm("reproduce", copy, check_status=2)
    assert "incomplete" in proc.stderr


# ---- tables people read ------------------------------------------------------------

E_NOTATION = re.compile(r"\d[eE][+-]?\d")


def assert_readable(stdout):
    """No line wider than 100 columns, no number in e-notation."""
    for line in stdout.splitlines():
        assert len(line) <= 100, line
        assert not E_NOTATION.search(line), line


def test_run_header_and_summary_are_readable_and_singular_where_one(tmp_path):
    """One sector, one thread: "1 sector", "1 thread" (not "1 sectors"); firm
    counts with thousands separators; export values with SI suffixes in a
    block of their own, apart from the firm shares."""
    proc = tradeabm("run", ONE_SECTOR, "-o", "one.h5", "--threads", "1",
                    "--set", "sectors.steel.firms=12000", cwd=tmp_path, check_status=0)
    assert_readable(proc.stdout)
    header = " ".join(proc.stdout.splitlines()[:2])
    assert "12,000 firms in 1 sector, 2 destinations   8 periods" in header and "1 thread" in header, header
    assert "1 threads" not in header and "1 sectors" not in header
    firms_block, value_block = proc.stdout.split("Export value by destination", 1)
    assert "US only" in firms_block and "%" in firms_block
    assert "non-US" in value_block and "US only" not in value_block
    # Model money has no decimal places beyond four significant digits.
    assert not re.search(r"\d{5,}\.\d", proc.stdout), proc.stdout


def test_compare_table_fits_100_columns_without_e_notation(tmp_path):
    """The effects table is long (one row per sector and outcome), intervals
    read "lo to hi" with no thousands separator inside them."""
    from helpers import DATA
    proc = tradeabm("compare", DATA / "analysis_small.yaml", DATA / "analysis_scenario.yaml",
                    "--replicates", "2", "-o", tmp_path / "c.h5", check_status=0)
    table = proc.stdout[proc.stdout.index("Effects"):proc.stdout.index("\nwrote ")]
    assert_readable(table)
    rows = [line for line in table.splitlines() if " to " in line and not line.startswith("Effects")]
    assert len(rows) >= 6, proc.stdout
    for line in rows:
        interval = line.rsplit("   ", 1)[1]
        assert "," not in interval and re.fullmatch(r"-?[\d.]+ to -?[\d.]+", interval), line


# ---- progress on stderr --------------------------------------------------------------

PROGRESS_LINE = re.compile(r"\[\d+/\d+\] .+; [\d.]+ (s|min|h) elapsed(, about [\d.]+ (s|min|h) left)?")


def progress_lines(stderr):
    lines = stderr.splitlines()
    for line in lines:
        assert PROGRESS_LINE.fullmatch(line), line
    assert "\r" not in stderr  # a batch log gets whole lines, never a rewritten one
    return lines


def test_run_progress_in_a_batch_log_is_plain_periodic_lines_with_time_left(tmp_path):
    """stderr is a pipe here, as in a batch job: with a line at every update
    (TRADEABM_PROGRESS_SECONDS=0) every period of 4 burn-in + 8 logged shows,
    with the time left; with the default interval a short run writes only
    its first and last lines; -q writes nothing."""
    every = environment(extra={"TRADEABM_PROGRESS_SECONDS": "0"})
    proc = run("run", ONE_SECTOR, "-o", "a.h5", cwd=tmp_path, env=every)
    lines = progress_lines(proc.stderr)
    assert [line.split("]")[0] for line in lines] == [f"[{k}/12" for k in range(1, 13)]
    assert any("left" in line for line in lines) and "2025Q4" in lines[-1]
    default = run("run", ONE_SECTOR, "-o", "b.h5", cwd=tmp_path)
    lines = progress_lines(default.stderr)
    assert len(lines) == 2 and lines[0].startswith("[1/12]") and lines[-1].startswith("[12/12]")
    assert run("run", ONE_SECTOR, "-o", "c.h5", "-q", cwd=tmp_path).stderr == ""


def test_compare_and_reproduce_report_progress_on_stderr(tmp_path):
    """compare used to print its progress on stdout without a time left."""
    from helpers import DATA
    every = environment(extra={"TRADEABM_PROGRESS_SECONDS": "0"})
    proc = run("compare", DATA / "analysis_small.yaml", DATA / "analysis_scenario.yaml", "--replicates", "2",
               "-o", "c.h5", cwd=tmp_path, env=every)
    lines = progress_lines(proc.stderr)
    assert [line.split("]")[0] for line in lines] == ["[0/4", "[1/4", "[2/4", "[3/4", "[4/4"]
    assert "replicate 2 of 2, scenario" in lines[3] and "left" in lines[3]
    assert "replicate 1 of 2" not in proc.stdout and "seed" not in proc.stdout
    proc = run("reproduce", tmp_path / "c-runs" / "base-r01.h5", env=every)
    assert progress_lines(proc.stderr)[-1].startswith("[32/32] periods")


# ---- skips for what the machine lacks ----------------------------------------------

NEEDS_SLURM = """\
from helpers import require


def test_runs_here():
    assert True


def test_needs_a_daemon():
    require(False, "slurmd is not installed (apt-get install slurm-wlm)")
"""


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_skip_for_the_machine_is_ctest_skip_with_its_reason_and_a_failure_in_ci(tmp_path, ci):
    """helpers.require: outside CI the file exits 77 (ctest's SKIP_RETURN_CODE)
    and prints the reason, after the other tests ran; under CI=true it fails."""
    import shutil
    import subprocess
    import sys
    here = Path(__file__).resolve().parent
    for name in ("helpers.py", "conftest.py"):
        shutil.copy(here / name, tmp_path / name)
    (tmp_path / "test_needs.py").write_text(NEEDS_SLURM)
    env = environment(extra={"CI": ci})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_needs.py"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    if ci:
        assert proc.returncode == 1, proc.stdout
        assert "CI=true and slurmd is not installed" in proc.stdout and "1 passed" in proc.stdout
    else:
        assert proc.returncode == 77, proc.stdout
        assert "tradeabm-tests: skipped: slurmd is not installed (apt-get install slurm-wlm)" in proc.stdout
        assert "1 passed, 1 skipped" in proc.stdout


# ---- sources cited stay inside the repository ------------------------------------------


def test_every_cited_source_is_inside_the_repository():
    """Parameter files, docs and sources cite docs/sources.md and other
    files of the repository, never a folder outside it; every docs/*.md
    they name exists."""
    from helpers import SOURCE_DIR
    outside = re.compile(r"/work/|\.\./shared|CALIBRATION\.md|shared/DESIGN|shared/STYLE")
    named = re.compile(r"\bdocs/[\w-]+\.md\b")
    files = [p for pattern in ("params/**/*.yaml", "docs/**/*.md", "README.md", "src/**/*.[ch]", "models/*.[ch]",
                               "analysis/**/*.py", "runs/*.sh", "tests/data/**/*.yaml")
             for p in SOURCE_DIR.glob(pattern)]
    assert len(files) > 50
    for path in files:
        text = path.read_text(errors="replace")
        assert not outside.search(text), f"{path}: {outside.search(text).group(0)}"
        if path.parts[len(SOURCE_DIR.parts)] == "analysis":
            continue  # its pages are the analysis package's (docs/reports.md); not checked here
        for doc in set(named.findall(text)):
            assert (SOURCE_DIR / doc).is_file(), f"{path} names {doc}, which does not exist"
    sources = (SOURCE_DIR / "docs" / "sources.md").read_text()
    for fact in ("48,036", "77.7%", "4 Mar 2025", "20 Feb 2026", "Simonovska and Waugh"):
        assert fact in sources


def test_analysis_launcher_works_from_any_folder_and_through_a_link(tmp_path):
    """runs/analysis from a folder outside the repository, called through a
    symbolic link as the README suggests, with no PYTHONPATH set."""
    import os
    import subprocess
    from helpers import SOURCE_DIR
    run("run", ONE_SECTOR, "-o", "one.h5", "-q", cwd=tmp_path)
    link = tmp_path / "tradeabm-analysis"
    link.symlink_to(SOURCE_DIR / "runs" / "analysis")
    env = environment()
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(link), "export", "one.h5", "-o", "tables"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tables" / "series.csv").stat().st_size > 0
    assert os.access(SOURCE_DIR / "runs" / "analysis", os.X_OK)


def test_hdf5_is_linked_from_its_static_archives_where_they_are_installed():
    """The shared HDF5 library loads libcurl and its chain (TLS, LDAP,
    Kerberos) at every start of the program, for a read-only S3 driver
    tradeabm never uses (about 13 ms a start, and the program starts
    twice: src/main.c). With libhdf5-dev's static archives present the
    build links those (CMakeLists.txt, TRADEABM_STATIC_HDF5), and the
    program depends on neither library."""
    archives = list(Path("/usr/lib").glob("*/hdf5/serial/libhdf5.a"))
    require(bool(archives), "libhdf5-dev's static archive libhdf5.a (apt-get install libhdf5-dev)")
    libraries = subprocess.run(["ldd", str(BINARY)], capture_output=True, text=True, check=True).stdout
    assert "libhdf5" not in libraries and "libcurl" not in libraries, libraries
    # The same HDF5 writes the files: the version the program reports.
    version = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"HDF5 1\.\d+\.\d+", version), version
