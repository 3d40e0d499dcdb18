"""Feature set ``fsv2``: the light-curve features shared by training and the stream.

A light curve is a tuple ``(mjd_tai, band, flux_njy, flux_err_njy)`` of numpy
arrays.  :func:`extract` turns many light curves into a float32 matrix whose
columns are :func:`feature_names` of the model's bands, in that order.

Recipe (per light curve, only the model's bands):

1. ``t_first`` = first point with S/N >= 5 (else >= 3); points earlier than
   ``t_first - 30 d`` are dropped (Rubin carries 12 months of forced photometry).
   Fluxes and errors are divided by the brightest S/N >= 3 flux (``scale``) so
   that shape and colour features do not depend on distance; times are days
   since ``t_first``.
2. Per band, Rust ``light-curve`` statistics (``Extractor.many`` on the whole
   batch): mean, standard deviation, skew, kurtosis, fraction beyond 1 sigma,
   Stetson K, linear trend (slope, its error, noise), inter-percentile range.
3. Per band, vectorised numpy: peak flux (relative to the brightest band),
   peak time minus the global peak time, rise/fall slopes (mag/day, weighted
   least squares on S/N >= 3 points before/after the band's peak), days from
   half maximum to peak and from peak to half maximum, last flux / peak,
   fluxes interpolated 10 d before and 10/20/30 d after the global peak, and
   inverse-variance mean fluxes in five phase bins (edges -20, -7, 7, 20, 40, 70 d).
4. Colours (mag) of adjacent bands: of the peak fluxes, of interpolated fluxes
   at the global peak, 15 d after it and at the alert time, and of the bins.
5. One Bazin fit (``light-curve`` ``BazinFit``, LMSDER) in the fit band
   (``r``, present for ZTF and Rubin alike; ``fsv1`` used ``i``, absent on ZTF):
   amplitude, baseline, reference time, rise and fall times, reduced chi2.
   It is the costliest feature (20-40 us/alert).
6. Global: rise time (first detection to peak), time since peak, width above
   half maximum, time since the first detection (alert age), and the fraction
   of significant points (|S/N| >= 3) that are negative (flux below the
   template: variable stars and AGN, rarely supernovae).

``fsv2`` has no apparent-brightness feature (``fsv1``'s ``peak_mag`` measured
distance and survey depth and did not transfer from SNPCC to ZTF); every flux
is relative to the curve's brightest point.  Band names go through
:mod:`classifiers.bands` (unknown names raise).

The global peak time is the weighted mean time of the points above 70 % of
``scale`` in the band holding the brightest point.  Missing values are NaN
(the gradient-boosted trees send them down a learned branch).  A light curve
with fewer than :data:`MIN_POINTS` points of S/N >= 3 is not scored.

Examples
--------
>>> import numpy as np
>>> t = np.arange(12.0)
>>> flux = 100.0 * np.exp(-((t - 5) / 3) ** 2)
>>> lc = (t, np.array(list("gr") * 6), flux, np.full(12, 5.0))
>>> fm = extract([lc], ("g", "r"))
>>> fm.X.shape == (1, len(feature_names(("g", "r")))), fm.X.dtype.name, int(fm.n_significant[0])
(True, 'float32', 9)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import light_curve as lcf
import numpy as np

from classifiers import segments as sg
from classifiers.alertlc import DUPLICATE_DAYS, LightCurve, lightcurve_from_alert

FEATURE_SET = "fsv2"
FEATURE_SET_VERSION = 2
MIN_POINTS = 3
DETECTION_SNR = 5.0
SIGNIFICANT_SNR = 3.0
PRE_WINDOW_DAYS = 30.0
INTERP_TOLERANCE_DAYS = 5.0
FIT_BAND_PREFERENCE = ("r", "i")
PHASES = (-10.0, 10.0, 20.0, 30.0)
PHASE_BINS = (-20.0, -7.0, 7.0, 20.0, 40.0, 70.0)
CLIP = 1e9  # float32-safe bound for wild fit parameters
_MAG = 2.5 / np.log(10.0)

__all__ = ["DUPLICATE_DAYS", "LightCurve", "extract", "feature_names", "lightcurve_from_alert"]

_EXTRACTOR = lcf.Extractor(
    lcf.Mean(),
    lcf.StandardDeviation(),
    lcf.Skew(),
    lcf.Kurtosis(),
    lcf.BeyondNStd(1.0),
    lcf.StetsonK(),
    lcf.LinearTrend(),
    lcf.InterPercentileRange(0.25),
    lcf.EtaE(),
)
_BAZIN = lcf.BazinFit("lmsder")
_BINS = tuple(f"b{i + 1}" for i in range(len(PHASE_BINS) - 1))
LC_FEATURES: tuple[str, ...] = tuple(_EXTRACTOR.names)
CUSTOM_BAND_FEATURES: tuple[str, ...] = (
    "peak_flux",
    "peak_dt",
    "rise_slope",
    "fall_slope",
    "rise_half",
    "fall_half",
    "last_flux",
    *(f"flux_{'m' if p < 0 else 'p'}{abs(int(p))}" for p in PHASES),
    *(f"bin_{b}" for b in _BINS),
)
BAND_FEATURES = LC_FEATURES + CUSTOM_BAND_FEATURES
COLOR_FEATURES = (
    "color_peak",
    "color_tpeak",
    "color_p15",
    "color_last",
    *(f"color_{b}" for b in _BINS),
)
FIT_FEATURES: tuple[str, ...] = tuple(_BAZIN.names)
GLOBAL_FEATURES = ("rise_time", "time_since_peak", "half_width", "time_since_first", "neg_frac")


class FeatureMatrix(NamedTuple):
    """Features of a batch: ``X`` (n, n_features) float32 and ``n_significant`` (n,) int."""

    X: np.ndarray
    n_significant: np.ndarray


def fit_band(bands: Sequence[str]) -> str:
    """Band of the Bazin fit: the first of ``r``, ``i`` present, else the first band."""
    return next((b for b in FIT_BAND_PREFERENCE if b in bands), bands[0])


def feature_names(bands: Sequence[str]) -> list[str]:
    """Ordered feature names of ``fsv2`` for ``bands``.

    Examples
    --------
    >>> names = feature_names(("g", "r"))
    >>> len(names), names[0], names[-1]
    (74, 'g_mean', 'neg_frac')
    """
    names = [f"{b}_{f}" for b in bands for f in BAND_FEATURES]
    names += [f"{a}{b}_{f}" for a, b in itertools.pairwise(bands) for f in COLOR_FEATURES]
    names += [f"{fit_band(bands)}_{f}" for f in FIT_FEATURES]
    return names + list(GLOBAL_FEATURES)


def extract(lcs: Sequence[LightCurve], bands: Sequence[str]) -> FeatureMatrix:
    """Compute the ``fsv2`` features of many light curves at once.

    Parameters
    ----------
    lcs
        Light curves ``(mjd, band, flux_njy, flux_err_njy)``, any time order.
    bands
        The model's bands, e.g. ``("g", "r", "i", "z")``; other bands are ignored.

    Returns
    -------
    FeatureMatrix
        ``X`` float32 of shape ``(len(lcs), len(feature_names(bands)))`` and the
        number of S/N >= 3 points in ``bands`` (after the time window) per curve.
    """
    if not lcs:
        return FeatureMatrix(
            np.zeros((0, len(feature_names(bands))), dtype=np.float32), np.zeros(0, dtype=np.int64)
        )
    bt = sg.prepare(lcs, bands, DETECTION_SNR, SIGNIFICANT_SNR, PRE_WINDOW_DAYS)
    n, nb, ns = bt.n, bt.nb, bt.n * bt.nb
    obj, seg, tr, fn, en, sig = bt.obj, bt.seg, bt.tr, bt.fn, bt.en, bt.sig
    seg_obj = np.arange(ns) // nb
    stop = bt.sstart + bt.scount
    # light-curve package; slices are copied (it is ~20x slower on views of a large buffer)
    curves = [
        (tr[a:z].copy(), fn[a:z].copy(), en[a:z].copy())
        for a, z in zip(bt.sstart, stop, strict=True)
    ]
    lc_vals = np.asarray(
        _EXTRACTOR.many(curves, fill_value=np.nan, sorted=True, check=False, n_jobs=1)
    )
    ib = list(bands).index(fit_band(bands))
    fit = np.asarray(
        _BAZIN.many(curves[ib::nb], fill_value=np.nan, sorted=True, check=False, n_jobs=1)
    )

    # peaks: per band, and global (weighted time of the top of the brightest band)
    fsig = np.where(sig, fn, -np.inf)
    peak = sg.reduce(np.maximum, fsig, bt.sstart, bt.scount)
    t_bpeak = sg.take(tr, sg.first_where(sig & (fsig >= peak[seg]), seg, ns))
    i_max = sg.first_where(sig & (fn >= 1.0), obj, n)
    # No point in any band (e.g. a Rubin alert seen only in u or y): no top band.
    top_band = np.where(i_max >= 0, seg[np.maximum(i_max, 0)], -1) if seg.size else np.full(n, -1)
    top = sig & (seg == top_band[obj]) & (fn >= 0.7)
    t_peak = sg.weighted_mean(tr[top], fn[top] - 0.6, obj[top], n)
    t_last = sg.reduce(np.maximum, tr, bt.ostart, bt.ocount)
    last_flux = sg.take(fn, np.where(bt.scount > 0, stop - 1, -1)) / peak

    # rise / fall slopes (mag/day) and half-maximum times per band
    pos = sig & (fn > 0)
    mag = -_MAG * np.log(np.where(pos, fn, 1.0))
    w = (fn / (_MAG * en)) ** 2
    before, after = pos & (tr <= t_bpeak[seg]), pos & (tr >= t_bpeak[seg])
    rise = sg.weighted_slope(tr[before], mag[before], w[before], seg[before], ns)
    fall = sg.weighted_slope(tr[after], mag[after], w[after], seg[after], ns)
    low = fn < 0.5 * peak[seg]
    rise_half = t_bpeak - sg.take(tr, sg.last_where(low & (tr < t_bpeak[seg]), seg, ns))
    fall_half = sg.take(tr, sg.first_where(low & (tr > t_bpeak[seg]), seg, ns)) - t_bpeak

    # band fluxes interpolated at reference times, and averaged in phase bins
    span = 2.0 * (float(np.abs(tr).max()) if tr.size else 1.0) + 200.0
    key = seg * span + tr

    def at(q: np.ndarray) -> np.ndarray:
        return sg.interpolate(key, tr, fn, seg, span, q[seg_obj], INTERP_TOLERANCE_DAYS)

    nbin = len(PHASE_BINS) - 1
    pb = np.searchsorted(np.asarray(PHASE_BINS), tr - t_peak[obj], side="right") - 1
    inb = (pb >= 0) & (pb < nbin)
    binned = sg.weighted_mean(fn[inb], en[inb] ** -2, seg[inb] * nbin + pb[inb], ns * nbin)
    binned = binned.reshape(ns, nbin)
    custom = np.stack(
        [peak, t_bpeak - t_peak[seg_obj], rise, fall, rise_half, fall_half, last_flux]
        + [at(t_peak + p) / peak for p in PHASES],
        1,
    )
    parts = [np.concatenate([lc_vals.reshape(ns, -1), custom, binned], 1).reshape(n, -1)]
    if nb > 1:
        flux = np.stack([peak, at(t_peak), at(t_peak + 15.0), at(t_last), *binned.T], 1)
        flux = flux.reshape(n, nb, -1)
        a, b = flux[:, :-1, :], flux[:, 1:, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            color = np.where((a > 0) & (b > 0), -2.5 * np.log10(a / b), np.nan)
        parts.append(color.reshape(n, -1))
    parts.append(fit.reshape(n, -1))
    half = sig & (fn >= 0.5)
    width = sg.reduce(np.maximum, np.where(half, tr, -np.inf), bt.ostart, bt.ocount)
    width -= sg.reduce(np.minimum, np.where(half, tr, np.inf), bt.ostart, bt.ocount)
    strong = np.abs(fn) >= SIGNIFICANT_SNR * en
    n_strong = np.bincount(obj[strong], minlength=n)[:n]
    n_neg = np.bincount(obj[strong & (fn < 0)], minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        neg_frac = np.where(n_strong > 0, n_neg / n_strong, np.nan)
    parts.append(np.stack([t_peak, t_last - t_peak, width, t_last, neg_frac], 1))
    X = np.concatenate(parts, axis=1)
    X[~np.isfinite(X)] = np.nan
    np.clip(X, -CLIP, CLIP, out=X)
    n_sig = np.bincount(obj[sig], minlength=n)[:n]
    return FeatureMatrix(X.astype(np.float32), n_sig)
