"""Archive of enriched alerts: a Parquet dataset partitioned by survey and night.

``faucon archive --night YYYY-MM-DD`` is a Spark *batch* job.  It reads the
enriched topic (``settings.kafka.enriched_topic``) over a fixed range of Kafka
offsets, decodes every one-record Avro container with the same Python code as
the rest of Faucon (:class:`broker.pipeline.decode.Decoder`, in ``mapInArrow``), keeps
the alerts of the requested night, drops repeated alert ids (the stream is
at-least-once) and writes ``<archive>/survey=<S>/night=<N>/*.parquet``.

Which offsets: per partition, from the first message whose Kafka timestamp is
at or after the start of the night (nothing published earlier can hold an
alert observed that night) to the end offset found when the job starts (a
snapshot, so the range is exact and recorded).  Alerts published late are
picked up by re-running the night; re-running replaces the night's
directories atomically (write to a temporary directory, then swap).

Night = Rubin's ``dayObs``: the UTC date of the observation shifted by -12 h,
so a night runs from 12:00 UTC to 12:00 UTC the next day.

Examples
--------
>>> night_of(60235.3)  # 2023-10-18T07:12 TAI: before noon UTC, so the night of the 17th
'2023-10-17'
>>> night_bounds_ms("2023-10-17")[0]
1697544000000
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from broker import __version__
from broker.archive.kafka import offset_ranges, read_range
from broker.archive.paths import (
    MJD_EPOCH,
    archive_root,
    check_free_space,
    check_night,
    meta_dir,
    night_bounds_ms,
    night_dirs,
    night_of,
)
from broker.core.config import Settings
from broker.core.errors import InfrastructureError
from broker.core.schema import schema_version

__all__ = [
    "MJD_EPOCH", "ArchiveRun", "archive_night", "archive_root", "check_night", "meta_dir",
    "night_bounds_ms", "night_dirs", "night_of", "replace_night", "replay_night",
]  # fmt: skip
log = logging.getLogger("faucon.archive")
KAFKA_COLUMNS = ("kafka_partition", "kafka_offset", "kafka_timestamp_ms")
RUN_FILE = "archive-run.json"


@dataclass
class ArchiveRun:
    """What one archive job read and wrote (saved as ``archive-run.json``)."""

    night: str
    topic: str
    starting_timestamp_ms: int
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)
    messages_read: int = 0
    undecodable: int = 0
    other_nights: int = 0
    in_night: int = 0
    duplicates_dropped: int = 0
    archived_rows: int = 0
    rows_by_survey: dict[str, int] = field(default_factory=dict)
    input_topics: dict[str, int] = field(default_factory=dict)
    schema_version: str = field(default_factory=schema_version)
    faucon_version: str = __version__
    finished: str = ""

    def reconciles(self) -> bool:
        """Offsets read = decoded alerts of every night + undecodable; kept = night - repeats."""
        expected = sum(o["end"] - o["start"] for o in self.offsets.values())
        return (
            self.messages_read == expected == self.in_night + self.other_nights + self.undecodable
            and self.archived_rows == self.in_night - self.duplicates_dropped
            and sum(self.rows_by_survey.values()) == self.archived_rows
        )


def swap_in(tmp_night: Path, final: Path) -> None:
    """Put ``tmp_night`` at ``final``: one rename, or two when ``final`` exists."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
        tmp_night.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp_night.rename(final)


def replace_night(settings: Settings, night: str, new_dirs: dict[str, Path]) -> dict[str, Path]:
    """Make ``new_dirs`` (survey -> finished directory) the night's partitions.

    Each ``survey=<S>/night=<N>`` directory is replaced by a rename (readers
    see the old or the new files, never a mix); surveys that no longer have
    rows that night are removed.
    """
    root = archive_root(settings)
    for survey, path in sorted(new_dirs.items()):
        swap_in(path, root / f"survey={survey}" / f"night={night}")
    for survey, old in night_dirs(settings, night).items():
        if survey not in new_dirs:
            shutil.rmtree(old)
    return night_dirs(settings, night)


