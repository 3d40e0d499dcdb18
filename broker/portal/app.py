"""The portal application: its services (store, accounts, ingest, registry, Spark) and routes.

:class:`Portal` holds what the routes use; :func:`create_app` builds the
FastAPI application around one (pages, ``/api/v1``, static files, error
handlers) and starts and stops the ingest with the server.

Examples
--------
>>> from broker.core.config import load_settings
>>> s = load_settings(state_dir="/tmp/faucon-doc", portal={"ingest": False})
>>> store_target(s)[0].endswith("faucon.duckdb")
True
>>> app = create_app(Portal(s))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from broker import __version__
from broker.core.config import Settings
from broker.filters.base import FilterSpec
from broker.kafka.credentials import read_secret
from broker.portal.accounts import Accounts
from broker.portal.archive import Archive
from broker.portal.db import open_database
from broker.portal.ingest import Ingest
from broker.portal.store import AlertStore

HERE = Path(__file__).resolve().parent


def store_target(settings: Settings) -> tuple[str, str]:
    """Where the store lives (a DuckDB file or a PostgreSQL URL) and its password."""
    p = settings.portal
    if not p.store_url:
        return str(settings.state_dir / "portal" / f"{settings.kafka.topic_prefix}.duckdb"), ""
    password = read_secret(
        p.store_password, p.store_password_file, "portal.store_password_file", "PostgreSQL"
    )
    return p.store_url, password


class Portal:
    """The portal's services, shared by every request (see the module doc)."""

    def __init__(self, settings: Settings, spark: Any = None, ingest: bool | None = None) -> None:
        self.settings = settings
        self.db = open_database(*store_target(settings))
        self.store = AlertStore(self.db, settings.portal)
        p = settings.portal
        self.accounts = Accounts(self.db, p.session_ttl_s, p.token_ttl_days)
        self.archive = Archive(settings)
        run_ingest = p.ingest if ingest is None else ingest
        self.ingest = Ingest(settings, self.store) if run_ingest else None
        self._spark = spark
        self._registry: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Where users reach the portal."""
        p = self.settings.portal
        host = "127.0.0.1" if p.host in ("0.0.0.0", "") else p.host
        return p.public_url or f"http://{host}:{p.port}"

    def registry(self) -> Any:
        """The filter registry (Kafka), opened on first use."""
        from broker.registry.filters import FilterRegistry

        with self._lock:
            if self._registry is None:
                self._registry = FilterRegistry(self.settings)
            return self._registry

    def specs(self) -> list[FilterSpec]:
        """Every registered filter, up to date."""
        return list(self.registry().list_filters())

    def spark(self) -> Any:
        """The Spark session that validates and backtests SQL filters (local, made once)."""
        from broker.filters.sql import filter_spark

        with self._lock:
            if self._spark is None:
                self._spark = filter_spark()
            return self._spark

    def close(self) -> None:
        """Stop the ingest and close Kafka clients and the store."""
        if self.ingest is not None:
            self.ingest.stop()
        with self._lock:
            if self._registry is not None:
                self._registry.close()
                self._registry = None
        self.db.close()


def create_app(portal: Portal, close_on_shutdown: bool = True) -> FastAPI:
    """The FastAPI application serving ``portal`` (pages, API, static files)."""
    from broker.portal.api import router as api_router
    from broker.portal.api_account import router as account_router
    from broker.portal.api_filters import router as filters_router
    from broker.portal.pages import router as pages_router
    from broker.portal.pages_filters import router as filter_pages_router
    from broker.portal.security import install_error_handlers

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if portal.ingest is not None:
            portal.ingest.start()
        yield
        if close_on_shutdown:
            portal.close()
        elif portal.ingest is not None:
            portal.ingest.stop()

    app = FastAPI(
        title="Faucon portal API",
        version=__version__,
        description="Alerts, objects, cone search, filters and credentials of a Faucon broker. "
        "Authenticate with `Authorization: Bearer <token>` (make a token on /account).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.templates.env.globals["version"] = __version__
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api_router)
    app.include_router(filters_router)
    app.include_router(account_router)
    app.include_router(pages_router)
    app.include_router(filter_pages_router)
    return app
