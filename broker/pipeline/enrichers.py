"""Enrichers: the pluggable units that add knowledge to accepted alerts.

An enricher is one small signature: a function that takes the batch's
accepted alerts (normalized dicts) and the settings and fills its fields in
place, working on the whole batch at once.  Each has a fallback that fills
the same fields with "unknown" values when the unit fails, so a failing unit
costs its enrichment, never the batch: the failure is counted per unit and
reported with the batch's counters.

Units are registered explicitly in :data:`ENRICHERS`, in order.

Examples
--------
>>> from broker.core.config import load_settings
>>> alerts = [{"ra": 0.3182083, "dec": 29.5927778, "ss_name": None, "ss_distance_arcsec": None}]
>>> errors = run_enrichers(alerts, load_settings(), units=(ENRICHERS[0],))
>>> errors, alerts[0]["context"], sorted(alerts[0]["xmatch"])
({}, 'agn_blazar', ['blazar_3hsp'])
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from broker.core.config import Settings

log = logging.getLogger("faucon.enrich")
Alert = dict[str, Any]


@dataclass(frozen=True)
class Enricher:
    """One enrichment unit: ``run`` fills fields in place; ``fallback`` on failure."""

    name: str
    run: Callable[[list[Alert], Settings], None]
    fallback: Callable[[list[Alert], str], None]


_REPORTED: dict[str, str] = {}


def _report(settings: Settings, subdir: str, key: str, fields: dict[str, Any]) -> None:
    """Write this worker's ``fields`` to ``<state>/stream/<subdir>/<worker>.json`` when
    ``key`` changed since its last report (read by ``faucon catalogs show``, ``status``)."""
    directory = settings.state_dir / "stream" / subdir
    if _REPORTED.get(str(directory)) == key:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        worker = f"{socket.gethostname()}-{os.getpid()}"
        (directory / f"{worker}.json").write_text(
            json.dumps({"worker": worker, **fields}, indent=1)
        )
        _REPORTED[str(directory)] = key
    except OSError as exc:  # reporting must never cost the batch
        log.warning("cannot write %s: %s", directory, exc)


def _report_catalogs(settings: Settings, key: str, in_use: dict[str, Any]) -> None:
    """Write which catalog versions this worker uses (read by ``faucon catalogs show``)."""
    _report(settings, "catalogs_in_use", key, {"registry_key": key, "catalogs": in_use})


def crossmatch(alerts: list[Alert], settings: Settings) -> None:
    """Nearest match per local catalog and the derived context label."""
    from broker.catalogs.context import enrich
    from broker.catalogs.index import catalog_set

    conf = settings.crossmatch
    cats = catalog_set(catalogs_dir=conf.catalogs_dir, disabled=conf.disabled)
    in_use = cats.in_use()
    _report_catalogs(settings, cats.key, in_use)
    for alert, out in zip(alerts, enrich(alerts, conf, cats), strict=True):
        alert["context"] = out["context"]
        alert["xmatch"] = {
            name: {**m, "catalog_version": str(in_use[name]["version"])}
            for name, m in out["xmatch"].items()
            if m is not None
        }


def crossmatch_fallback(alerts: list[Alert], reason: str) -> None:
    """No cross-match: unknown context, no matches."""
    for alert in alerts:
        alert["context"] = "unknown"
        alert["xmatch"] = {}


def classify(alerts: list[Alert], settings: Settings) -> None:
    """Scores of the promoted models serving each alert's survey."""
    from classifiers.inference import score_alerts

    for alert, records in zip(alerts, score_alerts(alerts, settings.models_dir), strict=True):
        alert["scores"] = {f"{r['model']}.{r['label']}": r for r in records}


def classify_fallback(alerts: list[Alert], reason: str) -> None:
    """No classification for this batch."""
    for alert in alerts:
        alert["scores"] = {}


def anomaly(alerts: list[Alert], settings: Settings) -> None:
    """Anomaly score of the promoted anomaly model serving each alert's survey (None if none).

    Runs after ``classify`` in the same worker pass and reuses the light curves
    and features it computed (:mod:`classifiers.batchcache`).
    """
    if not settings.anomaly.enabled:
        anomaly_fallback(alerts, "disabled")
        return
    from classifiers.anomaly_score import get_anomaly_scorer

    scorer = get_anomaly_scorer(settings.models_dir)
    for alert, record in zip(alerts, scorer.score_alerts(alerts), strict=True):
        alert["anomaly"] = record
    _report_providers(settings, scorer.providers())


def anomaly_fallback(alerts: list[Alert], reason: str) -> None:
    """No anomaly score for this batch."""
    for alert in alerts:
        alert["anomaly"] = None


def _report_providers(settings: Settings, providers: dict[str, str]) -> None:
    """Write which execution provider this worker's models run on (read by ``faucon status``)."""
    key = json.dumps(providers, sort_keys=True)
    _report(settings, "inference", key, {"providers": providers})


ENRICHERS: tuple[Enricher, ...] = (
    Enricher("crossmatch", crossmatch, crossmatch_fallback),
    Enricher("classify", classify, classify_fallback),
    Enricher("anomaly", anomaly, anomaly_fallback),
)


def run_enrichers(
    alerts: list[Alert], settings: Settings, units: Sequence[Enricher] = ENRICHERS
) -> dict[str, str]:
    """Run every unit on the batch; return ``{unit: error}`` for units that failed."""
    errors: dict[str, str] = {}
    if not alerts:
        return errors
    for unit in units:
        try:
            unit.run(alerts, settings)
        except Exception as exc:  # a unit failure is counted, never fatal
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("enricher %s failed on a batch of %d: %s", unit.name, len(alerts), reason)
            errors[unit.name] = reason
            unit.fallback(alerts, reason)
    return errors
