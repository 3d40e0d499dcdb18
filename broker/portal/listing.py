"""Paged lists and JSON answers of the API.

:func:`page` reads ``limit`` and ``offset`` and refuses values beyond the
configured limits; :func:`listing` shapes a page of rows with the URL of the
next one.  :class:`FastJSON` writes JSON with orjson (non-finite numbers
become null instead of failing the answer).

Examples
--------
>>> FastJSON({"mag": float("nan"), "n": 2}).body
b'{"mag":null,"n":2}'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import HTTPException, Query, Request
from fastapi.responses import JSONResponse


class FastJSON(JSONResponse):
    """JSON answer written by orjson (NaN and infinities as null, dict keys as strings)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


@dataclass(frozen=True)
class Page:
    """Which slice of a list a request asks for."""

    limit: int
    offset: int


def page(
    request: Request,
    limit: Annotated[int | None, Query(ge=1, description="rows in this page")] = None,
    offset: Annotated[int, Query(ge=0, description="rows skipped before this page")] = 0,
) -> Page:
    """FastAPI dependency: the page asked for, within ``portal.max_page_size``/``max_offset``."""
    p = request.app.state.portal.settings.portal
    limit = p.page_size if limit is None else limit
    if limit > p.max_page_size:
        raise HTTPException(422, f"limit {limit} is above the largest page ({p.max_page_size} "
                                 "rows); page through with offset")  # fmt: skip
    if offset > p.max_offset:
        raise HTTPException(422, f"offset {offset} is beyond {p.max_offset}; narrow the query "
                                 "(a time window, a smaller cone) instead")  # fmt: skip
    return Page(limit, offset)


def page_of(request: Request, paged: Page, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of a list held whole in memory (filters, users, score keys, nights)."""
    chunk = rows[paged.offset : paged.offset + paged.limit]
    return listing(request, paged, chunk, total=len(rows))


def listing(
    request: Request,
    paged: Page,
    rows: list[dict[str, Any]],
    total: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of a list: ``items``, ``count``, ``total`` (when known) and ``next``."""
    end = paged.offset + len(rows)
    more = len(rows) == paged.limit and (total is None or end < total)
    limit = request.app.state.portal.settings.portal.max_offset
    following = None
    if more and end <= limit:
        following = str(request.url.include_query_params(offset=end, limit=paged.limit))
    out = {"items": rows, "count": len(rows), "limit": paged.limit, "offset": paged.offset,
           "next": following}  # fmt: skip
    if total is not None:
        out["total"] = total
    return {**(extra or {}), **out}
