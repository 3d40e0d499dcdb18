"""From an enriched alert (the decoded Avro record) to the store's rows, and back.

Each alert becomes one ``alerts`` row (indexed columns plus the whole record
without cutouts, JSON compressed with zstd), one ``scores`` row per score, a
``cutouts`` row when it carries images, and one ``filter_hits`` row per
filter topic it was published on.

Scores are read generically: every key of ``scores`` (``model.label``), plus
any top-level field whose name contains ``anomaly``, a number or a record
(``anomaly_score`` -> key ``anomaly_score``; ``anomaly = {"model": "m",
"score": 0.3, "threshold": 0.6}`` -> key ``anomaly.score`` of model ``m``), so
new score fields show up without a change here.  Numbers of such a record
whose name contains ``threshold`` are its model's thresholds, not scores
(:func:`score_thresholds`).

Examples
--------
>>> rec = {"scores": {"snia.Ia": {"model": "snia", "version": "2", "label": "Ia",
...                               "probability": 0.8},
...                   "snia.other": {"model": "snia", "version": "2", "label": "other",
...                                  "probability": 0.2}},
...        "anomaly_score": -0.12}
>>> [(s.key, s.probability, s.top) for s in score_items(rec)]
[('snia.Ia', 0.8, True), ('snia.other', 0.2, False), ('anomaly_score', -0.12, False)]
>>> decode_record(encode_record({"a": 1, "cutout_science": b"x"}))
{'a': 1, 'cutout_science': None}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cramjam
import orjson

from broker.core.schema import CUTOUT_FIELDS
from broker.portal.sky import unit_vector, zone_of

ALERT_COLUMNS = (
    "survey", "alert_id", "object_id", "mjd_tai", "ra", "dec", "zone", "cx", "cy", "cz",
    "band", "mag", "mag_err", "flux_njy", "flux_err_njy", "is_positive", "reliability",
    "n_detections", "context", "schema_version", "ingest_ms", "stored_ms", "has_cutouts",
    "record",
)  # fmt: skip
SCORE_COLUMNS = (
    "survey", "alert_id", "object_id", "mjd_tai", "key", "model", "version", "label",
    "probability", "top",
)  # fmt: skip
CUTOUT_COLUMNS = ("survey", "alert_id", "format", "science", "template", "difference")
HIT_COLUMNS = ("filter", "survey", "alert_id", "object_id", "mjd_tai", "published_ms")
#: Columns of an alert summary (lists); the whole record is read only for one object.
SUMMARY_COLUMNS = (
    "survey", "alert_id", "object_id", "mjd_tai", "ra", "dec", "band", "mag", "mag_err",
    "flux_njy", "flux_err_njy", "is_positive", "reliability", "n_detections", "context",
    "has_cutouts", "ingest_ms",
)  # fmt: skip


@dataclass(frozen=True)
class Score:
    """One score of an alert."""

    key: str
    model: str
    version: str
    label: str
    probability: float | None
    top: bool


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def score_items(rec: dict[str, Any]) -> list[Score]:
    """Every score of an alert, classifier scores first (see the module doc)."""
    raw = []
    for key, s in sorted((rec.get("scores") or {}).items()):
        s = s or {}
        model, _, label = key.partition(".")
        version, label = str(s.get("version") or ""), str(s.get("label") or label or key)
        raw.append(
            (key, str(s.get("model") or model), version, label, _number(s.get("probability")))
        )
    best: dict[str, str] = {}  # model -> key of its highest probability (first one on ties)
    top_p: dict[str, float] = {}
    for key, model, _v, _label, p in raw:
        if p is not None and (model not in top_p or p > top_p[model]):
            best[model], top_p[model] = key, p
    out = [Score(k, m, v, lab, p, best.get(m) == k) for k, m, v, lab, p in raw]
    for name in sorted(k for k in rec if "anomal" in k.lower()):
        value = rec[name]
        if (number := _number(value)) is not None:
            out.append(Score(name, name, "", name, number, False))
        elif isinstance(value, dict):
            version, model = str(value.get("version") or ""), str(value.get("model") or name)
            for sub, v in sorted(value.items()):
                if "threshold" not in sub and (number := _number(v)) is not None:
                    out.append(Score(f"{name}.{sub}", model, version, sub, number, False))
    return out


def score_thresholds(rec: dict[str, Any]) -> dict[str, float]:
    """Thresholds carried by anomaly records (``anomaly.threshold``), by key.

    Examples
    --------
    >>> score_thresholds({"anomaly": {"model": "m", "score": 0.7, "threshold": 0.6}})
    {'anomaly.threshold': 0.6}
    """
    out = {}
    for name, value in rec.items():
        if "anomal" in name.lower() and isinstance(value, dict):
            for sub, v in value.items():
                if "threshold" in sub and (number := _number(v)) is not None:
                    out[f"{name}.{sub}"] = number
    return out


def encode_record(rec: dict[str, Any]) -> bytes:
    """The alert without its cutouts, as zstd-compressed JSON."""
    slim = {k: (None if k in CUTOUT_FIELDS else v) for k, v in rec.items()}
    return bytes(cramjam.zstd.compress(orjson.dumps(slim, default=_opaque), 1))


def _opaque(value: Any) -> Any:
    """JSON of what JSON cannot hold (bytes of a future field): its size."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    raise TypeError(f"cannot store {type(value).__name__} in an alert record")


