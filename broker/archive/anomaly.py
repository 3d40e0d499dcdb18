"""Train the anomaly model of a survey: from archived nights (nightly) or from alert files.

``faucon anomaly train --survey ZTF --night N`` (DAG ``faucon_anomaly``):

1. **Window.** The archived alerts of the survey in the ``anomaly.window_days``
   nights ending with ``N`` (``survey=S/night=*/`` Parquet), the latest alert
   of each object per night, those with enough points; at most
   ``anomaly.max_train_alerts`` (a random sample).  Fewer than
   ``anomaly.min_train_alerts``: nothing is trained (the report says so).
2. **Labels.** The experts' labels (:class:`broker.registry.labels.LabelStore`)
   mark every window alert of a labelled object; a labelled object with no
   alert in the window contributes its latest archived alert.
3. **Train** (:func:`classifiers.anomaly_train.train`): isolation forest,
   reranker over the labels, threshold at the top ``anomaly.top_fraction``.
4. **Gate** (:func:`classifiers.anomaly_train.gate`) on the fixed reference
   set of :func:`reference_curves`; **promote** only when it passes.  The
   running stream loads the new version within seconds.

The report (window, rows, labels used, gate, decision) is written beside the
candidate as ``train-report.json``.

Examples
--------
>>> from broker.core.config import load_settings
>>> window_nights("2023-10-17", 3)
['2023-10-15', '2023-10-16', '2023-10-17']
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

from broker.archive.paths import archive_root, check_night
from broker.core.config import REPO_ROOT, Settings
from broker.core.errors import ConfigError, FauconError
from classifiers import anomaly, anomaly_train, features, registry
from classifiers.anomaly_data import labelled_snapshots
from classifiers.anomaly_score import load_anomaly

COLUMNS = ["object_id", "alert_id", "mjd_tai", "band", "flux_njy", "flux_err_njy", "history"]
DEMO_ALERTS = REPO_ROOT / "deploy" / "demo-alerts"
REAL_CURVES_ENV = "FAUCON_REAL_CURVES"


def window_nights(night: str, days: int) -> list[str]:
    """The ``days`` nights ending with ``night``, oldest first."""
    end = dt.date.fromisoformat(check_night(night))
    return [(end - dt.timedelta(days=k)).isoformat() for k in range(days - 1, -1, -1)]


def params(settings: Settings) -> anomaly_train.Params:
    """Training and gate parameters from the settings."""
    a = settings.anomaly
    return anomaly_train.Params(
        n_trees=a.n_trees,
        max_samples=a.max_samples,
        top_fraction=a.top_fraction,
        feedback_weight=a.feedback_weight,
        feedback_background=a.feedback_background,
        gate_min_reference=a.gate_min_reference,
        gate_max_flag_fraction=a.gate_max_flag_fraction,
        gate_min_rank_correlation=a.gate_min_rank_correlation,
    )


def archived_rows(
    settings: Settings,
    survey: str,
    nights: Sequence[str] | None,
    objects: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Archived alerts of ``survey`` in ``nights`` (all nights: None), of ``objects`` when given."""
    base = archive_root(settings) / f"survey={survey}"
    dirs = sorted(base.glob("night=*")) if base.is_dir() else []
    if nights is not None:
        dirs = [d for d in dirs if d.name.split("=", 1)[1] in set(nights)]
    rows: list[dict[str, Any]] = []
    for d in dirs:
        data = ds.dataset(str(d), format="parquet")
        where = None if objects is None else pc.field("object_id").isin(list(objects))
        table = data.to_table(columns=COLUMNS, filter=where)
        night = d.name.split("=", 1)[1]
        rows.extend({**r, "survey": survey, "night": night} for r in table.to_pylist())
    return rows


def latest_per_object(rows: Sequence[Mapping[str, Any]], per_night: bool) -> list[dict[str, Any]]:
    """The latest alert of each object (of each object and night with ``per_night``)."""
    best: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        key = (str(r["object_id"]), str(r["night"]) if per_night else "")
        old = best.get(key)
        if old is None or (r["mjd_tai"], r["alert_id"]) > (old["mjd_tai"], old["alert_id"]):
            best[key] = r
    return [dict(r) for _k, r in sorted(best.items())]


