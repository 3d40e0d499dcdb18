"""Score normalized alerts with the promoted models (one ONNX session per model).

:func:`get_scorer` returns a process-wide :class:`Scorer` per registry root.
It holds one onnxruntime session per promoted model and reloads a model when
its ``PROMOTED`` file changes (checked at most every :data:`CHECK_SECONDS`).

Each alert gets, for every model serving its ``survey``, one record per
label (``snia``: ``Ia``; ``sntype``: ``Ia``, ``II``, ``Ibc``, ``periodic``, ``agn``,
``flare``), probabilities calibrated by the manifest's tables
(:mod:`classifiers.calibration`)::

    {"model": "snia", "version": "1", "model_hash": "<sha256 of model.onnx>",
     "label": "Ia", "probability": 0.93, "reason": None}

An alert with fewer than ``min_points`` points of S/N >= 3 in the model's
bands (from 30 d before its first S/N >= 5 point on) gets
``probability=None`` and ``reason="too_few_points: 2 < 3"``.  An alert whose
``context`` (cross-match label) is a known variable star, AGN/blazar, star,
young stellar object or asteroid gets ``probability=None`` and
``reason="context_veto: variable_star"`` (etc.) for the supernova labels
``Ia``, ``II``, ``Ibc`` (:func:`context_veto`; switch off with :data:`VETO`).
An unknown band name gives ``reason="invalid_photometry: UnknownBandError ..."``.

Examples
--------
>>> from classifiers.inference import get_scorer  # doctest: +SKIP
>>> get_scorer().score_alerts([alert])  # doctest: +SKIP
[[{'model': 'snia', 'version': '1', 'label': 'Ia', 'probability': 0.87, ...}]]
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import onnxruntime as ort

from broker.core.errors import ConfigError
from classifiers import features, registry
from classifiers.anomaly import is_anomaly_model
from classifiers.batchcache import for_batch
from classifiers.calibration import calibrate
from classifiers.export import make_session, predict_proba

CHECK_SECONDS = 5.0
VETO = True
"""Apply :func:`context_veto` (alerts whose ``context`` is a known star/AGN/asteroid)."""
VETO_CONTEXTS = frozenset(
    {"variable_star", "agn_blazar", "stellar", "young_stellar_object", "solar_system"}
)
TRANSIENT_LABELS = frozenset({"Ia", "II", "Ibc"})
LOG = logging.getLogger(__name__)
Record = dict[str, Any]


@dataclass
class LoadedModel:
    """A promoted model ready to score."""

    name: str
    version: str
    model_hash: str
    bands: tuple[str, ...]
    surveys: frozenset[str]
    classes: tuple[str, ...]
    labels: tuple[str, ...]
    min_points: int
    session: ort.InferenceSession
    positive: str | None = None
    threshold: float | None = None
    calibration: dict[str, Any] | None = None
    early_threshold: float | None = None

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities of feature rows (manifest ``calibration``)."""
        raw = predict_proba(self.session, X)
        return calibrate(self.calibration, raw, self.classes, self.positive)


