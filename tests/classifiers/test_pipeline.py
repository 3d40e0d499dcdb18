"""Train -> manifest -> promote -> score alerts, through the CLI and the scorer."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from broker.cli.models import app
from broker.core.errors import ConfigError
from classifiers import features, registry
from classifiers.bench import bench, snana_alerts
from classifiers.inference import Scorer, get_scorer

runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_manifest_content(small_registry: Path, snpcc_tar: Path) -> None:
    m = registry.load_manifest("snia", "1", small_registry)
    assert (m["name"], m["version"], m["task"]) == ("snia", "1", "snia")
    assert m["classes"] == ["non-Ia", "Ia"] and m["labels"] == ["Ia"]
    assert m["bands"] == ["g", "r", "i", "z"] and m["surveys"] == ["LSST"]
    assert m["feature_set"]["name"] == "fsv2"
    assert m["feature_set"]["features"] == features.feature_names("griz")
    model_bytes = (small_registry / "snia" / "1" / "model.onnx").read_bytes()
    assert m["model_sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert len(model_bytes) < 5_000_000
    assert m["training_data"]["sha256"] == hashlib.sha256(snpcc_tar.read_bytes()).hexdigest()
    assert m["training_data"]["limit"] == 300 and m["training_data"]["n_curves"] == 300
    for part in ("holdout_full", "holdout_early"):
        assert {"roc_auc", "accuracy", "purity", "efficiency"} <= set(m["metrics"][part])
    assert m["metrics"]["onnx_max_abs_diff"] < 1e-5
    assert 0.0 < m["threshold"] < 1.0 and m["operating_threshold"] == m["threshold"]
    assert 0.0 < m["early_threshold"] < 1.0
    rule = m["early_threshold_rule"]
    kinds = {k: v for k, v in rule["validation_rates"].items() if k.startswith("variable:")}
    assert rule["days"] == 10.0 and kinds and max(kinds.values()) <= rule["max_variable_fpr"]
    assert m["calibration"]["method"] == "isotonic" and "Ia" in m["calibration"]["tables"]
    assert set(m["software"]) >= {"scikit-learn", "skl2onnx", "onnxruntime"}
    ztf = registry.load_manifest("snia_ztf", "1", small_registry)
    assert ztf["bands"] == ["g", "r"] and ztf["surveys"] == ["ZTF"]
    st = registry.load_manifest("sntype", "1", small_registry)
    assert st["operating_threshold"] is None and st["threshold"] is None
    assert st["early_threshold"] is None
    classes = {"Ia", "II", "Ibc", "periodic", "agn", "flare"}
    assert set(st["metrics"]["validation_rows"]["purity"]) == classes


def test_scorer_scores_alerts(small_registry: Path, snpcc_tar: Path) -> None:
    alerts = snana_alerts(snpcc_tar, 40, limit=200)
    short = dict(alerts[0], history=[], alert_id=-1)  # a first detection: one point
    other = dict(alerts[1], survey="ATLAS")
    scorer = get_scorer(small_registry)
    assert get_scorer(small_registry) is scorer
    assert set(scorer.models) == {"snia", "snia_ztf", "sntype"}
    out = scorer.score_alerts([*alerts, short, other])
    assert len(out) == 42 and out[-1] == []
    hashes = {
        n: registry.load_manifest(n, "1", small_registry)["model_sha256"] for n in scorer.models
    }
    for alert, records in zip(alerts, out, strict=False):
        expected = ["snia"] + ["sntype"] * 6 if alert["survey"] == "LSST" else ["snia_ztf"]
        assert [r["model"] for r in records] == expected
        for r in records:
            assert r["version"] == "1" and r["model_hash"] == hashes[r["model"]]
        scored = [r for r in records if r["probability"] is not None]
        for r in scored:
            assert 0.0 <= r["probability"] <= 1.0 and r["reason"] is None
        if alert["survey"] == "LSST" and scored:
            labels = ["Ia", "Ia", "II", "Ibc", "periodic", "agn", "flare"]
            assert [r["label"] for r in records] == labels
            assert sum(r["probability"] for r in records[1:]) == pytest.approx(1.0, abs=1e-5)
    # alerts at random epochs: most have 3+ points of S/N >= 3
    assert sum(r[0]["probability"] is not None for r in out[:40]) >= 20
    for r in out[40]:
        assert r["probability"] is None and r["reason"] == "too_few_points: 1 < 3"


def test_cli_list_show_evaluate(small_registry: Path, snpcc_tar: Path) -> None:
    d = str(small_registry)
    rows = json.loads(_cli("list", "--json", "--models-dir", d))
    assert {(r["name"], r["version"], r["promoted"]) for r in rows} >= {("snia", "1", True)}
    shown = json.loads(_cli("show", "sntype", "--models-dir", d))
    assert shown["name"] == "sntype" and shown["promoted"] is True
    args = ["evaluate", "--model", "snia", "--snana", str(snpcc_tar), "--limit", "200"]
    res = json.loads(_cli(*args, "--early", "20", "--models-dir", d))
    assert res["n"] == 200 and res["early_days"] == 20.0
    assert {"roc_auc", "accuracy", "purity", "efficiency"} <= set(res) and res["roc_auc"] > 0.7
    res = json.loads(
        _cli(
            "evaluate",
            "--model",
            "sntype",
            "--snana",
            str(snpcc_tar),
            "--limit",
            "100",
            "--models-dir",
            d,
        )
    )
    assert {"Ia", "II", "Ibc"} <= set(res["purity"])
    bad = runner.invoke(app, ["promote", "snia", "9", "--models-dir", d])
    assert bad.exit_code == 1 and "no model snia version 9" in bad.output


def test_train_cli_new_version_and_reload(tmp_path: Path, snpcc_tar: Path) -> None:
    d = str(tmp_path)
    for version in ("1", "2"):
        out = json.loads(
            _cli(
                "train",
                "--task",
                "snia_ztf",
                "--data",
                str(snpcc_tar),
                "--limit",
                "120",
                "--version",
                version,
                "--seed",
                version,
                "--models-dir",
                d,
            )
        )
        assert out["version"] == version
    _cli("promote", "snia_ztf", "1", "--models-dir", d)
    scorer = Scorer(tmp_path, check_seconds=0.0)
    alert = snana_alerts(snpcc_tar, 2, limit=50)[1]
    assert alert["survey"] == "ZTF"
    assert scorer.score_alerts([alert])[0][0]["version"] == "1"
    time.sleep(0.01)
    _cli("promote", "snia_ztf", "2", "--models-dir", d)
    record = scorer.score_alerts([alert])[0][0]
    assert record["version"] == "2"
    assert record["model_hash"] == registry.load_manifest("snia_ztf", "2", tmp_path)["model_sha256"]
    with pytest.raises(ConfigError, match="already exists"):
        registry.write_model("snia_ztf", "2", b"x", {}, tmp_path)
    # a corrupted model file is refused at promotion
    (tmp_path / "snia_ztf" / "1" / "model.onnx").write_bytes(b"corrupt")
    with pytest.raises(ConfigError, match="does not match"):
        registry.promote("snia_ztf", "1", tmp_path)


def test_bench_reports_throughput(small_registry: Path, snpcc_tar: Path) -> None:
    alerts = snana_alerts(snpcc_tar, 400, limit=200)
    result = bench(alerts, small_registry, batch_size=200, repeat=1)
    assert result["n_alerts"] == 400 and result["alerts_per_s"] > 0
    assert {"lightcurve_from_alert", "features_griz", "inference_snia"} <= set(result["phases_s"])


def test_every_bundled_alert_scores_alone_and_in_small_batches() -> None:
    """Regression: a batch whose curves have no point in the model's bands used to raise."""
    from broker.core.config import REPO_ROOT
    from broker.pipeline.inspect import inspect_paths
    from classifiers.inference import score_alerts

    alerts = [
        a for r in inspect_paths([str(REPO_ROOT / "deploy" / "demo-alerts")]) for a in r.alerts
    ]
    lone = [a for a in alerts if a["alert_id"] == 169298432598474839]  # Rubin 9.0, i band only
    records = score_alerts(lone)[0]
    assert records and all(r["probability"] is None for r in records)
    assert all(r["reason"] == "too_few_points: 0 < 3" for r in records)
    for start in range(0, len(alerts), 18):
        batch = alerts[start : start + 18]
        assert len(score_alerts(batch)) == len(batch)
