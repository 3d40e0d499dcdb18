"""REST API ``/api/v1``: objects, alerts, cone search, scores, cutouts, the archive, health.

Every list is paged (``limit``, ``offset``; at most ``portal.max_page_size``
rows and ``portal.max_offset`` deep) and answers ``items``, ``count``,
``limit``, ``offset`` and ``next`` (the URL of the next page, null at the
end).  Bad input is a 4xx with ``{"error": ...}`` saying what to change.
Times are MJD (TAI), angles degrees.

Examples
--------
>>> [r.path for r in router.routes][:2]
['/api/v1/health', '/api/v1/objects/{object_id}']
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from broker import __version__
from broker.core.schema import CUTOUT_FIELDS
from broker.portal.cutouts import CutoutError, cutout_png
from broker.portal.lightcurve import light_curve
from broker.portal.listing import FastJSON, Page, listing, page, page_of
from broker.portal.security import Principal, principal
from broker.portal.store import CUTOUT_KINDS

router = APIRouter(prefix="/api/v1", default_response_class=FastJSON, tags=["alerts"])
Auth = Annotated[Principal, Depends(principal)]
Paged = Annotated[Page, Depends(page)]
Since = Annotated[float | None, Query(ge=0, description="earliest observation time, MJD TAI")]
Until = Annotated[float | None, Query(ge=0, description="latest observation time, MJD TAI")]
_NOT_LISTED = {"history", *CUTOUT_FIELDS}
Survey = Annotated[str, Path(pattern="^[A-Z]{2,10}$", description="ZTF or LSST")]


def _portal(request: Request) -> Any:
    return request.app.state.portal


def _window(since: float | None, until: float | None) -> None:
    if since is not None and until is not None and since > until:
        raise HTTPException(422, f"since ({since}) is after until ({until}); swap them")


def cutout_urls(row: dict[str, Any]) -> dict[str, str]:
    """API URLs of an alert's three cutouts as PNG (empty when it has none)."""
    if not row.get("has_cutouts"):
        return {}
    base = f"/api/v1/alerts/{row['survey']}/{row['alert_id']}/cutouts"
    return {kind: f"{base}/{kind}" for kind in CUTOUT_KINDS}


@router.get("/health", summary="Health of the portal, its store and its ingest (no login)")
def health(request: Request) -> Response:
    """Store row counts and what the ingest consumer did; 503 when the store does not answer."""
    portal = _portal(request)
    ingest = portal.ingest.status.as_dict() if portal.ingest else {"running": False}
    try:
        counts = portal.store.counts()
    except Exception as exc:
        return FastJSON({"status": "unavailable", "error": f"store: {exc}"}, status_code=503)
    return FastJSON({"status": "ok", "version": __version__, "store": portal.db.dialect,
                     "counts": counts, "ingest": ingest})  # fmt: skip


@router.get("/objects/{object_id}", summary="An object: its alerts, light curve and scores")
def get_object(
    request: Request, who: Auth,
    object_id: Annotated[str, Path(min_length=1, max_length=64)],
    archive: Annotated[bool, Query(description="also alerts of archived nights")] = False,
) -> Any:  # fmt: skip
    """Every stored alert of the object (whole records without history and cutouts), the light
    curve (detections, forced photometry, upper limits) and its scores over time."""
    portal = _portal(request)
    rows = portal.store.object_alerts(object_id)
    records = [r.pop("record") for r in rows]
    archived: list[dict[str, Any]] = []
    if archive:
        for night in portal.archive.nights():
            archived += portal.archive.alerts(night["night"], portal.settings.portal.max_page_size,
                                              0, object_id=object_id)[0]  # fmt: skip
    if not rows and not archived:
        raise HTTPException(
            404, f"no alert of object {object_id!r} is stored; check the id, or search by "
            "position (GET /api/v1/cone)",
        )  # fmt: skip
    alerts = []
    for row, rec in zip(rows, records, strict=True):
        extra = {k: v for k, v in rec.items() if k not in row and k not in _NOT_LISTED}
        alerts.append({**row, **extra, "cutouts": cutout_urls(row)})
    return {
        "object_id": object_id,
        "surveys": sorted({r["survey"] for r in rows} | {r["survey"] for r in archived}),
        "alerts": alerts,
        "light_curve": light_curve(records),
        "archived_alerts": archived,
    }


@router.get("/alerts/{survey}/{alert_id}", summary="One alert, whole (without cutout bytes)")
def get_alert(request: Request, who: Auth, survey: Survey, alert_id: int) -> Any:
    rows = _portal(request).db.query(
        "SELECT record, has_cutouts FROM alerts WHERE survey = ? AND alert_id = ?",
        [survey, alert_id],
    )
    if not rows:
        raise HTTPException(404, f"no {survey} alert {alert_id} is stored")
    from broker.portal.records import decode_record

    rec = decode_record(rows[0]["record"])
    return {**rec, "cutouts": cutout_urls({**rec, "has_cutouts": rows[0]["has_cutouts"]})}


@router.get("/alerts/{survey}/{alert_id}/cutouts/{kind}", summary="A cutout as PNG (or FITS)",
            response_class=Response)  # fmt: skip
