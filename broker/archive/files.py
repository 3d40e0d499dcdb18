"""Compaction, manifest and verification of an archived night (no Spark needed).

* :func:`compact_night` rewrites each ``survey=<S>/night=<N>`` directory into
  few large files (at most ``max_rows_per_file`` rows each, row groups of
  ``row_group_rows``), streaming batch by batch, then swaps it in atomically.
* :func:`write_manifest` writes ``_manifests/night=<N>/manifest.json``: counts
  per survey, per topic message counts, the Kafka offsets covered per
  partition, and every file with its sha256 and row count.
* :func:`verify_night` checks the files against the manifest, that alert ids
  are unique, and re-reads the manifest's Kafka offsets with a plain consumer
  to check that every alert of the night published there is archived exactly once.

Examples
--------
>>> sorted(MANIFEST_KEYS)[:3]
['archive_dir', 'counts', 'created']
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from broker import __version__
from broker.archive.night import (
    RUN_FILE,
    archive_root,
    check_night,
    meta_dir,
    night_dirs,
    night_of,
    replace_night,
)
from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError, ProcessError
from classifiers.registry import sha256_file

MANIFEST_FILE = "manifest.json"
MANIFEST_KEYS = (
    "night", "created", "faucon_version", "schema_version", "archive_dir",
    "kafka", "topics", "counts", "surveys", "verification",
)  # fmt: skip


def _atomic_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def compact_night(
    settings: Settings, night: str, max_rows_per_file: int = 250_000, row_group_rows: int = 5_000
) -> dict[str, list[str]]:
    """Rewrite a night's partitions into few large Parquet files; returns the files by survey.

    Examples
    --------
    >>> compact_night(load_settings(), "2023-10-17")  # doctest: +SKIP
    {'ZTF': ['part-00000.parquet']}
    """
    night = check_night(night)
    dirs = night_dirs(settings, night)
    tmp = archive_root(settings) / "_tmp" / f"compact-{night}-{uuid.uuid4().hex[:8]}"
    new_dirs: dict[str, Path] = {}
    for survey, path in dirs.items():
        out_dir = tmp / f"survey={survey}" / f"night={night}"
        out_dir.mkdir(parents=True)
        dataset = ds.dataset(str(path), format="parquet")
        writer: pq.ParquetWriter | None = None
        part, in_file = 0, 0
        for batch in dataset.to_batches(batch_size=row_group_rows):
            if batch.num_rows == 0:
                continue
            if writer is None or in_file + batch.num_rows > max_rows_per_file:
                if writer is not None:
                    writer.close()
                    part += 1
                name = out_dir / f"part-{part:05d}.parquet"
                writer = pq.ParquetWriter(str(name), dataset.schema, compression="zstd")
                in_file = 0
            writer.write_table(pa.Table.from_batches([batch]), row_group_size=row_group_rows)
            in_file += batch.num_rows
        if writer is not None:
            writer.close()
            new_dirs[survey] = out_dir
    replace_night(settings, night, new_dirs)
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        s: sorted(p.name for p in d.glob("*.parquet"))
        for s, d in night_dirs(settings, night).items()
    }


def load_run(settings: Settings, night: str) -> dict[str, Any]:
    """The archive job's run record of a night."""
    path = meta_dir(settings, night) / RUN_FILE
    try:
        run: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"night {night} has no archive run record ({path}); "
            f"run `faucon archive --night {night}`"
        ) from None
    return run


def file_entries(settings: Settings, night: str) -> dict[str, list[dict[str, Any]]]:
    """Every Parquet file of a night, by survey: path (relative to the archive), sha256, rows."""
    root = archive_root(settings)
    out: dict[str, list[dict[str, Any]]] = {}
    for survey, path in night_dirs(settings, night).items():
        out[survey] = [
            {
                "path": str(f.relative_to(root)),
                "sha256": sha256_file(f),
                "rows": pq.ParquetFile(f).metadata.num_rows,
                "bytes": f.stat().st_size,
            }
            for f in sorted(path.glob("*.parquet"))
        ]
    return out