def score_curves(
    model: LoadedModel, lcs: Sequence[features.LightCurve]
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities ``(n, n_classes)`` and S/N >= 3 point counts of light curves.

    Curves with fewer than ``model.min_points`` such points get NaN rows
    (the stream would not score them).
    """
    fm = features.extract(lcs, model.bands)
    proba = np.full((len(lcs), len(model.classes)), np.nan)
    ok = fm.n_significant >= model.min_points
    if ok.any():
        proba[ok] = model.proba(fm.X[ok])
    return proba, fm.n_significant


def context_veto(context: object) -> str | None:
    """Reason to withhold a transient probability given the alert's ``context``, else None.

    ``context`` is the label of ``broker.catalogs.context`` (``variable_star``,
    ``agn_blazar``, ``stellar``, ``young_stellar_object``, ``solar_system``,
    ``galaxy_hosted``, ``hostless``, ``unknown``); those in
    :data:`VETO_CONTEXTS` veto.

    Examples
    --------
    >>> context_veto("variable_star"), context_veto("galaxy_hosted"), context_veto(None)
    ('context_veto: variable_star', None, None)
    """
    label = str(context) if context is not None else ""
    return f"context_veto: {label}" if label in VETO_CONTEXTS else None


def load_model(name: str, version: str, models_dir: str | Path | None = None) -> LoadedModel:
    """Check a registry model against this code's feature set and open its session."""
    manifest = registry.verify(name, version, models_dir)
    fs = manifest.get("feature_set", {})
    bands = tuple(manifest.get("bands", ()))
    if fs.get("name") != features.FEATURE_SET or fs.get("features") != features.feature_names(
        bands
    ):
        raise ConfigError(
            f"model {name} version {version} expects feature set {fs.get('name')} "
            f"v{fs.get('version')} but this code computes {features.FEATURE_SET} "
            f"v{features.FEATURE_SET_VERSION}; retrain it"
        )
    min_points = manifest.get("min_points", {})
    if float(min_points.get("snr", features.SIGNIFICANT_SNR)) != features.SIGNIFICANT_SNR:
        raise ConfigError(f"model {name} version {version}: min_points.snr differs from the code")
    path = registry.model_dir(name, version, models_dir) / manifest["model_file"]
    return LoadedModel(
        name=name,
        version=version,
        model_hash=manifest["model_sha256"],
        bands=bands,
        surveys=frozenset(manifest.get("surveys", ())),
        classes=tuple(manifest["classes"]),
        labels=tuple(manifest["labels"]),
        min_points=int(min_points.get("count", features.MIN_POINTS)),
        session=make_session(path),
        positive=manifest.get("positive_class"),
        threshold=registry.manifest_threshold(manifest),
        calibration=manifest.get("calibration"),
        early_threshold=registry.manifest_threshold(manifest, early=True),
    )


class Scorer:
    """The promoted models of one registry root, reloaded when promotion changes.

    Parameters
    ----------
    models_dir
        Registry root (see :func:`classifiers.registry.models_root`).
    check_seconds
        Minimum interval between two looks at the ``PROMOTED`` files.
    """

    def __init__(self, models_dir: str | Path | None = None, check_seconds: float = CHECK_SECONDS):
        self.root = registry.models_root(models_dir)
        if not self.root.is_dir():
            raise ConfigError(
                f"model registry {self.root} does not exist (set {registry.MODELS_ENV})"
            )
        self.check_seconds = check_seconds
        self.models: dict[str, LoadedModel] = {}
        self._stamps: dict[str, tuple[int, int]] = {}
        self._checked = -float("inf")
        self._lock = threading.Lock()
        self.refresh(force=True, strict=True)

    def refresh(self, force: bool = False, strict: bool = False) -> None:
        """Reload models whose ``PROMOTED`` file changed (at most every ``check_seconds``).

        A model that fails to load keeps its previous version (logged), unless
        ``strict`` (first load), where the error is raised.
        """
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return
        with self._lock:
            self._checked = now
            stamps: dict[str, tuple[int, int]] = {}
            for name in self.watched():
                try:
                    st = os.stat(self.root / name / registry.PROMOTED_FILE)
                except FileNotFoundError:
                    continue
                stamps[name] = (st.st_mtime_ns, st.st_ino)
            models = {n: m for n, m in self.models.items() if n in stamps}
            for name, stamp in stamps.items():
                if self._stamps.get(name) == stamp and name in models:
                    continue
                try:
                    version = registry.promoted_version(name, self.root)
                    if version is None:
                        continue
                    models[name] = self.load(name, version)
                    LOG.info("loaded model %s version %s", name, version)
                except ConfigError:
                    if strict:
                        raise
                    LOG.exception("model %s not reloaded; keeping the previous version", name)
                self._stamps[name] = stamp
            self.models = models  # replaced whole: concurrent scorers see old or new

    def watched(self) -> list[str]:
        """Registry names this scorer serves: every model but the anomaly models."""
        return [n for n in registry.model_names(self.root) if not is_anomaly_model(n)]

    def load(self, name: str, version: str) -> LoadedModel:
        """Load one promoted version (``AnomalyScorer`` loads anomaly models instead)."""
        return load_model(name, version, self.root)

    def score_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> list[list[Record]]:
        """Score a batch of normalized alerts; one list of records per alert (see module doc)."""
        self.refresh()
        models = sorted(self.models.values(), key=lambda m: m.name)
        out: list[list[Record]] = [[] for _ in alerts]
        surveys = [str(a.get("survey", "")).upper() for a in alerts]
        batch = for_batch(alerts)  # light curves and features shared with the anomaly model
        lcs: dict[int, features.LightCurve | str] = {
            i: batch.lightcurve(i)
            for i in range(len(alerts))
            if any(surveys[i] in m.surveys for m in models)
        }
        for bands in dict.fromkeys(m.bands for m in models):
            group = [m for m in models if m.bands == bands]
            served = {s for m in group for s in m.surveys}
            idx = [i for i in lcs if surveys[i] in served and not isinstance(lcs[i], str)]
            fm = batch.matrix(idx, bands)
            row_of = {i: k for k, i in enumerate(idx)}
            for model in group:
                self._score_model(model, alerts, lcs, surveys, fm, row_of, out)
        return out

    @staticmethod
    def _score_model(
        model: LoadedModel,
        alerts: Sequence[Mapping[str, Any]],
        lcs: Mapping[int, Any],
        surveys: list[str],
        fm: features.FeatureMatrix,
        row_of: Mapping[int, int],
        out: list[list[Record]],
    ) -> None:
        mine = [i for i in lcs if surveys[i] in model.surveys]
        ok = [i for i in mine if i in row_of and fm.n_significant[row_of[i]] >= model.min_points]
        proba = model.proba(fm.X[[row_of[i] for i in ok]])
        p_of = {i: proba[k] for k, i in enumerate(ok)}
        cols = [model.classes.index(label) for label in model.labels]
        base = {"model": model.name, "version": model.version, "model_hash": model.model_hash}
        for i in mine:
            veto = context_veto(alerts[i].get("context")) if VETO else None
            if i in p_of:
                p = p_of[i]
                recs = [
                    {**base, "label": lb, "probability": round(float(p[c]), 6), "reason": None}
                    if veto is None or lb not in TRANSIENT_LABELS
                    else {**base, "label": lb, "probability": None, "reason": veto}
                    for lb, c in zip(model.labels, cols, strict=True)
                ]
            else:
                reason = lcs[i] if isinstance(lcs[i], str) else None
                if reason is None:
                    n = int(fm.n_significant[row_of[i]])
                    reason = f"too_few_points: {n} < {model.min_points}"
                recs = [
                    {**base, "label": lb, "probability": None, "reason": reason}
                    for lb in model.labels
                ]
            out[i].extend(recs)


_S = TypeVar("_S", bound=Scorer)
_SCORERS: dict[tuple[type[Scorer], Path], Scorer] = {}
_SCORERS_LOCK = threading.Lock()


def shared_scorer(kind: type[_S], models_dir: str | Path | None = None) -> _S:
    """The process-wide scorer of class ``kind`` for a registry root (created on first use)."""
    root = registry.models_root(models_dir).resolve()
    with _SCORERS_LOCK:
        scorer = _SCORERS.get((kind, root))
        if scorer is None:
            scorer = _SCORERS[(kind, root)] = kind(root)
        return cast(_S, scorer)


def get_scorer(models_dir: str | Path | None = None) -> Scorer:
    """The process-wide :class:`Scorer` of a registry root (created on first use)."""
    return shared_scorer(Scorer, models_dir)


def score_alerts(
    alerts: Sequence[Mapping[str, Any]], models_dir: str | Path | None = None
) -> list[list[Record]]:
    """Score normalized alerts with the promoted models (``get_scorer(models_dir)``)."""
    return get_scorer(models_dir).score_alerts(alerts)
