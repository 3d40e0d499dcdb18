"""Run counters of the stream, kept while it runs and reconciled at the end.

Counters are written after every micro-batch to
``<state_dir>/stream/stats.json`` (atomically), so ``faucon status`` and
operators can read them while the stream runs.  They are idempotent per
micro-batch id: when Spark replays a batch after a crash, the batch's
earlier contribution is replaced, not added twice.

Examples
--------
>>> s = StreamStats()
>>> s.add_batch(0, {"in": 3, "ok": 2, "rejected_reasons": ["empty_message"],
...                 "filter:bright": 1}, duration_s=0.5, topics={"bright": "t.bright"},
...             enriched_topic="t.enriched", deadletter_topic="t.dead")
>>> s.reconciles(), s.data["published"]["t.bright"], s.data["rejected"]
(True, 1, {'empty_message': 1})
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any


def stats_path(settings: Any) -> Path:
    """File with the stream's cumulative counters."""
    return settings.state_dir / "stream" / f"{settings.kafka.topic_prefix}-stats.json"


def _empty() -> dict[str, Any]:
    return {
        "batches": 0,
        "in": 0,
        "ok": 0,
        "rejected_total": 0,
        "enrich_errors": 0,
        "rejected": {},
        "published": {},
        "filter_errors": {},
        "started_at": time.time(),
        "last_batch": None,
    }


class StreamStats:
    """Cumulative counters of a stream, with per-batch idempotency."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.data = _empty()
        if path is not None and path.is_file():
            self.data = json.loads(path.read_text())

    def _apply(self, delta: dict[str, Any], sign: int) -> None:
        d = self.data
        d["in"] += sign * delta["in"]
        d["ok"] += sign * delta["ok"]
        d["rejected_total"] += sign * delta["rejected_total"]
        d["enrich_errors"] = d.get("enrich_errors", 0) + sign * delta["enrich_errors"]
        for key in ("rejected", "published", "filter_errors"):
            merged = Counter(d.get(key) or {})
            for name, n in delta[key].items():
                merged[name] += sign * n
            d[key] = {k: v for k, v in sorted(merged.items()) if v}
        d["batches"] += sign

    def add_batch(
        self,
        batch_id: int,
        observed: dict[str, Any],
        duration_s: float,
        topics: dict[str, str],
        enriched_topic: str,
        deadletter_topic: str,
    ) -> None:
        """Add one micro-batch's observed metrics (:func:`broker.pipeline.distribute.metrics`)."""
        rejected = Counter(r for r in observed.get("rejected_reasons") or [] if r)
        delta: dict[str, Any] = {
            "in": int(observed.get("in") or 0),
            "ok": int(observed.get("ok") or 0),
            "rejected_total": sum(rejected.values()),
            "enrich_errors": int(observed.get("enrich_errors") or 0),
            "rejected": dict(rejected),
            "published": {enriched_topic: int(observed.get("ok") or 0)},
            # Micro-batches in which each Python filter failed (it is then quarantined).
            "filter_errors": dict.fromkeys(observed.get("filter_errors") or {}, 1),
        }
        if delta["rejected_total"]:
            delta["published"][deadletter_topic] = delta["rejected_total"]
        for name, topic in topics.items():
            delta["published"][topic] = int(observed.get(f"filter:{name}") or 0)
        last = self.data.get("last_batch")
        if last and last["id"] == batch_id:  # replayed after a crash: replace, don't add
            self._apply(last["delta"], -1)
        self._apply(delta, +1)
        self.data["last_batch"] = {
            "id": batch_id,
            "delta": delta,
            "duration_s": round(duration_s, 3),
            "finished_at": time.time(),
            "max_ingest_ms": observed.get("max_ingest_ms"),
        }
        self.save()

    def reconciles(self) -> bool:
        """True when in = published alerts + rejected messages."""
        d = self.data
        return bool(
            d["in"] == d["ok"] + d["rejected_total"] == d["ok"] + sum(d["rejected"].values())
        )

    def save(self) -> None:
        """Write the counters atomically (no-op without a path)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)
