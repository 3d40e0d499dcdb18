"""Probability calibration tables (isotonic, fitted on validation rows) and operating thresholds.

A table maps the raw ONNX probability of a class to a calibrated one by
linear interpolation between ``x`` and ``y`` knots (both non-decreasing).
Binary models calibrate the positive class (the other is ``1 - p``);
multi-class models calibrate each class one-vs-rest, then rows are
renormalised to sum to 1.  Tables live in the manifest (``"calibration"``)
and are applied by :mod:`classifiers.inference` and the evaluations.

The operating threshold of a binary model is chosen on the calibrated
validation rows: the threshold maximising the F1 score of the positive
class among those whose false-positive rate on the simulated *variables*
(periodic, agn, flare) is at most :data:`MAX_VARIABLE_FPR`.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 0, 1, 1]); p = np.array([0.1, 0.3, 0.35, 0.4, 0.8, 0.9])
>>> table = fit_isotonic(y, p)
>>> apply_table(table, np.array([0.0, 0.35, 1.0])).round(2).tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score

MAX_VARIABLE_FPR = 0.01
"""Largest validation false-positive rate on simulated variables at the threshold (fraction)."""
MAX_KNOTS = 200
THRESHOLD_GRID = np.round(np.arange(0.02, 0.981, 0.01), 2)


def fit_isotonic(y: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    """Isotonic map ``p -> P(y = 1)`` as knots ``{"x": [...], "y": [...]}`` (at most 200)."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
    x, v = np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_)
    if x.size > MAX_KNOTS:
        keep = np.unique(np.linspace(0, x.size - 1, MAX_KNOTS).round().astype(int))
        x, v = x[keep], v[keep]
    x = np.concatenate([[0.0], x, [1.0]])
    v = np.concatenate([[v[0]], v, [v[-1]]])
    return {"x": [round(float(a), 6) for a in x], "y": [round(float(b), 6) for b in v]}


def apply_table(table: Mapping[str, Sequence[float]], p: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of one class (monotone non-decreasing in ``p``)."""
    return np.interp(np.asarray(p, dtype=np.float64), table["x"], table["y"])


def fit(y: np.ndarray, proba: np.ndarray, classes: Sequence[str], positive: str | None) -> dict:
    """Calibration of a model from validation labels ``y`` and raw probabilities ``proba``."""
    if positive is not None:
        return {"method": "isotonic", "tables": {positive: fit_isotonic(y == 1, proba[:, 1])}}
    tables = {c: fit_isotonic(y == k, proba[:, k]) for k, c in enumerate(classes)}
    return {"method": "isotonic", "tables": tables}


def calibrate(
    calibration: Mapping[str, Any] | None,
    proba: np.ndarray,
    classes: Sequence[str],
    positive: str | None,
) -> np.ndarray:
    """Apply a manifest's ``calibration`` to raw probabilities (unchanged if None).

    Examples
    --------
    >>> cal = {"method": "isotonic", "tables": {"Ia": {"x": [0, 1], "y": [0.2, 0.6]}}}
    >>> calibrate(cal, np.array([[0.5, 0.5]]), ("non-Ia", "Ia"), "Ia").tolist()
    [[0.6, 0.4]]
    """
    if not calibration or len(proba) == 0:
        return np.asarray(proba, dtype=np.float64)
    tables = calibration["tables"]
    out = np.asarray(proba, dtype=np.float64).copy()
    if positive is not None:
        k = list(classes).index(positive)
        out[:, k] = apply_table(tables[positive], proba[:, k])
        out[:, 1 - k] = 1.0 - out[:, k]
        return out
    for k, c in enumerate(classes):
        out[:, k] = apply_table(tables[c], proba[:, k])
    total = out.sum(1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / len(classes))


def choose_threshold(
    y: np.ndarray, p: np.ndarray, is_variable: np.ndarray, max_fpr: float = MAX_VARIABLE_FPR
) -> float:
    """F1-optimal threshold on ``p`` subject to FPR on the variables ``<= max_fpr``.

    Examples
    --------
    >>> y = np.array([1, 1, 0, 0, 0]); p = np.array([0.9, 0.6, 0.7, 0.2, 0.1])
    >>> choose_threshold(y, p, np.array([False, False, True, True, True]), 0.0)
    0.71
    """
    y = np.asarray(y).astype(int)
    allowed = [t for t in THRESHOLD_GRID if (p[is_variable] >= t).mean() <= max_fpr]
    if not is_variable.any():
        allowed = list(THRESHOLD_GRID)
    if not allowed or y.sum() == 0:
        return 0.5
    scores = [f1_score(y, p >= t, zero_division=0) for t in allowed]
    return float(allowed[int(np.argmax(scores))])
