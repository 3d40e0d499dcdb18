"""``faucon filter`` through typer's CliRunner, on the real Kafka and Spark."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from broker.cli.filter import app
from broker.core.config import Settings
from broker.filters import FilterValidationError
from broker.registry.filters import FilterRegistry
from tests.broker.filters.oracle import DEMO

pytestmark = pytest.mark.integration
runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _refused(*args: str) -> FilterValidationError:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0
    assert isinstance(result.exception, FilterValidationError), result.exception
    return result.exception


def test_sql_filter_lifecycle(kafka: Any, spark: Any, filter_env: Settings) -> None:
    out = _ok("add", "bright", "--sql", "is_positive AND mag < 18.5", "--description", "bright")
    assert "of 29 alerts passed" in out and "alerts/s" in out
    assert (
        f"registered bright v1 (sql, profile lite) -> topic {filter_env.kafka.topic_prefix}" in out
    )
    assert _refused("add", "bright", "--sql", "mag < 1", "--description", "x").reason == "duplicate"
    err = _refused("add", "nope", "--sql", "magnitude < 18", "--description", "x")
    assert err.reason == "unknown_column" and "magnitude" in str(err)
    err = _refused("add", "evil", "--sql", "reflect('java.lang.Runtime', 'getRuntime') IS NULL",
                   "--description", "x")  # fmt: skip
    assert err.reason == "forbidden_function"

    out = _ok("change", "bright", "--sql", "is_positive AND mag < 18", "--note", "stricter",
              "--profile", "thin")  # fmt: skip
    assert "bright is now version 2" in out
    _ok("disable", "bright", "--note", "paused")
    out = _ok("show", "bright")
    assert "expression: is_positive AND mag < 18" in out and "profile: thin" in out
    assert "state: disabled" in out and "version: 3" in out
    assert "stricter" in out and "paused" in out and "created by" in out
    _ok("enable", "bright")
    _ok("remove", "bright")
    with FilterRegistry(filter_env) as reg:
        assert reg.list_filters() == []


def test_python_filters_list_and_stream_counters(
    kafka: Any, spark: Any, filter_env: Settings, team: str
) -> None:
    prefix = filter_env.kafka.topic_prefix
    out = _ok("add", "team_bright", "--python", f"entrypoint:{team}_bright", "--profile", "full")
    assert "registered team_bright v1 (python, profile full)" in out
    _ok("add", "faint", "--python", f"{team}:faint", "--inputs", "mag", "--description", "faint")
    err = _refused("add", "broken", "--python", f"{team}:boom", "--inputs", "mag",
                   "--description", "raises")  # fmt: skip
    assert err.reason == "backtest" and "raised ValueError: no luck" in str(err)
    with FilterRegistry(filter_env) as reg:
        reg.quarantine("faint", "exceeded its time budget of 5 s for a batch of 2000 alerts")
        shown = reg.show("team_bright")
    assert (shown.inputs, shown.description, shown.owner) == (("mag", "band"), "bright in g",
                                                              shown.owner)  # fmt: skip

    stats = filter_env.state_dir / "stream" / f"{prefix}-stats.json"
    stats.parent.mkdir(parents=True, exist_ok=True)
    stats.write_text(json.dumps({"published": {f"{prefix}.filter.team_bright": 7},
                                 "filter_errors": {"faint": 2}}))  # fmt: skip
    out = _ok("list")
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "team_bright" in rows and "faint" in rows and "broken" not in rows
    assert "enabled" in rows["team_bright"] and " 7 " in rows["team_bright"]
    assert "quarantined (exceeded its time budget" in rows["faint"] and " 2 " in rows["faint"]
    assert "2 filters in" in out


def test_backtest_command(kafka: Any, spark: Any, filter_env: Settings, team: str) -> None:
    lsst = str(DEMO / "lsst" / "wire")
    out = _ok("test", "--sql", "survey = 'LSST'", "--alerts", lsst, "--examples", "2")
    assert "adhoc: 5 of 5 alerts passed (100.0 %)" in out and "examples" in out
    out = _ok("test", "--python", f"{team}:faint", "--inputs", "mag", "--alerts", lsst)
    assert "adhoc: 5 of 5 alerts passed" in out
    result = runner.invoke(app, ["test", "--python", f"{team}:boom", "--inputs", "mag"])
    assert result.exit_code == 1 and "raised ValueError: no luck" in result.output
    _ok("add", "lsst_only", "--sql", "survey = 'LSST'", "--description", "Rubin", "--no-check")
    assert "lsst_only: 5 of 29 alerts passed" in _ok("test", "lsst_only")
    assert _refused("test").reason == "invalid"
