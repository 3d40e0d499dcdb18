"""The archive job on real Kafka and Spark: Parquet content, compaction, manifest, verification."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from broker.archive.files import compact_night, verify_night, write_manifest
from broker.archive.night import archive_night, archive_root, meta_dir, night_dirs
from broker.archive.replay import alert_record
from broker.core.errors import ConfigError, ProcessError
from broker.kafka.topics import topic_counts
from tests.broker.archive.conftest import Published
from tests.broker.archive.helpers import night_oracle, parquet_rows

pytestmark = pytest.mark.integration
NIGHT = "2023-10-17"


def _by_night(published: Published) -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    for rec in published.records:
        out.setdefault(night_oracle(rec["mjd_tai"]), set()).add((rec["survey"], rec["alert_id"]))
    return out


def _sha(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_archive_compact_manifest_verify(spark: Any, published: Published) -> None:
    settings = published.settings
    nights = _by_night(published)
    want = nights[NIGHT]
    assert len(want) > 80 and {s for s, _ in want} == {"ZTF"}
    repeats = len([r for r in published.records if night_oracle(r["mjd_tai"]) == NIGHT]) - len(want)
    assert repeats >= 1  # the repeated message (and the sample's own repeated alerts)

    run = archive_night(settings, NIGHT, spark=spark)
    n_messages = topic_counts(settings, [settings.kafka.enriched_topic])[
        settings.kafka.enriched_topic
    ]
    assert run.messages_read == n_messages == len(published.payloads)
    assert run.archived_rows == len(want) and run.duplicates_dropped == repeats
    assert run.other_nights == n_messages - len(want) - repeats and run.undecodable == 0
    assert run.rows_by_survey == {"ZTF": len(want)} and run.reconciles()

    dirs = night_dirs(settings, NIGHT)
    assert set(dirs) == {"ZTF"}
    assert dirs["ZTF"] == archive_root(settings) / "survey=ZTF" / f"night={NIGHT}"
    rows = parquet_rows(dirs["ZTF"])
    assert {("ZTF", r["alert_id"]) for r in rows} == want and len(rows) == len(want)
    # Lossless: each archived row is the published record (cutouts and maps included).
    original: dict[int, list[dict[str, Any]]] = {}
    for r in published.records:  # a repeated alert id may come from two source messages
        original.setdefault(r["alert_id"], []).append(r)
    for row in rows:
        rec = alert_record({**row, "survey": "ZTF"})
        assert rec in original[row["alert_id"]]
        assert row["kafka_partition"] in (0, 1) and row["kafka_offset"] >= 0
    assert any(r["cutout_science"] for r in rows)

    compacted = compact_night(settings, NIGHT, max_rows_per_file=60, row_group_rows=20)
    n_files = -(-len(want) // 60)
    assert compacted == {"ZTF": [f"part-{i:05d}.parquet" for i in range(n_files)]}
    assert sorted(r["alert_id"] for r in parquet_rows(dirs["ZTF"])) == sorted(a for _s, a in want)

    manifest = write_manifest(settings, NIGHT)
    on_disk = json.loads((meta_dir(settings, NIGHT) / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["counts"]["archived_rows"] == len(want)
    assert manifest["surveys"]["ZTF"]["rows"] == len(want)
    parts = manifest["kafka"]["partitions"]
    assert sum(p["messages"] for p in parts.values()) == n_messages
    assert manifest["topics"]["read"] == {settings.kafka.enriched_topic: n_messages}
    assert manifest["topics"]["input_topics_of_night"] == {"raw.test": len(want) + repeats}
    root = archive_root(settings)
    for entry in manifest["surveys"]["ZTF"]["files"]:
        path = root / entry["path"]
        assert entry["sha256"] == _sha(path)
        assert entry["rows"] == pq.ParquetFile(path).metadata.num_rows

    result = verify_night(settings, NIGHT)
    assert result["ok"] and result["published_alerts_of_night"] == len(want)
    assert result["unique_alert_ids"] == result["archived_rows"] == len(want)
    assert result["published_repeats"] == repeats


def test_rerun_is_idempotent_and_tampering_is_caught(spark: Any, published: Published) -> None:
    settings = published.settings
    want = _by_night(published)[NIGHT]
    archive_night(settings, NIGHT, spark=spark)
    first = sorted(p.name for p in night_dirs(settings, NIGHT)["ZTF"].glob("*.parquet"))
    archive_night(settings, NIGHT, spark=spark)  # same night again: replaced, not appended
    compact_night(settings, NIGHT)
    rows = parquet_rows(night_dirs(settings, NIGHT)["ZTF"], ["alert_id"])
    assert Counter(r["alert_id"] for r in rows) == Counter({a: 1 for _s, a in want})
    assert not list((archive_root(settings) / "_tmp").glob("*"))
    assert first  # the first run wrote files; they are gone now (one compacted file)
    assert [p.name for p in night_dirs(settings, NIGHT)["ZTF"].glob("*.parquet")] == [
        "part-00000.parquet"
    ]
    write_manifest(settings, NIGHT)
    assert verify_night(settings, NIGHT)["ok"]

    path = night_dirs(settings, NIGHT)["ZTF"] / "part-00000.parquet"
    table = ds.dataset(str(path)).to_table()
    pq.write_table(table.slice(1), path)  # lose one archived alert
    with pytest.raises(ProcessError, match="1 published alerts not archived"):
        verify_night(settings, NIGHT)
    manifest = json.loads((meta_dir(settings, NIGHT) / "manifest.json").read_text())
    assert manifest["verification"]["ok"] is False


def test_other_survey_night_and_errors(spark: Any, published: Published) -> None:
    settings = published.settings
    lsst_nights = {n for n, ids in _by_night(published).items() if {s for s, _ in ids} == {"LSST"}}
    night = sorted(lsst_nights)[0]
    run = archive_night(settings, night, spark=spark)
    want = _by_night(published)[night]
    assert run.rows_by_survey == {"LSST": len(want)}
    rows = parquet_rows(night_dirs(settings, night)["LSST"], ["alert_id", "mjd_tai"])
    assert {("LSST", r["alert_id"]) for r in rows} == want
    assert {night_oracle(r["mjd_tai"]) for r in rows} == {night}

    empty = archive_night(settings, "2001-01-01", spark=spark)
    assert empty.archived_rows == 0 and night_dirs(settings, "2001-01-01") == {}
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        archive_night(settings, "17/10/2023", spark=spark)


def test_full_disk_refuses_with_nothing_lost(spark: Any, published: Published) -> None:
    """Below the free-space floor the archive writes nothing; once space is back, all of it."""
    import shutil

    from broker.core.errors import InfrastructureError

    settings = published.settings
    night = sorted(_by_night(published))[-1]
    free = shutil.disk_usage(archive_root(settings)).free / 2**30
    full = settings.model_copy(
        update={"limits": settings.limits.model_copy(update={"archive_min_free_gib": free + 1e6})}
    )
    before = night_dirs(settings, night)
    with pytest.raises(InfrastructureError, match="ARCHIVE_MIN_FREE_GIB") as info:
        archive_night(full, night, spark=spark)
    assert str(archive_root(settings)) in str(info.value) and "retention" in str(info.value)
    assert night_dirs(settings, night) == before
    assert not list((archive_root(settings) / "_tmp").glob(f"night={night}-*"))
    run = archive_night(settings, night, spark=spark)  # space again: the same night, complete
    assert run.archived_rows == len(_by_night(published)[night])
