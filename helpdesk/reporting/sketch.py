"""A mergeable quantile sketch for durations: a fixed log-bucket histogram (DDSketch's mapping).

A duration of x seconds falls in bucket 0 when x < 1 s, else in bucket ⌈log_γ x⌉ + 1, with
γ = (1 + α) / (1 − α). Bucket i ≥ 1 holds (γ^(i−2), γ^(i−1)] and stands for 2·γ^(i−1) / (γ + 1):
whatever the value in it, that is within a relative error α of it. So the nearest-rank
percentile read from merged sketches is within α (1 %) of the exact nearest-rank percentile of
the raw values (under one second: within 1 s). Sketches add bucket by bucket, so a day cell's
sketch merges with any other: a period, a team, a filter.

A sketch is stored as bytes: (bucket, count) pairs, big-endian uint16 + uint32, by bucket —
what PostgreSQL's int2send/int4send write (`queries.reports.sketch_agg`); numpy reads
thousands of them at once.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from functools import cache

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)
#: Buckets kept: enough for 10⁹ s (32 years).
SIZE = int(math.ceil(math.log(1e9) / LN_GAMMA)) + 2
_PAIR = struct.Struct(">HI")
PAIR_SIZE = _PAIR.size


@cache
def pair_dtype():
    """numpy's view of the stored pairs (numpy is imported when a page first merges
    sketches, not when a process starts)."""
    import numpy as np

    return np.dtype([("b", ">u2"), ("n", ">u4")])


def bucket(x: float) -> int:
    """The bucket of a duration in seconds (the SQL twin: `queries.reports.sketch_bucket`)."""
    if x < 1:
        return 0
    return min(SIZE - 1, math.ceil(math.log(x) / LN_GAMMA) + 1)


def value(index: int) -> float:
    """The duration a bucket stands for."""
    return 0.0 if index == 0 else 2 * GAMMA ** (index - 1) / (GAMMA + 1)


def encode(counts: Iterable[tuple[int, int]]) -> bytes:
    """(bucket, count) pairs to bytes, sorted, zero counts left out."""
    return b"".join(_PAIR.pack(b, n) for b, n in sorted(counts) if n)


def merge(groups: Iterable, blobs: Iterable[bytes | None]) -> dict:
    """{group: histogram (numpy array of SIZE counts)}: the sketches of each group added up.

    :param groups: one hashable group key per blob (the same length as `blobs`)
    """
    import numpy as np

    keys, index, sizes, parts = {}, [], [], []
    for key, blob in zip(groups, blobs, strict=True):
        if not blob:
            continue
        slot = keys.setdefault(key, len(keys))
        index.append(slot)
        sizes.append(len(blob) // PAIR_SIZE)
        parts.append(blob)
    if not keys:
        return {}
    pairs = np.frombuffer(b"".join(parts), dtype=pair_dtype())
    rows = np.repeat(np.asarray(index, dtype=np.int64), sizes)
    hist = np.zeros((len(keys), SIZE), dtype=np.int64)
    np.add.at(hist, (rows, pairs["b"].astype(np.int64)), pairs["n"].astype(np.int64))
    return {key: hist[slot] for key, slot in keys.items()}


def quantile(hist, p: float) -> float | None:
    """Nearest-rank p-quantile of a histogram: the bucket of the ⌈p·n⌉-th value."""
    import numpy as np

    if hist is None:
        return None
    cumulative = np.cumsum(hist)
    n = int(cumulative[-1])
    if n == 0:
        return None
    rank = max(1, math.ceil(p * n))
    return value(int(np.searchsorted(cumulative, rank)))
