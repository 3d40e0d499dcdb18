"""REST API of accounts: me, API tokens, Kafka credentials, users (operators), OpenAPI docs.

No answer ever holds a password, a password hash, a stored token or another
user's secret: a new API token and generated Kafka credentials are returned
once, to their owner, in the answer that makes them.

Examples
--------
>>> "/api/v1/me/credentials" in {r.path for r in router.routes}
True
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from broker.portal.accounts import NAME_RE
from broker.portal.kafka_access import check_grant, client_config, readable_topics
from broker.portal.listing import FastJSON, Page, page, page_of
from broker.portal.security import Principal, principal, require_operator

router = APIRouter(prefix="/api/v1", default_response_class=FastJSON, tags=["accounts"])
Auth = Annotated[Principal, Depends(principal)]
UserName = Annotated[str, Path(pattern=NAME_RE.pattern)]
_STRICT = ConfigDict(extra="forbid")


class TokenRequest(BaseModel):
    """A label to recognise the token by."""

    model_config = _STRICT
    label: str = Field("api", min_length=1, max_length=64)


class NewUser(BaseModel):
    """A portal user (operators only)."""

    model_config = _STRICT
    name: str
    role: Literal["scientist", "operator"] = "scientist"
    password: str = Field(min_length=10, max_length=200)
    grants: list[str] = Field(default_factory=list, description="topic names or prefix*")


class UserChange(BaseModel):
    """New grants and/or a new password for a user (operators only)."""

    model_config = _STRICT
    grants: list[str] | None = None
    password: str | None = Field(None, min_length=10, max_length=200)


def _portal(request: Request) -> Any:
    return request.app.state.portal


def _public(user: Any) -> dict[str, Any]:
    return asdict(user)


@router.get("/me", summary="Who I am: role, grants, readable topics, tokens")
def me(request: Request, who: Auth) -> Any:
    portal = _portal(request)
    try:
        topics = readable_topics(portal.settings, who.user, portal.specs())
    except Exception:  # Kafka down: the grants alone
        topics = sorted(who.user.grants)
    return {**_public(who.user), "topics": topics,
            "tokens": portal.accounts.tokens(who.user.name)}  # fmt: skip


@router.post("/me/tokens", status_code=201, summary="A new API token (shown once)")
def new_token(request: Request, who: Auth, body: TokenRequest) -> Any:
    token = _portal(request).accounts.new_token(who.user.name, body.label)
    return {"token": token, "label": body.label,
            "use": "send it as the header Authorization: Bearer <token>"}  # fmt: skip


@router.delete("/me/tokens/{token_id}", summary="Revoke one of my tokens")
def revoke_token(request: Request, who: Auth, token_id: str) -> Any:
    if not _portal(request).accounts.revoke_token(who.user.name, token_id):
        raise HTTPException(404, f"you have no token with id {token_id!r} (GET /api/v1/me)")
    return {"revoked": token_id}


@router.post("/me/credentials", response_class=PlainTextResponse,
             summary="Generate my Kafka credentials as a client config (shown once)")  # fmt: skip
def credentials(request: Request, who: Auth) -> PlainTextResponse:
    """Creates or re-keys the Kafka SCRAM user of the caller with READ on the topics they may
    read; the password is in this answer only (generate again to rotate it)."""
    portal = _portal(request)
    text = client_config(portal.settings, who.user, portal.specs())
    portal.accounts.mark_kafka_user(who.user.name)
    return PlainTextResponse(
        text,
        headers={"Content-Disposition": f'attachment; filename="{who.user.name}.properties"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/users", summary="Every user (operators)")
def users(request: Request, who: Auth, paged: Annotated[Page, Depends(page)]) -> Any:
    require_operator(who)
    return page_of(request, paged, [_public(u) for u in _portal(request).accounts.users()])


@router.post("/users", status_code=201, summary="Create a user (operators)")
def create_user(request: Request, who: Auth, body: NewUser) -> Any:
    require_operator(who)
    portal = _portal(request)
    grants = tuple(check_grant(portal.settings, g) for g in body.grants)
    return _public(portal.accounts.add_user(body.name, body.password, body.role, grants))


@router.patch("/users/{name}", summary="Change a user's grants or password (operators)")
def change_user(request: Request, who: Auth, name: UserName, body: UserChange) -> Any:
    require_operator(who)
    accounts = _portal(request).accounts
    user = accounts.require(name)
    if body.grants is not None:
        grants = tuple(check_grant(_portal(request).settings, g) for g in body.grants)
        user = accounts.set_grants(name, grants)
    if body.password is not None:
        accounts.set_password(name, body.password)
    return _public(user)


@router.delete("/users/{name}", summary="Remove a user (operators)")
def remove_user(request: Request, who: Auth, name: UserName) -> Any:
    require_operator(who)
    if name == who.user.name:
        raise HTTPException(422, "you cannot remove yourself")
    accounts = _portal(request).accounts
    accounts.require(name)
    accounts.remove_user(name)
    return {"removed": name}


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, who: Auth) -> Any:
    return request.app.openapi()


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request, who: Auth) -> HTMLResponse:
    """Swagger UI (its script comes from a CDN; /api is the offline reference)."""
    return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="Faucon API")
