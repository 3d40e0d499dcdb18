"""The anomaly model on real alerts: features by name, ONNX = scikit-learn, scorer, reload."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from broker.core.config import REPO_ROOT
from broker.core.errors import ConfigError
from broker.pipeline.inspect import inspect_paths
from classifiers import anomaly, anomaly_feedback, anomaly_onnx, anomaly_train, features, registry
from classifiers.anomaly_score import AnomalyScorer, load_anomaly
from classifiers.inference import Scorer

MODELS = REPO_ROOT / "classifiers" / "models"
DEMO = REPO_ROOT / "deploy" / "demo-alerts"
ZTF_BANDS = anomaly.SURVEY_BANDS["ZTF"]


@pytest.fixture(scope="module")
def demo_alerts() -> list[dict[str, Any]]:
    """The 1,805 bundled real ZTF and Rubin alerts, normalized."""
    return [a for r in inspect_paths([str(DEMO)]) for a in r.alerts]


@pytest.fixture(scope="module")
def ztf_rows(demo_alerts: list[dict[str, Any]]) -> np.ndarray:
    """Anomaly feature rows of the scorable real ZTF alerts."""
    lcs = [features.lightcurve_from_alert(a) for a in demo_alerts if a["survey"] == "ZTF"]
    X, ok = anomaly.feature_rows(lcs, ZTF_BANDS, anomaly.feature_columns(ZTF_BANDS), 3)
    assert ok.sum() > 400
    return X[ok]


def test_features_are_chosen_by_name_from_the_fsv2_vector() -> None:
    names = anomaly.feature_columns(ZTF_BANDS)
    all_names = features.feature_names(ZTF_BANDS)
    assert "neg_frac" in names and "g_eta_e" in names and "gr_color_peak" in names
    assert not {"g_mean", "r_linear_trend"} & set(names)  # raw scale / flux level left out
    cols = anomaly.column_index(names, ZTF_BANDS)
    assert [all_names[i] for i in cols] == names
    assert anomaly.column_index(names[::-1], ZTF_BANDS).tolist() == cols[::-1].tolist()
    with pytest.raises(ConfigError, match=r"g_peak_mag.*retrain"):
        anomaly.column_index([*names, "g_peak_mag"], ZTF_BANDS)


def test_onnx_graph_gives_scikit_learns_scores_with_and_without_labels(
    ztf_rows: np.ndarray,
) -> None:
    names = anomaly.feature_columns(ZTF_BANDS)
    model = anomaly.fit_forest(ztf_rows, names, n_trees=60, seed=3)
    score, u = anomaly_onnx.run(anomaly_onnx.make_session(anomaly_onnx.to_onnx(model)), ztf_rows)
    assert np.abs(u - model.unsupervised(ztf_rows)).max() < 1e-5
    assert np.array_equal(score, u)  # no reranker: the score is the forest's
    assert 0.3 < float(np.median(u)) < 0.6 and u.max() <= 1.0

    labels = np.array([""] * len(ztf_rows), dtype=object)
    top = np.argsort(-u)
    labels[top[:5]] = "boring"
    labels[top[-40:-35]] = "interesting"
    Z = model.scaling.apply(ztf_rows)
    model.reranker = anomaly_feedback.fit_reranker(Z, u, list(labels), weight=1.0)
    onx = anomaly_onnx.to_onnx(model)
    score2, u2 = anomaly_onnx.run(anomaly_onnx.make_session(onx), ztf_rows)
    want, _ = model.score(ztf_rows)
    assert np.abs(u2 - u).max() < 1e-6
    assert np.abs(score2 - want).max() < 1e-5
    assert score2[top[-40:-35]].mean() > u[top[-40:-35]].mean() + 0.3  # labelled interesting rose
    assert score2[top[:5]].mean() < u[top[:5]].mean() - 0.3  # labelled boring sank


def test_threshold_passes_the_top_fraction_of_training_scores(ztf_rows: np.ndarray) -> None:
    params = anomaly_train.Params(n_trees=40, top_fraction=0.05)
    t = anomaly_train.train("ZTF", ztf_rows, [""] * len(ztf_rows), params, {"source": "test"})
    flagged = (t.scores >= t.manifest["threshold"]).mean()
    assert 0.05 <= flagged <= 0.05 + 2 / len(ztf_rows)
    assert t.manifest["features"] == anomaly.feature_columns(ZTF_BANDS)
    assert t.manifest["onnx_max_abs_diff"] < 1e-5 and t.manifest["feedback"] is None


@pytest.mark.parametrize("name", ["anomaly_ztf", "anomaly_lsst"])
def test_shipped_models_are_small_verified_and_documented(name: str) -> None:
    version = registry.promoted_version(name, MODELS)
    assert version is not None
    manifest = registry.verify(name, version, MODELS)
    assert (MODELS / name / version / "model.onnx").stat().st_size < 2_000_000
    assert manifest["kind"] == "anomaly" and manifest["gate"]["passed"] is True
    assert manifest["forest"]["n_trees"] == 150 and manifest["forest"]["max_samples"] == 256
    assert manifest["training_data"]["real_alerts"] > 0
    assert manifest["training_data"]["simulated"]["n"] > 500
    model = load_anomaly(name, version, MODELS)
    assert model.surveys == {name.split("_")[1].upper()}
    assert model.provider == "CPUExecutionProvider"


def test_demo_alerts_carry_the_promoted_models_scores(demo_alerts: list[dict[str, Any]]) -> None:
    records = AnomalyScorer(MODELS).score_alerts(demo_alerts)
    manifests = {}
    for name in ("anomaly_ztf", "anomaly_lsst"):
        version = str(registry.promoted_version(name, MODELS))
        manifests[name] = (version, registry.load_manifest(name, version, MODELS))
    scored = {"ZTF": 0, "LSST": 0}
    for alert, rec in zip(demo_alerts, records, strict=True):
        name = anomaly.model_name(alert["survey"])
        version, manifest = manifests[name]
        assert rec is not None
        assert (rec["model"], rec["version"], rec["model_hash"]) == (
            name,
            version,
            manifest["model_sha256"],
        )
        assert rec["threshold"] == manifest["threshold"]
        n = int((np.abs(alert_snr(alert)) >= 3).sum())
        if rec["score"] is None:
            found = re.fullmatch(r"too_few_points: ([012]) < 3", rec["reason"])
            assert found is not None and int(found.group(1)) <= n, (rec["reason"], n)
        else:
            assert n >= 3 and 0 < rec["unsupervised"] <= 1 and rec["reason"] is None
            assert rec["score"] == rec["unsupervised"]  # shipped models have no labels yet
            scored[alert["survey"]] += 1
    assert scored["ZTF"] > 500 and scored["LSST"] > 0
    flagged = [r for r in records if r and r["score"] is not None and r["score"] >= r["threshold"]]
    assert 0 < len(flagged) < 0.05 * sum(scored.values())


def alert_snr(alert: dict[str, Any]) -> np.ndarray:
    """S/N of every flux point of the alert in its survey's anomaly bands (independent of
    features.py; its window and duplicate rule only remove points)."""
    bands = set(anomaly.SURVEY_BANDS[alert["survey"]])
    pts = [alert, *[h for h in alert["history"] if h["kind"] in ("detection", "forced")]]
    return np.array(
        [
            p["flux_njy"] / p["flux_err_njy"]
            for p in pts
            if {"R": "r"}.get(p["band"], p["band"]) in bands
            and p.get("flux_njy") is not None
            and p.get("flux_err_njy")
        ]
    )


def test_scorer_picks_up_a_new_promoted_version(tmp_path: Path, ztf_rows: np.ndarray) -> None:
    root = tmp_path / "models"
    shutil.copytree(MODELS, root)
    alerts = [a for r in inspect_paths([str(DEMO / "ztf")]) for a in r.alerts][:300]
    scorer = AnomalyScorer(root, check_seconds=0.0)
    first = scorer.score_alerts(alerts)
    served = registry.promoted_version("anomaly_ztf", root)
    assert {r["version"] for r in first if r} == {served}

    params = anomaly_train.Params(n_trees=30, seed=7)
    t = anomaly_train.train("ZTF", ztf_rows, [""] * len(ztf_rows), params, {"source": "test"})
    name, version = anomaly_train.write("ZTF", t, root)
    registry.promote(name, version, root)
    second = scorer.score_alerts(list(alerts))
    digest = json.loads((root / name / version / "manifest.json").read_text())["model_sha256"]
    assert {(r["version"], r["model_hash"]) for r in second if r} == {(version, digest)}
    assert [r["score"] for r in second if r] != [r["score"] for r in first if r]


def test_classifier_scorer_ignores_anomaly_models_and_shares_features(
    demo_alerts: list[dict[str, Any]],
) -> None:
    classifiers = Scorer(MODELS)
    assert not any(anomaly.is_anomaly_model(n) for n in classifiers.models)
    assert "snia_ztf" in classifiers.models
    batch = list(demo_alerts[:400])
    shared = (classifiers.score_alerts(batch), AnomalyScorer(MODELS).score_alerts(batch))
    alone = (
        Scorer(MODELS).score_alerts(list(batch)),
        AnomalyScorer(MODELS).score_alerts(list(batch)),
    )
    assert shared == alone
