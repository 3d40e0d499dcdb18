"""Hand a finished run's alerts to the portal: what ``faucon demo`` does before it stops Kafka.

The demo stops the Kafka it started, so the portal cannot read the demo's
topics afterwards: before that, :func:`fill_store` reads them once into the
portal's store (a consumer group of its own, so a later ``faucon portal
--demo`` is not confused by offsets of topics the next demo recreates) and
gives the ``demo`` login a new password.

Examples
--------
>>> DEMO_USER
'demo'
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from broker.core.config import Settings
from broker.core.errors import InfrastructureError
from broker.portal.app import Portal
from broker.portal.ingest import Ingest

DEMO_USER = "demo"


@dataclass(frozen=True)
class Handoff:
    """Where the portal is, how to log in, what it holds."""

    url: str
    user: str
    password: str
    alerts: int
    objects: int
    store: str


def fill_store(settings: Settings, messages: int, timeout_s: float = 180.0) -> Handoff:
    """Store the ``messages`` of the enriched and filter topics; (re)make the demo login.

    Raises
    ------
    InfrastructureError
        The store is open in another process (a running ``faucon portal``), or
        the messages were not all read in time.
    """
    portal = Portal(settings, ingest=False)
    try:
        group = f"{settings.kafka.topic_prefix}.portal-handoff-{uuid.uuid4().hex[:8]}"
        ingest = Ingest(settings, portal.store, group=group)
        if not ingest.drain(messages, timeout_s):
            raise InfrastructureError(
                f"the portal read {ingest.status.messages} of {messages} messages in "
                f"{timeout_s:.0f} s ({ingest.status.last_error or 'no error'})"
            )
        password = secrets.token_urlsafe(12)
        portal.accounts.ensure_user(DEMO_USER, password, "operator")
        counts = portal.store.counts()
        target = getattr(portal.db, "path", "PostgreSQL")
        return Handoff(portal.url, DEMO_USER, password, counts["alerts"], counts["objects"],
                       str(target))  # fmt: skip
    finally:
        portal.close()
