"""Damaged run files are detected (issue 14, item 1). Every chunked dataset
of a run file carries HDF5's Fletcher32 checksum, which HDF5 (and h5py)
verify on every read; the firm panel's chunks, written directly by the
panel encoder, append the same checksum themselves. `run --resume`
checks the stored series against the checkpoint's running SHA-256 before
appending, so a partial file damaged after the checkpoint is refused with
the dataset named and left untouched."""
import signal
import time

import h5py
import numpy as np
import pytest

from helpers import SMALL, copy_to, one_error, run, start

MEDIUM = ["--set", "run.periods=40", "--set", "run.burn_in=2", "--set", "sectors.agrifood.firms=1000000"]


def test_every_chunked_dataset_has_a_fletcher32_checksum(tmp_path):
    run("run", SMALL, "-o", "p.h5", "-q", "--panel", "--set", "run.periods=5", cwd=tmp_path)
    chunked = []
    with h5py.File(tmp_path / "p.h5", "r") as f:
        f.visititems(lambda name, obj: chunked.append((name, obj.fletcher32))
                     if isinstance(obj, h5py.Dataset) and obj.chunks else None)
        # Reading the panel verifies the checksums the encoder appended.
        for s in f["panel"]:
            for which in f["panel"][s]:
                f["panel"][s][which][()]
    assert any(name.startswith("panel/") for name, _ in chunked)
    assert any(name == "series/export_value" for name, _ in chunked)
    assert [name for name, has in chunked if not has] == []


def flip_byte_in_chunk(path, dataset, chunk=0):
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        b = fh.read(1)
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes([b[0] ^ 0x10]))


def test_a_flipped_bit_in_a_panel_chunk_fails_the_read(tmp_path):
    run("run", SMALL, "-o", "p.h5", "-q", "--panel", "--set", "run.periods=5", cwd=tmp_path)
    with h5py.File(tmp_path / "p.h5", "r") as f:
        sector = list(f["panel"])[0]
    flip_byte_in_chunk(tmp_path / "p.h5", f"panel/{sector}/markets")
    with h5py.File(tmp_path / "p.h5", "r") as f:
        with pytest.raises(OSError):
            f[f"panel/{sector}/markets"][()]


def killed_partial(tmp_path, extra=()):
    """A run killed after a checkpoint: (checkpoint, partial file)."""
    params = copy_to(SMALL, tmp_path, "small.yaml")
    proc = start("run", params, "-o", "run.h5", "-q", "--checkpoint-every", "3", *MEDIUM, *extra, cwd=tmp_path)
    ckpt = tmp_path / "run.h5.ckpt"
    t0 = time.time()
    while not ckpt.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 120
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    partial = [p for p in tmp_path.iterdir() if p.name.startswith("run.h5.tmp-")]
    assert len(partial) == 1
    return ckpt, partial[0]


@pytest.mark.parametrize("damage", ["flipped bit", "doubled value"])
def test_resume_refuses_a_damaged_partial_file_naming_the_dataset(tmp_path, damage):
    ckpt, partial = killed_partial(tmp_path)
    if damage == "flipped bit":
        flip_byte_in_chunk(partial, "series/export_value")
        expect = "dataset /series/export_value is damaged"
    else:
        with h5py.File(partial, "r+") as f:  # HDF5 recomputes the chunk's checksum
            f["series/export_value"][0, 0, 0] *= 2
        expect = "dataset /series/export_value differs from what the checkpoint recorded"
    before = partial.read_bytes()
    res = run("run", "--resume", ckpt, "-q", status=1, cwd=tmp_path)
    assert expect in one_error(res)
    assert partial.read_bytes() == before, "the damaged file is left as it is"
    assert ckpt.exists() and not (tmp_path / "run.h5").exists()


@pytest.mark.parametrize("damage", ["flipped bit", "rewritten value"])
def test_resume_refuses_a_damaged_panel_naming_the_dataset(tmp_path, damage):
    ckpt, partial = killed_partial(tmp_path, ["--panel"])
    dataset = "panel/agrifood/markets"
    if damage == "flipped bit":
        # The first period's chunk, which the checkpoint covers.
        flip_byte_in_chunk(partial, dataset)
        expect = f"dataset /{dataset} is damaged (a chunk fails its checksum"
    else:
        with h5py.File(partial, "r+") as f:  # HDF5 recomputes the chunk's checksum
            f[dataset][0, 5] ^= 1
        expect = f"dataset /{dataset} differs from what the checkpoint recorded"
    before = partial.read_bytes()
    res = run("run", "--resume", ckpt, "-q", status=1, cwd=tmp_path)
    assert expect in one_error(res)
    assert partial.read_bytes() == before, "the damaged file is left as it is"
    assert ckpt.exists() and not (tmp_path / "run.h5").exists()


