"""The promotion gate of the anomaly model on real reference curves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from broker.core.config import REPO_ROOT
from broker.pipeline.inspect import inspect_paths
from classifiers import anomaly, anomaly_train, features, registry
from classifiers.anomaly_data import labelled_snapshots
from classifiers.anomaly_score import load_anomaly
from tests.conftest import SHARED_DATA

MODELS = REPO_ROOT / "classifiers" / "models"
BANDS = anomaly.SURVEY_BANDS["ZTF"]


@pytest.fixture(scope="module")
def reference() -> list[features.LightCurve]:
    """Alert-like snapshots of the validation half of the real labelled curves (SN Ia, RRL)."""
    snaps = labelled_snapshots(SHARED_DATA / "labeled-real", "ZTF", BANDS, "validation")
    return [lc for items in snaps.values() for _n, lc in items]


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Feature rows of the real ZTF alerts of ../shared/data (not the bundled demo ones)."""
    alerts = [a for r in inspect_paths([str(SHARED_DATA / "ztf")]) for a in r.alerts]
    lcs = [features.lightcurve_from_alert(a) for a in alerts if a["survey"] == "ZTF"]
    X, ok = anomaly.feature_rows(lcs, BANDS, anomaly.feature_columns(BANDS), 3)
    return X[ok]


@pytest.fixture(scope="module")
def promoted() -> Any:
    return load_anomaly(
        "anomaly_ztf", str(registry.promoted_version("anomaly_ztf", MODELS)), MODELS
    )


def _train(X: np.ndarray, **params: Any) -> anomaly_train.Trained:
    return anomaly_train.train("ZTF", X, [""] * len(X), anomaly_train.Params(**params), {})


def test_a_model_of_the_same_sky_passes(
    rows: np.ndarray, reference: list[Any], promoted: Any
) -> None:
    report = anomaly_train.gate(_train(rows, seed=5), promoted, reference, anomaly_train.Params())
    assert report["passed"], report["problems"]
    assert report["n_scored"] > 500 and report["flagged_fraction"] < 0.05
    assert report["rank_correlation"] > 0.6 and report["promoted_version"] == promoted.version


def test_scrambled_features_are_refused(
    rows: np.ndarray, reference: list[Any], promoted: Any
) -> None:
    # A broken feature pipeline: every column holds another feature's values.
    scrambled = _train(rows[:, ::-1].copy())
    report = anomaly_train.gate(scrambled, promoted, reference, anomaly_train.Params())
    assert not report["passed"]
    assert any(p.startswith("rank correlation with version") for p in report["problems"])


def test_a_threshold_flagging_much_of_the_reference_set_is_refused(
    rows: np.ndarray, reference: list[Any]
) -> None:
    loose = _train(rows, top_fraction=0.6)
    report = anomaly_train.gate(loose, None, reference, anomaly_train.Params())
    assert report["rank_correlation"] is None  # nothing promoted: no comparison
    assert not report["passed"] and "of the reference set flagged" in report["problems"][0]
