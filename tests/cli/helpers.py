"""What the command-line and analysis tests share: where the source tree,
the binary and the parameter files are, running the binary (an unexpected
exit status is a test failure with the program's output, never a skip),
scratch folders, and reading run files back.

    from helpers import BASELINE, run, h5_attrs
    proc = run("check", BASELINE)              # must exit 0
    proc = run("run", path, status=2)          # must exit 2
    proc = run("run", path, status=None)       # any status

ctest sets TRADEABM (the binary) and TRADEABM_SOURCE_DIR; without them the
tests use build/tradeabm of this source tree."""

import os
import subprocess
import sys
from pathlib import Path

import h5py

SOURCE_DIR = Path(os.environ.get("TRADEABM_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BINARY = Path(os.environ.get("TRADEABM") or SOURCE_DIR / "build" / "tradeabm").resolve()

# The analysis package is imported from the source tree under test.
if str(SOURCE_DIR) not in sys.path:
    sys.path.insert(0, str(SOURCE_DIR))

PARAMS = SOURCE_DIR / "params"
BASELINE = PARAMS / "canada_baseline.yaml"
SCENARIOS = PARAMS / "scenarios"
REPLICATIONS = PARAMS / "replications"
DATA = SOURCE_DIR / "tests" / "data"
SMALL = DATA / "analysis_small.yaml"          # a few thousand firms, fast
ONE_SECTOR = DATA / "cli_one_sector.yaml"     # one sector, two destinations
BAD = DATA / "bad"                            # the malformed-input catalogue


def environment(threads=2, extra=None):
    """The test process's environment with OMP_NUM_THREADS set (None: left
    as it is) and `extra` added."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra or {})
    return env


def describe(args, proc):
    return (f"tradeabm {' '.join(map(str, args))} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def run(*args, status=0, cwd=None, env=None, threads=2, timeout=300, **popen):
    """Run the binary with `args` (converted to text) and return the
    CompletedProcess (text output). With `status` not None the exit status
    must be that number. `popen` goes to subprocess.run (preexec_fn, ...)."""
    proc = subprocess.run([str(BINARY), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          errors="replace", env=env or environment(threads), timeout=timeout, **popen)
    if status is not None:
        assert proc.returncode == status, f"expected exit {status}: " + describe(args, proc)
    return proc


def start(*args, cwd=None, env=None, threads=2):
    """Start the binary without waiting (text pipes for its output)."""
    return subprocess.Popen([str(BINARY), *map(str, args)], cwd=cwd, env=env or environment(threads),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_error(proc):
    """The single `tradeabm: error: ...` line a failed command must print."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tradeabm: error: "), proc.stderr
    return lines[0]


def scratch(tmp_path_factory, name, *copies):
    """A fresh folder for a module's files, holding copies of `copies`
    (paths), so that edits elsewhere cannot change a run."""
    folder = tmp_path_factory.mktemp(name)
    for path in copies:
        (folder / Path(path).name).write_bytes(Path(path).read_bytes())
    return folder


def write(folder, name, text):
    """Write `text` to folder/name and return the path."""
    path = Path(folder) / name
    path.write_text(text)
    return path


def copy_to(path, folder, name):
    """A byte copy of `path` as folder/name; returns the new path."""
    copy = Path(folder) / name
    copy.write_bytes(Path(path).read_bytes())
    return copy


def listing(folder):
    """Every path below `folder`, relative to it, sorted."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def text(value):
    """An HDF5 string (bytes or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def h5_attrs(path):
    """The root attributes of an HDF5 file, strings decoded."""
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def digest(path):
    """The digest `tradeabm info` prints for a run file."""
    for line in run("info", path).stdout.splitlines():
        if line.startswith("digest"):
            return line.split()[-1]
    raise AssertionError(f"tradeabm info {path} printed no digest")


def load(path):
    """analysis.load(path): a Run, Sweep or Comparison."""
    import analysis
    return analysis.load(path)


def leaves(node, path="", matrices=False):
    """(dotted path, value) of every scalar in nested parameter dicts and
    lists (list items as `[i]`); with matrices=True a list that holds no
    dict (a matrix, a list of numbers) is one value."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k), matrices)
    elif isinstance(node, list) and not (matrices and not any(isinstance(v, dict) for v in node)):
        for i, v in enumerate(node):
            yield from leaves(v, f"{path}[{i}]", matrices)
    else:
        yield path, node


def check_parameters(*args):
    """The resolved parameters `tradeabm check` prints for `args`, as
    (canonical text without the sha256 line, nested dicts read by
    analysis.parse_parameters)."""
    from analysis import parse_parameters
    out = run("check", *args).stdout
    body, _, last = out.rstrip("\n").rpartition("\n")
    assert last.startswith("# sha256: "), out
    return body + "\n", parse_parameters(body)


# Tests that need something of the machine (Slurm daemons, mpirun, cgroups,
# a browser) call require(); conftest.py turns such skips into ctest's SKIP
# status (77) with the reason printed, and CI makes them failures.
ENVIRONMENT_SKIP = "needs the machine: "


def require(available, reason):
    """Go on if `available`; else skip this test, saying what is missing
    and how to get it (`reason`) - or fail under CI=true, where
    tests/run_all.sh has installed everything and a skip would hide that
    something is broken. A skip is for what the machine lacks, never for
    a program failure."""
    import pytest
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(ENVIRONMENT_SKIP + reason)
