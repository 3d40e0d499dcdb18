"""``faucon anomaly label`` and ``labels`` through typer's CliRunner, on the real Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from broker.cli.main import app
from broker.core.config import Settings
from broker.registry.labels import LabelStore
from classifiers import registry
from classifiers.providers import choose
from tests.conftest import DEMO_ALERTS

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_label_and_list(kafka: Any, filter_env: Settings) -> None:
    result = runner.invoke(
        app, ["anomaly", "label", "ZTF19abcdefg", "--as", "interesting", "--note", "odd colour"]
    )
    assert result.exit_code == 0, result.output
    assert "ZTF19abcdefg labelled interesting by" in result.output
    result = runner.invoke(
        app, ["anomaly", "label", "ZTF19abcdefg", "--as", "boring", "--by", "eve"]
    )
    assert result.exit_code == 0 and "labelled boring (was interesting) by eve" in result.output
    result = runner.invoke(app, ["anomaly", "label", "ZTF19abcdefg", "--as", "maybe"])
    assert result.exit_code == 1 and "choose one of interesting, boring" in result.output

    listed = runner.invoke(app, ["anomaly", "labels", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["object_id"], r["label"], r["by"]) for r in rows] == [
        ("ZTF19abcdefg", "boring", "eve")
    ]
    assert rows[0]["history"][0]["note"] == "odd colour"
    with LabelStore(filter_env) as store:  # what the nightly training reads
        assert store.current()["ZTF19abcdefg"].label == "boring"


def test_show_and_refusals(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["anomaly", "show"])
    assert shown.exit_code == 0, shown.output
    models = {m["model"]: m for m in json.loads(shown.stdout)}
    assert set(models) == {"anomaly_ztf", "anomaly_lsst"}
    ztf = models["anomaly_ztf"]
    assert ztf["version"] == registry.promoted_version("anomaly_ztf")
    assert ztf["threshold"] == registry.load_manifest("anomaly_ztf", ztf["version"])["threshold"]
    assert ztf["gate"]["passed"] is True and ztf["provider"].startswith(choose().provider)

    both = runner.invoke(
        app, ["anomaly", "train", "--survey", "ZTF", "--night", "2023-10-17", "--alerts", "x"]
    )
    assert both.exit_code == 1 and "give --night (archived window) or --alerts" in both.output
    unknown = runner.invoke(
        app, ["anomaly", "train", "--survey", "HSC", "--alerts", str(DEMO_ALERTS / "ztf")]
    )
    assert unknown.exit_code == 1 and "no anomaly model for survey 'HSC'" in unknown.output
    bad = runner.invoke(
        app,
        ["anomaly", "train", "--survey", "ZTF", "--night", "2023-10-17", "--window-days", "0"],
        env={"FAUCON_STATE_DIR": str(tmp_path)},
    )
    assert bad.exit_code == 1 and "invalid option" in bad.output
