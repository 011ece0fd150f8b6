"""Run files carry HDF5 dimension scales on their series: period labels,
sector, destination and market-set names label the axes (docs/output.md),
so h5py and xarray see named coordinates. The scales are attributes; the
data and the digest over them are unchanged."""
import h5py

import analysis
from helpers import SMALL, run

AXES = {
    "series/firms_serving": ["label", "sectors", "destinations"],
    "series/export_value": ["label", "sectors", "destinations"],
    "series/firms_by_market_set": ["label", "sectors", "market_sets"],
    "series/deaths": ["label", "sectors"],
    "series/non_us_share": ["label"],
    "series/exporters_by_level": ["label", "sectors", "destinations", None],
    "series/firms_by_productivity_and_set": ["label", "sectors", None, "market_sets"],
    "environment/regime": ["label", "destinations"],
    "environment/tariff": ["label", "sectors", "destinations"],
}
SCALE_NAMES = {"label": "period", "sectors": "sector", "destinations": "destination", "market_sets": "market_set"}


def test_series_axes_have_scales_and_the_digest_is_over_the_data(tmp_path):
    out = tmp_path / "run.h5"
    run("run", SMALL, "-o", out, "-q")
    with h5py.File(out, "r") as f:
        for path, axes in AXES.items():
            d = f[path]
            assert len(d.dims) == len(axes), path
            for axis, want in enumerate(axes):
                attached = [v.name.rsplit("/", 1)[-1] for v in d.dims[axis].values()]
                assert attached == ([want] if want else []), (path, axis, attached)
                if want:
                    scale = d.dims[axis][0]
                    assert scale.attrs["NAME"].decode() == SCALE_NAMES[want]
                    assert scale.shape[0] == d.shape[axis]
        # Every /series dataset's first axis is the periods.
        for name, d in f["series"].items():
            assert [v.name for v in d.dims[0].values()] == ["/periods/label"], name
        recorded = f.attrs["digest"]
        recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
    # The digest recomputed in Python from the data alone matches the one
    # the writer recorded, and the C check agrees.
    assert analysis.compute_digest(out) == recorded
    run("verify", out)


def test_each_scale_lists_the_axes_attached_to_it(tmp_path):
    """Both halves of HDF5's dimension-scale records: a dataset's
    DIMENSION_LIST names its scales and each scale's REFERENCE_LIST names
    every (dataset, axis) attached to it, so HDF5's own check
    (H5DSis_attached, which reads both) holds for every attached axis."""
    out = tmp_path / "run.h5"
    run("run", SMALL, "-o", out, "-q")
    with h5py.File(out, "r") as f:
        attached = {}
        for path, axes in AXES.items():
            d = f[path]
            for axis, want in enumerate(axes):
                if want:
                    scale = d.dims[axis][0]
                    assert h5py.h5ds.is_attached(d.id, scale.id, axis), (path, axis)
                    attached.setdefault(scale.name, set()).add((d.name, axis))
        for scale_name, pairs in attached.items():
            listed = {(f[ref].name, int(axis)) for ref, axis in f[scale_name].attrs["REFERENCE_LIST"]}
            assert pairs <= listed, scale_name
            # Every listed pair is a real attachment back.
            for name, axis in listed:
                assert [v.name for v in f[name].dims[axis].values()] == [scale_name], (name, axis)
