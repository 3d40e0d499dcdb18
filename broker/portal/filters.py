"""Filters from the portal: who may change what, backtests on stored or archived alerts, figures.

Validation is the CLI's (:func:`broker.filters.validate.validate_spec`: Spark's
parser and analyzer, allowlisted functions), a new or changed expression is
also run on the bundled sample before it is registered (as ``faucon filter
add`` does), and registration goes to the same registry the stream re-reads
every micro-batch.  Backtests evaluate the filter exactly as the stream does
(:func:`broker.registry.backtest.evaluate_specs`) on the last N alerts of the
store or on a night of the archive.  Only SQL filters are written from the
portal; Python filters stay operator-installed (an operator may still enable
or disable them here).

Examples
--------
>>> from broker.portal.accounts import User
>>> spec = FilterSpec(name="vera_sn", kind="sql", expression="mag < 19", owner="vera")
>>> vera, max_ = User("vera", "scientist", (), 0), User("max", "scientist", (), 0)
>>> can_edit(vera, spec), can_edit(max_, spec)
(True, False)
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from broker.core.config import Settings
from broker.filters.base import FilterSpec, FilterValidationError
from broker.ops.stats import stats_path
from broker.portal.accounts import User
from broker.portal.store import AlertStore
from broker.registry.backtest import evaluate_specs

SOURCES = ("recent", "night")
SAMPLE_OBJECTS = 10
EXAMPLE_FIELDS = ("survey", "object_id", "alert_id", "mjd_tai", "band", "mag")


def can_edit(user: User, spec: FilterSpec) -> bool:
    """Operators edit every filter; a scientist edits the SQL filters they own."""
    return user.is_operator or (spec.owner == user.name and spec.kind == "sql" and not spec.builtin)


def draft(name: str, expression: str, **fields: Any) -> FilterSpec:
    """A SQL filter spec from portal input; invalid fields are a FilterValidationError."""
    from pydantic import ValidationError

    try:
        return FilterSpec(name=name, kind="sql", expression=expression, **fields)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise FilterValidationError(name, "invalid", problems) from None


def stream_figures(settings: Settings) -> dict[str, Any]:
    """The running stream's counters (empty when it never ran here)."""
    try:
        return dict(json.loads(stats_path(settings).read_text()))
    except (OSError, ValueError):
        return {}


def summary(
    settings: Settings, spec: FilterSpec, figures: dict[str, Any], stored: dict[str, int],
    stored_alerts: int, user: User | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A filter as the API shows it: spec, topic, pass rates (stream and store), rights."""
    topic = spec.topic(settings.kafka.topic_prefix)
    published = int((figures.get("published") or {}).get(topic, 0))
    accepted = int(figures.get("ok") or 0)
    hits = stored.get(spec.name, 0)
    out = spec.model_dump(mode="json")
    out.update(
        state=spec.state,
        topic=topic,
        stream={"passed": published, "alerts": accepted,
                "pass_rate": published / accepted if accepted else None,
                "errors": (figures.get("filter_errors") or {}).get(spec.name)},
        store={"passed": hits, "alerts": stored_alerts,
               "pass_rate": hits / stored_alerts if stored_alerts else None},
    )  # fmt: skip
    if user is not None:
        out["editable"] = can_edit(user, spec)
    return out


def summaries(
    settings: Settings, store: AlertStore, specs: list[FilterSpec], user: User
) -> list[dict[str, Any]]:
    """:func:`summary` of each filter with the stream's and the store's pass rates."""
    figures, stored, total = stream_figures(settings), store.filter_counts(), store.alert_count()
    return [summary(settings, s, figures, stored, total, user) for s in specs]


def backtest(
    spec: FilterSpec, records: list[dict[str, Any]], spark: Any, source: str
) -> dict[str, Any]:
    """Evaluate a filter on alert records as the stream does; pass rate, sample, speed."""
    started = time.perf_counter()
    passed, errors = evaluate_specs([spec], records, spark)
    seconds = time.perf_counter() - started
    mask = passed.get(spec.name, np.zeros(len(records), dtype=bool))
    objects: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(mask):
        rec = records[int(i)]
        oid = str(rec["object_id"])
        if oid not in objects and len(objects) < SAMPLE_OBJECTS:
            objects[oid] = {k: rec.get(k) for k in EXAMPLE_FIELDS}
            objects[oid]["url"] = f"/objects/{oid}"
    n, hits = len(records), int(mask.sum())
    return {
        "name": spec.name,
        "source": source,
        "alerts": n,
        "passed": hits,
        "pass_rate": hits / n if n else None,
        "objects": len({str(records[int(i)]["object_id"]) for i in np.flatnonzero(mask)}),
        "sample": list(objects.values()),
        "seconds": round(seconds, 4),
        "alerts_per_s": round(n / seconds, 1) if seconds > 0 else None,
        "error": errors.get(spec.name),
    }
