"""Who is asking: API tokens, session cookies, CSRF, roles, and errors as clear 4xx answers.

* ``Authorization: Bearer fct_...`` authenticates an API client (no cookie,
  so no CSRF check).
* Otherwise the ``faucon_session`` cookie (HttpOnly, SameSite=Lax) names a
  login session; every unsafe request (POST, PUT, PATCH, DELETE) made with
  it must carry the session's CSRF token, in the ``X-CSRF-Token`` header
  (scripts) or the ``csrf_token`` form field (forms).
* Without either, the API answers 401 and pages redirect to the login page.
  Only ``/api/v1/health``, the login page and the static files are open.

Examples
--------
>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> install_error_handlers(app)
>>> len(app.exception_handlers) >= 4
True
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from broker.core.errors import AccessDenied, FauconError, InfrastructureError
from broker.filters.base import FilterValidationError
from broker.portal.accounts import AccountError, Session, User

log = logging.getLogger("faucon.portal")
SESSION_COOKIE = "faucon_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(HTTPException):
    """No valid token or session: 401 for the API, a redirect to the login page for pages."""

    def __init__(self, detail: str = "log in first, or send an API token") -> None:
        super().__init__(401, detail)


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request, and their session when they use one."""

    user: User
    session: Session | None

    @property
    def csrf(self) -> str:
        """The CSRF token to put in forms ("" for token clients)."""
        return self.session.csrf if self.session else ""


async def _sent_csrf(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER, "")
    kind = request.headers.get("content-type", "")
    if not sent and kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else ""
    return sent


async def principal(request: Request) -> Principal:
    """FastAPI dependency: the request's user (see the module doc)."""
    accounts = request.app.state.portal.accounts
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        user = await run_in_threadpool(accounts.user_for_token, auth[7:].strip())
        if user is None:
            raise LoginRequired("the API token is unknown or expired; make a new one on /account")
        return Principal(user, None)
    sid = request.cookies.get(SESSION_COOKIE, "")
    session = await run_in_threadpool(accounts.session, sid) if sid else None
    if session is None:
        raise LoginRequired("log in first (your session expired or you never logged in)")
    if request.method not in SAFE_METHODS:
        sent = await _sent_csrf(request)
        if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(
                403, "CSRF token missing or wrong: reload the page and submit again"
            )
    return Principal(session.user, session)


def require_operator(who: Principal) -> None:
    """403 unless the user is an operator."""
    if not who.user.is_operator:
        raise HTTPException(403, "only an operator may do this")


def _message(exc: Exception) -> str:
    return str(exc).replace("\n", " ").strip()


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"error": message, **extra}, status_code=status)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message, "who": None},
        status_code=status,
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Every expected error becomes a 4xx (or 503) answer saying what to do."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = " ".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(request, 422, "invalid request: " + "; ".join(problems))

    @app.exception_handler(FilterValidationError)
    async def _filter(request: Request, exc: FilterValidationError) -> Response:
        status = {"unknown_filter": 404, "duplicate": 409}.get(exc.reason, 422)
        return _error(request, status, _message(exc), reason=exc.reason)

    @app.exception_handler(AccountError)
    async def _account(request: Request, exc: AccountError) -> Response:
        return _error(request, 400, _message(exc))

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        return _error(request, 403, _message(exc))

    @app.exception_handler(InfrastructureError)
    async def _down(request: Request, exc: InfrastructureError) -> Response:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _error(request, 503, _message(exc))

    @app.exception_handler(FauconError)
    async def _faucon(request: Request, exc: FauconError) -> Response:
        return _error(request, 400, _message(exc))
