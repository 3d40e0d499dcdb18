"""Gradient-boosted trees of the classifiers: parameters, iteration count on validation loss.

The estimator is scikit-learn's ``HistGradientBoostingClassifier`` with
:data:`HGB_PARAMS`.  The number of boosting iterations is the one minimising
the validation log loss (:func:`choose_iterations`, at most :data:`MAX_ITER`,
multi-class :data:`MAX_ITER_MULTICLASS`); :func:`fit` then fits that many on
the fit rows (the model shipped, so the calibration fitted on the validation
rows applies to it).

Examples
--------
>>> import numpy as np
>>> from classifiers.dataset import Rows
>>> from classifiers.tasks import get_task
>>> rng = np.random.default_rng(0); X = rng.normal(size=(400, 3)); y = (X[:, 0] > 0).astype(int)
>>> rows = Rows(X, y, np.arange(400), np.full(400, 5), np.ones(400, bool))
>>> n, proba = choose_iterations(rows, rows, get_task("snia_ztf"), seed=0)
>>> 1 <= n <= MAX_ITER and proba.shape == (400, 2)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss

from classifiers.dataset import Rows
from classifiers.tasks import Task

MAX_ITER = 800  # chosen on the simulated validation log loss (400 was reached)
MAX_ITER_MULTICLASS = 200  # 6 trees per iteration: keeps a run under ~10 min
CHUNK = 50
PATIENCE = 100
HGB_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


def fit(rows: Rows, n_iter: int, seed: int) -> HistGradientBoostingClassifier:
    """The model of ``n_iter`` iterations fitted on ``rows``."""
    model = HistGradientBoostingClassifier(max_iter=n_iter, random_state=seed, **HGB_PARAMS)
    return model.fit(rows.X, rows.y)


def choose_iterations(
    rows_fit: Rows, rows_val: Rows, task: Task, seed: int
) -> tuple[int, np.ndarray]:
    """Best iteration count on validation log loss, and the validation probabilities then.

    Boosting grows by :data:`CHUNK` iterations (warm start) and stops once the
    validation loss has not improved for :data:`PATIENCE` iterations.
    """
    params = {**HGB_PARAMS, "max_iter": 0, "warm_start": True, "random_state": seed}
    model = HistGradientBoostingClassifier(**params)
    labels = list(range(len(task.classes)))
    losses: list[float] = []
    best_proba = np.zeros((len(rows_val.y), len(labels)))
    cap = MAX_ITER if task.positive is not None else MAX_ITER_MULTICLASS
    while model.max_iter < cap and (
        not losses or len(losses) - 1 - int(np.argmin(losses)) < PATIENCE
    ):
        model.set_params(max_iter=min(model.max_iter + CHUNK, cap))
        model.fit(rows_fit.X, rows_fit.y)
        for k, proba in enumerate(model.staged_predict_proba(rows_val.X)):
            if k >= len(losses):
                losses.append(log_loss(rows_val.y, proba, labels=labels))
                if losses[-1] <= min(losses):
                    best_proba = proba
        if model.n_iter_ < model.max_iter:  # converged: no further tree can be grown
            break
    return int(np.argmin(losses)) + 1, best_proba
