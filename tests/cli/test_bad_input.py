"""Malformed inputs: every case in tests/data/bad/ must fail with one clear
error (naming the file, line and key), exit status 2, and write nothing."""
import os
import re
import resource
import shutil
import signal

import pytest

from helpers import BAD as CATALOGUE
from helpers import listing, run


def header(path):
    """The `# key: value` lines at the top of a case file."""
    fields = {}
    with open(path, "rb") as f:
        for raw in f:
            if not raw.startswith(b"#"):
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = re.match(r"# ([a-z-]+): ?(.*)$", line)
            if m:
                fields[m.group(1)] = m.group(2)
    return fields


CASES = sorted(p.name for p in CATALOGUE.glob("*.yaml") if "expect" in header(p))


def limits(fields):
    """preexec_fn applying the case's resource limits; SIGXFSZ ignored so
    that writes past the file-size limit fail with EFBIG."""
    as_limit = int(fields["limit-as"]) if "limit-as" in fields else None
    fsize = int(fields["limit-fsize"]) if "limit-fsize" in fields else None

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if as_limit:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
        if fsize:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def run_case(tmp_path, name, command="run"):
    work = tmp_path / "work"
    shutil.copytree(CATALOGUE, work / "bad")
    out = work / "out"
    out.mkdir()
    (out / "earlier.h5").write_bytes(b"an earlier result that must stay untouched")
    before = listing(work)
    fields = header(CATALOGUE / name)
    args = fields.get("args", "").split()
    if command == "run":
        args += ["-o", "out/result.h5", "-q"]
    proc = run(command, "bad/" + name, *args, status=None, cwd=work, preexec_fn=limits(fields), timeout=120)
    after = listing(work)
    return proc, fields, before, after, work


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_refused_with_one_clear_message(tmp_path, name):
    proc, fields, before, after, work = run_case(tmp_path, name)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tradeabm: error: "), proc.stderr
    assert fields["expect"] in lines[0], lines[0]
    if "at" in fields:
        where = fields["at"]
        assert (where + ":") in lines[0] or (where.startswith("--set") and where in lines[0]), lines[0]
    assert proc.stdout == ""
    # Nothing written anywhere: same files, earlier file untouched, no temporaries.
    assert after == before, set(after) ^ set(before)
    assert (work / "out" / "earlier.h5").read_bytes() == b"an earlier result that must stay untouched"
    assert not [p for p in after if ".tmp-" in p or p.endswith(".ckpt")]


@pytest.mark.parametrize("name", [n for n in CASES if "limit-as" not in header(CATALOGUE / n)
                                  and "limit-fsize" not in header(CATALOGUE / n)])
def test_check_agrees_with_run(tmp_path, name):
    proc, fields, _, _, _ = run_case(tmp_path, name, command="check")
    assert proc.returncode == 2, proc.stderr
    assert fields["expect"] in proc.stderr


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.yaml").write_bytes(b"")
    proc = run("run", "empty.yaml", "-o", "x.h5", "-q", status=2, cwd=tmp_path)
    assert "empty.yaml" in proc.stderr and "empty" in proc.stderr.split("empty.yaml", 1)[1]
    assert listing(tmp_path) == ["empty.yaml"]


def test_missing_parameter_file(tmp_path):
    proc = run("run", "no_such.yaml", "-o", "x.h5", "-q", status=2, cwd=tmp_path)
    assert "no_such.yaml: cannot open" in proc.stderr
    assert listing(tmp_path) == []


def test_parameter_file_is_a_folder(tmp_path):
    (tmp_path / "params.yaml").mkdir()
    proc = run("run", "params.yaml", "-o", "x.h5", "-q", status=2, cwd=tmp_path)
    assert "params.yaml" in proc.stderr
    assert listing(tmp_path) == ["params.yaml"]


def test_catalogue_is_not_empty():
    assert len(CASES) >= 40


def test_extends_of_a_fifo_is_refused_at_once(tmp_path):
    """A FIFO named in `extends:` is refused before any read (it used to
    wait for a writer forever); the timeout turns a hang into a failure."""
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "child.yaml").write_text("extends: pipe.yaml\nrun: {seed: 1}\n")
    proc = run("check", "child.yaml", status=2, cwd=tmp_path, timeout=30)
    assert "child.yaml:1:10: extends: pipe.yaml: is a FIFO (named pipe), not a regular file" in proc.stderr