def decode_record(blob: bytes) -> dict[str, Any]:
    """The alert stored by :func:`encode_record`."""
    return dict(orjson.loads(bytes(cramjam.zstd.decompress(blob))))


def has_cutouts(rec: dict[str, Any]) -> bool:
    """Whether the alert carries at least one image cutout."""
    return any(rec.get(k) for k in CUTOUT_FIELDS)


def alert_row(rec: dict[str, Any], height_deg: float, stored_ms: int) -> tuple[Any, ...]:
    """The ``alerts`` row of one alert (values in :data:`ALERT_COLUMNS` order)."""
    ra, dec = float(rec["ra"]) % 360.0, float(rec["dec"])
    cx, cy, cz = unit_vector(ra, dec)
    prov = rec.get("provenance") or {}
    return (
        rec["survey"], int(rec["alert_id"]), str(rec["object_id"]), float(rec["mjd_tai"]),
        ra, dec, zone_of(dec, height_deg), cx, cy, cz, rec.get("band"), rec.get("mag"),
        rec.get("mag_err"), rec.get("flux_njy"), rec.get("flux_err_njy"),
        bool(rec.get("is_positive")), rec.get("reliability"), rec.get("n_detections"),
        rec.get("context"), rec.get("schema_version"), prov.get("ingest_ms"), stored_ms,
        has_cutouts(rec), encode_record(rec),
    )  # fmt: skip


def score_rows(rec: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The ``scores`` rows of one alert."""
    ident = (rec["survey"], int(rec["alert_id"]), str(rec["object_id"]), float(rec["mjd_tai"]))
    return [(*ident, s.key, s.model, s.version, s.label, s.probability, s.top)
            for s in score_items(rec)]  # fmt: skip


def cutout_row(rec: dict[str, Any]) -> tuple[Any, ...] | None:
    """The ``cutouts`` row of one alert, None when it has no image."""
    if not has_cutouts(rec):
        return None
    return (rec["survey"], int(rec["alert_id"]), rec.get("cutout_format"),
            *(rec.get(k) for k in CUTOUT_FIELDS))  # fmt: skip


def hit_row(name: str, rec: dict[str, Any], published_ms: int) -> tuple[Any, ...]:
    """The ``filter_hits`` row of an alert published on a filter's topic."""
    return (name, rec["survey"], int(rec["alert_id"]), str(rec["object_id"]),
            float(rec["mjd_tai"]), published_ms)  # fmt: skip
