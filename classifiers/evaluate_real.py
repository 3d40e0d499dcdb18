"""Evaluate a registered model on real labelled light curves (``labeled-real`` layout).

Views of each curve (times in days, model bands only):

* ``full`` - the whole curve;
* ``d20`` - cut :data:`EARLY_CUT_DAYS` after the first point with S/N >= 5;
* ``window20`` - negatives only: the curve restricted to its densest
  :data:`WINDOW_DAYS` window (most points), as a variable first seen then.

ROC AUC of SN Ia against each negative class: full vs full, d20 vs d20, and
Ia ``d20`` vs the negative's ``window20``.  AUCs use the curves the stream
would score (>= 3 points of S/N >= 3); recall and false-positive rate at the
promoted threshold count unscorable curves as not flagged.  Multi-class
models report the fraction of each class labelled Ia (argmax) instead.

The simulated ``early_snia_candidate`` filter scores every positive
detection (S/N >= 5) of the first ``early_days`` days after an SN Ia's first
detection, on the curve up to that detection; an SN Ia is flagged if one of
them reaches the model's early threshold (manifest ``early_threshold``, see
:mod:`classifiers.early`; ``threshold`` if it has none).  For negatives the
same is done inside their densest ``early_days`` window, on the points of the
window up to each detection (a star first seen then); ``negatives_with_packet_history`` also
gives each of those alerts the survey's packet history (ZTF: 30 days before).

Examples
--------
>>> from classifiers.evaluate_real import evaluate_curves  # doctest: +SKIP
>>> r = evaluate_curves("snia_ztf", Path("/work/shared/data/labeled-real"))  # doctest: +SKIP
>>> r["auc"]["RRL"]["window20"]  # doctest: +SKIP
0.97
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from classifiers.cadence import HISTORY_DAYS
from classifiers.dataset import early_cut
from classifiers.early import densest_window, filter_views
from classifiers.evaluate import resolve_version
from classifiers.features import LightCurve
from classifiers.inference import LoadedModel, load_model, score_curves
from classifiers.realdata import load_labelled

EARLY_CUT_DAYS = 20.0
WINDOW_DAYS = 20.0
POSITIVE = "Ia"


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _in_bands(lc: LightCurve, bands: tuple[str, ...]) -> LightCurve:
    keep = np.isin(lc[1], bands)
    return lc[0][keep], lc[1][keep], lc[2][keep], lc[3][keep]


def _p_ia(
    model: LoadedModel, lcs: list[LightCurve], threshold: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """P(Ia) (NaN if unscorable) and whether it is flagged (``threshold``, else argmax == Ia)."""
    proba, _n = score_curves(model, lcs) if lcs else (np.zeros((0, len(model.classes))), None)
    k = model.classes.index(POSITIVE)
    p = proba[:, k] if len(proba) else np.zeros(0)
    ok = np.isfinite(p)
    if threshold is not None:
        flagged = ok & (np.nan_to_num(p, nan=-1.0) >= threshold)
    else:
        flagged = ok & (np.argmax(np.nan_to_num(proba, nan=-1.0), axis=1) == k)
    return p, flagged


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    if not pos.size or not neg.size:
        return None
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    return _r(roc_auc_score(y, np.r_[pos, neg]))


def _filter_rate(
    model: LoadedModel,
    lcs: list[LightCurve],
    positive: bool,
    days: float,
    history_days: float | None = None,
) -> float:
    """Fraction of curves with an alert view at or above the model's early threshold."""
    if not lcs:
        return float("nan")
    views, owner = filter_views(lcs, [positive] * len(lcs), days, history_days)
    _p, flagged = _p_ia(model, views, model.early_threshold)
    hit = np.zeros(len(lcs), dtype=bool)
    hit[owner[flagged]] = True
    return float(hit.mean())