def get_cutout(
    request: Request, who: Auth, survey: Survey, alert_id: int,
    kind: Annotated[str, Path(pattern="^(science|template|difference)$")],
    format: Annotated[str, Query(pattern="^(png|fits)$")] = "png",
) -> Response:  # fmt: skip
    """The image as an 8-bit PNG (zscale), or the survey's own FITS bytes."""
    found = _portal(request).store.cutout(survey, alert_id, kind)
    if found is None:
        raise HTTPException(404, f"{survey} alert {alert_id} has no {kind} cutout stored")
    fmt, data = found
    headers = {"Cache-Control": "private, max-age=86400"}
    if format == "fits":
        name = f"{survey}-{alert_id}-{kind}.{fmt or 'fits'}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(data, media_type="application/fits", headers=headers)
    try:
        return Response(cutout_png(data), media_type="image/png", headers=headers)
    except CutoutError as exc:
        raise HTTPException(422, f"{survey} alert {alert_id} {kind}: {exc}") from None


@router.get("/cone", summary="Alerts inside a cone (exact), newest first")
def cone(
    request: Request, who: Auth, paged: Paged,
    ra: Annotated[float, Query(ge=0, le=360, description="centre right ascension, degrees")],
    dec: Annotated[float, Query(ge=-90, le=90, description="centre declination, degrees")],
    radius: Annotated[float, Query(gt=0, description="radius, degrees")],
    since: Since = None, until: Until = None,
) -> Any:  # fmt: skip
    portal = _portal(request)
    largest = portal.settings.portal.max_cone_radius_deg
    if radius > largest:
        raise HTTPException(
            422, f"radius {radius:g} deg is larger than the largest cone ({largest:g} deg, "
            "FAUCON_PORTAL__MAX_CONE_RADIUS_DEG); search smaller cones",
        )  # fmt: skip
    _window(since, until)
    rows, total = portal.store.cone(ra, dec, radius, paged.limit, paged.offset, since, until)
    return listing(request, paged, rows, total, extra={"ra": ra, "dec": dec, "radius": radius})


@router.get("/alerts", summary="Alerts by score range, class or context, in a time window")
def alerts(
    request: Request, who: Auth, paged: Paged,
    score: Annotated[str | None, Query(description="score key, e.g. snia.Ia or anomaly_score")] = None,  # noqa: E501
    min: Annotated[float | None, Query(description="lowest score kept")] = None,
    max: Annotated[float | None, Query(description="highest score kept")] = None,
    cls: Annotated[str | None, Query(alias="class", description="model.label: alerts whose best label of that model is this (ties: first label A-Z)")] = None,  # noqa: E501
    context: Annotated[str | None, Query(description="derived context, e.g. hostless")] = None,
    since: Since = None, until: Until = None,
) -> Any:  # fmt: skip
    portal = _portal(request)
    _window(since, until)
    low = float("-inf") if min is None else min
    high = float("inf") if max is None else max
    if low > high:
        raise HTTPException(422, f"min ({min}) is above max ({max})")
    if score is not None and cls is not None:
        raise HTTPException(422, "give score (with min/max) or class, not both")
    key = score or cls
    if key is not None:
        if portal.db.scalar("SELECT count(*) FROM scores WHERE key = ? LIMIT 1", [key]) == 0:
            raise HTTPException(404, f"no alert has the score {key!r}; GET /api/v1/scores "
                                "lists the score keys")  # fmt: skip
        low, high = (low, high) if score else (0.0, 1.0)
        rows = portal.store.by_score(key, low, high, paged.limit, paged.offset, since, until,
                                     top=cls is not None)  # fmt: skip
    else:
        rows = portal.store.latest(paged.limit, paged.offset, since, until, context)
    return listing(request, paged, rows)


@router.get("/scores", summary="The score keys stored (classifiers and anomaly scores)")
def scores(request: Request, who: Auth, paged: Paged) -> Any:
    return page_of(request, paged, _portal(request).store.score_keys())


@router.get("/archive/nights", summary="Nights of the Parquet archive", tags=["archive"])
async def archive_nights(request: Request, who: Auth, paged: Paged) -> Any:
    return page_of(request, paged, await run_in_threadpool(_portal(request).archive.nights))


@router.get("/archive/nights/{night}/alerts", summary="Alerts of an archived night",
            tags=["archive"])  # fmt: skip
def archive_alerts(
    request: Request, who: Auth, paged: Paged,
    night: Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")],
    object_id: str | None = None,
    ra: Annotated[float | None, Query(ge=0, le=360)] = None,
    dec: Annotated[float | None, Query(ge=-90, le=90)] = None,
    radius: Annotated[float | None, Query(gt=0)] = None,
) -> Any:  # fmt: skip
    """Read in place from the night's Parquet files (object id and/or cone optional)."""
    portal = _portal(request)
    given = [v is not None for v in (ra, dec, radius)]
    if any(given) and not all(given):
        raise HTTPException(422, "a cone needs ra, dec and radius together")
    cone_args = (ra, dec, radius) if all(given) else None
    if radius is not None and radius > portal.settings.portal.max_cone_radius_deg:
        raise HTTPException(422, f"radius {radius:g} deg is larger than the largest cone")
    rows, total = portal.archive.alerts(night, paged.limit, paged.offset, object_id, cone_args)
    return listing(request, paged, rows, total)
