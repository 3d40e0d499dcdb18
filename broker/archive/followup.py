"""Active learning: which of the night's alerts deserve a spectrum (Ishida et al. 2019).

A spectroscopic label helps the ``snia`` classifier most where it is least
sure.  This module implements *uncertainty sampling*: among the night's
archived alerts scored by a ``snia``-family model (``snia.Ia`` for Rubin,
``snia_ztf.Ia`` for ZTF, read from the archive's ``scores`` column, i.e. the
probabilities of the models promoted when the alert was processed), keep one
alert per object (its latest scored one), optionally only those bright
enough to be observed (``max_mag``), and rank them by ``margin = |p - 0.5|``,
smallest first; ties go to the brighter alert (a cheaper spectrum), then to
the smaller alert id.  The top ``top`` targets are published as
``faucon.followup`` records on ``<prefix>.followup`` and written to the
archive under ``followup/night=<N>/``.

Reference: E. E. O. Ishida et al., "Optimizing spectroscopic follow-up
strategies for supernova photometric classification with active learning",
MNRAS 483, 2 (2019).

Examples
--------
>>> def alert(oid, aid, mag, p):
...     score = {"model": "snia_ztf", "version": "1", "label": "Ia", "probability": p}
...     return {"survey": "ZTF", "alert_id": aid, "object_id": oid, "ra": 1.0, "dec": 2.0,
...             "mjd_tai": 60235.3, "band": "r", "mag": mag, "scores": {"snia_ztf.Ia": score}}
>>> rows = [alert("a", 1, 19.0, 0.45), alert("b", 2, 18.0, 0.9), alert("a", 0, 19.5, 0.5)]
>>> [(r["object_id"], r["rank"], r["margin"]) for r in rank_rows(rows, top=2)]
[('a', 1, 0.05), ('b', 2, 0.4)]
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from broker import __version__
from broker.archive.night import swap_in
from broker.archive.paths import archive_root, check_night, night_dirs
from broker.core.config import Settings
from broker.core.errors import ConfigError
from broker.core.schema import avro_field_to_arrow, schema_dir

SCORE_KEYS = ("snia.Ia", "snia_ztf.Ia")
STRATEGY = "uncertainty"
COLUMNS = ("alert_id", "object_id", "ra", "dec", "mjd_tai", "band", "mag", "scores")


def followup_schema() -> dict[str, Any]:
    """The ``faucon.followup`` Avro schema (newest version)."""
    return dict(json.loads((schema_dir("followup") / "faucon.followup.avsc").read_text()))


def followup_topic(settings: Settings) -> str:
    """Topic of the follow-up targets: ``<prefix>.followup``."""
    return f"{settings.kafka.topic_prefix}.followup"


def _score(row: dict[str, Any], keys: Sequence[str]) -> dict[str, Any] | None:
    scores = row.get("scores") or {}
    if isinstance(scores, list):
        scores = dict(scores)
    for key in keys:
        s = scores.get(key)
        if s is not None and s.get("probability") is not None:
            return dict(s)
    return None


def rank_rows(
    rows: Iterable[dict[str, Any]],
    top: int,
    score_keys: Sequence[str] = SCORE_KEYS,
    max_mag: float | None = None,
    night: str = "",
) -> list[dict[str, Any]]:
    """Rank archived alert rows by uncertainty; ``faucon.followup`` records of the top ``top``."""
    latest: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for row in rows:
        score = _score(row, score_keys)
        if score is None or (max_mag is not None and (row.get("mag") or 99.0) > max_mag):
            continue
        key = (str(row["survey"]), str(row["object_id"]))
        seen = latest.get(key)
        if seen is None or (row["mjd_tai"], row["alert_id"]) > (
            seen[0]["mjd_tai"],
            seen[0]["alert_id"],
        ):
            latest[key] = (row, score)
    ranked = sorted(
        latest.values(),
        key=lambda rs: (
            round(abs(float(rs[1]["probability"]) - 0.5), 9),
            rs[0].get("mag") if rs[0].get("mag") is not None else 99.0,
            int(rs[0]["alert_id"]),
        ),
    )
    now = int(time.time() * 1000)
    version = schema_dir("followup").name
    out = []
    for rank, (row, score) in enumerate(ranked[:top], start=1):
        p = float(score["probability"])
        out.append(
            {
                "schema_version": version,
                "night": night,
                "rank": rank,
                "strategy": STRATEGY,
                "n_candidates": len(ranked),
                "survey": str(row["survey"]),
                "alert_id": int(row["alert_id"]),
                "object_id": str(row["object_id"]),
                "ra": float(row["ra"]),
                "dec": float(row["dec"]),
                "mjd_tai": float(row["mjd_tai"]),
                "band": str(row["band"]),
                "mag": row.get("mag"),
                "model": str(score["model"]),
                "model_version": str(score["version"]),
                "label": str(score["label"]),
                "probability": p,
                "margin": round(abs(p - 0.5), 9),
                "faucon_version": __version__,
                "created_ms": now,
            }
        )
    return out


def night_rows(settings: Settings, night: str) -> list[dict[str, Any]]:
    """The columns ranking needs, for every archived alert of ``night``."""
    dirs = night_dirs(settings, check_night(night))
    if not dirs:
        raise ConfigError(
            f"night {night} is not archived under {archive_root(settings)}; "
            f"run `faucon archive --night {night}` first"
        )
    rows: list[dict[str, Any]] = []
    for survey, path in dirs.items():
        table = ds.dataset(str(path), format="parquet").to_table(columns=list(COLUMNS))
        rows.extend({**r, "survey": survey} for r in table.to_pylist())
    return rows


@dataclass
class FollowupSummary:
    """What :func:`publish_followup` did."""

    night: str
    topic: str
    path: Path
    records: list[dict[str, Any]]


def publish_followup(
    settings: Settings,
    night: str,
    top: int = 20,
    score_keys: Sequence[str] = SCORE_KEYS,
    max_mag: float | None = None,
) -> FollowupSummary:
    """Rank the night, publish the top targets on ``<prefix>.followup`` and archive them.

    Examples
    --------
    >>> s = publish_followup(load_settings(), "2023-10-17", top=5)  # doctest: +SKIP
    >>> [r["object_id"] for r in s.records]  # doctest: +SKIP
    ['ZTF23abc...', ...]
    """
    night = check_night(night)
    if top < 1:
        raise ConfigError(f"top={top}: ask for at least one follow-up target")
    records = rank_rows(night_rows(settings, night), top, score_keys, max_mag, night)
    schema = followup_schema()
    root = archive_root(settings)
    tmp = root / "_tmp" / f"followup-{night}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    arrow = pa.schema([avro_field_to_arrow(f) for f in schema["fields"]])
    pq.write_table(pa.Table.from_pylist(records, schema=arrow), str(tmp / "part-00000.parquet"))
    final = root / "followup" / f"night={night}"
    swap_in(tmp, final)
    topic = followup_topic(settings)
    produce(settings, topic, records, schema)
    return FollowupSummary(night, topic, final, records)


def produce(
    settings: Settings, topic: str, records: list[dict[str, Any]], schema: dict[str, Any]
) -> None:
    """Publish records as one-record Avro containers keyed by object id, in rank order."""
    from confluent_kafka import Producer

    from broker.core.errors import ProduceError
    from broker.kafka.topics import client_config, ensure_topics
    from broker.pipeline.encode import ContainerEncoder

    ensure_topics(settings, [topic], partitions=1)  # one partition keeps the rank order
    producer = Producer(client_config(settings, **{"enable.idempotence": True}))
    errors: list[str] = []
    enc = ContainerEncoder(schema)
    headers = [
        ("faucon-version", __version__.encode()),
        ("faucon-schema", f"faucon.followup/{schema_dir('followup').name}".encode()),
    ]
    for rec in records:
        producer.produce(
            topic,
            enc.encode(rec),
            key=rec["object_id"].encode(),
            headers=[*headers, ("faucon-night", rec["night"].encode())],
            on_delivery=lambda err, _m: errors.append(str(err)) if err else None,
        )
    left = producer.flush(60)
    if left or errors:
        raise ProduceError(
            f"{len(errors)} follow-up message(s) failed and {left} undelivered to {topic} on "
            f"{settings.kafka.bootstrap}: {errors[:3]}; is Kafka running (faucon kafka status)?"
        )
