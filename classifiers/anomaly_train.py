"""Train, export, check and gate an anomaly model; write it to the registry.

:func:`train` fits the isolation forest on feature rows (and the reranker
when some rows are labelled), sets the threshold at the top
``top_fraction`` of the training rows' scores, exports the ONNX graph and
checks that onnxruntime gives scikit-learn's scores.  :func:`gate` compares a
candidate with the promoted version on a fixed reference set of real light
curves; :func:`write` stores a version (unpromoted).

Examples
--------
>>> import numpy as np
>>> from classifiers.anomaly import feature_columns
>>> names = feature_columns(("g", "r"))
>>> X = np.random.default_rng(0).normal(size=(300, len(names)))
>>> t = train("ZTF", X, [""] * 300, Params(n_trees=20), {"source": "doc"})
>>> t.manifest["kind"], t.manifest["threshold"] > 0.4, t.manifest["onnx_max_abs_diff"] < 1e-4
('anomaly', True, True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from broker.core.errors import ConfigError
from classifiers import anomaly, anomaly_feedback, anomaly_onnx, features, registry


@dataclass(frozen=True)
class Params:
    """Training and gate parameters (the nightly job reads them from ``AnomalySettings``)."""

    n_trees: int = 150
    max_samples: int = 256
    top_fraction: float = 0.01
    feedback_weight: float = 1.0
    feedback_background: int = 1000
    seed: int = 0
    gate_min_reference: int = 50
    gate_max_flag_fraction: float = 0.2
    gate_min_rank_correlation: float = 0.5


@dataclass
class Trained:
    """A trained candidate: the model, its ONNX bytes and manifest, training scores."""

    model: anomaly.AnomalyModel
    onnx: bytes
    manifest: dict[str, Any]
    scores: np.ndarray


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import sklearn

    return {
        "scikit-learn": sklearn.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def train(
    survey: str,
    X: np.ndarray,
    labels: Sequence[Any],
    params: Params,
    data: dict[str, Any],
    threshold_rows: np.ndarray | None = None,
) -> Trained:
    """Fit, export and check an anomaly model for ``survey`` on raw feature rows ``X``.

    Parameters
    ----------
    survey
        ``ZTF`` or ``LSST`` (the model's bands follow).
    X
        Rows of :func:`classifiers.anomaly.feature_columns` of the survey's bands.
    labels
        Per row ``interesting``, ``boring`` or empty (the reranker needs one label).
    params
        :class:`Params`.
    data
        What the rows are (stored in the manifest under ``training_data``).
    threshold_rows
        Boolean mask of the rows the threshold is set on (default: all); the
        initial model sets it on its real alerts, not on its simulated curves.
    """
    survey = survey.upper()
    bands = anomaly.SURVEY_BANDS[survey]
    names = anomaly.feature_columns(bands)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ConfigError(f"expected rows of {len(names)} anomaly features, got {X.shape}")
    model = anomaly.fit_forest(X, names, params.n_trees, params.max_samples, params.seed)
    u = model.unsupervised(X)
    model.reranker = anomaly_feedback.fit_reranker(
        model.scaling.apply(X),
        u,
        labels,
        weight=params.feedback_weight,
        background=params.feedback_background,
        seed=params.seed,
    )
    scores, _u = model.score(X)
    on = scores if threshold_rows is None else scores[np.asarray(threshold_rows, dtype=bool)]
    onnx_bytes = anomaly_onnx.to_onnx(model)
    onnx_scores, _ = anomaly_onnx.run(anomaly_onnx.make_session(onnx_bytes), X)
    diff = float(np.abs(onnx_scores - scores).max()) if len(X) else 0.0
    manifest: dict[str, Any] = {
        "kind": anomaly.KIND,
        "task": "anomaly",
        "description": f"isolation-forest anomaly score of {survey} alerts' light curves",
        "surveys": [survey],
        "bands": list(bands),
        "feature_set": {"name": features.FEATURE_SET, "version": features.FEATURE_SET_VERSION},
        "features": names,
        "min_points": {"count": features.MIN_POINTS, "snr": features.SIGNIFICANT_SNR},
        "threshold": anomaly.threshold_for(on, params.top_fraction),
        "threshold_rule": f"score above which the top {params.top_fraction:.2%} of the "
        f"{'real ' if threshold_rows is not None else ''}training alerts lie ({len(on)})",
        "top_fraction": params.top_fraction,
        "score": "unsupervised + weight * (P(interesting) - P(boring)); higher = more unusual",
        "forest": {
            "estimator": "sklearn.ensemble.IsolationForest",
            "n_trees": params.n_trees,
            "max_samples": int(model.forest.max_samples_),
            "seed": params.seed,
        },
        "feedback": model.reranker.describe() if model.reranker else None,
        "training_data": {**data, "n_rows": len(X)},
        "training_scores": {
            q: round(float(np.quantile(scores, float(q))), 6) for q in ("0.5", "0.9", "0.99")
        },
        "onnx_max_abs_diff": diff,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    if diff > 1e-4:
        raise ConfigError(f"ONNX anomaly scores differ from scikit-learn's by {diff:.2e}")
    return Trained(model, onnx_bytes, manifest, scores)


def reference_scores(
    session: Any, names: Sequence[str], bands: Sequence[str], lcs: Sequence[features.LightCurve]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(score, unsupervised, scored mask)`` of reference curves through an ONNX session."""
    X, ok = anomaly.feature_rows(lcs, bands, names, features.MIN_POINTS)
    score, u = anomaly_onnx.run(session, X[ok])
    return score, u, ok


def gate(
    candidate: Trained,
    promoted: Any,
    reference: Sequence[features.LightCurve],
    params: Params,
) -> dict[str, Any]:
    """Decide whether ``candidate`` may replace ``promoted`` (a LoadedAnomaly or None).

    Checks on the fixed reference set of real curves: at least
    ``gate_min_reference`` are scored, every score is finite, at most
    ``gate_max_flag_fraction`` of them reach the candidate's threshold, and
    (when a version is promoted) the candidate's unsupervised scores rank them
    like the promoted one's (Spearman >= ``gate_min_rank_correlation``).
    """
    m = candidate.manifest
    session = anomaly_onnx.make_session(candidate.onnx)
    score, u, ok = reference_scores(session, m["features"], m["bands"], reference)
    problems = []
    n = int(ok.sum())
    flagged = float((score >= m["threshold"]).mean()) if n else 1.0
    if n < params.gate_min_reference:
        problems.append(f"{n} reference curves scored < {params.gate_min_reference}")
    if not np.isfinite(score).all():
        problems.append("non-finite scores on the reference set")
    if flagged > params.gate_max_flag_fraction:
        problems.append(
            f"{flagged:.1%} of the reference set flagged > {params.gate_max_flag_fraction:.0%}"
        )
    report: dict[str, Any] = {"n_reference": len(reference), "n_scored": n}
    report["flagged_fraction"] = round(flagged, 4)
    report["rank_correlation"] = None
    if promoted is not None:
        _s, pu, pok = reference_scores(promoted.session, promoted.names, promoted.bands, reference)
        both = ok & pok
        rho = float(spearmanr(u[both[ok]], pu[both[pok]]).statistic) if both.sum() > 2 else 0.0
        report["rank_correlation"] = round(rho, 4)
        report["promoted_version"] = promoted.version
        if not rho >= params.gate_min_rank_correlation:
            problems.append(
                f"rank correlation with version {promoted.version} {rho:.2f} < "
                f"{params.gate_min_rank_correlation}"
            )
    report["problems"] = problems
    report["passed"] = not problems
    return report


def write(
    survey: str, trained: Trained, models_dir: str | Path | None = None, version: str | None = None
) -> tuple[str, str]:
    """Store the candidate (unpromoted); returns ``(name, version)``."""
    name = anomaly.model_name(survey)
    version = version or registry.next_version(name, models_dir)
    registry.write_model(name, version, trained.onnx, trained.manifest, models_dir)
    return name, version
