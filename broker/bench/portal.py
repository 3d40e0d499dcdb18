"""``faucon bench`` for the portal: ingest rate against the stream's, and API answers at 1M alerts.

* **Ingest.** The bench's real alerts, enriched by the stream's own enrich
  stage, are published on an enriched topic of their own (copies get new
  alert ids) with as many filter-topic messages per alert as the stream's
  throughput run produced; the portal's ingest then reads them into a fresh
  DuckDB store.  Its rate (Kafka messages and alerts per second, and alerts
  per CPU second of its process, which other work on the machine does not
  lower) is compared with the stream's throughput measured in the same run.
* **Queries.** A DuckDB store of ``n`` alerts (1,000,000; 100,000 with
  ``--quick``): the real alerts copied, each copy rigidly rotated on the sky
  to a random orientation (a field stays a field) with new alert and object
  ids; copies share their original's stored record (same size, same
  decoding).  The portal is then served by uvicorn and asked through HTTP, with
  an API token, for objects by id and 1-degree cones around stored alerts:
  median and 95th percentile answer times.

Examples
--------
>>> rotated(np.array([[1.0, 0.0, 0.0]]), np.eye(3))[0]
(array([0.]), array([0.]))
"""

from __future__ import annotations

import io
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from broker.core.config import Settings
from broker.kafka.replay import Message

COPY_IDS = 9 * 10**18  # copy i of the bench's alerts gets alert id COPY_IDS - i (real ones < 4e18)


def copy_id(original: int, i: int, n_records: int) -> int:
    """Alert id of copy ``i`` (the originals, ``i < n_records``, keep theirs)."""
    return original if i < n_records else COPY_IDS - i


def enriched_records(settings: Settings, messages: list[Message]) -> list[dict[str, Any]]:
    """The messages through the stream's enrich stage, decoded (one per distinct alert)."""
    from broker.kafka.consume import decode_output
    from broker.pipeline.enrich import INPUT_SCHEMA, process_batch

    rows = [{"value": m.value, "topic": "raw.bench", "partition": 0, "offset": i,
             "timestamp_ms": 0} for i, m in enumerate(messages)]  # fmt: skip
    out = process_batch(pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA), settings, ["full"])
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for r in out.to_pylist():
        if r["status"] == "ok":
            rec = decode_output(r["payload_full"])
            seen.setdefault((rec["survey"], rec["alert_id"]), rec)
    return list(seen.values())


def _container(rec: dict[str, Any], schema: Any) -> bytes:
    import fastavro

    buf = io.BytesIO()
    fastavro.writer(buf, schema, [rec])
    return buf.getvalue()


def ingest_rate(
    settings: Settings, records: list[dict[str, Any]], n: int, hits_per_alert: float
) -> dict[str, Any]:
    """Messages and alerts per second the portal's ingest stores (see module doc)."""
    import fastavro

    from broker.core.schema import alert_schema
    from broker.kafka.replay import publish
    from broker.kafka.topics import delete_topics
    from broker.portal.ingest import Ingest
    from broker.portal.store import AlertStore, open_database

    tag = f"benchportal{uuid.uuid4().hex[:6]}"
    s = settings.model_copy(update={"kafka": settings.kafka.model_copy(
        update={"topic_prefix": tag})})  # fmt: skip
    schema = fastavro.parse_schema(alert_schema(records[0]["schema_version"]))
    copies = [{**records[i % len(records)],
               "alert_id": copy_id(records[i % len(records)]["alert_id"], i, len(records))}
              for i in range(n)]  # fmt: skip
    payloads = [Message(_container(rec, schema), "bench", "ocf") for rec in copies]
    n_hits = round(hits_per_alert * n)
    topics = [f"{tag}.filter.f{j}" for j in range(max(1, int(np.ceil(hits_per_alert))))]
    publish(s, s.kafka.enriched_topic, payloads, progress=False)
    per_topic = min(n, n_hits // len(topics))
    for j, topic in enumerate(topics):  # each topic a different run of the alerts
        publish(s, topic, (payloads[j * per_topic :] + payloads)[:per_topic], progress=False)
    folder = Path(tempfile.mkdtemp(prefix="faucon-bench-portal-"))
    db = open_database(str(folder / "store.duckdb"))
    try:
        ingest = Ingest(s, AlertStore(db, s.portal))
        total = n + per_topic * len(topics)
        started, cpu = time.perf_counter(), time.process_time()
        done = ingest.drain(total, timeout=1800.0)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)
        delete_topics(s, [s.kafka.enriched_topic, *topics])
    return {"alerts": n, "messages": total, "seconds": round(seconds, 2), "complete": done,
            "messages_per_s": round(total / seconds, 1), "alerts_per_s": round(n / seconds, 1),
            "cpu_seconds": round(cpu, 2), "alerts_per_cpu_s": round(n / cpu, 1)}  # fmt: skip


