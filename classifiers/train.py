"""Train, evaluate, export and register one classifier.

Procedure (same for every task, all seeds fixed):

1. Read the labelled SNANA curves; hold out 20 % of the objects (stratified
   by true class Ia/II/Ibc, seed :data:`~classifiers.dataset.SPLIT_SEED`), the
   same objects for every task.  They are never used for fitting or choices.
2. Of the remaining objects, 15 % are a validation set.  Rows: each curve in
   full (repeated 3 times) plus 3 cuts at random S/N >= 5 epochs and 2 cuts 0-40 d
   after the first detection (once each).
3. Fit a ``HistGradientBoostingClassifier`` on the other 85 %; the number of
   boosting iterations (<= :data:`MAX_ITER`) minimising the validation log
   loss, and for binary tasks the threshold maximising the validation F1 of
   the positive class, are kept.  Refit on all non-held-out objects.
4. Metrics on the held-out objects, full curves and curves cut 20 d after
   the first S/N >= 5 point; ONNX export checked against scikit-learn.

Examples
--------
>>> from classifiers.train import train  # doctest: +SKIP
>>> train("snia", "/work/shared/data/labeled-snpcc-train.tar.xz", limit=300)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from broker.core.errors import ConfigError, ProcessError
from classifiers import features, registry
from classifiers.dataset import EARLY_DAYS, HOLDOUT_FRACTION, SPLIT_SEED, Rows, build_rows
from classifiers.dataset import holdout_split as split
from classifiers.export import max_abs_difference, to_onnx
from classifiers.metrics import best_f1_threshold, binary_metrics, multiclass_metrics
from classifiers.snana import SnanaCurve, dataset_sha256, load_snana
from classifiers.tasks import Task, get_task

MAX_ITER = 400
CHUNK = 50
PATIENCE = 100
VALIDATION_FRACTION = 0.15
AUGMENT = {"n_random": 3, "n_early": 2, "full_copies": 3}
HGB_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
ONNX_TOLERANCE = 1e-5
PACKAGES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "light-curve", "numpy")


def _rows(curves: list[SnanaCurve], task: Task, seed: int) -> Rows:
    """Augmented rows; full-curve rows repeated ``full_copies`` times.

    Repeating rows instead of passing ``sample_weight`` keeps the histogram
    binning fast (weighted binning is ~100x slower in scikit-learn 1.9).
    """
    rows = build_rows(
        curves, task, seed=seed, n_random=AUGMENT["n_random"], n_early=AUGMENT["n_early"]
    )
    idx = np.concatenate(
        [np.arange(len(rows.y))] + [np.flatnonzero(rows.full)] * (AUGMENT["full_copies"] - 1)
    )
    return Rows(rows.X[idx], rows.y[idx], rows.group[idx], rows.n_significant[idx], rows.full[idx])


def _fit(rows: Rows, n_iter: int, seed: int) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(max_iter=n_iter, random_state=seed, **HGB_PARAMS)
    return model.fit(rows.X, rows.y)


def _choose(rows_fit: Rows, rows_val: Rows, task: Task, seed: int) -> tuple[int, float | None]:
    """Best iteration count on validation log loss, and the F1-optimal threshold.

    Boosting grows by :data:`CHUNK` iterations (warm start) and stops once the
    validation loss has not improved for :data:`PATIENCE` iterations.
    """
    params = {**HGB_PARAMS, "max_iter": 0, "warm_start": True, "random_state": seed}
    model = HistGradientBoostingClassifier(**params)
    labels = list(range(len(task.classes)))
    losses: list[float] = []
    best_proba = np.zeros((len(rows_val.y), len(labels)))
    while model.max_iter < MAX_ITER and (
        not losses or len(losses) - 1 - int(np.argmin(losses)) < PATIENCE
    ):
        model.set_params(max_iter=min(model.max_iter + CHUNK, MAX_ITER))
        model.fit(rows_fit.X, rows_fit.y)
        for k, proba in enumerate(model.staged_predict_proba(rows_val.X)):
            if k >= len(losses):
                losses.append(log_loss(rows_val.y, proba, labels=labels))
                if losses[-1] <= min(losses):
                    best_proba = proba
        if model.n_iter_ < model.max_iter:  # converged: no further tree can be grown
            break
    best = int(np.argmin(losses))
    threshold = None
    if task.positive is not None:
        threshold = best_f1_threshold(rows_val.y, best_proba[:, 1])
    return best + 1, threshold


def _metrics(task: Task, model: Any, rows: Rows, threshold: float | None) -> dict[str, Any]:
    proba = model.predict_proba(rows.X)
    if threshold is not None:
        out = binary_metrics(rows.y, proba[:, 1], threshold)
    else:
        out = multiclass_metrics(rows.y, proba, task.classes)
    out["n_too_few_points"] = int((rows.n_significant < features.MIN_POINTS).sum())
    return out


def train(
    task_name: str,
    data: str | Path,
    *,
    version: str | None = None,
    limit: int | None = None,
    models_dir: str | Path | None = None,
    seed: int = 0,
    threads: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train ``task_name`` on the SNANA curves in ``data`` and store it in the registry.

    Parameters
    ----------
    task_name
        One of :data:`classifiers.tasks.TASKS`.
    data
        Directory or tar archive of SNANA ``.DAT`` files.
    version
        Registry version; default the next free integer.
    limit
        Use only the first ``limit`` curves (tests, quick trials).
    models_dir
        Registry root (see :func:`classifiers.registry.models_root`).
    seed
        Seed of augmentation and boosting (the held-out split has its own fixed seed).
    threads
        OpenMP threads of the boosting (1 is fastest on a shared machine).
    log
        Progress messages go here.

    Returns
    -------
    dict
        The manifest written next to ``model.onnx``.
    """
    with threadpool_limits(limits=max(1, threads)):
        return _train(get_task(task_name), data, version, limit, models_dir, seed, log)


