"""``faucon anomaly label`` and ``labels`` through typer's CliRunner, on the real Kafka."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from broker.cli.main import app
from broker.core.config import Settings
from broker.registry.labels import LabelStore

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
    store = LabelStore(filter_env)  # what the nightly training reads
    try:
        assert store.current()["ZTF19abcdefg"].label == "boring"
    finally:
        store.close()
