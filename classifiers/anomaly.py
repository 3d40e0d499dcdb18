"""Anomaly model: an isolation forest over light-curve features, one per survey.

The model scores how unusual an alert's light curve is among the alerts it
was trained on (higher = more unusual).  Training and stream use the same
three steps, in numpy here and in the ONNX graph of
:mod:`classifiers.anomaly_onnx`:

1. **Features by name.** :func:`feature_columns` picks shape, variability,
   colour and timing features of :func:`classifiers.features.extract` by
   *name* (:data:`PER_BAND`, :data:`COLOURS`, :data:`GLOBAL`); the names are
   stored in the manifest and looked up again when the model is loaded, so a
   feature added to ``features.py`` does not move them.  Apparent brightness
   is not used (fsv2 has none): it measures distance, not nature.
2. **Robust scaling.** ``z = asinh((x - median) / (IQR / 1.349))`` per
   feature, missing values -> 0 (the median): heavy tails (slopes from two
   points, chi2 of a bad fit) no longer dominate the forest's random splits.
3. **Isolation forest** (Liu, Ting & Zhou 2008; scikit-learn's
   ``IsolationForest``): ``unsupervised = 2 ** (-E[h(z)] / c(max_samples))``,
   i.e. ``-score_samples``, in (0, 1]; about 0.5 for ordinary points.

Expert labels add a re-ranking step (:mod:`classifiers.anomaly_feedback`):
``score = unsupervised + weight * (P(interesting-like) - P(boring-like))``.
Without labels ``score = unsupervised``.

Examples
--------
>>> feature_columns(("g", "r"))[:3]
['g_standard_deviation', 'g_skew', 'g_kurtosis']
>>> model_name("ZTF"), SURVEY_BANDS["LSST"]
('anomaly_ztf', ('g', 'r', 'i', 'z'))
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from broker.core.errors import ConfigError
from classifiers import features

KIND = "anomaly"
PREFIX = "anomaly_"
SURVEY_BANDS: dict[str, tuple[str, ...]] = {"ZTF": ("g", "r"), "LSST": ("g", "r", "i", "z")}
PER_BAND = (
    "standard_deviation",
    "skew",
    "kurtosis",
    "beyond_1_std",
    "stetson_K",
    "eta_e",
    "peak_flux",
    "rise_slope",
    "fall_slope",
    "last_flux",
)
COLOURS = ("color_peak", "color_last")
GLOBAL = (
    "r_bazin_fit_rise_time",
    "r_bazin_fit_fall_time",
    "r_bazin_fit_reduced_chi2",
    "rise_time",
    "time_since_peak",
    "half_width",
    "time_since_first",
    "neg_frac",
)
IQR_TO_SIGMA = 1.349


def model_name(survey: str) -> str:
    """Registry name of a survey's anomaly model (``anomaly_ztf``, ``anomaly_lsst``)."""
    survey = survey.upper()
    if survey not in SURVEY_BANDS:
        raise ConfigError(f"no anomaly model for survey {survey!r}; choose {sorted(SURVEY_BANDS)}")
    return PREFIX + survey.lower()


def is_anomaly_model(name: str) -> bool:
    """True for registry names of anomaly models (not classifiers)."""
    return name.startswith(PREFIX)


def feature_columns(bands: Sequence[str]) -> list[str]:
    """Names of the fsv2 features the anomaly model of ``bands`` reads, in model order."""
    wanted = [f"{b}_{s}" for b in bands for s in PER_BAND]
    wanted += [f"{a}{b}_{c}" for a, b in itertools.pairwise(bands) for c in COLOURS]
    wanted += list(GLOBAL)
    available = set(features.feature_names(bands))
    return [n for n in wanted if n in available]


def column_index(names: Sequence[str], bands: Sequence[str]) -> np.ndarray:
    """Positions of ``names`` in today's ``features.feature_names(bands)``.

    Raises
    ------
    ConfigError
        A name the feature code no longer computes (the model must be retrained).
    """
    current = {n: i for i, n in enumerate(features.feature_names(bands))}
    missing = [n for n in names if n not in current]
    if missing:
        raise ConfigError(
            f"anomaly model reads features {missing} that classifiers.features no longer "
            "computes; retrain it (faucon anomaly train)"
        )
    return np.array([current[n] for n in names], dtype=np.int64)


