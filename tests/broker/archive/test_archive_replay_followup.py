"""Replay of an archived night (whole, or a filter's selection) and active-learning follow-up."""

from __future__ import annotations

from typing import Any

import pytest

from broker.archive.followup import followup_topic, publish_followup
from broker.archive.night import archive_night, archive_root, replay_night
from broker.cli.archive import filter_expression
from broker.core.errors import ConfigError
from tests.broker.archive.conftest import Published
from tests.broker.archive.helpers import (
    avro_record,
    expected_followup,
    is_bright,
    night_oracle,
    parquet_rows,
    read_all,
)

pytestmark = pytest.mark.integration
NIGHT = "2023-10-17"


@pytest.fixture(scope="module")
def archived(spark: Any, published: Published) -> Published:
    archive_night(published.settings, NIGHT, spark=spark)
    return published


def _night_records(published: Published) -> dict[int, list[dict[str, Any]]]:
    """Published records of the night by alert id (a real alert may come from two sources)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in published.records:
        if night_oracle(r["mjd_tai"]) == NIGHT:
            out.setdefault(r["alert_id"], []).append(r)
    return out


def test_replay_whole_night_and_filter(spark: Any, archived: Published) -> None:
    settings = archived.settings
    night = _night_records(archived)
    tag = settings.kafka.topic_prefix

    whole = replay_night(settings, NIGHT, f"{tag}.replay.all", spark=spark)
    msgs = read_all(settings, f"{tag}.replay.all")
    assert whole.sent == len(msgs) == len(night)
    got = {avro_record(m.value)["alert_id"]: (m, avro_record(m.value)) for m in msgs}
    assert set(got) == set(night)
    for alert_id, (msg, rec) in got.items():
        assert rec in night[alert_id]  # a published record, field for field
        assert msg.key == rec["object_id"].encode()
        assert msg.headers["faucon-replay-night"] == NIGHT.encode()
        assert msg.headers["faucon-schema"].startswith(b"faucon.alert/")

    expression = filter_expression(settings, "bright_transient")
    bright = replay_night(settings, NIGHT, f"{tag}.replay.bright", expression, spark=spark)
    want = {a for a, recs in night.items() if is_bright(recs[0])}
    assert 0 < len(want) < len(night)
    msgs = read_all(settings, f"{tag}.replay.bright")
    assert {avro_record(m.value)["alert_id"] for m in msgs} == want
    assert bright.sent == len(want) and bright.by_survey == {"ZTF": len(want)}
    assert msgs[0].headers["faucon-replay-filter"] == expression.encode()

    with pytest.raises(ConfigError, match="not valid here"):
        replay_night(settings, NIGHT, f"{tag}.replay.bad", "no_such_column > 1", spark=spark)
    with pytest.raises(ConfigError, match="not archived"):
        replay_night(settings, "1999-01-01", f"{tag}.replay.bad", spark=spark)
    with pytest.raises(ConfigError, match="no filter named"):
        filter_expression(settings, "no_such_filter")


def test_followup_is_top_uncertainty(archived: Published) -> None:
    settings = archived.settings
    rows = parquet_rows(archive_root(settings) / "survey=ZTF" / f"night={NIGHT}")
    want = expected_followup(rows, top=5)
    assert len(want) == 5

    summary = publish_followup(settings, NIGHT, top=5)
    msgs = read_all(settings, followup_topic(settings))
    records = [avro_record(m.value) for m in msgs]
    assert [(r["object_id"], r["probability"]) for r in records] == want
    assert [r["rank"] for r in records] == [1, 2, 3, 4, 5]
    assert all(r["margin"] == round(abs(r["probability"] - 0.5), 9) for r in records)
    assert all(r["night"] == NIGHT and r["model"] == "snia_ztf" for r in records)
    n_scored = len({r["object_id"] for r in rows if r["scores"] and _scored(r["scores"])})
    assert {r["n_candidates"] for r in records} == {n_scored}
    assert [m.key for m in msgs] == [r["object_id"].encode() for r in records]
    archived_targets = parquet_rows(summary.path)
    assert [(r["object_id"], r["rank"]) for r in archived_targets] == [
        (r["object_id"], r["rank"]) for r in records
    ]
    assert summary.path == archive_root(settings) / "followup" / f"night={NIGHT}"

    bright = publish_followup(settings, NIGHT, top=3, max_mag=17.0)
    assert all(r["mag"] <= 17.0 for r in bright.records)


def _scored(scores: Any) -> bool:
    return any(
        k in ("snia.Ia", "snia_ztf.Ia") and v["probability"] is not None
        for k, v in dict(scores).items()
    )