def feature_matrix(
    alerts: Sequence[Mapping[str, Any]], survey: str
) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly feature rows of alerts and the mask of those with enough points."""
    bands = anomaly.SURVEY_BANDS[survey]
    lcs = []
    for a in alerts:
        try:
            lcs.append(features.lightcurve_from_alert(a))
        except (KeyError, TypeError, ValueError, FauconError):
            lcs.append(features.lightcurve_from_alert({}))  # empty: not scorable
    names = anomaly.feature_columns(bands)
    return anomaly.feature_rows(lcs, bands, names, features.MIN_POINTS)


def real_curves_dir() -> Path | None:
    """Real labelled curves: ``$FAUCON_REAL_CURVES``, else ``../shared/data/labeled-real``."""
    path = Path(os.environ.get(REAL_CURVES_ENV) or REPO_ROOT.parent / "shared/data/labeled-real")
    return path if path.is_dir() else None


def reference_curves(survey: str) -> tuple[list[features.LightCurve], dict[str, Any]]:
    """The gate's fixed reference set: the bundled real demo alerts of the survey and
    alert-like snapshots (fixed seed) of the validation half of the real labelled curves."""
    from broker.pipeline.inspect import inspect_paths

    survey = survey.upper()
    demo = [a for r in inspect_paths([str(DEMO_ALERTS)]) for a in r.alerts if a["survey"] == survey]
    lcs = [features.lightcurve_from_alert(a) for a in demo]
    info: dict[str, Any] = {"demo_alerts": len(demo)}
    real = real_curves_dir()
    if real is not None:
        snaps = labelled_snapshots(real, survey, anomaly.SURVEY_BANDS[survey], "validation")
        info["real_curves"] = {"dir": str(real), **{c: len(v) for c, v in snaps.items()}}
        lcs += [lc for items in snaps.values() for _n, lc in items]
    return lcs, info


def promoted_model(settings: Settings, name: str) -> Any:
    """The promoted anomaly model, loaded (None when none, or when it cannot load any more)."""
    version = registry.promoted_version(name, settings.models_dir)
    if version is None:
        return None
    try:
        return load_anomaly(name, version, settings.models_dir)
    except ConfigError:
        return None


def train_and_gate(
    settings: Settings,
    survey: str,
    X: np.ndarray,
    labels: Sequence[str],
    data: dict[str, Any],
    promote: bool = True,
    version: str | None = None,
    threshold_rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train on feature rows, gate against the promoted version, write, maybe promote."""
    name = anomaly.model_name(survey)
    trained = anomaly_train.train(survey, X, labels, params(settings), data, threshold_rows)
    reference, info = reference_curves(survey)
    previous = promoted_model(settings, name)
    gate = anomaly_train.gate(trained, previous, reference, params(settings))
    gate["reference"] = info
    trained.manifest["gate"] = gate
    name, version = anomaly_train.write(survey, trained, settings.models_dir, version)
    decision = {"promoted": False, "previous_version": getattr(previous, "version", None)}
    if gate["passed"] and promote:
        registry.promote(name, version, settings.models_dir)
        decision["promoted"] = True
    decision["reason"] = "gate passed" if gate["passed"] else "; ".join(gate["problems"])
    report = {
        "model": name,
        "version": version,
        "threshold": trained.manifest["threshold"],
        "feedback": trained.manifest["feedback"],
        "training_data": trained.manifest["training_data"],
        "gate": gate,
        "decision": decision,
    }
    path = registry.model_dir(name, version, settings.models_dir) / "train-report.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return report


def train_nightly(
    settings: Settings,
    survey: str,
    night: str,
    labels: Mapping[str, str],
    promote: bool = True,
) -> dict[str, Any]:
    """Train from the archived window ending with ``night`` and the labels (module doc)."""
    survey = survey.upper()
    anomaly.model_name(survey)  # ConfigError for an unknown survey
    cfg = settings.anomaly
    nights = window_nights(night, cfg.window_days)
    rows = latest_per_object(archived_rows(settings, survey, nights), per_night=True)
    X, ok = feature_matrix(rows, survey)
    rows = [r for r, good in zip(rows, ok, strict=True) if good]
    X = X[ok]
    if len(rows) > cfg.max_train_alerts:
        keep = np.sort(np.random.default_rng(0).permutation(len(rows))[: cfg.max_train_alerts])
        rows, X = [rows[i] for i in keep], X[keep]
    row_labels = [labels.get(str(r["object_id"]), "") for r in rows]
    seen = {str(r["object_id"]) for r in rows}
    missing = sorted(o for o in labels if o not in seen)
    extra = []
    if missing:  # labelled objects with no scorable alert in the window: their latest alert
        found = archived_rows(settings, survey, None, missing)
        extra = latest_per_object(found, per_night=False)
    if extra:
        Xe, oke = feature_matrix(extra, survey)
        extra = [r for r, good in zip(extra, oke, strict=True) if good]
        X = np.vstack([X, Xe[oke]])
        row_labels += [labels[str(r["object_id"])] for r in extra]
    data = {
        "source": "archive",
        "archive": str(archive_root(settings)),
        "nights": nights,
        "alerts_in_window": len(rows),
        "labelled_objects": len(labels),
        "labelled_rows": sum(1 for x in row_labels if x),
        "labelled_outside_window": len(extra),
    }
    if len(rows) < cfg.min_train_alerts:
        return {
            "model": anomaly.model_name(survey),
            "version": None,
            "training_data": data,
            "decision": {
                "promoted": False,
                "reason": f"{len(rows)} scorable archived alerts in {nights[0]}..{nights[-1]} "
                f"< FAUCON_ANOMALY__MIN_TRAIN_ALERTS={cfg.min_train_alerts}: nothing trained",
            },
        }
    return train_and_gate(settings, survey, X, row_labels, data, promote)
