"""A real Spark standalone cluster (master and workers from spark-class) runs Faucon code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.core.config import Settings, load_settings
from broker.kafka.replay import load_messages
from broker.pipeline.decode import Decoder
from broker.pipeline.normalize import normalize
from broker.spark.cluster import LocalSparkCluster
from tests.conftest import DEMO_ALERTS, _free_port_pair

pytestmark = pytest.mark.integration
JOB = Path(__file__).with_name("cluster_job.py")
ALERTS = [str(DEMO_ALERTS / "lsst"), str(DEMO_ALERTS / "ztf")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSparkCluster]:
    port = _free_port_pair()
    settings: Settings = load_settings(
        state_dir=tmp_path_factory.mktemp("spark-cluster"),
        spark={"cluster_port": port, "cluster_ui_port": port + 1, "worker_memory": "1g"},
    )
    c = LocalSparkCluster(settings)
    assert c.start(workers=2)
    yield c
    c.stop()


def test_master_sees_its_workers_and_a_second_start_is_a_no_op(
    cluster: LocalSparkCluster,
) -> None:
    st = cluster.status()
    assert st.running and st.alive_workers == 2
    assert {w["cores"] for w in st.workers} == {1} and {w["memory"] for w in st.workers} == {1024}
    assert cluster.start(workers=2) is False


def test_executors_decode_real_alerts_in_their_own_jvms_and_directories(
    cluster: LocalSparkCluster,
) -> None:
    proc = subprocess.run(
        [sys.executable, str(JOB), cluster.master_url, *ALERTS],
        capture_output=True, text=True, timeout=300, check=False, cwd="/",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    decoder = Decoder()
    expected = sorted(
        normalize(*decoder.decode(m.value))["object_id"] for m in load_messages(ALERTS)
    )
    assert result["app_master"] == cluster.master_url
    assert result["object_ids"] == expected and len(expected) > 300
    assert result["driver_pid"] not in result["pids"]
    work = str(cluster.home)
    assert result["cwds"] and all(c.startswith(work) and "/work/app-" in c for c in result["cwds"])


def test_stop_stops_every_process(tmp_path: Path) -> None:
    port = _free_port_pair()
    c = LocalSparkCluster(
        load_settings(
            state_dir=tmp_path,
            spark={"cluster_port": port, "cluster_ui_port": port + 1, "worker_memory": "1g"},
        )
    )
    assert c.start(workers=1)
    assert c.stop() is True
    assert not c.status().running
    assert c.stop() is False