def _train(
    task: Task,
    data: str | Path,
    version: str | None,
    limit: int | None,
    models_dir: str | Path | None,
    seed: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    version = version or registry.next_version(task.name, models_dir)
    if registry.model_dir(task.name, version, models_dir).exists():
        raise ConfigError(
            f"model {task.name} version {version} already exists; pick another --version"
        )
    curves = [c for c in load_snana(data, limit) if c.sn_class is not None]
    classes = [c.sn_class or "" for c in curves]
    if len(set(task.class_index(c) for c in classes)) < len(task.classes):
        raise ConfigError(f"{data}: the {len(curves)} labelled curves lack some of {task.classes}")
    held = split(classes, HOLDOUT_FRACTION, SPLIT_SEED)
    train_c = [c for c, h in zip(curves, held, strict=True) if not h]
    test_c = [c for c, h in zip(curves, held, strict=True) if h]
    val = split([c.sn_class or "" for c in train_c], VALIDATION_FRACTION, SPLIT_SEED + 1)
    log(f"{task.name}: {len(curves)} curves, {len(train_c)} for training, {len(test_c)} held out")

    rows_fit = _rows([c for c, v in zip(train_c, val, strict=True) if not v], task, seed)
    rows_val = _rows([c for c, v in zip(train_c, val, strict=True) if v], task, seed + 1)
    n_iter, threshold = _choose(rows_fit, rows_val, task, seed)
    log(f"{task.name}: {n_iter} boosting iterations, threshold {threshold}")
    rows_all = _rows(train_c, task, seed)
    model = _fit(rows_all, n_iter, seed)

    test_full = build_rows(test_c, task)
    test_early = build_rows(test_c, task, early_days=EARLY_DAYS)
    metrics: dict[str, Any] = {
        "holdout_full": _metrics(task, model, test_full, threshold),
        "holdout_early": _metrics(task, model, test_early, threshold),
    }
    onnx_bytes = to_onnx(model, rows_all.X.shape[1])
    check = np.concatenate([test_full.X[:500], test_early.X[:500]])
    diff = max_abs_difference(model, onnx_bytes, check)
    if diff > ONNX_TOLERANCE:
        raise ProcessError(f"{task.name}: ONNX and scikit-learn disagree by {diff:.2e}")
    metrics["onnx_max_abs_diff"] = float(f"{diff:.3g}")
    metrics["onnx_check_rows"] = len(check)

    manifest = {
        "task": task.name,
        "description": task.description,
        "classes": list(task.classes),
        "labels": list(task.labels),
        "positive_class": task.positive,
        "bands": list(task.bands),
        "surveys": list(task.surveys),
        "feature_set": {
            "name": features.FEATURE_SET,
            "version": features.FEATURE_SET_VERSION,
            "features": features.feature_names(task.bands),
        },
        "min_points": {"count": features.MIN_POINTS, "snr": features.SIGNIFICANT_SNR},
        "operating_threshold": threshold,
        "decision": "probability >= operating_threshold" if threshold is not None else "argmax",
        "metrics": metrics,
        "training_data": {
            "source": Path(data).name,
            "sha256": dataset_sha256(data),
            "limit": limit,
            "n_curves": len(curves),
            "class_counts": dict(sorted(Counter(classes).items())),
            "n_train_curves": len(train_c),
            "n_holdout_curves": len(test_c),
            "holdout": {"fraction": HOLDOUT_FRACTION, "seed": SPLIT_SEED, "stratified": True},
            "n_train_rows": len(rows_all.y),
            "augmentation": AUGMENT,
            "early_days": EARLY_DAYS,
        },
        "estimator": {
            "type": "sklearn.ensemble.HistGradientBoostingClassifier",
            "params": {**HGB_PARAMS, "max_iter": n_iter, "random_state": seed},
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software": {p: pkg_version(p) for p in PACKAGES},
        "onnx": {"input": "features", "output": "probabilities", "dtype": "float32"},
    }
    path = registry.write_model(task.name, version, onnx_bytes, manifest, models_dir)
    log(f"{task.name}: version {version} written to {path} ({len(onnx_bytes) / 1e6:.2f} MB)")
    return registry.load_manifest(task.name, version, models_dir)
