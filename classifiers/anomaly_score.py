"""Score normalized alerts with the promoted anomaly model of their survey.

:func:`get_anomaly_scorer` returns a process-wide :class:`AnomalyScorer`: the
classifiers' :class:`~classifiers.inference.Scorer` watching the anomaly
models (``anomaly_ztf``, ``anomaly_lsst``) instead, so a newly promoted
version is loaded within :data:`~classifiers.inference.CHECK_SECONDS` by a
running stream, without restart.  Each alert of a served survey gets one
record (field ``anomaly`` of the alert schema 1.2)::

    {"model": "anomaly_ztf", "version": "1", "model_hash": "<sha256 of model.onnx>",
     "score": 0.71, "unsupervised": 0.64, "threshold": 0.62, "reason": None}

``score`` is higher for more unusual alerts (re-ranked by the labels the
model was trained with; ``unsupervised`` is the isolation forest's alone);
``threshold`` is the manifest's (the built-in ``anomaly`` filter passes
``score >= threshold``).  Alerts with fewer than ``min_points`` points of
S/N >= 3 in the model's bands get ``score=None`` and
``reason="too_few_points: 2 < 3"``; unreadable photometry gives
``reason="invalid_photometry: ..."``.  Alerts of a survey without a promoted
anomaly model get no record (None).

Examples
--------
>>> get_anomaly_scorer().score_alerts([alert])  # doctest: +SKIP
[{'model': 'anomaly_ztf', 'version': '1', 'score': 0.48, ...}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from broker.core.errors import ConfigError
from classifiers import features, registry
from classifiers.anomaly import KIND, column_index, is_anomaly_model
from classifiers.anomaly_onnx import make_session, run
from classifiers.batchcache import for_batch
from classifiers.inference import LoadedModel, Scorer, shared_scorer

Record = dict[str, Any]


@dataclass
class LoadedAnomaly(LoadedModel):
    """A promoted anomaly model: its features (by name, mapped to today's columns)."""

    names: tuple[str, ...] = ()
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    provider: str = ""


def load_anomaly(name: str, version: str, models_dir: str | Path | None = None) -> LoadedAnomaly:
    """Check an anomaly model against this code's features and open its session."""
    manifest = registry.verify(name, version, models_dir)
    if manifest.get("kind") != KIND:
        raise ConfigError(f"model {name} version {version} is not an anomaly model")
    bands = tuple(manifest["bands"])
    names = tuple(manifest["features"])
    columns = column_index(names, bands)  # ConfigError when a feature is gone
    min_points = manifest.get("min_points", {})
    if float(min_points.get("snr", features.SIGNIFICANT_SNR)) != features.SIGNIFICANT_SNR:
        raise ConfigError(f"model {name} version {version}: min_points.snr differs from the code")
    path = registry.model_dir(name, version, models_dir) / manifest["model_file"]
    session = make_session(path)
    return LoadedAnomaly(
        name=name,
        version=version,
        model_hash=manifest["model_sha256"],
        bands=bands,
        surveys=frozenset(manifest.get("surveys", ())),
        classes=(),
        labels=(),
        min_points=int(min_points.get("count", features.MIN_POINTS)),
        session=session,
        threshold=float(manifest["threshold"]),
        names=names,
        columns=columns,
        provider=str(session.get_providers()[0]),
    )


class AnomalyScorer(Scorer):
    """The promoted anomaly models of one registry root, reloaded when promotion changes."""

    def watched(self) -> list[str]:
        """Only the anomaly models."""
        return [n for n in registry.model_names(self.root) if is_anomaly_model(n)]

    def load(self, name: str, version: str) -> LoadedModel:
        """Load one anomaly model version."""
        return load_anomaly(name, version, self.root)

    def providers(self) -> dict[str, str]:
        """Execution provider of each loaded model."""
        return {n: getattr(m, "provider", "") for n, m in self.models.items()}

    def score_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> list[Record | None]:  # type: ignore[override]
        """One anomaly record per alert (None when no model serves its survey); module doc."""
        self.refresh()
        out: list[Record | None] = [None] * len(alerts)
        surveys = [str(a.get("survey", "")).upper() for a in alerts]
        for model in sorted(self.models.values(), key=lambda m: m.name):
            assert isinstance(model, LoadedAnomaly)
            self._score_anomaly(model, alerts, surveys, out)
        return out

    @staticmethod
    def _score_anomaly(
        model: LoadedAnomaly,
        alerts: Sequence[Mapping[str, Any]],
        surveys: list[str],
        out: list[Record | None],
    ) -> None:
        base = {
            "model": model.name,
            "version": model.version,
            "model_hash": model.model_hash,
            "threshold": model.threshold,
        }
        batch = for_batch(alerts)  # the classifiers' light curves and features, if computed
        mine = [i for i, s in enumerate(surveys) if s in model.surveys and out[i] is None]
        idx = []
        for i in mine:
            curve = batch.lightcurve(i)
            if isinstance(curve, str):
                out[i] = {**base, "score": None, "unsupervised": None, "reason": curve[:300]}
            else:
                idx.append(i)
        fm = batch.matrix(idx, model.bands)
        ok = fm.n_significant >= model.min_points
        score, unsupervised = run(model.session, fm.X[ok][:, model.columns])
        k = 0
        for row, i in enumerate(idx):
            if ok[row]:
                s, u = round(float(score[k]), 6), round(float(unsupervised[k]), 6)
                out[i] = {**base, "score": s, "unsupervised": u, "reason": None}
                k += 1
            else:
                n = int(fm.n_significant[row])
                reason = f"too_few_points: {n} < {model.min_points}"
                out[i] = {**base, "score": None, "unsupervised": None, "reason": reason}


def get_anomaly_scorer(models_dir: str | Path | None = None) -> AnomalyScorer:
    """The process-wide :class:`AnomalyScorer` of a registry root (created on first use)."""
    return shared_scorer(AnomalyScorer, models_dir)
