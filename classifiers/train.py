"""Train, evaluate, export and register one classifier.

Procedure (same for every task, all seeds fixed):

1. Read the labelled SNANA curves; hold out 20 % of the objects (stratified
   by true class Ia/II/Ibc, seed :data:`~classifiers.dataset.SPLIT_SEED`), the
   same objects for every task.  They are never used for fitting or choices.
2. Of the remaining objects, 15 % are a validation set.  Each object gives
   its SNPCC curve and a survey-matched copy; simulated variables and (ZTF
   tasks, ``real_dir``) the training half of the real labelled curves are
   added and split the same way (:mod:`classifiers.trainset`).  Rows: each
   curve in full (repeated 3 times) plus 3 cuts at random S/N >= 5 epochs
   (ZTF: every other one keeps 30 d of history), 4 cuts 0-40 d after the
   first detection (every other one in 0-10 d) and 2 windows of 0-20 d ending
   at a random S/N >= 5 epoch with nothing before them.
3. Fit a ``HistGradientBoostingClassifier`` on the other 85 %; the number of
   boosting iterations (<= :data:`classifiers.boosting.MAX_ITER`, multi-class
   :data:`~classifiers.boosting.MAX_ITER_MULTICLASS`) minimising the validation log loss is kept.
   The model fitted on the 85 % is the one shipped (no refit), so that its
   isotonic calibration (:mod:`classifiers.calibration`), fitted on the
   validation rows, applies to it; the operating threshold of a binary task
   is chosen on the calibrated validation rows, its early threshold (the
   ``early_snia_candidate`` filter's) on alert views of the validation
   objects' first days (:mod:`classifiers.early`).
4. Metrics on the held-out SNPCC objects, full curves and curves cut 20 d after
   the first S/N >= 5 point; ONNX export checked against scikit-learn.

Examples
--------
>>> from classifiers.train import train  # doctest: +SKIP
>>> train("snia", "/work/shared/data/labeled-snpcc-train.tar.xz", limit=300)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from broker.core.errors import ConfigError, ProcessError
from classifiers import calibration, early, features, registry, trainset
from classifiers.boosting import HGB_PARAMS, choose_iterations, fit
from classifiers.cadence import HISTORY_DAYS
from classifiers.dataset import EARLY_DAYS, HOLDOUT_FRACTION, SPLIT_SEED, Curve, Rows, build_rows
from classifiers.dataset import holdout_split as split
from classifiers.export import max_abs_difference, to_onnx
from classifiers.metrics import binary_metrics, multiclass_metrics
from classifiers.snana import SnanaCurve, dataset_sha256, load_snana
from classifiers.tasks import NEGATIVE_CLASSES, Task, get_task
from classifiers.trainset import Labelled

VALIDATION_FRACTION = 0.15
AUGMENT = {"n_random": 3, "n_early": 4, "n_window": 2, "full_copies": 3}
ONNX_TOLERANCE = 1e-5
PACKAGES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "light-curve", "numpy")


def _rows(curves: Sequence[Curve], task: Task, seed: int) -> Rows:
    """Augmented rows; full-curve rows repeated ``full_copies`` times.

    Repeating rows instead of passing ``sample_weight`` keeps the histogram
    binning fast (weighted binning is ~100x slower in scikit-learn 1.9).
    """
    rows = build_rows(
        curves,
        task,
        seed=seed,
        n_random=AUGMENT["n_random"],
        n_early=AUGMENT["n_early"],
        n_window=AUGMENT["n_window"],
        history_days=HISTORY_DAYS.get(task.surveys[0]) if "ZTF" in task.surveys else None,
        groups_of=[getattr(c, "group", k) for k, c in enumerate(curves)],
    )
    idx = np.concatenate(
        [np.arange(len(rows.y))] + [np.flatnonzero(rows.full)] * (AUGMENT["full_copies"] - 1)
    )
    return Rows(rows.X[idx], rows.y[idx], rows.group[idx], rows.n_significant[idx], rows.full[idx])


def _metrics(
    task: Task, model: Any, rows: Rows, threshold: float | None, cal: dict[str, Any]
) -> dict[str, Any]:
    proba = calibration.calibrate(cal, model.predict_proba(rows.X), task.classes, task.positive)
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
    real_dir: str | Path | None = None,
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
    real_dir
        Real labelled curves (``labeled-real`` layout); the training half of its
        supernovae is added to ZTF tasks (see :mod:`classifiers.trainset`).

    Returns
    -------
    dict
        The manifest written next to ``model.onnx``.
    """
    with threadpool_limits(limits=max(1, threads)):
        return _train(get_task(task_name), data, version, limit, models_dir, seed, log, real_dir)


