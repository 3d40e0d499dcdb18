"""``faucon bench`` for the anomaly score: its cost beside the full pipeline's throughput.

Measured on one core, on the bench's real alerts (decoded and normalized once):

* ``unit_us_per_alert``: the anomaly unit as the stream runs it, right after the
  classifiers on the same batch (the light curves and fsv2 features are
  shared, :mod:`classifiers.batchcache`): the forest and reranker in onnxruntime,
  column selection and records;
* ``alone_us_per_alert``: the same unit on a batch the classifiers did not see
  (it computes the features itself: the cost if the classifiers were off);
* ``enrich_stage``: alerts/s of the whole enrich stage (decode to encoded
  payloads) with and without the anomaly unit (``FAUCON_ANOMALY__ENABLED``).

``share_of_pipeline`` is the unit's CPU time per alert over the full
pipeline's (``cores / throughput``, the stream's CPU per alert in the same
run): the issue's target is at most 10 %.

Examples
--------
>>> share(unit_us=20.0, throughput_alerts_per_s=1000.0, cores=2)
0.01
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from broker.core.config import Settings
from broker.kafka.replay import Message

TARGET_SHARE = 0.10
BATCH = 500  # the stream's Arrow batch size


def share(unit_us: float, throughput_alerts_per_s: float, cores: int) -> float:
    """CPU share of the full pipeline per alert spent in the anomaly unit."""
    return round(unit_us * 1e-6 * throughput_alerts_per_s / cores, 4)


def _best_us(fn: Callable[[], int], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, (time.perf_counter() - t0) / max(n, 1) * 1e6)
    return best


def anomaly_rates(settings: Settings, messages: list[Message]) -> dict[str, Any]:
    """Per-alert cost of the anomaly unit on one core (module doc); run it in a child."""
    import pyarrow as pa

    from broker.pipeline.decode import Decoder
    from broker.pipeline.enrich import INPUT_SCHEMA, process_batch
    from broker.pipeline.enrichers import anomaly, classify, crossmatch
    from broker.pipeline.normalize import normalize

    dec, alerts = Decoder(), []
    for m in messages:
        try:
            alerts.append(normalize(*dec.decode(m.value)))
        except Exception:  # rejected messages are not scored
            continue
    batches = [alerts[i : i + BATCH] for i in range(0, len(alerts), BATCH)]
    for b in batches:
        crossmatch(b, settings)  # context, as the stream has it before scoring

    def unit_after_classifiers() -> int:
        total = 0.0
        for b in batches:
            fresh = [dict(a) for a in b]
            classify(fresh, settings)
            t0 = time.perf_counter()
            anomaly(fresh, settings)
            total += time.perf_counter() - t0
        return round(len(alerts) / total) if total else 0

    def unit_alone() -> int:
        for b in batches:
            anomaly([dict(a) for a in b], settings)
        return len(alerts)

    anomaly(batches[0][:20], settings)  # load the models
    rates = [unit_after_classifiers() for _ in range(3)]
    rows = [
        {"value": m.value, "topic": "raw.bench", "partition": 0, "offset": i, "timestamp_ms": 0}
        for i, m in enumerate(messages)
    ]
    arrow = pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA)
    off = settings.model_copy(
        update={"anomaly": settings.anomaly.model_copy(update={"enabled": False})}
    )
    profiles = ("full", "lite", "thin")

    def stage_rate(s: Settings) -> int:
        return round(1e6 / _best_us(lambda: process_batch(arrow, s, profiles).num_rows))

    stage = {"with_anomaly": stage_rate(settings), "without_anomaly": stage_rate(off)}
    return {
        "alerts": len(alerts),
        "unit_us_per_alert": round(1e6 / max(rates), 2),
        "alone_us_per_alert": round(_best_us(unit_alone), 2),
        "enrich_stage_alerts_per_s": stage,
    }


def anomaly_figures(
    settings: Settings, messages: list[Message], throughput_alerts_per_s: float, cores: int
) -> dict[str, Any]:
    """:func:`anomaly_rates` in a child process, with its share of the pipeline's CPU."""
    from broker.bench.resources import in_child

    figures: dict[str, Any] = in_child(anomaly_rates, settings, messages)
    figures["share_of_pipeline"] = share(
        figures["unit_us_per_alert"], throughput_alerts_per_s, cores
    )
    figures["share_if_classifiers_off"] = share(
        figures["alone_us_per_alert"], throughput_alerts_per_s, cores
    )
    figures["target_share"] = TARGET_SHARE
    return figures


def anomaly_rows(r: dict[str, Any]) -> list[str]:
    """Rows of the bench's Markdown table."""
    a = r.get("anomaly")
    if not a:
        return []
    stage = a["enrich_stage_alerts_per_s"]
    return [
        f"| anomaly score, one core, after the classifiers' features | "
        f"{a['unit_us_per_alert']:.1f} us/alert | <= 10 % of the pipeline | "
        f"{a['share_of_pipeline']:.2%} of the pipeline's CPU per alert |",
        f"| anomaly score computing its own features | {a['alone_us_per_alert']:.1f} us/alert "
        f"| | {a['share_if_classifiers_off']:.2%} |",
        f"| enrich stage with / without the anomaly unit, one core | "
        f"{stage['with_anomaly']:,} / {stage['without_anomaly']:,} alerts/s | | |",
    ]