def evaluate_curves(
    model: str,
    curves_dir: Path,
    early_days: float = 10.0,
    models_dir: str | Path | None = None,
    *,
    version: str | None = None,
    part: str = "all",
    limit: int | None = None,
    total_flux: Sequence[str] = (),
) -> dict[str, Any]:
    """Metrics of model ``model`` on real labelled curves (see the module docstring).

    Parameters
    ----------
    model
        Registry name (``snia_ztf``, ``sntype_ztf``...).
    curves_dir
        Class folders (``SNIa``, ``RRLyrae``...) each with ``light-curves/*.csv``.
    early_days
        Days after the first detection scanned by the simulated filter.
    models_dir
        Registry root.
    version
        Model version (default: the promoted one).
    part
        ``"all"``, or the ``"validation"`` / ``"train"`` half
        (:func:`classifiers.realdata.is_validation`).
    limit
        At most this many curves per class.
    total_flux
        Class folders of total (not difference) photometry besides the known ones
        (:func:`classifiers.realdata.load_labelled`).

    Returns
    -------
    dict
        JSON-serialisable: ``n``, ``auc`` (per negative class: ``full``, ``d20``,
        ``window20``), ``at_threshold`` (recall, FPR), ``fraction_labelled_ia``,
        ``early_snia_candidate``, ``photometry`` (how each class was read) and ``skipped``.
    """
    version = resolve_version(model, version, models_dir)
    lm = load_model(model, version, models_dir)
    rs = load_labelled(curves_dir, part=part, limit=limit, total_flux=total_flux)
    skipped = list(rs.skipped)
    views: dict[str, dict[str, list[LightCurve]]] = {}
    for cls, items in rs.curves.items():
        kept = []
        for name, lc in items:
            sub = _in_bands(lc, lm.bands)
            if sub[0].size == 0:
                skipped.append({"curve": f"{cls}/{name}", "reason": f"no point in {lm.bands}"})
            else:
                kept.append(sub)
        views[cls] = {
            "full": kept,
            "d20": [early_cut(lc, EARLY_CUT_DAYS) for lc in kept],
            "window20": [densest_window(lc, WINDOW_DAYS) for lc in kept],
        }
    scores = {
        c: {v: _p_ia(lm, lcs, lm.threshold) for v, lcs in vs.items()} for c, vs in views.items()
    }
    hist = min(HISTORY_DAYS.get(s, 30.0) for s in lm.surveys) if lm.surveys else 30.0
    negatives = [c for c in views if c != POSITIVE]
    out: dict[str, Any] = {
        "model": model,
        "version": version,
        "model_hash": lm.model_hash,
        "curves_dir": str(curves_dir),
        "part": part,
        "threshold": lm.threshold,
        "decision": "probability >= threshold" if lm.threshold is not None else "argmax",
        "n": {c: len(v["full"]) for c, v in views.items()},
        "photometry": rs.photometry,
        "n_unscorable": {
            c: {v: int(np.isnan(s[v][0]).sum()) for v in s} for c, s in scores.items()
        },
        "auc": {},
        "at_threshold": {},
        "fraction_labelled_ia": {
            c: {v: _r(float(s[v][1].mean())) if len(s[v][1]) else None for v in s}
            for c, s in scores.items()
        },
    }
    if POSITIVE in scores:
        pos = scores[POSITIVE]
        out["at_threshold"][POSITIVE] = {
            "recall_full": _r(float(pos["full"][1].mean())) if len(pos["full"][1]) else None,
            "recall_d20": _r(float(pos["d20"][1].mean())) if len(pos["d20"][1]) else None,
        }
        for c in negatives:
            neg = scores[c]
            out["auc"][c] = {
                "full": _auc(pos["full"][0], neg["full"][0]),
                "d20": _auc(pos["d20"][0], neg["d20"][0]),
                "window20": _auc(pos["d20"][0], neg["window20"][0]),
            }
            out["at_threshold"][c] = {
                "fpr_full": _r(float(neg["full"][1].mean())) if len(neg["full"][1]) else None,
                "fpr_window20": _r(float(neg["window20"][1].mean()))
                if len(neg["window20"][1])
                else None,
            }
    out["early_snia_candidate"] = {
        "early_days": early_days,
        "flagged_fraction": {
            c: _r(_filter_rate(lm, views[c]["full"], c == POSITIVE, early_days)) for c in views
        },
        "threshold": lm.early_threshold,
        "rule": "any positive S/N>=5 detection of the first early_days days (Ia) or of the "
        "densest early_days window (negatives) scored at or above the early threshold "
        "(manifest early_threshold, else threshold; multi-class: argmax)",
        "negatives_with_packet_history": {
            c: _r(_filter_rate(lm, views[c]["full"], False, early_days, hist))
            for c in views
            if c != POSITIVE
        },
        "packet_history_days": hist,
    }
    out["skipped"] = {"n": len(skipped), "curves": skipped[:50]}
    return out
