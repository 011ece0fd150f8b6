"""The firm panel (`tradeabm run --panel`) as plain HDF5 readers see it:
one-byte productivity indices for grids of up to 256 points, two bytes
(shuffled) above; only HDF5's standard deflate and shuffle filters; chunks
that Python's zlib inflates to the stored bytes; the same file digest at 1 and
2 threads, equal to analysis.compute_digest. A sector of 300,000 firms spans
two chunks, the second one partial."""

import zlib

import h5py
import numpy as np
import pytest

from helpers import SMALL
from helpers import run as tradeabm

from analysis import compute_digest  # noqa: E402  (helpers puts the source tree on sys.path)

CHUNK = 1 << 18
STANDARD_FILTERS = {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32}


def run(out, grid, threads):
    tradeabm("run", SMALL, "-o", out, "-q", "--panel", "--threads", threads, "--set", f"productivity.grid={grid}",
             "--set", "run.periods=3", "--set", "sectors.agrifood.firms=300000")
    return out


@pytest.fixture(scope="module", params=[21, 300])
def files(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"panel{request.param}")
    return request.param, run(d / "t1.h5", request.param, 1), run(d / "t2.h5", request.param, 2)


def filters(ds):
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def test_index_width_follows_the_grid(files):
    grid, path, _ = files
    with h5py.File(path, "r") as f:
        for s in f["panel"]:
            z, m = f["panel"][s]["z_index"], f["panel"][s]["markets"]
            assert z.dtype == (np.uint8 if grid <= 256 else np.uint16)
            assert m.dtype == np.uint8
            values = z[:]
            assert values.max() < grid
            assert f["grid/z"].shape[1] == grid
            # Deflate, then the Fletcher32 checksum HDF5 verifies on read.
            assert set(filters(z)) <= STANDARD_FILTERS and filters(z)[-2:] == [h5py.h5z.FILTER_DEFLATE,
                                                                                 h5py.h5z.FILTER_FLETCHER32]
            assert filters(m) == [h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_FLETCHER32]
            assert (h5py.h5z.FILTER_SHUFFLE in filters(z)) == (grid > 256)


def test_chunks_inflate_with_plain_zlib(files):
    _, path, _ = files
    with h5py.File(path, "r") as f:
        z, m = f["panel/agrifood/z_index"], f["panel/agrifood/markets"]
        assert z.shape == (3, 300000) and z.chunks == (1, CHUNK)
        for ds in (z, m):
            item = ds.dtype.itemsize
            for t in range(ds.shape[0]):
                for off in (0, CHUNK):
                    mask, raw = ds.id.read_direct_chunk((t, off))
                    assert mask == 0
                    data = zlib.decompress(raw[:-4])  # the last 4 bytes: the checksum
                    assert len(data) == CHUNK * item
                    row = np.zeros(CHUNK, ds.dtype.newbyteorder("<"))
                    end = min(ds.shape[1], off + CHUNK)
                    row[:end - off] = ds[t, off:end]
                    stored = row.tobytes()
                    if item == 2:  # shuffled: low bytes, then high bytes
                        stored = stored[0::2] + stored[1::2]
                    assert data == stored


def test_digest_is_the_same_at_any_thread_count(files):
    _, one, two = files
    with h5py.File(one, "r") as a, h5py.File(two, "r") as b:
        assert a.attrs["digest"] == b.attrs["digest"]
        for s in a["panel"]:
            for which in ("z_index", "markets"):
                np.testing.assert_array_equal(a["panel"][s][which][:], b["panel"][s][which][:])
        digest = a.attrs["digest"]
        digest = digest.decode() if isinstance(digest, bytes) else digest
    assert compute_digest(one) == digest