def rotated(vectors: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec (degrees) of unit vectors after a rotation matrix."""
    v = vectors @ rotation.T
    ra = np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(v[:, 2], -1.0, 1.0)))
    return ra, dec


def fill_store(store: Any, records: list[dict[str, Any]], n: int, seed: int = 18) -> Any:
    """Fill ``store`` with ``n`` rotated copies of ``records`` (see module doc); their rows."""
    from scipy.spatial.transform import Rotation

    from broker.portal.records import ALERT_COLUMNS, SCORE_COLUMNS, alert_row, score_rows

    height = store.settings.zone_height_deg
    base = pa.Table.from_pylist([dict(zip(ALERT_COLUMNS, alert_row(r, height, 0), strict=True))
                                 for r in records])  # fmt: skip
    scores = pa.Table.from_pylist([dict(zip(SCORE_COLUMNS, row, strict=True))
                                   for r in records for row in score_rows(r)])  # fmt: skip
    vectors = np.column_stack([base.column(c).to_numpy() for c in ("cx", "cy", "cz")])
    ids, objects = base.column("alert_id").to_numpy(), base.column("object_id").to_pylist()
    sids = scores.column("alert_id").to_numpy()
    owner = np.searchsorted(ids, sids, sorter=np.argsort(ids))  # score row -> its alert's row
    owner = np.argsort(ids)[owner]
    positions = []
    pending: list[tuple[pa.Table, pa.Table]] = []
    for k in range((n + len(records) - 1) // len(records)):
        rotation = np.eye(3) if k == 0 else Rotation.random(random_state=seed + k).as_matrix()
        ra, dec = rotated(vectors, rotation)
        v = vectors @ rotation.T
        zone = np.minimum(np.floor((dec + 90.0) / height), np.ceil(180.0 / height) - 1)
        take = min(len(records), n - k * len(records))
        names = [f"{o}~{k}" for o in objects[:take]]
        first = k * len(records)
        new_ids = ids if k == 0 else COPY_IDS - (first + np.arange(len(records), dtype=np.int64))
        columns = {"ra": ra, "dec": dec, "cx": v[:, 0], "cy": v[:, 1], "cz": v[:, 2],
                   "zone": zone.astype(np.int32), "alert_id": new_ids}  # fmt: skip
        copy = base.slice(0, take)
        for name, values in [*columns.items(), ("object_id", names)]:
            copy = copy.set_column(copy.schema.get_field_index(name), name,
                                   pa.array(values[:take]))  # fmt: skip
        keep = owner < take
        sc = scores.filter(pa.array(keep))
        sc = sc.set_column(sc.schema.get_field_index("alert_id"), "alert_id",
                           pa.array(new_ids[owner[keep]]))  # fmt: skip
        sc = sc.set_column(sc.schema.get_field_index("object_id"), "object_id",
                           pa.array([names[j] for j in owner[keep]]))  # fmt: skip
        pending.append((copy, sc))
        if sum(c.num_rows for c, _ in pending) >= 100_000 or k * len(records) + take >= n:
            with store.db.transaction() as tx:
                tx.insert_arrow("alerts", pa.concat_tables([c for c, _ in pending]))
                tx.insert_arrow("scores", pa.concat_tables([x for _, x in pending]))
            pending = []
        positions += list(zip(ra[:take].tolist(), dec[:take].tolist(), names, strict=True))
    return positions


def _timed(get: Callable[[str], Any], urls: list[str]) -> dict[str, float]:
    times, rows = [], []
    for url in urls:
        started = time.perf_counter()
        answer = get(url)
        times.append(1000 * (time.perf_counter() - started))
        answer.raise_for_status()
        body = answer.json()
        rows.append(body.get("total", len(body.get("alerts", []))))
    times.sort()
    return {"median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "queries": len(urls), "mean_rows": round(statistics.fmean(rows), 1)}  # fmt: skip


def query_times(
    settings: Settings, records: list[dict[str, Any]], n: int, queries: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Object lookup and 1-degree cone answer times over ``n`` stored alerts, through HTTP."""
    import httpx
    import uvicorn

    from broker.portal.app import Portal, create_app
    from broker.portal.server import uvicorn_config

    folder = Path(tempfile.mkdtemp(prefix="faucon-bench-portal-"))
    portal_settings = settings.portal.model_copy(update={"port": 0, "ingest": False})
    s = settings.model_copy(update={"state_dir": folder, "portal": portal_settings})
    portal = Portal(s, ingest=False)
    try:
        started = time.perf_counter()
        positions = fill_store(portal.store, records, n)
        log(f"portal store of {n:,} alerts filled in {time.perf_counter() - started:.0f} s")
        portal.accounts.add_user("bench", "bench-only password", "scientist")
        token = portal.accounts.new_token("bench", "bench")
        server = uvicorn.Server(uvicorn_config(s, create_app(portal, close_on_shutdown=False)))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        rng = np.random.default_rng(18)
        picks = [positions[i] for i in rng.choice(len(positions), queries, replace=False)]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                          timeout=60) as client:  # fmt: skip
            client.get(f"/api/v1/objects/{picks[0][2]}")  # first query: caches warm
            lookups = _timed(client.get, [f"/api/v1/objects/{p[2]}" for p in picks])
            cones = _timed(client.get, [f"/api/v1/cone?ra={p[0]}&dec={p[1]}&radius=1"
                                        for p in picks])  # fmt: skip
        server.should_exit = True
        thread.join(30)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return {"stored_alerts": n, "store_gb": round(size / 2**30, 2), "object_lookup": lookups,
                "cone_1deg": cones}  # fmt: skip
    finally:
        portal.close()
        shutil.rmtree(folder, ignore_errors=True)


