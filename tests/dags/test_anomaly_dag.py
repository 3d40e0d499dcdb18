"""The anomaly topic fills; ``faucon_anomaly`` runs with ``dag.test()`` on the real services.

A stream (in this process, on the session's Spark, real Kafka, a temporary
copy of the model registry) scores real ZTF alerts of the night 2023-10-17;
the built-in ``anomaly`` filter publishes the unusual ones.  The night is
archived (Spark batch), scientists label six of its objects, the DAG trains
a new ``anomaly_ztf`` on the archived window with those labels, gates and
promotes it, and the running stream scores later alerts with it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from broker.archive.anomaly import feature_matrix
from broker.archive.night import archive_night
from broker.core.config import Settings
from broker.kafka.replay import load_messages, publish
from broker.registry.labels import LabelStore
from classifiers import anomaly_onnx, registry
from classifiers.anomaly_score import load_anomaly
from tests.broker.archive.helpers import avro_record, night_oracle, parquet_rows, read_all
from tests.conftest import DEMO_ALERTS
from tests.dags.conftest import Airflow
from tests.dags.stream import running_stream, wait_enriched

pytestmark = pytest.mark.integration
NIGHT = "2023-10-17"
NIGHT_FILES = [
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-666d5ea9.avro",
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-0e972a9e.avro",
]
LATER = [DEMO_ALERTS / "ztf" / "kowalski-3.3-d11e13b2.avro"]
ENRICH_TIMEOUT_S = 300.0


@dataclass
class Live:
    """A running stream, its settings and model registry."""

    settings: Settings
    airflow: Airflow
    models: Path
    published: int


@pytest.fixture(scope="module")
def live(
    kafka: Any,
    spark: Any,
    service_settings: Settings,
    airflow: Airflow,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    tag = "a" + uuid.uuid4().hex[:8]
    state = tmp_path_factory.mktemp("anomaly-state")
    with running_stream(
        service_settings, spark, state, tag, NIGHT_FILES, ENRICH_TIMEOUT_S
    ) as stream:
        settings = stream.settings
        yield Live(settings, airflow, settings.models_dir, stream.published)


def _records(settings: Settings, topic: str) -> list[dict[str, Any]]:
    return [avro_record(m.value) for m in read_all(settings, topic)]


def test_every_alert_is_scored_and_the_anomaly_topic_fills(live: Live) -> None:
    settings, models = live.settings, live.models
    enriched = _records(settings, settings.kafka.enriched_topic)
    assert len(enriched) == live.published
    version = registry.promoted_version("anomaly_ztf", models)
    manifest = registry.load_manifest("anomaly_ztf", str(version), models)
    unusual = set()
    for rec in enriched:
        a = rec["anomaly"]
        assert (a["model"], a["version"], a["model_hash"]) == (
            "anomaly_ztf",
            version,
            manifest["model_sha256"],
        )
        assert a["threshold"] == manifest["threshold"]
        if a["score"] is not None and a["score"] >= manifest["threshold"]:
            unusual.add(rec["alert_id"])
    topic = f"{settings.kafka.topic_prefix}.filter.anomaly"
    published = _records(settings, topic)
    assert 0 < len(published) < 0.1 * len(enriched)
    assert sorted(r["alert_id"] for r in published) == sorted(unusual)
    assert all("extra_json" in r and "cutout_science" in r for r in published)  # profile full


def test_nightly_dag_trains_with_labels_gates_promotes_and_the_stream_uses_it(
    live: Live, spark: Any
) -> None:
    settings, models = live.settings, live.models
    archived = archive_night(settings, NIGHT, spark=spark)
    assert archived.rows_by_survey["ZTF"] > 300
    rows = parquet_rows(settings.state_dir / "archive" / "survey=ZTF" / f"night={NIGHT}")
    assert all(night_oracle(r["mjd_tai"]) == NIGHT for r in rows)
    scored = sorted(
        (r for r in rows if r["anomaly"] and r["anomaly"]["score"] is not None),
        key=lambda r: r["anomaly"]["score"],
    )
    interesting = list(dict.fromkeys(r["object_id"] for r in scored))[:3]  # most ordinary
    boring = list(dict.fromkeys(r["object_id"] for r in reversed(scored)))[:3]  # most unusual
    with LabelStore(settings) as store:
        for obj in interesting:
            store.label(obj, "interesting", note="test: ordinary-looking but interesting")
        for obj in boring:
            store.label(obj, "boring", note="test: unusual-looking but boring", by="tester")

    before = registry.promoted_version("anomaly_ztf", models)
    conf = {
        "night": NIGHT,
        "surveys": ["ZTF", "LSST"],
        "min_alerts": 100,
        "models_dir": str(models),
    }
    live.airflow.test_dag("faucon_anomaly", conf, settings)

    new = registry.promoted_version("anomaly_ztf", models)
    assert new == str(int(str(before)) + 1)
    report = json.loads((models / "anomaly_ztf" / str(new) / "train-report.json").read_text())
    data = report["training_data"]
    assert data["source"] == "archive" and data["nights"][-1] == NIGHT
    assert len(data["nights"]) == settings.anomaly.window_days
    objects = {r["object_id"] for r in rows}
    assert 100 <= data["alerts_in_window"] <= len(objects)
    assert data["labelled_objects"] == 6 and data["labelled_rows"] == 6
    assert report["feedback"]["counts"]["interesting"] == 3
    assert report["feedback"]["counts"]["boring"] == 3
    gate = report["gate"]
    assert gate["passed"] and gate["promoted_version"] == before
    assert gate["rank_correlation"] >= settings.anomaly.gate_min_rank_correlation
    assert report["decision"]["promoted"] is True
    # No Rubin alert was archived: nothing to train, the served LSST model stays.
    assert registry.versions("anomaly_lsst", models) == ["1"]

    # The labels moved those objects: interesting up, boring down, from the forest's score.
    model = load_anomaly("anomaly_ztf", str(new), models)
    latest = {r["object_id"]: r for r in sorted(rows, key=lambda r: (r["mjd_tai"], r["alert_id"]))}
    for objs, sign in ((interesting, 1.0), (boring, -1.0)):
        alerts = [{**latest[o], "survey": "ZTF"} for o in objs]
        X, ok = feature_matrix(alerts, "ZTF")
        score, unsupervised = anomaly_onnx.run(model.session, X[ok])
        assert ok.all() and np.all(sign * (score - unsupervised) > 0), (objs, score, unsupervised)

    # The stream never stopped: later alerts are scored by the new version.
    later = load_messages([str(p) for p in LATER])
    publish(settings, f"raw.{settings.kafka.topic_prefix}.later", later, progress=False)
    wait_enriched(settings, live.published + len(later), ENRICH_TIMEOUT_S)
    digest = hashlib.sha256((models / "anomaly_ztf" / str(new) / "model.onnx").read_bytes())
    after = [
        r
        for r in _records(settings, settings.kafka.enriched_topic)
        if r["provenance"]["input_topic"].endswith(".later")
    ]
    assert len(after) == len(later)
    assert {(r["anomaly"]["version"], r["anomaly"]["model_hash"]) for r in after} == {
        (new, digest.hexdigest())
    }