def write_manifest(settings: Settings, night: str) -> dict[str, Any]:
    """Write ``manifest.json`` of an archived night (after compaction) and return it."""
    night = check_night(night)
    run = load_run(settings, night)
    files = file_entries(settings, night)
    rows = {s: sum(f["rows"] for f in entries) for s, entries in files.items()}
    if rows != run["rows_by_survey"]:
        raise ProcessError(
            f"night {night}: files hold {rows} rows but the archive run wrote "
            f"{run['rows_by_survey']}; re-run `faucon archive --night {night}`"
        )
    parts = {p: {**o, "messages": o["end"] - o["start"]} for p, o in run["offsets"].items()}
    manifest = {
        "night": night,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "faucon_version": __version__,
        "schema_version": run["schema_version"],
        "archive_dir": str(archive_root(settings)),
        "kafka": {
            "bootstrap": settings.kafka.bootstrap,
            "topic": run["topic"],
            "starting_timestamp_ms": run["starting_timestamp_ms"],
            "partitions": parts,
        },
        "topics": {
            "read": {run["topic"]: run["messages_read"]},
            "input_topics_of_night": dict(sorted(run["input_topics"].items())),
        },
        "counts": {
            k: run[k]
            for k in (
                "messages_read",
                "in_night",
                "other_nights",
                "undecodable",
                "duplicates_dropped",
                "archived_rows",
            )
        },
        "surveys": {s: {"rows": rows[s], "files": files[s]} for s in sorted(files)},
        "verification": None,
    }
    _atomic_json(meta_dir(settings, night) / MANIFEST_FILE, manifest)
    return manifest


def load_manifest(settings: Settings, night: str) -> dict[str, Any]:
    """The manifest of an archived night."""
    path = meta_dir(settings, night) / MANIFEST_FILE
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"night {night} has no manifest ({path}); run `faucon archive manifest --night {night}`"
        ) from None
    return manifest


def archived_ids(settings: Settings, night: str) -> list[tuple[str, int]]:
    """(survey, alert_id) of every archived row of a night, in file order."""
    out: list[tuple[str, int]] = []
    for survey, path in night_dirs(settings, night).items():
        table = ds.dataset(str(path), format="parquet").to_table(columns=["alert_id", "mjd_tai"])
        if any(night_of(m) != night for m in table.column("mjd_tai").to_pylist()):
            raise ProcessError(f"night {night}: {path} holds alerts of another night")
        out.extend((survey, int(a)) for a in table.column("alert_id").to_pylist())
    return out


def published_ids(
    settings: Settings, manifest: dict[str, Any]
) -> tuple[Counter[tuple[str, int]], int]:
    """Alerts of the manifest's night in its Kafka offsets (re-read), and messages read."""
    from broker.archive.kafka import decode_batch, read_offsets

    k = manifest["kafka"]
    ranges = {int(p): (o["start"], o["end"]) for p, o in k["partitions"].items()}
    seen: Counter[tuple[str, int]] = Counter()
    n = 0
    for batch in read_offsets(settings, k["topic"], ranges, batch_size=2000):
        n += batch.num_rows
        for row in decode_batch(batch).to_pylist():
            if row["decode_error"] is None and row["night"] == manifest["night"]:
                seen[(row["survey"], int(row["alert_id"]))] += 1
    return seen, n


def verify_night(settings: Settings, night: str) -> dict[str, Any]:
    """Check a night against its manifest and Kafka; record and return the result.

    Raises
    ------
    ProcessError
        When a check fails; the message lists every failed check.
    """
    night = check_night(night)
    manifest = load_manifest(settings, night)
    problems: list[str] = []
    files = file_entries(settings, night)
    listed = {s: v["files"] for s, v in manifest["surveys"].items()}
    if files != listed:
        problems.append("files on disk differ from the manifest (names, sha256 or rows)")
    ids = archived_ids(settings, night)
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated:
        problems.append(f"{len(repeated)} alert ids archived more than once, e.g. {repeated[:3]}")
    try:
        published, n_read = published_ids(settings, manifest)
    except InfrastructureError as exc:
        raise ProcessError(f"night {night}: cannot re-read Kafka to verify: {exc}") from exc
    if n_read != manifest["counts"]["messages_read"]:
        problems.append(
            f"re-read {n_read} messages, manifest says {manifest['counts']['messages_read']}"
        )
    missing = set(published) - set(ids)
    extra = set(ids) - set(published)
    if missing:
        problems.append(f"{len(missing)} published alerts not archived, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(
            f"{len(extra)} archived alerts not in the offsets read, e.g. {sorted(extra)[:3]}"
        )
    if len(ids) != manifest["counts"]["archived_rows"]:
        problems.append(f"{len(ids)} rows, manifest says {manifest['counts']['archived_rows']}")
    result = {
        "verified": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ok": not problems,
        "problems": problems,
        "messages_reread": n_read,
        "published_alerts_of_night": len(published),
        "published_repeats": sum(n - 1 for n in published.values()),
        "archived_rows": len(ids),
        "unique_alert_ids": len(set(ids)),
    }
    manifest["verification"] = result
    _atomic_json(meta_dir(settings, night) / MANIFEST_FILE, manifest)
    if problems:
        raise ProcessError(f"night {night} archive verification failed: " + "; ".join(problems))
    return result
