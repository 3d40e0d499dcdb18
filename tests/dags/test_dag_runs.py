"""Each DAG run with ``dag.test()`` against the real Kafka, Spark and a running stream.

One stream (in this process, on the session's Spark) processes real ZTF
alerts into a fresh topic prefix and keeps running with a temporary model
registry; then ``faucon_archive_night`` archives the night, ``faucon_retrain``
promotes a new ``snia_ztf`` that the running stream picks up without restart
and publishes follow-up targets, and ``faucon_replay`` republishes a filter's
selection of the archived night.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import Settings
from broker.kafka.consume import Consumed
from broker.kafka.replay import load_messages, publish
from tests.broker.archive.helpers import (
    avro_record,
    expected_followup,
    is_bright,
    night_oracle,
    parquet_rows,
    read_all,
)
from tests.conftest import DEMO_ALERTS, SHARED_DATA
from tests.dags.conftest import Airflow
from tests.dags.stream import running_stream, wait_enriched

pytestmark = pytest.mark.integration
NIGHT = "2023-10-17"
BATCH_A = [
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-0e972a9e.avro",
    DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro",
]
BATCH_B = [DEMO_ALERTS / "ztf" / "kowalski-3.3-d11e13b2.avro"]
ENRICH_TIMEOUT_S = 240.0


@dataclass
class Live:
    """A running stream with its settings, and the archived night."""

    settings: Settings
    airflow: Airflow
    models: Path

    @property
    def archive(self) -> Path:
        return self.settings.state_dir / "archive"


@pytest.fixture(scope="module")
def live(
    kafka: Any,
    spark: Any,
    service_settings: Settings,
    airflow: Airflow,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    tag = "d" + uuid.uuid4().hex[:8]
    state = tmp_path_factory.mktemp("dag-state")
    with running_stream(service_settings, spark, state, tag, BATCH_A, ENRICH_TIMEOUT_S) as stream:
        settings = stream.settings
        airflow.test_dag("faucon_archive_night", {"night": NIGHT}, settings)
        yield Live(settings, airflow, settings.models_dir)


def _enriched(settings: Settings) -> list[tuple[Consumed, dict[str, Any]]]:
    return [(m, avro_record(m.value)) for m in read_all(settings, settings.kafka.enriched_topic)]


def test_archive_dag(live: Live) -> None:
    published = _enriched(live.settings)
    want = {r["alert_id"] for _m, r in published if night_oracle(r["mjd_tai"]) == NIGHT}
    rows = parquet_rows(live.archive / "survey=ZTF" / f"night={NIGHT}")
    assert sorted(r["alert_id"] for r in rows) == sorted(want)
    assert [p.name for p in (live.archive / "survey=ZTF" / f"night={NIGHT}").iterdir()] == [
        "part-00000.parquet"
    ]  # compacted

    manifest = json.loads(
        (live.archive / "_manifests" / f"night={NIGHT}" / "manifest.json").read_text()
    )
    topic = live.settings.kafka.enriched_topic
    assert manifest["counts"]["messages_read"] == len(published)
    assert manifest["counts"]["archived_rows"] == len(want) == manifest["surveys"]["ZTF"]["rows"]
    ends: dict[int, int] = {}
    for msg, _r in published:
        ends[msg.partition] = max(ends.get(msg.partition, 0), msg.offset + 1)
    assert {
        int(p): o["end"] for p, o in manifest["kafka"]["partitions"].items() if o["end"]
    } == ends
    assert manifest["topics"]["read"] == {topic: len(published)}
    entry = manifest["surveys"]["ZTF"]["files"][0]
    path = live.archive / entry["path"]
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["verification"]["ok"] is True
    assert manifest["verification"]["unique_alert_ids"] == len(want)


def test_retrain_dag_promotes_and_the_running_stream_uses_it(live: Live) -> None:
    settings, models = live.settings, live.models
    before = [r for _m, r in _enriched(settings)]
    served = (models / "snia_ztf" / "PROMOTED").read_text().strip()
    candidate = str(max(int(p.name) for p in (models / "snia_ztf").iterdir() if p.is_dir()) + 1)
    assert {r["scores"]["snia_ztf.Ia"]["version"] for r in before} == {served}

    conf = {
        "night": NIGHT,
        "models": ["snia_ztf"],
        "data": str(SHARED_DATA / "labeled-snpcc-train.tar.xz"),
        "limit": 300,
        "tolerance": 1.0,  # a 300-curve model is worse than the served one: promote it anyway
        "models_dir": str(models),
        "top": 5,
    }
    live.airflow.test_dag("faucon_retrain", conf, settings)

    assert (models / "snia_ztf" / "PROMOTED").read_text().strip() == candidate
    report = json.loads((models / "snia_ztf" / candidate / "retrain-report.json").read_text())
    assert report["decision"] == {
        "promoted": True,
        "reason": report["decision"]["reason"],
        "previous_version": served,
        "served_version": candidate,
    }
    assert report["candidate"]["n"] == report["promoted_before"]["n"] == report["holdout"]["n"]
    assert report["training_set"]["n_base"] == 300 and report["metric"] == "roc_auc_early"
    # The second half of the gate: both versions on the same real validation curves.
    real = report["real"]
    assert real["dir"] == str(SHARED_DATA / "labeled-real")
    assert real["candidate"] is not None and real["promoted_before"] is not None
    assert real["candidate"]["n"] == real["promoted_before"]["n"]
    assert "real:" in report["decision"]["reason"]

    archived = parquet_rows(live.archive / "survey=ZTF" / f"night={NIGHT}")
    targets = [
        avro_record(m.value) for m in read_all(settings, f"{settings.kafka.topic_prefix}.followup")
    ]
    assert [(t["object_id"], t["probability"]) for t in targets] == expected_followup(archived, 5)
    assert [t["rank"] for t in targets] == [1, 2, 3, 4, 5]
    assert parquet_rows(live.archive / "followup" / f"night={NIGHT}", ["rank"]) == [
        {"rank": i} for i in range(1, 6)
    ]

    # The stream never stopped: new alerts are scored by version 2.
    later = load_messages([str(p) for p in BATCH_B])
    publish(settings, f"raw.{settings.kafka.topic_prefix}.later", later, progress=False)
    wait_enriched(settings, len(before) + len(later), ENRICH_TIMEOUT_S)
    new_hash = hashlib.sha256(
        (models / "snia_ztf" / candidate / "model.onnx").read_bytes()
    ).hexdigest()
    after = [
        r for _m, r in _enriched(settings) if r["provenance"]["input_topic"].endswith(".later")
    ]
    assert len(after) == len(later)
    assert {r["scores"]["snia_ztf.Ia"]["version"] for r in after} == {candidate}
    assert {r["scores"]["snia_ztf.Ia"]["model_hash"] for r in after} == {new_hash}


def test_replay_dag(live: Live) -> None:
    settings = live.settings
    topic = f"{settings.kafka.topic_prefix}.replayed"
    conf = {"night": NIGHT, "topic": topic, "filter": "bright_transient"}
    live.airflow.test_dag("faucon_replay", conf, settings)
    archived = parquet_rows(live.archive / "survey=ZTF" / f"night={NIGHT}")
    want = {r["alert_id"] for r in archived if is_bright(r)}
    assert 0 < len(want) < len(archived)
    got = [avro_record(m.value) for m in read_all(settings, topic)]
    assert sorted(r["alert_id"] for r in got) == sorted(want)
    assert all(r["survey"] == "ZTF" and night_oracle(r["mjd_tai"]) == NIGHT for r in got)
