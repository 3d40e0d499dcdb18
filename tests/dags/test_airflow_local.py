"""`faucon airflow start|status|stop`: the real local Airflow 3 on SQLite, started by pid."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from broker.core.config import Settings
from broker.ops.airflow_local import SERVICES, LocalAirflow
from tests.conftest import _free_port

pytestmark = pytest.mark.integration


def _dag_ids(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/dags?limit=50", timeout=5) as r:
        return sorted(d["dag_id"] for d in json.loads(r.read())["dags"])


def test_start_status_stop(service_settings: Settings, tmp_path: Path) -> None:
    settings = service_settings.model_copy(update={"state_dir": tmp_path})
    port = _free_port()
    local = LocalAirflow(settings, port=port)
    try:
        local.start()
        status = LocalAirflow(settings).status()  # the port is remembered
        assert status["healthy"] is True and status["url"] == f"http://127.0.0.1:{port}"
        assert status["airflow_home"] == str(tmp_path / "airflow")
        pids = status["services"]
        assert set(pids) == set(SERVICES) and all(pids.values())
        assert (tmp_path / "airflow" / "airflow.db").is_file()
        want = ["faucon_anomaly", "faucon_archive_night", "faucon_replay", "faucon_retrain"]
        deadline, ids = time.monotonic() + 120, []
        while time.monotonic() < deadline:
            ids = _dag_ids(port)
            if ids == want:
                break
            time.sleep(2)
        assert ids == want
        local.start()  # idempotent: running services are kept
        assert LocalAirflow(settings).status()["services"] == pids
    finally:
        stopped = local.stop()
    assert sorted(stopped) == sorted(SERVICES)
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists()  # ended and reaped
    after = LocalAirflow(settings).status()
    assert after["healthy"] is False and set(after["services"].values()) == {None}