@dataclass
class Scaling:
    """Per-feature robust scaling: ``asinh((x - center) / scale)``, NaN -> 0."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Scaling:
        """Median and IQR/1.349 of each column (NaN ignored; constant columns get scale 1)."""
        with np.errstate(all="ignore"):
            center = np.nanmedian(X, axis=0) if len(X) else np.zeros(X.shape[1])
            q75, q25 = (np.nanpercentile(X, q, axis=0) for q in (75, 25))
        center = np.nan_to_num(center, nan=0.0)
        scale = np.nan_to_num((q75 - q25) / IQR_TO_SIGMA, nan=1.0)
        scale[scale <= 1e-12] = 1.0
        return cls(center.astype(np.float32), scale.astype(np.float32))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Scaled float32 features (the ONNX graph computes the same in float32)."""
        X = np.asarray(X, dtype=np.float32)
        with np.errstate(all="ignore"):
            z = np.arcsinh((X - self.center) / self.scale)
        return np.where(np.isnan(X), np.float32(0), z).astype(np.float32)


@dataclass
class AnomalyModel:
    """A fitted anomaly model (scikit-learn side); :func:`anomaly_onnx.to_onnx` exports it."""

    names: list[str]
    scaling: Scaling
    forest: IsolationForest
    reranker: Any = None  # anomaly_feedback.Reranker or None
    info: dict[str, Any] = field(default_factory=dict)

    def unsupervised(self, X: np.ndarray) -> np.ndarray:
        """Isolation-forest score in (0, 1] of raw feature rows (columns = ``names``)."""
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(-self.forest.score_samples(self.scaling.apply(X)), dtype=np.float64)

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(score, unsupervised)``: the re-ranked score (= unsupervised without labels)."""
        u = self.unsupervised(X)
        if self.reranker is None or len(X) == 0:
            return u, u
        return u + self.reranker.shift(self.scaling.apply(X), u), u


def fit_forest(
    X: np.ndarray, names: Sequence[str], n_trees: int = 150, max_samples: int = 256, seed: int = 0
) -> AnomalyModel:
    """Fit the scaling and the isolation forest on raw feature rows (columns = ``names``).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> X[0] = [8.0, -8.0]
    >>> m = fit_forest(X, ["a", "b"], n_trees=50)
    >>> int(np.argmax(m.unsupervised(X)))
    0
    """
    X = np.asarray(X, dtype=np.float32)
    if len(X) < 2:
        raise ConfigError(f"an anomaly model needs at least 2 training rows, got {len(X)}")
    scaling = Scaling.fit(X)
    forest = IsolationForest(
        n_estimators=n_trees,
        max_samples=min(max_samples, len(X)),
        random_state=seed,
        n_jobs=1,
    ).fit(scaling.apply(X))
    return AnomalyModel(list(names), scaling, forest)


def threshold_for(scores: np.ndarray, top_fraction: float) -> float:
    """Score above which ``top_fraction`` of ``scores`` lie (the manifest's ``threshold``).

    Examples
    --------
    >>> threshold_for(np.arange(100) / 100, 0.05)
    0.95
    """
    if not 0 < top_fraction < 1:
        raise ConfigError(f"top fraction {top_fraction} must be between 0 and 1")
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ConfigError("no scores to set a threshold on")
    k = max(1, int(np.ceil(top_fraction * s.size)))
    return float(np.floor(s[s.size - k] * 1e6) / 1e6)  # rounded down: the k-th score passes


def feature_rows(
    lcs: Sequence[features.LightCurve], bands: Sequence[str], names: Sequence[str], min_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Raw anomaly feature rows of light curves and the mask of those with enough points."""
    fm = features.extract(lcs, bands)
    idx = column_index(names, bands)
    return fm.X[:, idx], fm.n_significant >= min_points
