"""Web pages: log in and out, search (id, cone, score), the object page, account, users, API.

Pages are server-rendered (Jinja2) and call the same store as the API; the
light curve, score chart and live lists are drawn by ``static/portal.js`` on
``<canvas>`` from data embedded in the page (no external script: the portal
works without internet).  Forms carry the session's CSRF token; the login
form a double-submit token of its own.

Examples
--------
>>> sorted({r.path for r in router.routes})[:3]
['/', '/account', '/account/credentials']
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from broker.core.errors import FauconError
from broker.portal.api import cutout_urls
from broker.portal.api_account import credentials as credentials_api
from broker.portal.kafka_access import check_grant, readable_topics
from broker.portal.lightcurve import light_curve
from broker.portal.records import score_items
from broker.portal.security import SESSION_COOKIE, Principal, principal, require_operator

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Auth = Annotated[Principal, Depends(principal)]
LOGIN_COOKIE = "faucon_login"


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A template with the request's context."""
    return request.app.state.templates.TemplateResponse(request, template, context,
                                                        status_code=status)  # fmt: skip


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login")
def login_page(request: Request, next: str = "/", message: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", who=None, next=_safe_next(next), message=message,
                      login_csrf=token)  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600,
                        secure=request.app.state.portal.settings.portal.secure_cookies)  # fmt: skip
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    login_csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    portal = request.app.state.portal
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), login_csrf.encode()):
        return login_page(request, next, "The login form expired; please log in again.")
    user = portal.accounts.check_password(username.strip(), password)
    if user is None:
        response = login_page(request, next, "Wrong user or password.")
        response.status_code = 401
        return response
    sid, _session = portal.accounts.new_session(user.name)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/",
        max_age=int(portal.settings.portal.session_ttl_s),
        secure=portal.settings.portal.secure_cookies,
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, who: Auth) -> Response:
    request.app.state.portal.accounts.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _number(raw: str | None, what: str) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise HTTPException(422, f"{what} {raw!r} is not a number") from None


@router.get("/")
def home(request: Request, who: Auth) -> Response:
    store = request.app.state.portal.store
    return render(request, "home.html", **_home_context(request, who),
                  latest=store.latest(20, 0), results=None)  # fmt: skip


def _home_context(request: Request, who: Principal) -> dict[str, Any]:
    portal = request.app.state.portal
    return {"who": who, "counts": portal.store.counts(), "score_keys": portal.store.score_keys(),
            "max_radius": portal.settings.portal.max_cone_radius_deg, "q": "", "ra": None,
            "dec": None, "radius": None, "score": None, "min": None}  # fmt: skip


@router.get("/search")
def search(
    request: Request, who: Auth, q: str = "", ra: str | None = None, dec: str | None = None,
    radius: str | None = None, score: str | None = None, min: str | None = None, offset: int = 0,
) -> Response:  # fmt: skip
    portal = request.app.state.portal
    ctx = _home_context(request, who) | {"q": q, "ra": ra, "dec": dec, "radius": radius,
                                         "score": score, "min": min}  # fmt: skip
    limit = portal.settings.portal.page_size
    offset = max(0, offset)
    try:
        if q.strip():
            oid = q.strip()
            if portal.store.object_alerts(oid):
                return RedirectResponse(f"/objects/{oid}", status_code=303)
            raise HTTPException(404, f"no stored alert of object {oid!r}")
        if score:
            low = _number(min, "minimum score")
            rows = portal.store.by_score(score, -1e300 if low is None else low, 1e300, limit,
                                         offset)  # fmt: skip
            title = f"Alerts with {score} ≥ {min}"
        else:
            c = [_number(ra, "RA"), _number(dec, "Dec"), _number(radius, "radius")]
            if any(v is None for v in c):
                raise HTTPException(422, "give an object id, or RA, Dec and a radius in degrees")
            a, d, r = float(c[0]), float(c[1]), float(c[2])  # type: ignore[arg-type]
            largest = portal.settings.portal.max_cone_radius_deg
            if not (0 <= a <= 360 and -90 <= d <= 90 and 0 < r <= largest):
                raise HTTPException(422, f"RA must be 0..360, Dec -90..90 and the radius "
                                         f"0..{largest:g} degrees")  # fmt: skip
            rows, total = portal.store.cone(a, d, r, limit, offset)
            title = f"{total} alerts within {r:g}° of ({a:g}, {d:+g})"
    except HTTPException as exc:
        return render(request, "home.html", exc.status_code, **ctx, latest=[], results=None,
                      message=str(exc.detail))  # fmt: skip
    more = len(rows) == limit
    next_url = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return render(request, "home.html", **ctx, results=rows, results_title=title,
                  next_url=next_url)  # fmt: skip