def _labelled(
    curves: list[SnanaCurve],
    task: Task,
    real: list[Labelled],
    seed: int,
    first_id: int,
) -> list[Labelled]:
    rng = np.random.default_rng(seed)
    out = trainset.supernovae(curves, task, rng, first_id)
    n_var = round(trainset.MIX["variables"] * len(curves))
    out += trainset.variables(task, n_var, rng, first_id + len(curves))
    return out + real


def _train(
    task: Task,
    data: str | Path,
    version: str | None,
    limit: int | None,
    models_dir: str | Path | None,
    seed: int,
    log: Callable[[str], None],
    real_dir: str | Path | None = None,
) -> dict[str, Any]:
    version = version or registry.next_version(task.name, models_dir)
    if registry.model_dir(task.name, version, models_dir).exists():
        raise ConfigError(
            f"model {task.name} version {version} already exists; pick another --version"
        )
    curves = [c for c in load_snana(data, limit) if c.sn_class is not None]
    classes = [c.sn_class or "" for c in curves]
    held = split(classes, HOLDOUT_FRACTION, SPLIT_SEED)
    train_c = [c for c, h in zip(curves, held, strict=True) if not h]
    test_c = [c for c, h in zip(curves, held, strict=True) if h]
    val = split([c.sn_class or "" for c in train_c], VALIDATION_FRACTION, SPLIT_SEED + 1)
    real, real_counts = trainset.real_training(real_dir, task, 10**7) if real_dir else ([], {})
    real_val = [r for r in real if r.group % 7 == 0]  # about 15 % of the real objects
    fit_c = [c for c, v in zip(train_c, val, strict=True) if not v]
    val_c = [c for c, v in zip(train_c, val, strict=True) if v]
    fit_l = _labelled(fit_c, task, [r for r in real if r.group % 7], seed, 0)
    val_l = _labelled(val_c, task, real_val, seed + 1, 5 * 10**6)
    present = {task.class_index(c.sn_class) for c in fit_l}
    if len(present) < len(task.classes):
        raise ConfigError(f"{data}: the training curves lack some of {task.classes}")
    log(f"{task.name}: {len(curves)} SNPCC curves, {len(fit_l)} fit / {len(val_l)} validation")

    rows_fit = _rows(fit_l, task, seed)
    rows_val = _rows(val_l, task, seed + 1)
    n_iter, raw_val = choose_iterations(rows_fit, rows_val, task, seed)
    model = fit(rows_fit, n_iter, seed)
    cal = calibration.fit(rows_val.y, raw_val, task.classes, task.positive)
    threshold = early_threshold = early_rule = None
    if task.positive is not None:
        p_val = calibration.calibrate(cal, raw_val, task.classes, task.positive)[:, 1]
        variable = {c.group: c.sn_class in NEGATIVE_CLASSES for c in val_l}
        is_var = np.array([variable[int(g)] for g in rows_val.group])
        threshold = calibration.choose_threshold(rows_val.y, p_val, is_var)
        early_threshold, early_rule = early.operating_point(
            lambda X: calibration.calibrate(
                cal, model.predict_proba(X), task.classes, task.positive
            )[:, 1],
            val_l,
            task,
        )
    log(f"{task.name}: {n_iter} iterations, threshold {threshold}, early {early_threshold}")

    test_full = build_rows(test_c, task)
    test_early = build_rows(test_c, task, early_days=EARLY_DAYS)
    metrics: dict[str, Any] = {
        "holdout_full": _metrics(task, model, test_full, threshold, cal),
        "holdout_early": _metrics(task, model, test_early, threshold, cal),
        "validation_rows": _metrics(task, model, rows_val, threshold, cal),
    }
    onnx_bytes = to_onnx(model, rows_fit.X.shape[1])
    check = np.concatenate([test_full.X[:500], test_early.X[:500]])
    diff = max_abs_difference(model, onnx_bytes, check)
    if diff > ONNX_TOLERANCE:
        raise ProcessError(f"{task.name}: ONNX and scikit-learn disagree by {diff:.2e}")
    metrics["onnx_max_abs_diff"] = float(f"{diff:.3g}")
    metrics["onnx_check_rows"] = len(check)
    sources = Counter(c.source for c in fit_l + val_l)
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
        "threshold": threshold,
        "threshold_rule": {
            "objective": "max validation F1 of the positive class (calibrated probability)",
            "max_variable_fpr": calibration.MAX_VARIABLE_FPR,
            "unit": "calibrated probability",
        }
        if threshold is not None
        else None,
        "operating_threshold": threshold,
        "early_threshold": early_threshold,
        "early_threshold_rule": early_rule,
        "decision": "probability >= threshold" if threshold is not None else "argmax",
        "calibration": cal,
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
            "real": {"dir": str(real_dir) if real_dir else None, "train_half": real_counts},
            "curve_sources": dict(sorted(sources.items())),
            "mix": trainset.MIX,
            "variable_kinds": trainset.KIND_SHARE,
            "n_fit_rows": len(rows_fit.y),
            "n_validation_rows": len(rows_val.y),
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
