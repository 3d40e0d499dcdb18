"""Independent oracles of the archive tests: nights, rankings, filters, topic reads.

Nights are computed with astropy's time scales (not Faucon's code), records
are decoded with fastavro alone, and the follow-up ranking is re-implemented
from its definition.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import fastavro
import pyarrow.dataset as ds
from astropy.time import Time

from broker.core.config import FilterSettings, Settings
from broker.kafka.consume import Consumed, read_topic
from broker.kafka.topics import topic_counts

BRIGHT = FilterSettings()


def night_oracle(mjd_tai: float) -> str:
    """Rubin dayObs with astropy: UTC date of the TAI instant minus 12 hours."""
    utc = Time(mjd_tai, format="mjd", scale="tai").utc.to_datetime()
    return (utc - dt.timedelta(hours=12)).date().isoformat()


def avro_record(value: bytes) -> dict[str, Any]:
    """Decode a one-record Avro container with fastavro alone."""
    return dict(next(fastavro.reader(io.BytesIO(value))))  # type: ignore[arg-type]


def read_all(settings: Settings, topic: str) -> list[Consumed]:
    """Every message of ``topic`` (as many as its offsets say)."""
    n = topic_counts(settings, [topic])[topic]
    msgs = list(read_topic(settings, topic, max_messages=n, idle_timeout=30.0))
    assert len(msgs) == n, f"read {len(msgs)} of {n} messages from {topic}"
    return msgs


def parquet_rows(directory: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of every Parquet file under ``directory``."""
    return list(ds.dataset(str(directory), format="parquet").to_table(columns=columns).to_pylist())


def snia_probability(scores: Any) -> dict[str, Any] | None:
    """The snia-family Ia score record with a probability, if any."""
    scores = dict(scores or {})
    for key in ("snia.Ia", "snia_ztf.Ia"):
        s = scores.get(key)
        if s and s.get("probability") is not None:
            return dict(s)
    return None


def expected_followup(rows: list[dict[str, Any]], top: int) -> list[tuple[str, float]]:
    """(object_id, probability) of the top targets: latest scored alert per object,
    smallest |p - 0.5| first, then brighter, then smaller alert id."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        s = snia_probability(row["scores"])
        if s is None:
            continue
        row = {**row, "p": s["probability"]}
        old = best.get(row["object_id"])
        if old is None or (row["mjd_tai"], row["alert_id"]) > (old["mjd_tai"], old["alert_id"]):
            best[row["object_id"]] = row
    ranked = sorted(
        best.values(),
        key=lambda r: (round(abs(r["p"] - 0.5), 9), r["mag"] or 99.0, r["alert_id"]),
    )
    return [(r["object_id"], r["p"]) for r in ranked[:top]]


def is_bright(rec: dict[str, Any]) -> bool:
    """The bright_transient filter as its description states it."""
    return bool(
        rec["is_positive"]
        and rec["mag"] is not None
        and rec["mag"] < BRIGHT.bright_mag
        and (rec["reliability"] or 0.0) >= BRIGHT.bright_min_reliability
    )