def _best(rec: dict[str, Any]) -> str:
    top = [s for s in score_items(rec) if s.top or s.model == s.key]
    return ", ".join(f"{s.key} {s.probability:.2f}" for s in top if s.probability is not None)


@router.get("/objects/{object_id}")
def object_page(request: Request, who: Auth, object_id: str) -> Response:
    rows = request.app.state.portal.store.object_alerts(object_id)
    if not rows:
        raise HTTPException(404, f"no stored alert of object {object_id!r}; search by "
                                 "position or check the id")  # fmt: skip
    records = [r["record"] for r in rows]
    alerts = [{**r, "cutouts": cutout_urls(r), "best": _best(r["record"])} for r in rows]
    with_images = [a for a in alerts if a["cutouts"]]
    curve = light_curve(records)
    return render(
        request, "object.html", who=who, object_id=object_id, alerts=alerts, last=alerts[-1],
        surveys=sorted({a["survey"] for a in alerts}), curve=curve,
        curve_json=orjson.dumps(curve).decode().replace("</", "<\\/"),
        shown=with_images[-1] if with_images else None, xmatch=records[-1].get("xmatch") or {},
    )  # fmt: skip


@router.get("/account")
def account(request: Request, who: Auth, new_token: str | None = None) -> Response:
    portal = request.app.state.portal
    try:
        topics = readable_topics(portal.settings, who.user, portal.specs())
    except Exception:  # Kafka down: the grants alone
        topics = sorted(who.user.grants)
    return render(request, "account.html", who=who, topics=topics, new_token=new_token,
                  tokens=portal.accounts.tokens(who.user.name), base_url=portal.url)  # fmt: skip


@router.post("/account/tokens")
def account_token(request: Request, who: Auth, label: Annotated[str, Form()] = "web") -> Response:
    token = request.app.state.portal.accounts.new_token(who.user.name, label.strip()[:64] or "web")
    return account(request, who, new_token=token)


@router.post("/account/credentials")
def account_credentials(request: Request, who: Auth) -> Response:
    return credentials_api(request, who)


@router.get("/users")
def users_page(request: Request, who: Auth, message: str = "", error: bool = False) -> Response:
    require_operator(who)
    portal = request.app.state.portal
    return render(request, "users.html", who=who, users=portal.accounts.users(),
                  prefix=portal.settings.kafka.topic_prefix, message=message,
                  error=error)  # fmt: skip


@router.post("/users")
def users_create(
    request: Request, who: Auth, name: Annotated[str, Form()], password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "scientist", grants: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    require_operator(who)
    portal = request.app.state.portal
    try:
        patterns = tuple(check_grant(portal.settings, g.strip())
                         for g in grants.split(",") if g.strip())  # fmt: skip
        portal.accounts.add_user(name.strip(), password, role, patterns)
    except FauconError as exc:
        return users_page(request, who, str(exc), True)
    return users_page(request, who, f"user {name} created")


@router.get("/api")
def api_page(request: Request, who: Auth) -> Response:
    return render(request, "api.html", who=who, spec=request.app.openapi())
