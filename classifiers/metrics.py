"""Classification metrics as plain JSON-ready dicts.

*Purity* is the precision (fraction of objects classified as the class that
truly are) and *efficiency* the recall (fraction of the class that is
classified as such), both at the model's operating threshold.

Examples
--------
>>> import numpy as np
>>> m = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), 0.5)
>>> m["roc_auc"], m["purity"], m["efficiency"]
(0.75, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support, roc_auc_score


def _r(x: float) -> float:
    return round(float(x), 5)


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC AUC, accuracy, purity and efficiency of the positive class (label 1)."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    n_pred, n_true = int(pred.sum()), int(y.sum())
    auc = roc_auc_score(y, p) if 0 < n_true < y.size else float("nan")
    return {
        "n": int(y.size),
        "n_positive": n_true,
        "roc_auc": _r(auc),
        "accuracy": _r((pred == y).mean()) if y.size else float("nan"),
        "purity": _r(tp / n_pred) if n_pred else float("nan"),
        "efficiency": _r(tp / n_true) if n_true else float("nan"),
        "threshold": _r(threshold),
    }


def multiclass_metrics(y: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Macro one-vs-rest ROC AUC (present classes), accuracy, purity/efficiency (argmax)."""
    y = np.asarray(y).astype(int)
    pred = np.argmax(proba, axis=1)
    labels = list(range(len(classes)))
    prec, rec, _, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    present = set(np.unique(y).tolist())
    # one-vs-rest AUC of every class present (SNPCC has no variables: sntype's
    # periodic/agn/flare columns are skipped there); macro = their mean
    per_auc = [
        roc_auc_score(y == k, proba[:, k]) if k in present and len(present) > 1 else float("nan")
        for k in labels
    ]
    defined = [a for a in per_auc if np.isfinite(a)]
    auc = float(np.mean(defined)) if defined else float("nan")
    return {
        "n": int(y.size),
        "roc_auc": _r(auc),
        "accuracy": _r((pred == y).mean()) if y.size else float("nan"),
        "purity": {c: _r(prec[k]) for k, c in enumerate(classes)},
        "efficiency": {c: _r(rec[k]) for k, c in enumerate(classes)},
        "roc_auc_per_class": {
            c: _r(per_auc[k]) if np.isfinite(per_auc[k]) else None for k, c in enumerate(classes)
        },
        "support": {c: int(support[k]) for k, c in enumerate(classes)},
    }


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold on ``p`` maximising the F1 score of the positive class (0.5 if undefined)."""
    y = np.asarray(y).astype(int)
    if y.sum() == 0 or y.sum() == y.size:
        return 0.5
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    scores = [f1_score(y, p >= t, zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])
