"""Do the experts' labels improve the next night's ranking?  Measured on real data.

:func:`feedback_experiment` builds two "nights" from real light curves: the
background objects (ordinary real alerts and curves) are split in two by a
hash of their id, and into each night a known population (e.g. real ZTF SN
Ia) is injected at ``rate`` of the background.  On night A the isolation
forest is trained (it never sees labels) and the experts label:

* the ``reviewed`` top candidates of night A, each by its truth (what a
  scientist reviewing the anomaly topic does: almost all come out boring),
* ``k`` injected objects of night A as interesting (what they know from
  elsewhere, e.g. a spectroscopic classification),

then the reranker is trained on those labels and night B, never seen, is
ranked by the unsupervised score (before) and by the re-ranked score
(after).  Precision in the top N = fraction of injected objects among the N
highest scores of night B.  ``boring_kind`` measures the other direction:
objects of that kind labelled boring on night A, share of that kind in
night B's top N before and after.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> bg = rng.normal(size=(600, 4)); inj = rng.normal(size=(60, 4)) + [0, 0, 2.5, 2.5]
>>> ids = [f"b{i}" for i in range(600)]; kinds = ["x"] * 600
>>> r = feedback_experiment(bg, ids, kinds, inj, [f"i{i}" for i in range(60)],
...     names=["a", "b", "c", "d"], ks=(0, 5), trials=2, top_n=(10,))
>>> r["after"]["5"]["10"]["mean"] > r["before"]["10"]["mean"]
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers import anomaly, anomaly_feedback


def _night(ids: Sequence[str], seed: int) -> np.ndarray:
    return np.array(
        [int(hashlib.sha256(f"{seed}:{x}".encode()).hexdigest()[:8], 16) % 2 for x in ids]
    )


def _stats(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), 3), "std": round(float(v.std()), 3)}


def _top(scores: np.ndarray, truth: np.ndarray, n: int) -> float:
    order = np.argsort(-scores, kind="stable")
    return float(truth[order[:n]].mean())


def feedback_experiment(
    background: np.ndarray,
    background_ids: Sequence[str],
    background_kinds: Sequence[str],
    injected: np.ndarray,
    injected_ids: Sequence[str],
    *,
    names: Sequence[str],
    rate: float = 0.03,
    reviewed: int = 20,
    ks: Sequence[int] = (0, 2, 5, 10, 20),
    top_n: Sequence[int] = (10, 20, 50),
    trials: int = 10,
    weight: float = 1.0,
    boring_kind: str | None = None,
    seed: int = 100,
) -> dict[str, Any]:
    """Precision in the top N of night B before and after labels on night A (module doc).

    Parameters
    ----------
    background, injected
        Raw anomaly feature rows (columns ``names``) of scorable curves.
    background_ids, injected_ids
        Object ids: the split into nights is by object, so no object is in both.
    background_kinds
        Kind of each background row (``boring_kind`` selects the ones labelled boring).
    """
    bg, inj = np.asarray(background, np.float32), np.asarray(injected, np.float32)
    kinds = np.asarray(background_kinds)
    before: dict[int, list[float]] = {n: [] for n in top_n}
    after: dict[int, dict[int, list[float]]] = {k: {n: [] for n in top_n} for k in ks}
    share: dict[str, dict[int, list[float]]] = {
        w: {n: [] for n in top_n} for w in ("before", "after")
    }
    sizes: dict[str, float] = {}
    for t in range(trials):
        rng = np.random.default_rng(seed + t)
        hb, hi = _night(background_ids, seed + t), _night(injected_ids, seed + t)
        nights = []
        for h in (0, 1):
            rows = np.flatnonzero(hb == h)
            n_inj = max(1, round(rate * rows.size))
            pick = rng.choice(np.flatnonzero(hi == h), n_inj, replace=False)
            X = np.vstack([bg[rows], inj[pick]])
            truth = np.r_[np.zeros(rows.size), np.ones(n_inj)]
            nights.append((X, truth, np.r_[kinds[rows], ["injected"] * n_inj]))
        (XA, yA, kA), (XB, yB, kB) = nights
        sizes = {"night_b_alerts": len(yB), "night_b_injected": float(yB.sum())}
        model = anomaly.fit_forest(XA, names, seed=seed + t)
        uA, ZA = model.unsupervised(XA), model.scaling.apply(XA)
        uB = model.unsupervised(XB)
        for n in top_n:
            before[n].append(_top(uB, yB, n))
        top_a = np.argsort(-uA, kind="stable")[:reviewed]
        for k in ks:
            labels = np.array([""] * len(yA), dtype=object)
            labels[top_a] = np.where(yA[top_a] == 1, "interesting", "boring")
            known = rng.choice(np.flatnonzero(yA == 1), min(k, int(yA.sum())), replace=False)
            labels[known] = "interesting"
            model.reranker = anomaly_feedback.fit_reranker(
                ZA, uA, list(labels), weight=weight, seed=seed + t
            )
            sB, _ = model.score(XB)
            for n in top_n:
                after[k][n].append(_top(sB, yB, n))
        if boring_kind is not None:
            labels = np.where(kA == boring_kind, "boring", "").astype(object)
            model.reranker = anomaly_feedback.fit_reranker(ZA, uA, list(labels), weight=weight)
            sB, _ = model.score(XB)
            for n in top_n:
                share["before"][n].append(_top(uB, kB == boring_kind, n))
                share["after"][n].append(_top(sB, kB == boring_kind, n))
    result: dict[str, Any] = {
        "protocol": {
            "rate": rate,
            "reviewed": reviewed,
            "trials": trials,
            "weight": weight,
            "background": len(bg),
            "injected_pool": len(inj),
            **sizes,
        },
        "before": {str(n): _stats(v) for n, v in before.items()},
        "after": {str(k): {str(n): _stats(v) for n, v in d.items()} for k, d in after.items()},
    }
    if boring_kind is not None:
        result["boring"] = {
            "kind": boring_kind,
            "share_before": {str(n): _stats(v) for n, v in share["before"].items()},
            "share_after": {str(n): _stats(v) for n, v in share["after"].items()},
        }
    return result
