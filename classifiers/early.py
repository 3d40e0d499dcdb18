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
objects (simulated and, for ZTF, the real training half), the lowest
threshold at which no variable kind (RR Lyrae, eclipsing binaries, LPVs, AGN,
flares, dwarf novae; real RR Lyrae counted with the simulated ones) has more
than :data:`MAX_EARLY_VARIABLE_FPR` of its objects flagged in their densest
window, and other supernovae at most :data:`MAX_EARLY_NON_IA_FPR` in their
first days (both recorded in the manifest's ``early_threshold_rule``).  The
lowest threshold that keeps every cap flags the most SN Ia.

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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from classifiers.calibration import THRESHOLD_GRID
from classifiers.dataset import first_detection, history
from classifiers.features import DETECTION_SNR, MIN_POINTS, LightCurve, extract
from classifiers.tasks import NEGATIVE_CLASSES, Task

FILTER_DAYS = 10.0
"""Days after the first detection scanned by the simulated filter (as the built-in filter's age)."""
MAX_EARLY_VARIABLE_FPR = 0.05
"""Largest fraction of the variables of any one kind flagged in their densest window
(validation objects; the issue's RR Lyrae target applied to every kind)."""
MAX_EARLY_NON_IA_FPR = 0.25
"""Largest fraction of other supernovae (SN II, Ibc) flagged in their first days (validation):
young SNe of other types look alike; the cap keeps the filter from passing most of them."""


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
    """Lowest grid threshold keeping every object-level cap, and the rates there.

    The grid is the full-curve threshold's (:data:`classifiers.calibration.THRESHOLD_GRID`).

    Parameters
    ----------
    p
        Calibrated P(Ia) of every view (NaN if unscorable).
    owner
        Object index of each view.
    kind
        Per object: ``"Ia"``, ``"SN"`` (other supernova) or ``"variable:<kind>"``
        (``variable:RRL``, ``variable:AGN``...): each variable kind is capped on
        its own at ``max_variable_fpr``, other supernovae at ``max_non_ia_fpr``.

    Examples
    --------
    >>> p = np.array([0.9, 0.3, 0.6, 0.2, 0.5]); owner = np.arange(5)
    >>> kind = np.array(["Ia", "Ia", "SN", "variable:RRL", "variable:AGN"])
    >>> choose_early_threshold(p, owner, kind, 0.0, 0.0)
    (0.61, {'Ia': 0.5, 'SN': 0.0, 'variable:AGN': 0.0, 'variable:RRL': 0.0})
    """
    kind = np.asarray(kind)
    groups = sorted(set(kind.tolist()) | {"Ia", "SN"})
    best: tuple[float, dict[str, float]] = (float(THRESHOLD_GRID[-1]), {})
    for t in THRESHOLD_GRID[::-1]:
        hit = flagged_objects(p, owner, kind.size, float(t))
        rates = {g: float(hit[kind == g].mean()) if (kind == g).any() else 0.0 for g in groups}
        worst_variable = max((v for g, v in rates.items() if g.startswith("variable")), default=0)
        if worst_variable > max_variable_fpr or rates["SN"] > max_non_ia_fpr:
            break
        best = (float(t), {g: round(v, 4) for g, v in rates.items()})
    return best


def _kind(curve: Any, task: Task) -> str:
    if curve.sn_class == task.positive:
        return "Ia"
    if curve.sn_class in NEGATIVE_CLASSES:  # source: simulated kind, or real_<class folder>
        return "variable:" + str(curve.source).removeprefix("real_")
    return "SN"


def operating_point(
    proba: Callable[[np.ndarray], np.ndarray], curves: Sequence[Any], task: Task
) -> tuple[float, dict[str, Any]]:
    """Early threshold of a binary task from its validation curves, and the rule to record.

    Parameters
    ----------
    proba
        Calibrated P(positive) of feature rows.
    curves
        Validation curves (``lightcurve``, ``sn_class``, ``group``, ``source``);
        repeated copies of one object (same group and source) count once.
    task
        The binary task (bands, positive class).

    Returns
    -------
    tuple
        The threshold and the manifest's ``early_threshold_rule`` (caps, days and
        the validation flag rates of Ia, other SNe and variables there).
    """
    seen: dict[tuple[int, str], Any] = {}
    for c in curves:
        seen.setdefault((int(c.group), str(c.source)), c)
    objs = list(seen.values())
    kind = np.array([_kind(c, task) for c in objs])
    views, owner = filter_views(
        [c.lightcurve for c in objs],
        [not k.startswith("variable") for k in kind],
        bands=task.bands,
    )
    fm = extract(views, task.bands)
    p = np.full(len(views), np.nan)
    ok = fm.n_significant >= MIN_POINTS
    if ok.any():
        p[ok] = proba(fm.X[ok])
    threshold, rates = choose_early_threshold(p, owner, kind)
    return threshold, {
        "objective": "lowest threshold keeping every cap (flags the most SN Ia)",
        "days": FILTER_DAYS,
        "max_variable_fpr": MAX_EARLY_VARIABLE_FPR,
        "max_non_ia_fpr": MAX_EARLY_NON_IA_FPR,
        "views": "each S/N>=5 detection of the first days (supernovae, whole past), of the "
        "densest window (variables, window only); object flagged if any view passes",
        "validation_rates": rates,
        "validation_objects": {k: int((kind == k).sum()) for k in sorted(set(kind.tolist()))},
        "unit": "calibrated probability",
    }
