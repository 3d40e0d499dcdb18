"""Vectorised helpers over a batch of light curves cut into (object, band) segments.

A batch is flattened into one array per quantity, sorted by segment
(``object * n_bands + band``) then time, so that every per-segment or
per-object statistic is one numpy call for the whole batch instead of one
call per light curve.  Used by :mod:`classifiers.features`.

Examples
--------
>>> import numpy as np
>>> seg = np.array([0, 0, 2])
>>> starts, counts = bounds(seg, 3)
>>> starts.tolist(), counts.tolist()
([0, 2, 2], [2, 0, 1])
>>> reduce(np.maximum, np.array([1.0, 5.0, 3.0]), starts, counts).tolist()
[5.0, nan, 3.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifiers.bands import UnknownBandError, canonical


@dataclass
class Batch:
    """Points of a batch in the model's bands, sorted by (object, band, time).

    ``tr`` is days since the curve's first detection, ``fn``/``en`` flux and
    error divided by the curve's ``scale`` (brightest S/N >= 3 flux, nJy).
    """

    n: int
    nb: int
    obj: np.ndarray
    seg: np.ndarray
    tr: np.ndarray
    fn: np.ndarray
    en: np.ndarray
    sig: np.ndarray
    scale: np.ndarray
    ostart: np.ndarray
    ocount: np.ndarray
    sstart: np.ndarray
    scount: np.ndarray


def prepare(
    lcs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    bands: Sequence[str],
    detection_snr: float,
    significant_snr: float,
    pre_window: float,
) -> Batch:
    """Flatten, window (from first detection - ``pre_window``), sort and normalise a batch."""
    n, nb = len(lcs), len(bands)
    lengths = np.fromiter((len(lc[0]) for lc in lcs), dtype=np.int64, count=n)
    obj = np.repeat(np.arange(n), lengths)
    t = np.concatenate([np.asarray(lc[0], dtype=np.float64) for lc in lcs]) if n else np.zeros(0)
    f = np.concatenate([np.asarray(lc[2], dtype=np.float64) for lc in lcs]) if n else t
    e = np.concatenate([np.asarray(lc[3], dtype=np.float64) for lc in lcs]) if n else t
    names = np.concatenate([np.asarray(lc[1]).astype(str) for lc in lcs]) if n else t
    band = band_index(names, obj, bands)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = f / e
    keep = (band >= 0) & np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0)
    ostart, ocount = bounds(obj[keep], n)
    first5 = reduce(np.minimum, np.where(snr >= detection_snr, t, np.inf)[keep], ostart, ocount)
    first3 = reduce(np.minimum, np.where(snr >= significant_snr, t, np.inf)[keep], ostart, ocount)
    t_first = np.where(np.isfinite(first5), first5, first3)
    with np.errstate(invalid="ignore"):
        keep &= t >= t_first[obj] - pre_window  # NaN t_first drops the whole curve
    seg = obj * nb + band
    order = np.flatnonzero(keep)
    order = order[np.lexsort((t[order], seg[order]))]
    obj, seg, snr, f, e = obj[order], seg[order], snr[order], f[order], e[order]
    tr = t[order] - t_first[obj]
    sig = snr >= significant_snr
    ostart, ocount = bounds(obj, n)
    scale = reduce(np.maximum, np.where(sig, f, -np.inf), ostart, ocount)
    sstart, scount = bounds(seg, n * nb)
    return Batch(
        n,
        nb,
        obj,
        seg,
        tr,
        f / scale[obj],
        e / scale[obj],
        sig,
        scale,
        ostart,
        ocount,
        sstart,
        scount,
    )


def band_index(names: np.ndarray, obj: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """Index of each point's band in ``bands`` (-1: a known band the model does not use).

    Names are resolved by :mod:`classifiers.bands` aliases (``R`` is ``r``); an
    unknown name raises :class:`~classifiers.bands.UnknownBandError` naming the
    light curve (its index in the batch).
    """
    out = np.full(names.size, -1, dtype=np.int64)
    if names.size == 0:
        return out
    wanted = [canonical(b) for b in bands]
    uniq, inverse = np.unique(names, return_inverse=True)
    for k, name in enumerate(uniq):
        try:
            letter = canonical(name)
        except UnknownBandError as exc:
            first = int(obj[np.flatnonzero(inverse.reshape(-1) == k)[0]])
            raise UnknownBandError(str(name), f"light curve #{first} of the batch") from exc
        if letter in wanted:
            out[inverse.reshape(-1) == k] = wanted.index(letter)
    return out


def bounds(sorted_ids: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index and size of each group of a sorted id array (empty groups included)."""
    counts = np.bincount(sorted_ids, minlength=n_groups)[:n_groups]
    starts = np.zeros(n_groups, dtype=np.int64)
    if n_groups > 1:
        np.cumsum(counts[:-1], out=starts[1:])
    return starts, counts


