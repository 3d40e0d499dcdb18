"""Run the portal: uvicorn serving the application, the ingest in a thread beside it.

Examples
--------
>>> from broker.core.config import load_settings
>>> uvicorn_config(load_settings(), app=None).port
8000
"""

from __future__ import annotations

import signal
from typing import Any

from broker.core.config import Settings
from broker.core.processes import check_port_free


def uvicorn_config(settings: Settings, app: Any) -> Any:
    """The uvicorn configuration of the portal (host, port, quiet access log)."""
    import uvicorn

    p = settings.portal
    return uvicorn.Config(
        app, host=p.host, port=p.port, log_level="warning", access_log=False,
        proxy_headers=True, forwarded_allow_ips="127.0.0.1", timeout_graceful_shutdown=10,
    )  # fmt: skip


def serve(settings: Settings, ingest: bool | None = None, on_ready: Any = None) -> None:
    """Serve the portal until interrupted (SIGINT/SIGTERM: a graceful stop, exit status 0)."""
    import uvicorn

    from broker.portal.app import Portal, create_app

    p = settings.portal
    check_port_free("HTTP", f"{p.host}:{p.port}", "portal", "FAUCON_PORTAL__PORT")
    portal = Portal(settings, ingest=ingest)
    if on_ready is not None:
        on_ready(portal)
    server = uvicorn.Server(uvicorn_config(settings, create_app(portal)))
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again: once
    # it has, this is a normal stop (exit 0), as for `faucon stream`.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
