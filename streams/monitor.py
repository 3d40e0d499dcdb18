"""Stream monitoring: consumer lag, the status file and the models in use.

The driver polls the query's progress and publishes it: the
``faucon_consumer_lag`` gauge and ``<state_dir>/stream/<prefix>-status.json``,
which ``faucon status`` reads.

Examples
--------
>>> offsets_behind({"sources": [{"latestOffset": {"raw.ztf": {"0": 10, "1": 5}},
...                              "endOffset": {"raw.ztf": {"0": 7, "1": 5}}}]})
3
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from broker.core.config import Settings
from broker.ops.metrics import StreamMetrics
from broker.ops.status import status_path

log = logging.getLogger("faucon.stream")


def offsets_behind(progress: dict[str, Any] | None) -> int | None:
    """Input messages available but not processed yet, from a query progress report."""
    if not progress:
        return None
    lag = 0
    for source in progress.get("sources") or []:
        latest, end = _offsets(source.get("latestOffset")), _offsets(source.get("endOffset"))
        if latest is None:
            continue
        for topic, parts in latest.items():
            done = (end or {}).get(topic, {})
            lag += sum(max(0, int(v) - int(done.get(p, 0))) for p, v in parts.items())
    return lag


def _offsets(value: Any) -> dict[str, dict[str, int]] | None:
    """A Kafka source offset report as {topic: {partition: offset}}, or None if it is not one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        return None
    return value


class StreamMonitor:
    """Publishes the query's progress: lag gauge and the status file."""

    def __init__(self, settings: Settings, query: Any, metrics: StreamMetrics) -> None:
        self.settings, self.query, self.metrics = settings, query, metrics
        self.started_at = time.time()
        self._last_write = 0.0

    def update(self, active: bool = True) -> None:
        """Refresh the lag gauge and, at most every second, the status file (never raises)."""
        try:
            self._update(active)
        except Exception as exc:  # monitoring must never stop the stream
            log.warning("cannot publish the stream's status: %r", exc)

    def _update(self, active: bool) -> None:
        now = time.time()
        if active and now - self._last_write < 1.0:
            return
        self._last_write = now
        progress = self.query.lastProgress if active else None
        lag = offsets_behind(progress)
        if lag is not None:
            self.metrics.lag.set(lag)
        status = {
            "pid": os.getpid(),
            "active": active and bool(self.query.isActive),
            "started_at": self.started_at,
            "updated_at": now,
            "consumer_lag": lag,
            "metrics": f"http://{self.settings.metrics_addr}:{self.settings.metrics_port}/metrics"
            if self.settings.metrics_port
            else None,
            "last_progress": {
                k: progress.get(k)
                for k in (
                    "batchId",
                    "timestamp",
                    "numInputRows",
                    "inputRowsPerSecond",
                    "processedRowsPerSecond",
                )
            }
            if progress
            else None,
        }
        path = status_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        os.replace(tmp, path)
