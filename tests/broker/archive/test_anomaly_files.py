"""Anomaly models from real alert files, and the experts' labels measured on real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from broker.archive.anomaly_files import evaluate_feedback, train_from_files
from broker.core.config import Settings, load_settings
from classifiers import registry
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def feedback() -> dict[str, Any]:
    """The measurement on real ZTF alerts + RR Lyrae (background) and real ZTF SN Ia (injected)."""
    return evaluate_feedback(
        [str(SHARED_DATA / "ztf")], SHARED_DATA / "labeled-real", trials=4, ks=(0, 10)
    )


def test_labels_raise_the_injected_population_on_the_next_night(feedback: dict[str, Any]) -> None:
    data, protocol = feedback["data"], feedback["protocol"]
    assert data["background_alerts"] > 500 and data["background_rrl_snapshots"] > 400
    assert data["injected_sn_ia_snapshots"] > 1000
    assert protocol["night_b_injected"] >= 10  # 3 % of night B's background
    before, after = feedback["before"], feedback["after"]
    # SN Ia look ordinary to the forest among real alerts: hardly any in its top 20.
    assert before["20"]["mean"] <= 0.05
    # Reviewing the top 20 alone (all boring) does not find them ...
    assert after["0"]["20"]["mean"] <= 0.05
    # ... ten known SN Ia labelled interesting on night A bring them up on night B.
    assert after["10"]["20"]["mean"] >= before["20"]["mean"] + 0.1
    assert after["10"]["50"]["mean"] > before["50"]["mean"] + 0.05


def test_labelled_boring_kind_sinks(feedback: dict[str, Any]) -> None:
    boring = feedback["boring"]
    assert boring["kind"] == "RRL"
    assert boring["share_before"]["50"]["mean"] >= 0.2  # RR Lyrae crowd the forest's top 50
    assert boring["share_after"]["50"]["mean"] <= boring["share_before"]["50"]["mean"] / 4


def test_train_from_real_alert_files(tmp_path: Path) -> None:
    settings: Settings = load_settings(models_dir=tmp_path / "models")
    report = train_from_files(settings, "ZTF", [str(SHARED_DATA / "ztf" / "kowalski")])
    assert report["decision"]["promoted"] is True and report["version"] == "1"
    assert report["training_data"]["real_alerts"] == report["training_data"]["n_rows"] > 10
    assert report["gate"]["passed"] and report["gate"]["n_scored"] >= 50
    root = settings.models_dir
    assert registry.promoted_version("anomaly_ztf", root) == "1"
    saved = json.loads((root / "anomaly_ztf" / "1" / "train-report.json").read_text())
    assert saved["threshold"] == registry.load_manifest("anomaly_ztf", "1", root)["threshold"]
