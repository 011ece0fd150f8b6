"""The digest of a run file, recomputed from what is stored in it.

The C side (src/io/output.c, finish) hashes the data as it writes them; this
module recomputes the same SHA-256 from the file, so that a file can be
checked without re-running it and so that docs/output.md's definition is
tested. Layout and order are described in docs/output.md, "Digest".
"""

import hashlib

import h5py
import numpy as np

from .load import AnalysisError

TAG = b"tradeabm-digest-v1\0"
LABEL_MAX = 16  # TM_LABEL_MAX
PANEL_CHUNK = 1 << 18  # TM_PANEL_CHUNK: firms per compressed panel chunk
# Series in the order they are created (and hashed): (group, name).
SERIES_ORDER = (
    ("periods", "label"),
    ("series", "firms_serving"),
    ("series", "entrants"),
    ("series", "exiters"),
    ("series", "export_value"),
    ("series", "tariff_paid"),
    ("series", "mean_log_productivity"),
    ("series", "top10_share"),
    ("series", "firms_by_market_set"),
    ("series", "deaths"),
    ("series", "non_us_share"),
    ("environment", "regime"),
    ("environment", "tariff"),
    ("series", "firms_by_productivity_and_set"),
    ("series", "exporters_by_level"),
    ("series", "entrant_export_value"),
    ("series", "firms_by_type_productivity_and_set"),  # only with demand types
    ("series", "completed_spells"),  # only with run.spells
    ("environment", "statutory_tariff"),  # only with statutory rates
)
# Datasets of /policy in the digest, in the order they are written.
POLICY_ORDER = ("entry_cutoff", "exit_cutoff", "solve_iterations", "solve_residual")
EVENT_FIELDS = (("period", "<i4"), ("label", "S16"), ("kind", "S16"), ("destination", "S32"),
                ("sector", "S32"), ("regime", "S32"), ("value", "<f8"), ("note", "S160"))

_MASK = (1 << 64) - 1
_K = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _MASK


def _finalise(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def fingerprint(data):
    """The 128-bit fingerprint of src/io/fingerprint.c (16 bytes)."""
    data = bytes(data)
    n = len(data)
    full = n // 32 * 32
    tail = data[full:] + bytes(32 - (n - full))
    words = np.frombuffer(data[:full] + tail, dtype="<u8").tolist()
    lane = list(_K)
    for i in range(0, len(words), 4):
        for j in range(4):
            lane[j] = (_rotl(lane[j] ^ ((words[i + j] * _K[j]) & _MASK), 29) * _K[(j + 1) & 3]) & _MASK
    a = _finalise(lane[0] ^ _rotl(lane[2], 17) ^ n)
    b = _finalise(lane[1] ^ _rotl(lane[3], 17) ^ a)
    a = _finalise(a ^ lane[3])
    return a.to_bytes(8, "little") + b.to_bytes(8, "little")


def _strings_bytes(name, values):
    out = name.encode() + b"\0"
    for v in values:
        out += (v if isinstance(v, bytes) else str(v).encode()) + b"\0"
    return out


def _le(array):
    """Raw little-endian bytes of an array as the C side held it in memory."""
    a = np.asarray(array)
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def _padded(values, size):
    return np.array(list(values), dtype=f"S{size}").tobytes()


def compute_digest(path):
    """Recompute the digest of a run file; compare with its `digest`
    attribute."""
    try:
        f = h5py.File(str(path), "r")
    except OSError as exc:
        raise AnalysisError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        try:
            return _digest(f)
        except KeyError as exc:
            raise AnalysisError(path, f"missing data for the digest ({exc})") from None


def _digest(f):
    sha = hashlib.sha256()
    sha.update(TAG)
    canonical = f["parameters"][()]
    canonical = canonical if isinstance(canonical, bytes) else canonical.encode()
    sha.update(canonical + b"\0")

    static = hashlib.sha256()
    for name in ("sectors", "destinations", "market_sets", "market_states"):
        if name in f["dimensions"]:  # market_states: only with experience levels
            static.update(_strings_bytes(name, f["dimensions"][name][()]))
    if "type_multipliers" in f["dimensions"]:  # only with demand types
        static.update(b"type_multipliers\0" + _le(f["dimensions/type_multipliers"][()].astype("<f8")))
    for d in f["dimensions/destinations"][()]:
        d = d.decode() if isinstance(d, bytes) else d
        static.update(_strings_bytes(d, f["dimensions/regimes"][d][()]))
    static.update(b"z\0" + _le(f["grid/z"][()].astype("<f8")))
    policy = f.get("policy")
    if policy is not None:
        # The solved policy, except its (non-reproducible) solve time.
        for name in POLICY_ORDER:
            if name in policy:
                static.update(name.encode() + b"\0" + _le(policy[name][()]))
    sha.update(static.digest())

    for group, name in SERIES_ORDER:
        if name not in f[group]:
            continue
        ds = f[group][name]
        if name == "label":
            data = _padded(ds[()], LABEL_MAX)
        else:
            data = _le(ds[()])
        sha.update(name.encode() + b"\0" + hashlib.sha256(data).digest())

    if int(f.attrs.get("panel", 0)):
        for s in f["dimensions/sectors"][()]:
            s = s.decode() if isinstance(s, bytes) else s
            sha.update(s.encode() + b"\0")
            for which in ("z_index", "markets", "type"):  # type: only with demand types
                if which not in f["panel"][s]:
                    continue
                ds = f["panel"][s][which]
                h = hashlib.sha256()
                periods, n = ds.shape
                for t in range(periods):
                    row = _le(ds[t])
                    elem = ds.dtype.itemsize
                    for off in range(0, n, PANEL_CHUNK):
                        end = min(n, off + PANEL_CHUNK)
                        h.update(fingerprint(row[off * elem:end * elem]))
                sha.update(h.digest())

    sha.update(b"events\0")
    events = f["events"][()]
    for row in events:
        for field, fmt in EVENT_FIELDS:
            v = row[field]
            if fmt.startswith("S"):
                sha.update(_padded([v], int(fmt[1:])))
            else:
                sha.update(np.array(v, dtype=fmt).tobytes())
    return sha.hexdigest()