def archive_night(settings: Settings, night: str, spark: Any = None) -> ArchiveRun:
    """Archive one night from the enriched topic (see the module doc); returns the run record.

    Examples
    --------
    >>> run = archive_night(load_settings(), "2023-10-17")  # doctest: +SKIP
    >>> run.reconciles(), run.rows_by_survey  # doctest: +SKIP
    (True, {'ZTF': 810})
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from broker.spark.session import spark_session

    night = check_night(night)
    topic = settings.kafka.enriched_topic
    start_ms = night_bounds_ms(night)[0]
    ranges = offset_ranges(settings, topic, start_ms)
    run = ArchiveRun(night=night, topic=topic, starting_timestamp_ms=start_ms)
    run.offsets = {str(p): {"start": s, "end": e} for p, (s, e) in sorted(ranges.items())}
    root = archive_root(settings)
    check_free_space(settings, night)
    tmp = root / "_tmp" / f"night={night}-{uuid.uuid4().hex[:8]}"
    new_dirs: dict[str, Path] = {}
    if any(e > s for s, e in ranges.values()):
        spark = spark or spark_session(settings)
        decoded = read_range(spark, settings, topic, ranges).persist()
        try:
            _count(decoded, run, night)
            order = Window.partitionBy("survey", "alert_id").orderBy(*KAFKA_COLUMNS[:2])
            kept = (
                decoded.where(F.col("decode_error").isNull() & (F.col("night") == night))
                .withColumn("_n", F.row_number().over(order))
                .where("_n = 1")
                .drop("_n", "decode_error")
            )
            kept.write.partitionBy("survey", "night").parquet(str(tmp))
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)  # e.g. the disk filled up mid-write
            raise
        finally:
            decoded.unpersist()
        new_dirs = {p.parent.name.split("=", 1)[1]: p for p in tmp.glob(f"survey=*/night={night}")}
    replace_night(settings, night, new_dirs)
    shutil.rmtree(tmp, ignore_errors=True)
    run.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not run.reconciles():
        raise InfrastructureError(f"archive of night {night} does not reconcile: {asdict(run)}")
    out = meta_dir(settings, night)
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_FILE).write_text(json.dumps(asdict(run), indent=2) + "\n")
    return run


def _count(decoded: Any, run: ArchiveRun, night: str) -> None:
    """Fill the run's counters from the decoded rows (one aggregation pass)."""
    from pyspark.sql import functions as F

    ok = F.col("decode_error").isNull()
    mine = ok & (F.col("night") == night)
    row = decoded.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(F.when(~ok, 1).otherwise(0)).alias("bad"),
        F.sum(F.when(mine, 1).otherwise(0)).alias("mine"),
    ).collect()[0]
    run.messages_read, run.undecodable = int(row["read"]), int(row["bad"] or 0)
    run.in_night = int(row["mine"] or 0)
    run.other_nights = run.messages_read - run.undecodable - run.in_night
    rows = decoded.where(mine)
    for r in rows.groupBy(F.col("provenance.input_topic").alias("t")).count().collect():
        run.input_topics[str(r["t"])] = int(r["count"])
    distinct = rows.groupBy("survey").agg(F.countDistinct("alert_id").alias("ids")).collect()
    run.rows_by_survey = {str(r["survey"]): int(r["ids"]) for r in sorted(distinct)}
    run.archived_rows = sum(run.rows_by_survey.values())
    run.duplicates_dropped = run.in_night - run.archived_rows


def replay_night(
    settings: Settings, night: str, topic: str, filter_sql: str | None = None, spark: Any = None
) -> Any:
    """Republish an archived night, or the alerts of it passing ``filter_sql``, on ``topic``.

    See :func:`broker.archive.replay.replay_night` (same arguments).
    """
    from broker.archive.replay import replay_night as _replay

    return _replay(settings, night, topic, filter_sql, spark)
