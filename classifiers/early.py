"""The simulated ``early_snia_candidate`` filter and the early operating threshold.

The built-in filter flags a *young* detection (first detection at most
:data:`FILTER_DAYS` days earlier) whose SN Ia probability reaches a threshold.
A supernova is caught if **any** of its detections of the first days passes,
so the right threshold for it is not the full-curve one: it is chosen on
object-level flag rates of alert views.

Views of one labelled curve (times in days, model bands only):

* supernova: the curve up to each positive S/N >= 5 detection of the first
  ``days`` days after its first detection (with everything before it);
* variable: the curve up to each detection of its densest ``days``-long
  window, from the window's start only (a star first seen then), or with a
  packet's ``history_days`` of history.

:func:`choose_early_threshold` picks, on the *training-side validation*
objects, the lowest threshold whose object-level flag rate of simulated
variables is at most :data:`MAX_EARLY_VARIABLE_FPR` and of other supernovae
at most :data:`MAX_EARLY_NON_IA_FPR` (both recorded in the manifest's
``early_threshold_rule``).  The lowest threshold that keeps both caps
flags the most SN Ia.

Examples
--------
>>> import numpy as np
>>> t = np.arange(6.0); lc = (t, np.array(list("grgrgr")), np.full(6, 10.0), np.ones(6))
>>> [v[0].size for v in alert_views(lc, 0.0, 2.0, history_days=None)]
[1, 2, 3]
>>> flagged_objects(np.array([0.2, 0.7, 0.1]), np.array([0, 0, 1]), 2, 0.5).tolist()
[True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifiers.dataset import first_detection, history
from classifiers.features import DETECTION_SNR, LightCurve

FILTER_DAYS = 10.0
"""Days after the first detection scanned by the simulated filter (as the built-in filter's age)."""
MAX_EARLY_VARIABLE_FPR = 0.02
"""Largest fraction of simulated variables flagged in their densest window (validation)."""
MAX_EARLY_NON_IA_FPR = 0.25
"""Largest fraction of simulated SN II/Ibc flagged in their first days (validation)."""
GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)


def densest_window(lc: LightCurve, days: float) -> LightCurve:
    """The points of the ``days``-long window holding the most points (earliest on ties)."""
    t = lc[0]
    if t.size == 0:
        return lc
    ends = np.searchsorted(t, t + days, side="right")
    i = int(np.argmax(ends - np.arange(t.size)))
    return lc[0][i : ends[i]], lc[1][i : ends[i]], lc[2][i : ends[i]], lc[3][i : ends[i]]


def alert_views(
    lc: LightCurve, start: float, days: float, history_days: float | None = None
) -> list[LightCurve]:
    """The curve up to each positive S/N >= 5 detection in ``[start, start + days]``.

    ``history_days`` keeps that much history before each detection (a packet's);
    None keeps only the points from ``start`` on.
    """
    t, _b, f, e = lc
    det = np.flatnonzero((f / e >= DETECTION_SNR) & (t >= start) & (t <= start + days))
    out = []
    for i in det:
        ti = float(t[i])
        out.append(history(lc, ti, history_days if history_days is not None else ti - start))
    return out


def filter_views(
    lcs: Sequence[LightCurve],
    is_transient: Sequence[bool],
    days: float = FILTER_DAYS,
    history_days: float | None = None,
    bands: Sequence[str] | None = None,
) -> tuple[list[LightCurve], np.ndarray]:
    """Alert views of every curve (see the module docstring) and the curve index of each.

    Transients are scanned from their first detection (in ``bands``) with their
    whole past; other curves in their densest window, with ``history_days``.
    """
    views: list[LightCurve] = []
    owner: list[int] = []
    for k, (lc, transient) in enumerate(zip(lcs, is_transient, strict=True)):
        if transient:
            t0 = first_detection(lc, bands)
            got = [] if np.isnan(t0) else alert_views(lc, t0, days, 1e9)
        else:
            win = densest_window(lc, days)
            got = alert_views(lc, float(win[0][0]), days, history_days) if win[0].size else []
        views += got
        owner += [k] * len(got)
    return views, np.asarray(owner, dtype=np.int64)


def flagged_objects(p: np.ndarray, owner: np.ndarray, n: int, threshold: float) -> np.ndarray:
    """Whether each of ``n`` objects has a view with probability >= ``threshold`` (NaN: no)."""
    hit = np.zeros(n, dtype=bool)
    ok = np.nan_to_num(p, nan=-1.0) >= threshold
    hit[owner[ok]] = True
    return hit


def choose_early_threshold(
    p: np.ndarray,
    owner: np.ndarray,
    kind: np.ndarray,
    max_variable_fpr: float = MAX_EARLY_VARIABLE_FPR,
    max_non_ia_fpr: float = MAX_EARLY_NON_IA_FPR,
) -> tuple[float, dict[str, float]]:
    """Lowest grid threshold keeping both object-level caps, and the rates there.

    Parameters
    ----------
    p
        Calibrated P(Ia) of every view (NaN if unscorable).
    owner
        Object index of each view.
    kind
        Per object: ``"Ia"``, ``"SN"`` (other supernova) or ``"variable"``.

    Examples
    --------
    >>> p = np.array([0.9, 0.3, 0.6, 0.2]); owner = np.array([0, 1, 2, 3])
    >>> choose_early_threshold(p, owner, np.array(["Ia", "Ia", "SN", "variable"]), 0.0, 0.0)[0]
    0.61
    """
    kind = np.asarray(kind)
    best: tuple[float, dict[str, float]] = (float(GRID[-1]), {})
    for t in GRID[::-1]:
        hit = flagged_objects(p, owner, kind.size, float(t))
        rates = {k: float(hit[kind == k].mean()) if (kind == k).any() else 0.0 for k in
                 ("Ia", "SN", "variable")}  # fmt: skip
        if rates["variable"] > max_variable_fpr or rates["SN"] > max_non_ia_fpr:
            break
        best = (float(t), {k: round(v, 4) for k, v in rates.items()})
    return best
