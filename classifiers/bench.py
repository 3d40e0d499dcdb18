"""Throughput of features + inference on normalized alerts, per core.

:func:`bench` times :meth:`classifiers.inference.Scorer.score_alerts` (light
curve from the alert dict, ``fsv2`` features, one ONNX run per model per
batch, score records) on one thread, and breaks the time down by phase.
:func:`snana_alerts` makes normalized-alert dicts from SNANA curves cut at
random S/N >= 5 epochs, for use until real decoded alerts are at hand.

Examples
--------
>>> from classifiers.bench import bench, snana_alerts  # doctest: +SKIP
>>> alerts = snana_alerts("/work/shared/data/labeled-snpcc-train.tar.xz", 5000)  # doctest: +SKIP
>>> bench(alerts)["alerts_per_s"]  # doctest: +SKIP
6500.0
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from classifiers import features
from classifiers.export import predict_proba
from classifiers.inference import get_scorer
from classifiers.snana import load_snana

HISTORY_DAYS = {"ZTF": 30.0, "LSST": 365.0}
SURVEY_BANDS = {"ZTF": ("g", "r"), "LSST": ("g", "r", "i", "z")}


def _point(t: float, band: str, kind: str, f: float, e: float) -> dict[str, Any]:
    return {"mjd_tai": t, "band": band, "kind": kind, "flux_njy": f, "flux_err_njy": e}


def snana_alerts(
    path: str | Path, n: int, *, seed: int = 0, limit: int | None = 3000
) -> list[dict[str, Any]]:
    """Normalized-alert dicts built from SNANA curves, half ZTF (g, r) and half LSST (griz).

    Each alert is a random S/N >= 5 point of a random curve; its history holds
    a ``detection`` for every earlier S/N >= 5 point and a ``forced``
    measurement for every earlier point (so detections are duplicated, as in
    Rubin packets), within 30 d (ZTF) or 365 d (LSST).
    """
    curves = load_snana(path, limit)
    rng = np.random.default_rng(seed)
    alerts: list[dict[str, Any]] = []
    while len(alerts) < n:
        c = curves[int(rng.integers(len(curves)))]
        survey = "ZTF" if len(alerts) % 2 else "LSST"
        keep = np.isin(c.band, SURVEY_BANDS[survey])
        t, b, f, e = (a[keep] for a in c.lightcurve)
        det = np.flatnonzero(f / e >= features.DETECTION_SNR)
        if det.size == 0:
            continue
        i = int(rng.choice(det))
        start = t[i] - HISTORY_DAYS[survey]
        history = []
        for k in range(i):
            if t[k] >= start:
                if f[k] / e[k] >= features.DETECTION_SNR:
                    history.append(_point(t[k], b[k], "detection", f[k], e[k]))
                history.append(_point(t[k], b[k], "forced", f[k], e[k]))
        alerts.append(
            {
                "survey": survey,
                "alert_id": len(alerts),
                "object_id": c.snid,
                "mjd_tai": float(t[i]),
                "band": str(b[i]),
                "flux_njy": float(f[i]),
                "flux_err_njy": float(e[i]),
                "history": history,
            }
        )
    return alerts


def bench(
    alerts: Sequence[Mapping[str, Any]],
    models_dir: str | Path | None = None,
    *,
    batch_size: int = 1000,
    repeat: int = 3,
) -> dict[str, Any]:
    """Alerts per second of features + inference on one core.

    Parameters
    ----------
    alerts
        Normalized alerts (``faucon.alert.avsc`` dicts).
    models_dir
        Registry root; its promoted models are used.
    batch_size
        Alerts per ``score_alerts`` call (the stream scores micro-batches).
    repeat
        Timed passes over ``alerts``; the fastest is reported.

    Returns
    -------
    dict
        ``alerts_per_s`` (end to end), ``seconds``, and ``phases_s``: light
        curves from dicts, features per band set, inference per model.
    """
    scorer = get_scorer(models_dir)
    batches = [alerts[k : k + batch_size] for k in range(0, len(alerts), batch_size)]
    with threadpool_limits(limits=1):
        scorer.score_alerts(batches[0] if batches else [])  # warm-up
        best = float("inf")
        for _ in range(max(1, repeat)):
            t0 = time.perf_counter()
            for batch in batches:
                scorer.score_alerts(batch)
            best = min(best, time.perf_counter() - t0)
        phases = _phases(alerts, scorer.models.values())
    return {
        "n_alerts": len(alerts),
        "batch_size": batch_size,
        "threads": 1,
        "seconds": round(best, 4),
        "alerts_per_s": round(len(alerts) / best, 1) if best > 0 else float("inf"),
        "phases_s": phases,
        "models": {m.name: m.version for m in scorer.models.values()},
    }


def _phases(alerts: Sequence[Mapping[str, Any]], models: Any) -> dict[str, float]:
    models = list(models)
    t0 = time.perf_counter()
    lcs = [features.lightcurve_from_alert(a) for a in alerts]
    out = {"lightcurve_from_alert": time.perf_counter() - t0}
    surveys = [str(a.get("survey", "")).upper() for a in alerts]
    for bands in dict.fromkeys(m.bands for m in models):
        served = {s for m in models if m.bands == bands for s in m.surveys}
        idx = [i for i, s in enumerate(surveys) if s in served]
        t0 = time.perf_counter()
        fm = features.extract([lcs[i] for i in idx], bands)
        out[f"features_{''.join(bands)}"] = time.perf_counter() - t0
        for m in models:
            if m.bands == bands:
                t0 = time.perf_counter()
                predict_proba(m.session, fm.X)
                out[f"inference_{m.name}"] = time.perf_counter() - t0
    return {k: round(v, 4) for k, v in out.items()}
