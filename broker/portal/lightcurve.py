"""An object's light curve and score history, from its stored alerts.

Every alert carries its triggering detection and the earlier photometry of
the survey's history window (detections, forced photometry, upper limits).
The light curve is the union of those points over all the object's alerts,
each measurement once (keyed by kind, band and time to 1e-6 day), oldest
first.  Scores over time are one point per alert and score key.

Examples
--------
>>> alert = {"alert_id": 7, "mjd_tai": 60001.0, "band": "g", "flux_njy": 1000.0,
...          "flux_err_njy": 50.0, "mag": 23.9, "mag_err": 0.05, "scores": {},
...          "history": [{"mjd_tai": 60000.0, "band": "g", "kind": "upper_limit",
...                       "flux_njy": None, "flux_err_njy": None, "mag": None,
...                       "mag_err": None, "limit_mag": 20.5, "source_id": None}]}
>>> [(p["kind"], p["mjd_tai"]) for p in light_curve([alert])["points"]]
[('upper_limit', 60000.0), ('detection', 60001.0)]
"""

from __future__ import annotations

from typing import Any

from broker.portal.records import score_items, score_thresholds

POINT_FIELDS = ("mjd_tai", "band", "kind", "flux_njy", "flux_err_njy", "mag", "mag_err",
                "limit_mag")  # fmt: skip


def _point(src: dict[str, Any], kind: str, alert_id: int | None) -> dict[str, Any]:
    point = {k: src.get(k) for k in POINT_FIELDS}
    point["kind"] = kind
    point["alert_id"] = alert_id
    return point


def light_curve(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Points (detections, forced photometry, upper limits) and scores over time.

    Parameters
    ----------
    records
        The object's alerts (whole records), any order.

    Returns
    -------
    dict
        ``points`` (oldest first; ``alert_id`` set on an alert's own
        detection), ``bands``, ``scores`` (``mjd_tai``, ``alert_id``, ``key``,
        ``probability``), ``score_keys`` and ``thresholds`` (of anomaly models).
    """
    seen: dict[tuple[str, str, float], dict[str, Any]] = {}
    for rec in sorted(records, key=lambda r: (r["mjd_tai"], r["alert_id"])):
        own = _point(rec, "detection", int(rec["alert_id"]))
        points = [own] + [_point(h, str(h.get("kind") or "detection"), None)
                          for h in rec.get("history") or []]  # fmt: skip
        for p in points:
            key = (p["kind"], str(p["band"]), round(float(p["mjd_tai"]), 6))
            old = seen.get(key)
            if old is None or (old["alert_id"] is None and p["alert_id"] is not None):
                seen[key] = p
    ordered = sorted(seen.values(), key=lambda p: (p["mjd_tai"], p["band"], p["kind"]))
    scores = [
        {"mjd_tai": rec["mjd_tai"], "alert_id": rec["alert_id"], "key": s.key,
         "probability": s.probability}
        for rec in sorted(records, key=lambda r: (r["mjd_tai"], r["alert_id"]))
        for s in score_items(rec)
        if s.probability is not None
    ]  # fmt: skip
    thresholds: dict[str, float] = {}
    for rec in records:
        thresholds.update(score_thresholds(rec))
    return {
        "points": ordered,
        "bands": sorted({str(p["band"]) for p in ordered}),
        "scores": scores,
        "score_keys": sorted({s["key"] for s in scores}),
        "thresholds": thresholds,
    }
