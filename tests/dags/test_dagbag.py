"""The DAG folder loads in Airflow 3 without import errors, with sensible schedules and limits."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shlex
from types import ModuleType

import pytest

from tests.dags.conftest import DAGS, Airflow, dag_details

pytestmark = pytest.mark.integration


def _common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faucon_common", DAGS / "faucon_common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dag_folder_loads(airflow: Airflow) -> None:
    info = dag_details(airflow)
    assert info["import_errors"] == {}
    dags = info["dags"]
    assert sorted(dags) == [
        "faucon_anomaly",
        "faucon_archive_night",
        "faucon_replay",
        "faucon_retrain",
    ]

    archive = dags["faucon_archive_night"]
    assert archive["cron"] == "0 14 * * *" and archive["catchup"] is False
    assert archive["max_active_runs"] == 1 and archive["dagrun_timeout_s"] == 8 * 3600
    assert archive["tasks"]["compact"]["upstream"] == ["archive", "night"]
    assert archive["tasks"]["verify"]["upstream"] == ["manifest", "night"]
    assert archive["params"] == ["night"]

    retrain = dags["faucon_retrain"]
    assert retrain["cron"] == "0 16 * * *" and retrain["dagrun_timeout_s"] == 6 * 3600
    assert set(retrain["tasks"]) == {"night", "models", "retrain", "followup"}
    assert retrain["tasks"]["retrain"]["upstream"] == ["models"]
    assert {"models", "data", "extra", "limit", "metric", "tolerance", "top"} <= set(
        retrain["params"]
    )

    anomaly = dags["faucon_anomaly"]
    assert anomaly["cron"] == "30 16 * * *" and anomaly["catchup"] is False
    assert anomaly["max_active_runs"] == 1 and anomaly["dagrun_timeout_s"] == 3 * 3600
    assert anomaly["tasks"]["train"]["upstream"] == ["night", "surveys"]
    assert anomaly["params"] == [
        "min_alerts",
        "models_dir",
        "night",
        "promote",
        "surveys",
        "window_days",
    ]

    replay = dags["faucon_replay"]
    assert replay["timetable"] == "NullTimetable" and replay["cron"] is None
    assert replay["params"] == ["filter", "night", "topic", "where"]

    for dag in dags.values():
        assert "faucon" in dag["tags"]
        for task_id, task in dag["tasks"].items():
            assert task["timeout_s"] and task["timeout_s"] <= 3 * 3600, task_id
            assert task["retries"] >= 1, task_id


def test_night_and_commands() -> None:
    common = _common()
    at = dt.datetime(2024, 1, 2, 14, 0, tzinfo=dt.UTC)
    assert common.night_before(at) == "2024-01-01"  # the night 01-01 12:00 -> 01-02 12:00
    assert common.night_before(at.replace(hour=11)) == "2023-12-31"  # not over yet
    assert common.resolve_night({"night": "2023-10-17"}, {}) == "2023-10-17"
    assert common.resolve_night({}, {"data_interval_end": at}) == "2024-01-01"
    with pytest.raises(ValueError):
        common.resolve_night({"night": "yesterday"}, {})
    words = shlex.split(common.cli("archive", "replay", "--where", "mag < 18; rm -rf /"))
    assert words[1:] == [
        "-m",
        "broker.cli.archive",
        "archive",
        "replay",
        "--where",
        "mag < 18; rm -rf /",
    ]