def reduce(
    ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """``ufunc.reduce`` over every group; NaN for empty groups and infinite results."""
    out = np.full(len(starts), np.nan)
    nonempty = counts > 0
    if values.size and nonempty.any():
        out[nonempty] = ufunc.reduceat(values, starts[nonempty])
    out[~np.isfinite(out)] = np.nan
    return out


def first_where(mask: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the first ``True`` of ``mask`` in each group (-1 if none)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    hits = np.flatnonzero(mask)
    if hits.size:
        groups, first = np.unique(ids[hits], return_index=True)
        out[groups] = hits[first]
    return out


def last_where(mask: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the last ``True`` of ``mask`` in each group (-1 if none)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    hits = np.flatnonzero(mask)[::-1]
    if hits.size:
        groups, first = np.unique(ids[hits], return_index=True)
        out[groups] = hits[first]
    return out


def take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` as float with NaN where ``index`` is -1."""
    out = np.full(index.shape, np.nan)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


def weighted_mean(values: np.ndarray, w: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """Weighted mean of ``values`` per group (NaN for empty groups)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(ids, w * values, n_groups) / np.bincount(ids, w, n_groups)


def weighted_slope(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, ids: np.ndarray, n_groups: int
) -> np.ndarray:
    """Weighted least-squares slope of ``y`` against ``x`` per group (NaN if < 2 points)."""
    sw, sx, sy, sxx, sxy = (
        np.bincount(ids, weights=v, minlength=n_groups)
        for v in (w, w * x, w * y, w * x * x, w * x * y)
    )
    n = np.bincount(ids, minlength=n_groups)
    den = sw * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (sw * sxy - sx * sy) / den
    slope[(n < 2) | ~(np.abs(den) > 1e-9 * np.maximum(sw * sxx, 1e-300))] = np.nan
    return slope


def interpolate(
    key: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    seg_of: np.ndarray,
    span: float,
    query: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """Linear interpolation inside segment ``i`` at ``query_key[i]``, for every segment.

    Parameters
    ----------
    key
        Sorted ``segment * span + time`` of every point.
    times, values, seg_of
        Time, value and segment of every point.
    span
        Larger than twice any ``|time|`` plus ``tolerance``.
    query
        Query time of each segment ``0 .. len(query) - 1``.
    tolerance
        A query outside a segment's time range takes the edge value when it is
        at most this far from the edge, else NaN.
    """
    seg = np.arange(query.size)
    out = np.full(query.shape, np.nan)
    n = key.size
    if n == 0:
        return out
    right = np.searchsorted(key, seg * span + query, side="left")
    r = np.minimum(right, n - 1)
    lo = np.maximum(right - 1, 0)
    r_ok = (right < n) & (seg_of[r] == seg)
    l_ok = (right >= 1) & (seg_of[lo] == seg)
    dx = times[r] - times[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(dx > 0, (query - times[lo]) / dx, 1.0)
    both = r_ok & l_ok
    out[both] = (values[lo] + frac * (values[r] - values[lo]))[both]
    only_l = l_ok & ~r_ok & (query - times[lo] <= tolerance)
    only_r = r_ok & ~l_ok & (times[r] - query <= tolerance)
    out[only_l] = values[lo][only_l]
    out[only_r] = values[r][only_r]
    return out
