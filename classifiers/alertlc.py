"""Light curve of a normalized Faucon alert, as the classifiers see it.

Band names are mapped to canonical letters by :mod:`classifiers.bands` (an
unknown band raises :class:`~classifiers.bands.UnknownBandError`).

Examples
--------
>>> a = {"mjd_tai": 2.0, "band": "R", "flux_njy": 9.0, "flux_err_njy": 1.0, "history": []}
>>> lightcurve_from_alert(a)[1].tolist()
['r']
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import numpy as np

from classifiers.bands import canonical_array

DUPLICATE_DAYS = 5e-4  # ~43 s: a forced measurement this close to a detection is the same epoch
LightCurve = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def lightcurve_from_alert(alert: Mapping[str, Any]) -> LightCurve:
    """Light curve of a normalized Faucon alert (``faucon.alert.avsc``), sorted by time.

    Uses ``history`` entries of kind ``detection`` or ``forced`` with a flux
    and an error, plus the current detection.  A forced measurement within
    :data:`DUPLICATE_DAYS` (~43 s) of a detection in the same band is the
    same epoch and is dropped.

    Examples
    --------
    >>> a = {"mjd_tai": 2.0, "band": "g", "flux_njy": 9.0, "flux_err_njy": 1.0, "history": [
    ...     {"mjd_tai": 1.0, "band": "g", "kind": "forced", "flux_njy": 3.0, "flux_err_njy": 1.0},
    ...     {"mjd_tai": 2.0, "band": "g", "kind": "forced", "flux_njy": 8.0, "flux_err_njy": 1.0},
    ...     {"mjd_tai": 0.5, "band": "g", "kind": "upper_limit", "flux_njy": None}]}
    >>> lightcurve_from_alert(a)[2].tolist()
    [3.0, 9.0]
    """
    dets: list[tuple[float, str, float, float]] = []
    forced: list[tuple[float, str, float, float]] = []
    for h in alert.get("history") or ():
        flux, err = h.get("flux_njy"), h.get("flux_err_njy")
        if flux is None or err is None:
            continue
        kind = h.get("kind")
        if kind == "detection":
            dets.append((h["mjd_tai"], h["band"], flux, err))
        elif kind == "forced":
            forced.append((h["mjd_tai"], h["band"], flux, err))
    flux, err = alert.get("flux_njy"), alert.get("flux_err_njy")
    if flux is not None and err is not None:
        dets.append((alert["mjd_tai"], alert["band"], flux, err))
    if forced and dets:  # forced photometry may repeat a detection's epoch
        times: dict[str, list[float]] = {}
        for p in dets:
            times.setdefault(p[1], []).append(p[0])
        for band_times in times.values():
            band_times.sort()
        kept = []
        for p in forced:
            ts = times.get(p[1], [])
            k = bisect_left(ts, p[0] - DUPLICATE_DAYS)
            if k < len(ts) and ts[k] <= p[0] + DUPLICATE_DAYS:
                continue
            kept.append(p)
        forced = kept
    points = dets + forced
    if not points:
        empty = np.zeros(0)
        return empty, np.zeros(0, dtype="<U1"), empty, empty
    points.sort(key=itemgetter(0))
    t, b, f, e = zip(*points, strict=True)
    curve = str(alert.get("object_id") or alert.get("alert_id") or "alert")
    return (
        np.array(t, dtype=np.float64),
        canonical_array(np.array(b, dtype=str), curve),
        np.array(f, dtype=np.float64),
        np.array(e, dtype=np.float64),
    )
