"""The real-curve half of the retrain promotion gate (:mod:`classifiers.retrain`).

Both the candidate and the promoted version are evaluated on the validation half
of the real labelled curves (:func:`classifiers.evaluate_real.evaluate_curves`,
``part="validation"``); the candidate may be worse by the tolerance at most on
:data:`REAL_METRICS` (binary models: the smallest SN Ia vs negative ROC AUC in
the negatives' densest 20-day window; multi-class: the fraction of SN Ia labelled Ia).

Examples
--------
>>> decide_real({"auc": 0.97}, {"auc": 0.95}, "auc", 0.005)
(True, 'real: candidate auc 0.97 >= promoted 0.95 - tolerance 0.005')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

REAL_ENV = "FAUCON_REAL_CURVES"
DEFAULT_REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled-real"
REAL_METRICS = {"binary": "auc_window20_min", "multiclass": "ia_as_ia_full"}


def real_dir_of(real_dir: str | Path | None) -> Path | None:
    """The real validation curves: ``real_dir``, ``$FAUCON_REAL_CURVES``, or the shared data."""
    for candidate in (real_dir, os.environ.get(REAL_ENV), DEFAULT_REAL_DIR):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def evaluate_real(name: str, version: str, real: Path, models_dir: Path | None) -> dict[str, Any]:
    """Gate metrics of one version on the validation half of the real curves."""
    from classifiers.evaluate_real import evaluate_curves

    r = evaluate_curves(name, real, models_dir=models_dir, version=version, part="validation")
    win = [v["window20"] for v in r["auc"].values() if v.get("window20") is not None]
    full = [v["full"] for v in r["auc"].values() if v.get("full") is not None]
    return {
        "version": version,
        "n": r["n"],
        "auc_window20_min": min(win) if win else None,
        "auc_full_min": min(full) if full else None,
        "ia_as_ia_full": r["fraction_labelled_ia"].get("Ia", {}).get("full"),
        "early_snia_candidate": r["early_snia_candidate"]["flagged_fraction"],
    }


def decide_real(
    candidate: dict[str, Any] | None,
    promoted: dict[str, Any] | None,
    metric: str,
    tolerance: float,
) -> tuple[bool, str]:
    """Real-curve half of the gate (see the module docstring).

    Examples
    --------
    >>> decide_real({"auc": 0.97}, {"auc": 0.95}, "auc", 0.005)
    (True, 'real: candidate auc 0.97 >= promoted 0.95 - tolerance 0.005')
    """
    if promoted is None and candidate is not None:
        return True, "real: no promoted version to compare"
    if candidate is None:
        return False, "real: validation curves unavailable, the promoted version is kept"
    c, p = candidate.get(metric), (promoted or {}).get(metric)
    if c is None:
        return False, f"real: candidate {metric} unavailable"
    if p is None:
        return True, f"real: promoted {metric} unavailable (candidate {c})"
    ok = float(c) >= float(p) - tolerance
    return (
        ok,
        f"real: candidate {metric} {c} {'>=' if ok else '<'} promoted {p} - tolerance {tolerance}",
    )
