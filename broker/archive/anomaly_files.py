"""Anomaly models from alert files: the initial (shipped) model and the feedback measurement.

``faucon anomaly train --survey ZTF --alerts DIR... [--snana TAR --simulated N]``
trains without an archive: the real alerts of the files (decoded and
normalized like the stream does; the latest alert of each object per
night, those with enough points) plus, with ``--simulated N``, ``N``
alert-like snapshots of simulated variables and SNPCC supernovae at the
survey's cadence (:func:`classifiers.anomaly_data.simulated`).

``faucon anomaly evaluate`` runs :func:`classifiers.anomaly_eval.feedback_experiment`
on real data: background = the real alerts of the files plus snapshots of
the real RR Lyrae curves, injected = snapshots of the real SN Ia curves.

Examples
--------
>>> rows = [{"object_id": "a", "alert_id": 1, "mjd_tai": 60235.3},
...         {"object_id": "a", "alert_id": 2, "mjd_tai": 60235.4}]
>>> [r["alert_id"] for r in latest_alerts(rows)]
[2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from broker.archive.anomaly import feature_matrix, latest_per_object, train_and_gate
from broker.archive.paths import night_of
from broker.core.config import Settings
from broker.core.errors import ConfigError
from classifiers import anomaly, features
from classifiers.anomaly_data import labelled_snapshots, simulated
from classifiers.anomaly_eval import feedback_experiment

MIN_REAL_FOR_THRESHOLD = 100


def file_alerts(paths: Sequence[str], survey: str) -> list[dict[str, Any]]:
    """Normalized alerts of ``survey`` in alert files, folders or globs."""
    from broker.pipeline.inspect import inspect_paths

    found = inspect_paths([str(p) for p in paths])
    out = [a for r in found for a in r.alerts if a["survey"] == survey.upper()]
    if not out:
        raise ConfigError(f"no {survey} alert in {list(paths)}")
    return out


def latest_alerts(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The latest alert of each object and night (as the nightly window keeps them)."""
    rows = [{**a, "night": _night(a)} for a in alerts]
    return latest_per_object(rows, per_night=True)


def _night(alert: Mapping[str, Any]) -> str:
    try:
        return night_of(float(alert["mjd_tai"]))
    except (OverflowError, ValueError, TypeError):  # a time no survey night holds
        return "none"


def train_from_files(
    settings: Settings,
    survey: str,
    paths: Sequence[str],
    snana: str | None = None,
    n_simulated: int = 0,
    promote: bool = True,
    version: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train (gate, write, maybe promote) a survey's model from alert files and simulations."""
    survey = survey.upper()
    anomaly.model_name(survey)  # ConfigError for a survey without an anomaly model
    bands = anomaly.SURVEY_BANDS[survey]
    alerts = latest_alerts(file_alerts(paths, survey))
    X, ok = feature_matrix(alerts, survey)
    X = X[ok]
    real = np.ones(len(X), dtype=bool)
    data: dict[str, Any] = {
        "source": "alert files",
        "paths": [str(p) for p in paths],
        "real_alerts": int(ok.sum()),
        "real_objects": len({a["object_id"] for a, good in zip(alerts, ok, strict=True) if good}),
    }
    if n_simulated:
        from classifiers.snana import load_snana

        curves = load_snana(snana, limit=max(1, n_simulated)) if snana else []
        sims = simulated(survey, n_simulated, np.random.default_rng(seed), bands, curves)
        names = anomaly.feature_columns(bands)
        Xs, oks = anomaly.feature_rows([lc for _k, lc in sims], bands, names, features.MIN_POINTS)
        X = np.vstack([X, Xs[oks]])
        real = np.concatenate([real, np.zeros(int(oks.sum()), dtype=bool)])
        kinds: dict[str, int] = {}
        for (kind, _lc), good in zip(sims, oks, strict=True):
            if good:
                kinds[kind] = kinds.get(kind, 0) + 1
        data["simulated"] = {"n": int(oks.sum()), "snana": snana, "kinds": kinds, "seed": seed}
    # The threshold is the top fraction of the real alerts (what a night holds), not of
    # the simulated curves that shape the forest's picture of the ordinary sky -- when
    # there are enough of them (Rubin's commissioning alerts: a handful).
    on = real if real.sum() >= MIN_REAL_FOR_THRESHOLD else None
    data["threshold_on"] = "real alerts" if on is not None else "all rows (too few real alerts)"
    return train_and_gate(settings, survey, X, [""] * len(X), data, promote, version, on)


def evaluation_data(
    alert_paths: Sequence[str], curves_dir: str | Path, rrl_per_curve: int = 3, seed: int = 0
) -> dict[str, Any]:
    """ZTF feature rows of the feedback measurement: background and injected SN Ia."""
    survey, bands = "ZTF", anomaly.SURVEY_BANDS["ZTF"]
    names = anomaly.feature_columns(bands)
    alerts = file_alerts(alert_paths, survey)
    Xa, oka = feature_matrix(alerts, survey)
    ids = [str(a["object_id"]) for a, good in zip(alerts, oka, strict=True) if good]
    rrl = labelled_snapshots(curves_dir, survey, bands, per_curve=rrl_per_curve, seed=seed)
    ia = labelled_snapshots(curves_dir, survey, bands, seed=seed + 1).get("Ia", [])
    rows = rrl.get("RRL", [])
    Xr, okr = anomaly.feature_rows([lc for _n, lc in rows], bands, names, features.MIN_POINTS)
    Xi, oki = anomaly.feature_rows([lc for _n, lc in ia], bands, names, features.MIN_POINTS)
    if not ia or not oki.any():
        raise ConfigError(f"no SN Ia light curve with enough points under {curves_dir}")
    return {
        "names": names,
        "background": np.vstack([Xa[oka], Xr[okr]]),
        "background_ids": ids + [f"RRL:{n}" for (n, _lc), g in zip(rows, okr, strict=True) if g],
        "background_kinds": ["alert"] * len(ids) + ["RRL"] * int(okr.sum()),
        "injected": Xi[oki],
        "injected_ids": [f"Ia:{n}" for (n, _lc), g in zip(ia, oki, strict=True) if g],
    }


def evaluate_feedback(
    alert_paths: Sequence[str], curves_dir: str | Path, trials: int = 10, **kwargs: Any
) -> dict[str, Any]:
    """:func:`classifiers.anomaly_eval.feedback_experiment` on :func:`evaluation_data`."""
    d = evaluation_data(alert_paths, curves_dir)
    result = feedback_experiment(
        d["background"],
        d["background_ids"],
        d["background_kinds"],
        d["injected"],
        d["injected_ids"],
        names=d["names"],
        trials=trials,
        boring_kind="RRL",
        **kwargs,
    )
    result["data"] = {
        "alerts": [str(p) for p in alert_paths],
        "curves": str(curves_dir),
        "background_alerts": d["background_kinds"].count("alert"),
        "background_rrl_snapshots": d["background_kinds"].count("RRL"),
        "injected_sn_ia_snapshots": len(d["injected_ids"]),
    }
    return result