def _figures(settings: Settings, messages: list[Message], quick: bool,
             stream_alerts_per_s: float, hits_per_alert: float) -> dict[str, Any]:  # fmt: skip
    records = enriched_records(settings, messages)
    ingest = ingest_rate(settings, records, 10_000 if quick else 50_000, hits_per_alert)
    ingest["stream_alerts_per_s"] = stream_alerts_per_s
    ingest["keeps_up"] = ingest["alerts_per_s"] >= stream_alerts_per_s
    queries = query_times(settings, records, 100_000 if quick else 1_000_000,
                          100 if quick else 300, log=lambda _m: None)  # fmt: skip
    return {"ingest": ingest, **queries}


def portal_figures(
    settings: Settings, messages: list[Message], quick: bool, throughput: dict[str, Any],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Both portal measurements, in a child process (its memory is not the stream's)."""
    from broker.bench.resources import in_child

    log("portal: ingest rate, then lookups and cones over the stored alerts...")
    hits = float(throughput.get("filter_messages_per_alert") or 0.0)
    return dict(in_child(_figures, settings, messages, quick, throughput["alerts_per_s"], hits))


def portal_rows(r: dict[str, Any]) -> list[str]:
    """The portal's lines of the benchmark table (none when it was not measured)."""
    p = r.get("portal")
    if not p:
        return []
    i, look, cone = p["ingest"], p["object_lookup"], p["cone_1deg"]
    n = f"{p['stored_alerts']:,}"
    return [
        f"| portal ingest ({i['alerts']:,} alerts, {i['messages']:,} Kafka messages) "
        f"| {i['alerts_per_s']:,.0f} alerts/s ({i['messages_per_s']:,.0f} messages/s; "
        f"{i['alerts_per_cpu_s']:,.0f} alerts per CPU second) "
        f"| >= stream ({i['stream_alerts_per_s']:,.0f} alerts/s): "
        f"{'yes' if i['keeps_up'] else 'NO'} | |",
        f"| portal object lookup, HTTP, {n} stored alerts (median / p95) "
        f"| {look['median_ms']:.1f} / {look['p95_ms']:.1f} ms | median < 100 ms | |",
        f"| portal 1-degree cone, HTTP, {n} stored alerts (median / p95; "
        f"{cone['mean_rows']:,.0f} alerts per cone) | {cone['median_ms']:.1f} / "
        f"{cone['p95_ms']:.1f} ms | median < 100 ms | |",
    ]
