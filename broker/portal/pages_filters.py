"""Filter pages: the list, the editor (validate, backtest, register), a filter, its live topic.

The editor's buttons call the filter API (``/api/v1/filters/validate``,
``/backtest``, ``POST /api/v1/filters``, ``PATCH``) with the page's CSRF
token; disabling and enabling are plain forms.

Examples
--------
>>> sorted({r.path for r in router.routes})
['/filters', '/filters/new', '/filters/{name}', '/filters/{name}/live', '/filters/{name}/{action}']
"""

from __future__ import annotations

import time
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from broker.core.schema import alert_schema, filter_view_schema
from broker.filters.base import NAME_RE
from broker.portal.filters import can_edit, summaries
from broker.portal.pages import render
from broker.portal.security import Principal, principal

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Auth = Annotated[Principal, Depends(principal)]
Name = Annotated[str, Path(pattern=NAME_RE.pattern)]


@cache
def view_columns() -> list[dict[str, str]]:
    """The filter view's columns with their type and documentation (for the editor)."""
    docs = {f["name"]: f.get("doc", "") for f in alert_schema()["fields"]}
    return [{"name": f.name, "type": str(f.type), "doc": docs.get(f.name, "")}
            for f in filter_view_schema()]  # fmt: skip


def _editor_context(request: Request) -> dict[str, Any]:
    portal = request.app.state.portal
    try:
        nights = portal.archive.nights()
    except Exception:  # an unreadable archive must not hide the editor
        nights = []
    return {"columns": view_columns(), "nights": nights,
            "prefix": portal.settings.kafka.topic_prefix}  # fmt: skip


@router.get("/filters")
def filters_page(request: Request, who: Auth) -> Response:
    portal = request.app.state.portal
    items = summaries(portal.settings, portal.store, portal.specs(), who.user)
    return render(request, "filters.html", who=who, filters=items)


@router.get("/filters/new")
def new_filter_page(request: Request, who: Auth) -> Response:
    return render(request, "filter_new.html", who=who, **_editor_context(request))


@router.get("/filters/{name}")
def filter_page(request: Request, who: Auth, name: Name) -> Response:
    portal = request.app.state.portal
    spec = portal.registry().show(name)
    f = summaries(portal.settings, portal.store, [spec], who.user)[0]
    latest = portal.store.filter_latest(name, portal.settings.portal.page_size, 0)
    return render(request, "filter.html", who=who, f=f, latest=latest, **_editor_context(request))


@router.get("/filters/{name}/live")
def live_page(request: Request, who: Auth, name: Name) -> Response:
    portal = request.app.state.portal
    spec = portal.registry().show(name)
    latest = portal.store.filter_latest(name, portal.settings.portal.page_size, 0)
    since = max((r["published_ms"] or 0 for r in latest), default=int(time.time() * 1000) - 1)
    return render(request, "filter_live.html", who=who, name=name, latest=latest,
                  topic=spec.topic(portal.settings.kafka.topic_prefix), since_ms=since,
                  refresh_s=portal.settings.portal.live_refresh_s)  # fmt: skip


@router.post("/filters/{name}/{action}")
def set_state(
    request: Request, who: Auth, name: Name,
    action: Annotated[str, Path(pattern="^(enable|disable)$")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    registry = request.app.state.portal.registry()
    if not can_edit(who.user, registry.show(name)):
        raise HTTPException(403, f"you may not change filter {name}")
    author = f"{who.user.name} (portal)"
    if action == "disable":
        registry.disable(name, note, author=author)
    else:
        registry.enable(name, note, author=author)
    return RedirectResponse(f"/filters/{name}", status_code=303)
