"""Evaluate a registered (ONNX) model on labelled SNANA light curves.

Every labelled curve is scored, in full or cut ``early_days`` after its first
S/N >= 5 point in the model's bands; curves the stream would not score (too
few points) are still scored here and counted in ``n_too_few_points``.

Examples
--------
>>> from classifiers.evaluate import evaluate  # doctest: +SKIP
>>> evaluate("snia", "/path/to/SNANA_dir", early_days=20)["roc_auc"]  # doctest: +SKIP
0.97
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from broker.core.errors import ConfigError
from classifiers import features, registry
from classifiers.dataset import early_cut
from classifiers.inference import load_model
from classifiers.metrics import binary_metrics, multiclass_metrics
from classifiers.snana import load_snana


def resolve_version(name: str, version: str | None, models_dir: str | Path | None) -> str:
    """``version``, else the promoted version, else the newest one."""
    if version:
        return version
    found = registry.promoted_version(name, models_dir)
    if found is None:
        known = registry.versions(name, models_dir)
        if not known:
            root = registry.models_root(models_dir)
            raise ConfigError(
                f"no model named {name!r} in {root}; known: {registry.model_names(models_dir)}"
            )
        found = known[-1]
    return found


def evaluate(
    name: str,
    snana: str | Path,
    *,
    version: str | None = None,
    early_days: float | None = None,
    limit: int | None = None,
    models_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics of model ``name`` on the labelled curves of ``snana``.

    Returns
    -------
    dict
        ``n``, ``roc_auc``, ``accuracy``, ``purity``, ``efficiency`` (at the
        operating threshold; per class for multi-class models), ``n_too_few_points``
        and what was evaluated.
    """
    version = resolve_version(name, version, models_dir)
    manifest = registry.load_manifest(name, version, models_dir)
    model = load_model(name, version, models_dir)
    curves = [c for c in load_snana(snana, limit) if c.sn_class is not None]
    if not curves:
        raise ConfigError(f"{snana}: no curve with a known type")
    positive = manifest.get("positive_class")
    classes = list(manifest["classes"])
    unknown = {c.sn_class or "" for c in curves} - set(classes) if positive is None else set()
    if unknown:
        raise ConfigError(f"{snana}: classes {sorted(unknown)} are not among the model's {classes}")
    y = np.array(
        [int(c.sn_class == positive) if positive else classes.index(c.sn_class) for c in curves]
    )
    lcs = [c.lightcurve for c in curves]
    if early_days is not None:
        lcs = [early_cut(lc, early_days, model.bands) for lc in lcs]
    fm = features.extract(lcs, model.bands)
    proba = model.proba(fm.X)  # calibrated (manifest tables)
    if positive:
        if model.threshold is None:
            raise ConfigError(f"model {name} version {version}: binary model without a threshold")
        metrics = binary_metrics(y, proba[:, 1], model.threshold)
    else:
        metrics = multiclass_metrics(y, proba, classes)
    return {
        "model": name,
        "version": version,
        "model_hash": model.model_hash,
        "data": str(snana),
        "early_days": early_days,
        **metrics,
        "n_too_few_points": int((fm.n_significant < model.min_points).sum()),
    }
