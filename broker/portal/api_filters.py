"""REST API of filters: list, show, latest alerts, validate, backtest, register, change, disable.

A registered or changed filter goes to the registry topic the running stream
re-reads at every micro-batch, so it is in force within two micro-batches.
Scientists register SQL filters (they own them); operators change any
filter.  See :mod:`broker.portal.filters`.

Examples
--------
>>> sorted({r.path for r in router.routes})[:2]
['/api/v1/filters', '/api/v1/filters/backtest']
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from broker.filters.base import NAME_RE, FilterSpec
from broker.filters.validate import validate_spec
from broker.portal.filters import backtest, can_edit, draft, summaries, summary
from broker.portal.listing import FastJSON, Page, listing, page, page_of
from broker.portal.security import Principal, principal
from broker.registry.backtest import check_on_sample

router = APIRouter(prefix="/api/v1/filters", default_response_class=FastJSON, tags=["filters"])
Auth = Annotated[Principal, Depends(principal)]
Name = Annotated[str, Path(pattern=NAME_RE.pattern, description="filter name")]
_STRICT = ConfigDict(extra="forbid")


class Draft(BaseModel):
    """A SQL filter to validate or backtest (not registered)."""

    model_config = _STRICT
    expression: str = Field(min_length=1, max_length=4000, description="Spark SQL boolean")
    name: str = Field("draft", description="filter name (for messages)")


class BacktestRequest(Draft):
    """Where to backtest: the last ``alerts`` stored alerts, or an archived ``night``."""

    source: Literal["recent", "night"] = "recent"
    alerts: int = Field(1000, ge=1, description="how many of the last stored alerts")
    night: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class NewFilter(BaseModel):
    """A SQL filter to register (version 1, owned by the caller)."""

    model_config = _STRICT
    name: str = Field(description="lowercase name; the topic is <prefix>.filter.NAME")
    expression: str = Field(min_length=1, max_length=4000)
    description: str = Field(min_length=1, max_length=500)
    profile: Literal["full", "lite", "thin"] = "lite"


class FilterChange(BaseModel):
    """A new version: any of expression, description, profile; ``note`` goes to the changelog."""

    model_config = _STRICT
    expression: str | None = Field(None, min_length=1, max_length=4000)
    description: str | None = Field(None, min_length=1, max_length=500)
    profile: Literal["full", "lite", "thin"] | None = None
    note: str = Field("", max_length=500)


class StateChange(BaseModel):
    """Why a filter is disabled or enabled (kept in the changelog)."""

    model_config = _STRICT
    note: str = Field("", max_length=500)


def _portal(request: Request) -> Any:
    return request.app.state.portal


def _editable(request: Request, who: Principal, name: str) -> FilterSpec:
    spec = _portal(request).registry().show(name)
    if not can_edit(who.user, spec):
        why = "it is a Python filter (operator-installed)" if spec.kind == "python" else (
            f"it belongs to {spec.owner}")  # fmt: skip
        raise HTTPException(403, f"you may not change filter {name}: {why}")
    return spec


@router.get("", summary="Every filter with its version, state, owner and pass rates")
def list_filters(request: Request, who: Auth, paged: Annotated[Page, Depends(page)]) -> Any:
    portal = _portal(request)
    items = summaries(portal.settings, portal.store, portal.specs(), who.user)
    return page_of(request, paged, items)


@router.get("/{name}", summary="A filter: specification, changelog, pass rates")
def show_filter(request: Request, who: Auth, name: Name) -> Any:
    portal = _portal(request)
    spec = portal.registry().show(name)
    return summaries(portal.settings, portal.store, [spec], who.user)[0]


@router.get("/{name}/alerts", summary="The latest alerts a filter published")
def filter_alerts(
    request: Request, who: Auth, name: Name, paged: Annotated[Page, Depends(page)],
    since_ms: Annotated[int | None, Query(ge=0, description="only published after, ms")] = None,
) -> Any:  # fmt: skip
    portal = _portal(request)
    portal.registry().show(name)  # 404 for an unknown filter
    rows = portal.store.filter_latest(name, paged.limit, paged.offset, since_ms)
    return listing(request, paged, rows, extra={"filter": name})


@router.post("/validate", summary="Validate a SQL filter (the CLI's Spark validation)")
def validate(request: Request, who: Auth, body: Draft) -> Any:
    portal = _portal(request)
    spec = validate_spec(draft(body.name, body.expression), spark=portal.spark())
    return {"valid": True, "name": spec.name, "expression": spec.expression,
            "inputs": list(spec.inputs)}  # fmt: skip


@router.post("/backtest", summary="Backtest a SQL filter on recent or archived alerts")
def run_backtest(request: Request, who: Auth, body: BacktestRequest) -> Any:
    portal = _portal(request)
    largest = portal.settings.portal.backtest_max_alerts
    if body.alerts > largest:
        raise HTTPException(422, f"alerts {body.alerts} is above the largest backtest "
                                 f"({largest}, FAUCON_PORTAL__BACKTEST_MAX_ALERTS)")  # fmt: skip
    spec = validate_spec(draft(body.name, body.expression), spark=portal.spark())
    if body.source == "night":
        if not body.night:
            raise HTTPException(422, "a night backtest needs night (YYYY-MM-DD)")
        records = portal.archive.records(body.night, body.alerts)
    else:
        records = portal.store.recent_records(body.alerts)
    if not records:
        raise HTTPException(409, "no alert to backtest on: the store is empty (is the stream "
                                 "running and the portal's ingest on?)")  # fmt: skip
    result = backtest(spec, records, portal.spark(), body.source)
    if body.source == "night":
        result["night"] = body.night
    return result


@router.post("", status_code=201, summary="Register a new SQL filter (in force within two "
             "micro-batches)")  # fmt: skip
def create_filter(request: Request, who: Auth, body: NewFilter) -> Any:
    portal = _portal(request)
    owner = who.user.name
    spec = draft(body.name, body.expression, description=body.description, owner=owner,
                 profile=body.profile)  # fmt: skip
    spark = portal.spark()
    valid = validate_spec(spec, spark=spark)
    check_on_sample(valid, spark=spark, settings=portal.settings)
    stored = portal.registry().add(valid, spark=spark, check=False, author=f"{owner} (portal)")
    return summary(portal.settings, stored, {}, {}, 0, who.user)


@router.patch("/{name}", summary="A new version of a filter")
def change_filter(request: Request, who: Auth, name: Name, body: FilterChange) -> Any:
    portal = _portal(request)
    _editable(request, who, name)
    if body.expression is None and body.description is None and body.profile is None:
        raise HTTPException(422, "give at least one of expression, description, profile")
    spark = portal.spark()
    stored = portal.registry().change(
        name, note=body.note, spark=spark, check=True, author=f"{who.user.name} (portal)",
        expression=body.expression, description=body.description, profile=body.profile,
    )  # fmt: skip
    return summary(portal.settings, stored, {}, {}, 0, who.user)


def _set_state(request: Request, who: Principal, name: str, note: str, enable: bool) -> Any:
    portal = _portal(request)
    if not who.user.is_operator:
        _editable(request, who, name)
    registry = portal.registry()
    switch = registry.enable if enable else registry.disable
    spec = switch(name, note, author=f"{who.user.name} (portal)")
    return summary(portal.settings, spec, {}, {}, 0, who.user)


@router.post("/{name}/disable", summary="Disable a filter (kept, with its history)")
def disable_filter(request: Request, who: Auth, name: Name, body: StateChange) -> Any:
    return _set_state(request, who, name, body.note, enable=False)


@router.post("/{name}/enable", summary="Enable a filter (also lifts a quarantine)")
def enable_filter(request: Request, who: Auth, name: Name, body: StateChange) -> Any:
    return _set_state(request, who, name, body.note, enable=True)