@pytest.fixture
def finished(tmp_path):
    run("run", SMALL, "-o", "run.h5", "-q", "--set", "run.periods=40", cwd=tmp_path)
    return tmp_path / "run.h5"


def test_verify_accepts_an_intact_file(finished):
    res = run("verify", finished)
    with h5py.File(finished, "r") as f:
        assert f"recorded digest {f.attrs['digest']}" in res.stdout


def damage_by(path, how):
    if how == "doubled value":
        with h5py.File(path, "r+") as f:  # through HDF5: the chunk checksum is recomputed
            f["series/export_value"][1, 0, 0] *= 2
        return "dataset /series/export_value is damaged: its values differ"
    # Up to 4 KiB of the largest chunk's stored bytes (the file's middle,
    # used before, can fall in metadata once its B-tree nodes are small).
    chunks = []
    with h5py.File(path, "r") as f:
        def collect(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    info = obj.id.get_chunk_info(i)
                    chunks.append((info.size, info.byte_offset))
        f.visititems(collect)
    size, offset = max(chunks)
    length = min(size, 4096)
    data = bytearray(path.read_bytes())
    data[offset:offset + length] = bytes((i * 151 + 7) % 256 for i in range(length))
    path.write_bytes(bytes(data))
    return "is damaged (a chunk fails its checksum"


@pytest.mark.parametrize("command", ["verify", "info", "reproduce"])
@pytest.mark.parametrize("how", ["doubled value", "4 KiB overwritten"])
def test_damage_is_detected_and_named(finished, command, how):
    expect = damage_by(finished, how)
    before = finished.read_bytes()
    res = run(command, finished, status=1)
    msg = one_error(res)
    assert expect in msg and "dataset /" in msg, msg
    assert "reproduced" not in res.stdout
    assert finished.read_bytes() == before


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished small sweep (12 runs), indexed; tests damage copies."""
    from sweep_helpers import grid_sweep
    folder = tmp_path_factory.mktemp("sweep")
    run("sweep", grid_sweep(folder), "-o", folder / "out", "-q", threads=1)
    return folder / "out"


@pytest.mark.parametrize("how", ["doubled value", "4 KiB overwritten"])
def test_sweep_index_refuses_a_damaged_run_naming_it(swept, tmp_path, how):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(swept, out)
    run("sweep-index", out)  # intact: indexed again
    index_before = (out / "sweep.h5").read_bytes()
    damaged = out / "runs" / "p0001-r00.h5"
    expect = damage_by(damaged, how)
    res = run("sweep-index", out, status=1)
    msg = one_error(res)
    assert "p0001-r00.h5" in msg and expect in msg and "dataset /" in msg, msg
    # The index is not rewritten and no temporary is left.
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in swept.iterdir())
    assert (out / "sweep.h5").read_bytes() == index_before


@pytest.mark.parametrize("how", ["superblock overwritten", "truncated"])
def test_sweep_index_refuses_a_run_it_cannot_read(swept, tmp_path, how):
    """A file under a run's name is a closed run's (runs are written under
    temporary names), so one HDF5 cannot open is damaged: the index stops
    naming it, as for a failing checksum, instead of calling it incomplete."""
    import shutil
    out = tmp_path / "out"
    shutil.copytree(swept, out)
    index_before = (out / "sweep.h5").read_bytes()
    damaged = out / "runs" / "p0002-r01.h5"
    data = damaged.read_bytes()
    if how == "truncated":
        damaged.write_bytes(data[:len(data) // 2])
    else:
        damaged.write_bytes(bytes(512) + data[512:])
    res = run("sweep-index", out, status=1)
    msg = one_error(res)
    assert "p0002-r01.h5" in msg and "damaged, cannot be read" in msg, msg
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in swept.iterdir())
    assert (out / "sweep.h5").read_bytes() == index_before

