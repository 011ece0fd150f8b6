"""How a run file's series are laid out and written (issue 18, output):
a series chunk never spans more periods than the run logs (HDF5 filters a
chunk whole, so the periods a short run never fills would be deflated and
checksummed as zeros), and periods are staged in memory and written a
chunk at a time, so every period must reach the file whatever the run's
length, at the close, at checkpoints and when a run is resumed."""
import h5py
import pytest

from helpers import SMALL, digest, run


def series_chunks(path):
    with h5py.File(path, "r") as f:
        return {name: (f["series"][name].chunks[0], f["series"][name].shape[0]) for name in f["series"]}


def test_a_short_run_has_chunks_of_its_own_length(tmp_path):
    run("run", SMALL, "-o", "short.h5", "-q", "--set", "run.periods=12", cwd=tmp_path)
    chunks = series_chunks(tmp_path / "short.h5")
    assert chunks["export_value"] == (12, 12)
    assert all(rows == 12 and 1 <= chunk <= 12 for chunk, rows in chunks.values()), chunks


def test_a_long_run_keeps_chunks_of_64_periods(tmp_path):
    run("run", SMALL, "-o", "long.h5", "-q", "--set", "run.periods=100", cwd=tmp_path)
    chunks = series_chunks(tmp_path / "long.h5")
    assert chunks["export_value"] == (64, 100)


@pytest.mark.parametrize("periods", [1, 63, 64, 65, 130])
def test_every_period_reaches_the_file_and_verifies(tmp_path, periods):
    """Lengths around the 64-period chunk: a last chunk that is partly
    filled, exactly filled, or the first of a new one."""
    run("run", SMALL, "-o", "r.h5", "-q", "--set", f"run.periods={periods}", cwd=tmp_path)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        labels = [x.decode() for x in f["periods/label"][()]]
        assert len(labels) == periods
        assert len(set(labels)) == periods
        assert all(f["series"][name].shape[0] == periods for name in f["series"])
    run("verify", tmp_path / "r.h5")


def test_checkpoints_inside_a_chunk_give_the_same_file(tmp_path):
    """Checkpoints every 5 periods write the staged periods before each
    flush; the digest is that of a run without checkpoints."""
    run("run", SMALL, "-o", "plain.h5", "-q", "--set", "run.periods=70", cwd=tmp_path)
    run("run", SMALL, "-o", "ckpt.h5", "-q", "--set", "run.periods=70", "--checkpoint-every", 5, cwd=tmp_path)
    assert digest(tmp_path / "ckpt.h5") == digest(tmp_path / "plain.h5")
    run("verify", tmp_path / "ckpt.h5")


def test_series_chunks_are_shuffled_zlib_streams_that_hdf5_reads(tmp_path):
    """A chunk filled at once is encoded by the writer itself and written
    whole (H5Dwrite_chunk): shuffled, then a zlib stream (runs of a byte
    as matches at distance 1, Huffman-coded, or stored blocks when that
    is no shorter), then Fletcher-32, exactly what the dataset's filters
    undo when HDF5 reads it. Each chunk is checked against the values HDF5
    reads back through those filters."""
    import zlib

    import numpy as np

    run("run", SMALL, "-o", "r.h5", "-q", "--set", "run.periods=12", cwd=tmp_path)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        for name, d in f["series"].items():
            values = d[()]  # through HDF5's filters, checksum verified
            mask, raw = d.id.read_direct_chunk((0,) * d.ndim)
            assert mask == 0, name
            chunk_bytes = int(np.prod(d.chunks)) * d.dtype.itemsize
            stream = zlib.decompress(raw[:-4])
            assert len(stream) == chunk_bytes, name
            # Never longer than stored: header, one block's 5 bytes, the
            # data, Adler-32, Fletcher-32.
            assert len(raw) <= chunk_bytes + 2 + 5 + 4 + 4, name
            if d.dtype.kind == "i":
                # Counts: the high bytes of every value are zeros, which
                # the shuffle puts in runs.
                assert len(raw) < chunk_bytes // 2, name
            planes = np.frombuffer(stream, np.uint8).reshape(d.dtype.itemsize, -1)
            unshuffled = planes.T.copy().view(d.dtype).reshape(d.chunks)
            assert np.array_equal(unshuffled[: d.shape[0]], values, equal_nan=True), name
            assert not unshuffled[d.shape[0]:].any(), name
